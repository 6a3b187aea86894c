// provd: one provledger node — the consensus driver and everything around it.
//
// The node owns the RocksDB ledger store, the consensus core (validators
// only), the peer transport, the mempool, the checkpoint collector and the
// client API. Everything that touches consensus state runs on one thread,
// the io_context's (the consensus strand): peer frames, timers, effects and
// API handlers are all dispatched there. Transaction admission (decoding and
// signature checks) runs on a worker pool off that thread, once per
// transaction per node; only its verdict is posted back.
//
// Effects of the core are executed in order (consensus/core.h):
// PersistSafety and Commit are written to RocksDB with fsync before anything
// after them — a vote, a checkpoint signature — leaves the node.
//
// Observers (nodes whose key is not a validator) run no consensus core: they
// fetch committed blocks with their commit proofs from validators, verify
// each proof against the validator set, re-execute every block, and apply it.
// Validators that fall behind catch up the same way before rejoining.
//
// Thread-safety: NodeService methods may be called from any thread; run()
// blocks the calling thread until stop() or SIGTERM/SIGINT.
#pragma once

#include <atomic>
#include <chrono>
#include <deque>
#include <map>
#include <set>
#include <unordered_set>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/thread_pool.hpp>

#include "consensus/core.h"
#include "ledger/store/rocks_store.h"
#include "node/api/server.h"
#include "node/checkpoints.h"
#include "node/config.h"
#include "node/latency.h"
#include "node/mempool.h"
#include "node/proto/node.pb.h"
#include "node/service.h"
#include "node/transport.h"

namespace prov::node {

// Where a validator keeps its consensus safety state, inside its data dir.
inline constexpr const char* kSafetyDirName = "safety";

// Copies the safety record and voted blocks that provd kept in the ledger
// store's kSafety column before the safety store existed into `safety`
// (synced), unless `safety` already holds a record at least as new. The
// ledger keeps its copy (an earlier provd put back on the data dir finds
// it). Idempotent; nothing to do when `ledger` holds no record.
Status migrate_safety(ledger::store::RocksStore& ledger, ledger::store::RocksStore& safety);

class Node final : public NodeService {
 public:
  // Opens the store (applying genesis on first start), loads the key and
  // prepares every component; nothing listens until run().
  static Result<std::unique_ptr<Node>> open(const NodeConfig& config);
  ~Node() override;

  // Listens, connects, and runs until stop() or a termination signal; then
  // shuts down gracefully (stops accepting, closes links, flushes the store).
  Status run();
  // Asks run() to return; callable from any thread or a signal handler path.
  void stop();

  // NodeService
  const std::string& chain_id() const override { return chain_id_; }
  std::shared_ptr<const ledger::KvReader> snapshot() override;
  void submit(Bytes tx, SubmitOptions options, std::function<void(SubmitResult)> done) override;
  void submit_batch(std::vector<Bytes> txs, std::function<void(std::vector<SubmitResult>)> done) override;
  NodeStatus status() override;
  std::optional<std::string> checkpoint_note() override;
  void wait_for_checkpoint(uint64_t min_size, uint32_t timeout_ms,
                           std::function<void(std::optional<std::string>)> done) override;
  std::string metrics_text() override;

 private:
  Node() = default;

  // Everything below runs on the io thread.
  void on_frame(const PublicKey& peer, Bytes frame);
  void on_consensus(size_t from, consensus::v1::ConsensusMessage msg);
  void pump_consensus();
  void on_transactions(const PublicKey& peer, const v1::Transactions& txs);
  void on_checkpoint(const v1::CheckpointSignature& sig);
  void on_sync_request(const PublicKey& peer, const v1::SyncRequest& req);
  void on_sync_response(const PublicKey& peer, const v1::SyncResponse& resp);
  // One transaction offered for admission.
  struct Offer {
    Bytes tx;
    std::function<void(SubmitResult)> done;  // null for gossip
    SubmitOptions options;
    std::chrono::steady_clock::time_point received{};  // client offers: when the API handed it over
  };
  // Checks the offers on the worker pool against one fresh snapshot,
  // kAdmitChunkTxs to a job, and calls admitted() with each verdict in
  // order; answers an offer at once when shutting down, already pending, or
  // over the mempool or kMaxAdmitting bound.
  void admit(std::vector<Offer> offers, bool from_client);
  void admitted(Hash256 hash, Bytes tx, bool gossip, ledger::TxResult<ledger::DecodedTx> verdict,
                std::function<void(SubmitResult)> done, SubmitOptions options, uint64_t snapshot_seq,
                std::chrono::steady_clock::time_point received);
  // Queues an admitted client transaction for the next gossip batch.
  void queue_gossip(std::string tx);
  // Broadcasts the queued gossip batch (if any) as one Transactions message.
  void flush_gossip();
  void drain_effects();
  Status persist_safety(const consensus::PersistSafety& p);
  // The peer frame limit: room for two of the largest blocks the genesis
  // allows and more, at most crypto::kDefaultMaxFrameBytes.
  size_t max_frame_bytes() const;
  // Hands a committed block to commit_writer_ (RocksDB, fsync) and drops its
  // transactions from the mempool; on_commit_durable finishes on the strand.
  Status apply_commit(consensus::Commit& c);
  struct CommitJob;
  void on_commit_durable(const CommitJob& job, const Status& written);
  // Refreshes the status and answers checkpoint waiters the served note now
  // satisfies. `head`: the head a commit made durable (read on the commit
  // writer, off the strand), or null when only the checkpoint changed.
  void after_commit(const Result<ledger::Head>* head);
  void arm_timer(uint64_t deadline_ms);
  void sync_tick();
  // Refreshes status_; the head fields from `head` if given and readable.
  void refresh_status(const Result<ledger::Head>* head);
  void fatal(const Status& st);
  void send_node_message(const PublicKey& peer, const v1::NodeMessage& msg);
  void broadcast_node_message(const v1::NodeMessage& msg);
  static uint64_t now_ms();

  NodeConfig config_;
  std::string chain_id_;
  std::string name_;
  std::unique_ptr<crypto::KeyPair> key_;
  ledger::v1::Genesis genesis_;
  std::unique_ptr<ledger::store::RocksStore> store_;
  // The consensus safety record and voted blocks, in a store of their own
  // (<data_dir>/safety, its own WAL): the synced write before each vote
  // used to queue behind the commit writer's large synced batches in the
  // ledger store's write queue (24 ms a vote under load, for ~0.1 KB).
  std::unique_ptr<ledger::store::RocksStore> safety_store_;
  bool safety_used_ = false;  // the ledger store records that safety_store_ holds this validator's votes
  std::optional<consensus::ValidatorSet> validators_;
  std::vector<PeerInfo> peers_;
  std::map<PublicKey, size_t> validator_index_;
  bool is_validator_ = false;
  ledger::v1::ConsensusParams params_;

  // One thread runs it (run()): the hint lets asio queue handlers posted
  // from that thread without the scheduler's lock and wake-up.
  boost::asio::io_context io_{1};
  std::unique_ptr<boost::asio::thread_pool> workers_;            // transaction admission
  std::unique_ptr<boost::asio::thread_pool> consensus_workers_;  // signatures of proposals: never queued behind admission
  // One thread: committed blocks to the store, in commit order, so the strand
  // goes on voting and proposing while a block's writes are synced. The core
  // layers commits over the store until its head reaches them (core.h).
  std::unique_ptr<boost::asio::thread_pool> commit_writer_;
  std::unique_ptr<boost::asio::steady_timer> timer_;
  std::unique_ptr<boost::asio::steady_timer> sync_timer_;
  std::unique_ptr<boost::asio::steady_timer> gossip_timer_;
  std::unique_ptr<PeerTransport> transport_;
  std::shared_ptr<api::ApiServer> api_;
  std::unique_ptr<Mempool> mempool_;
  std::unique_ptr<consensus::Replica> replica_;
  std::optional<Checkpoints> checkpoints_;

  // Consensus messages in arrival order. A proposal waits at the head until
  // the worker pool has checked its transactions' signatures (in parallel,
  // off this thread); the messages behind it wait with it, so the core still
  // sees them in the order they came.
  struct PendingMessage {
    size_t from;
    consensus::v1::ConsensusMessage msg;
    bool ready;
    std::chrono::steady_clock::time_point received{};
  };
  // When the proposal being handed to the core arrived (vote_latency_).
  std::chrono::steady_clock::time_point proposal_received_{};
  // When the core entered its current round (round_latency_).
  uint64_t round_seen_ = 0;
  std::chrono::steady_clock::time_point round_entered_{};
  // kSafety keys of the blocks this validator voted for and has not seen
  // committed, by height (persist_safety adds, apply_commit drops).
  std::multimap<uint64_t, Bytes> voted_keys_;
  std::deque<std::shared_ptr<PendingMessage>> consensus_queue_;

  // Submissions waiting for their commit, by transaction hash.
  struct Waiter {
    std::function<void(SubmitResult)> done;
    uint64_t deadline_ms;
    std::shared_ptr<boost::asio::steady_timer> timer;
  };
  std::multimap<Hash256, std::shared_ptr<Waiter>> waiters_;
  struct CheckpointWaiter {
    uint64_t min_size;
    std::chrono::steady_clock::time_point asked;
    std::function<void(std::optional<std::string>)> done;
    std::shared_ptr<boost::asio::steady_timer> timer;
  };
  std::vector<std::shared_ptr<CheckpointWaiter>> checkpoint_waiters_;

  // Checkpoint signing: every new log size at once; the same size again only
  // now and then, so nodes that joined late still collect a quorum.
  uint64_t last_signed_size_ = 0;
  uint64_t last_signed_ms_ = 0;
  // The latest checkpoint signature this validator made, and the peers
  // linked at the last sync_tick (sorted): a newly linked one is sent it.
  std::optional<v1::CheckpointSignature> own_checkpoint_;
  std::vector<PublicKey> checkpoint_linked_;
  // The served checkpoint is kept in the data dir (written by the commit
  // writer, after the blocks before it, not synced: a process crash keeps
  // it, a power loss may lose the last few), so a restarted node serves it
  // again at once, never a smaller one than before.
  uint64_t kept_checkpoint_size_ = 0;
  // Serves `text`, the kept note, again if Checkpoints::restore accepts it
  // against this node's log of `log_size` entries.
  Status restore_checkpoint(const std::string& text, uint64_t log_size);

  // Catch-up: the highest committed height peers told us about.
  uint64_t peer_height_ = 0;
  uint64_t sync_requested_at_ms_ = 0;
  size_t sync_peer_cursor_ = 0;
  // Peers that served a bad block: not asked again (nor believed) until then.
  std::map<PublicKey, uint64_t> sync_banned_until_ms_;
  // The snapshot admission checks against, taken at durable_seq_ =
  // admission_snap_seq_ (a new one once another block is durable).
  std::shared_ptr<const ledger::KvReader> admission_snap_;
  uint64_t admission_snap_seq_ = 0;
  size_t admitting_ = 0;        // transactions on the worker pool now
  size_t admitting_bytes_ = 0;  // and their bytes
  // Transactions of committed blocks the writer has not made durable yet:
  // admission treats them as committed (duplicates), as the store soon will.
  std::unordered_set<Hash256, crypto::FixedBytesHash> committing_;
  // Blocks made durable so far (on_commit_durable, block sync). A verdict
  // checked against a snapshot taken when this was the same needs no store
  // read to rule out a commit since: committing_ covers the ones in flight.
  uint64_t durable_seq_ = 0;
  // The transactions of the last few durable blocks, by their durable_seq_:
  // a verdict against a snapshot no older than these is ruled out (or in) as
  // committed since by a lookup here instead of a store read on the strand.
  std::deque<std::pair<uint64_t, std::vector<Hash256>>> recent_durable_;
  std::unordered_set<Hash256, crypto::FixedBytesHash> recent_durable_index_;
  void made_durable(const std::vector<Hash256>& tx_hashes);

  // Admitted client transactions not yet gossiped: sent together as one
  // Transactions message when a size bound is reached or gossip_timer_ fires
  // (node.cc: kGossipMaxTxs, kGossipMaxBytes, kGossipDelayUs).
  v1::NodeMessage gossip_batch_;
  size_t gossip_batch_bytes_ = 0;
  bool gossip_timer_armed_ = false;

  // Read by NodeService callers on any thread.
  mutable std::mutex mu_;
  NodeStatus status_;
  std::optional<std::string> note_;
  std::map<std::string, uint64_t> rejected_by_reason_;
  uint64_t committed_txs_ = 0;
  uint64_t bad_peer_messages_ = 0;
  uint64_t synced_blocks_ = 0;
  uint64_t bad_sync_blocks_ = 0;
  uint64_t gossip_messages_out_ = 0;  // Transactions messages broadcast
  uint64_t gossip_txs_out_ = 0;       // transactions in them
  uint64_t gossip_txs_in_ = 0;        // transactions received in peers' Transactions messages
  std::atomic<bool> stopping_{false};
  // Wall time of the synced RocksDB writes a round waits for: the safety
  // record before each vote (strand) and each committed block (writer).
  LatencyHistogram safety_writes_;
  LatencyHistogram commit_writes_;
  // Where a client's transaction spends its time (docs/operator.md, /metrics):
  // submitted -> in this node's mempool -> durably committed here -> covered
  // by a cosigned checkpoint (a wait=true answer needs all three).
  LatencyHistogram admission_latency_;
  LatencyHistogram commit_latency_;
  LatencyHistogram checkpoint_latency_;
  // The rounds themselves: a proposal's arrival to this validator's vote
  // for it being durable, and the time between entering two rounds.
  LatencyHistogram vote_latency_;
  LatencyHistogram round_latency_;
};

}  // namespace prov::node
