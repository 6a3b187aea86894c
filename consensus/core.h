// The consensus core: one validator's Jolteon / DiemBFT v4 replica as a
// deterministic state machine with no I/O of its own.
//
// Inputs are calls (start, on_message, on_tick, on_payload_ready); outputs are
// an ordered list of effects the caller drains after every call and executes
// in order:
//   PersistSafety  write the safety state durably (fsync) before executing any
//                  later effect: a vote or timeout follows it in the list;
//   Send/Broadcast deliver a message to one validator / all other validators;
//   Commit         apply a committed block's writes atomically to the ledger
//                  store; the core reads committed state only through the
//                  KvReader it was given and expects it to reflect every
//                  Commit it emitted before its next input;
//   SetTimer       call on_tick at (or after) the given tick; a later SetTimer
//                  replaces an earlier one (the core asks for the soonest
//                  wake-up it needs, and again for the rest on each tick).
// Votes are broadcast to every validator (not only to the next leader), so
// every replica forms QCs itself; see docs/consensus.md.
// Time is an abstract tick counter (milliseconds in provd and in the
// simulator); block times are taken from it, so the node feeds wall-clock
// milliseconds. Randomness is never used: the same inputs give the same
// effects, which is what makes the simulator's seeds replay exactly.
//
// Headers commit to the log after the block itself (ledger/state.h): a replica
// executes every proposal on an overlay of its uncommitted ancestors and votes
// only if the header's log size and root match its own execution.
//
// Leader election is round-robin with reputation: the leader of round r on a
// chain ending at block P rotates among the validators that proposed one of
// the last `reputation_window` blocks of that chain, so a dead leader costs a
// timeout only until its last block leaves the window; every
// `probe_every_rounds`-th round uses plain rotation so a recovered validator
// gets back in. Because the choice depends only on the chain, every replica
// that validates the same proposal agrees on its leader.
//
// A deliberately broken variant exists only to prove the simulator's checkers
// work: built with PROV_CONSENSUS_BROKEN_LOCK (CMake target consensus_broken,
// linked only by a test), the safety rules ignore the two-chain lock and the
// vote-once-per-round rule, and a single QC counts as a commit. provd and
// provsim never link it.
//
// Not thread-safe: owned by one strand (provd) or one simulated replica.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <variant>
#include <vector>

#include "consensus/certificates.h"
#include "consensus/proto/consensus.pb.h"
#include "consensus/safety_rules.h"
#include "crypto/ed25519.h"
#include "ledger/kv.h"
#include "ledger/proto/ledger.pb.h"
#include "ledger/state.h"

namespace prov::consensus {

// Where the core pulls transactions from; it knows nothing else of the mempool.
class PayloadSource {
 public:
  virtual ~PayloadSource() = default;
  // Up to `max_txs` transactions totalling at most `max_bytes`, oldest first.
  // The core may leave some out of its block (invalid or already included);
  // the mempool forgets a transaction only when it is committed.
  virtual std::vector<Bytes> pull(size_t max_txs, size_t max_bytes) = 0;
  // The transaction with this SHA-256 as decoded when it was admitted, if
  // the source still holds it: executing a block then skips decoding it
  // again (ledger::DecodedLookup). Valid until the source next changes.
  virtual const ledger::DecodedTx* decoded(const Hash256& /*tx_hash*/) const { return nullptr; }
  // About how many transactions are waiting (some may already be in
  // uncommitted blocks): a leader with a full block's worth does not pace.
  virtual size_t waiting() const { return 0; }
};

struct Send {
  size_t to;  // validator index
  v1::ConsensusMessage msg;
};
struct Broadcast {
  v1::ConsensusMessage msg;  // to every validator but this one
};
struct PersistSafety {
  SafetyState state;
  v1::QuorumCert high_qc;                 // lets a restarted replica time out with what it knew
  std::optional<v1::TimeoutCert> last_tc; // the TC that opened the current round, if any
  // The block this replica is about to vote for: keep it (with its height)
  // until a Commit reaches that height, and hand every kept block back to
  // start(). A certified block must survive even if every replica that
  // voted for it restarts, or the chain could not be extended past its QC.
  std::optional<Bytes> voted_block;
  uint64_t voted_height = 0;
};
struct Commit {
  uint64_t height;
  Hash256 block_id;
  Bytes block;                // exact Block bytes
  // The block's ledger writes, shared (never copied) with the core's own
  // layer of commits the caller has not applied yet; then `writes`, the
  // commit proof and root QC. Apply both, in that order, in one atomic batch.
  std::shared_ptr<const ledger::WriteSet> block_writes;
  ledger::WriteSet writes;
  v1::CommitProof proof;
  ledger::v1::BlockHeader header;  // the committed block's, parsed
  std::vector<Hash256> tx_hashes;  // SHA-256 of each transaction's bytes, in block order (one per transaction)
};
struct SetTimer {
  uint64_t deadline_tick;
};
using Effect = std::variant<Send, Broadcast, PersistSafety, Commit, SetTimer>;

struct CoreConfig {
  uint64_t round_timeout_ticks = 1000;    // first timeout of a round
  uint32_t max_backoff_doublings = 4;     // consecutive timeouts double it, up to 2^4 ×
  uint64_t idle_propose_ticks = 300;      // an idle leader proposes an empty block after this
  // A leader proposes no sooner than this after its parent was proposed
  // (or after entering the round, if earlier), unless a full block is
  // waiting: under light load every round costs the same signatures and
  // fsyncs whether it carries one transaction or fifty. 0 = as soon as it can.
  uint64_t min_block_interval_ticks = 0;
  uint64_t max_clock_skew_ticks = 10000;  // reject proposals timed further in the future
  size_t max_block_txs = 2000;
  size_t max_block_bytes = 8 << 20;
  size_t reputation_window = 0;           // blocks; 0 = 2 × validators
  uint64_t probe_every_rounds = 20;
  uint64_t max_rounds_ahead = 1000;       // ignore messages further ahead than this
  size_t max_blocks_per_response = 64;
  // An answer of committed blocks holds at most this many bytes of blocks
  // and proofs, and always at least one block: 64 blocks of a loaded chain
  // outgrew the peer frame limit. provd sets it to half its frame limit.
  size_t max_response_bytes = 4 << 20;
  size_t max_pending_blocks = 4096;       // uncommitted blocks kept in the tree
};

struct CoreStats {
  uint64_t proposals_sent = 0;
  uint64_t votes_sent = 0;
  uint64_t timeouts_sent = 0;
  uint64_t qcs_formed = 0;
  uint64_t tcs_formed = 0;
  uint64_t blocks_committed = 0;
  uint64_t rejected_messages = 0;
  uint64_t block_requests_sent = 0;
};

class Replica {
 public:
  // `committed` is the ledger store as of the last Commit applied (genesis
  // applied at least); `payload` feeds proposals. Both must outlive the core.
  Replica(ValidatorSet validators, crypto::KeyPair key, const ledger::KvReader& committed, PayloadSource& payload,
          CoreConfig config = {});
  // Not copyable or movable: decoded_ is bound to this object.
  Replica(const Replica&) = delete;
  Replica& operator=(const Replica&) = delete;

  // Loads the committed head and resumes from what the last PersistSafety
  // wrote (a default SafetyState and genesis_qc() on first start). With the
  // persisted TC a replica that timed out a round before crashing can time
  // out the next one too, even if every replica restarted at once.
  Status start(const SafetyState& safety, const v1::QuorumCert& high_qc, uint64_t now,
               const v1::TimeoutCert* last_tc = nullptr, const std::vector<Bytes>* voted_blocks = nullptr);
  // A message from validator `from` (already authenticated by the transport;
  // its contents are still checked). Bad input is counted and dropped.
  void on_message(size_t from, const v1::ConsensusMessage& msg, uint64_t now);
  void on_tick(uint64_t now);
  // The mempool got transactions: an idle leader may propose now.
  void on_payload_ready(uint64_t now);
  // Effects produced so far, in order; the caller executes all of them.
  std::vector<Effect> drain();

  uint64_t current_round() const { return round_; }
  uint64_t committed_height() const { return root_.height; }
  const Hash256& committed_id() const { return root_.id; }
  uint64_t high_qc_round() const { return high_qc_.round(); }
  const SafetyState& safety_state() const { return safety_.state(); }
  const CoreStats& stats() const { return stats_; }
  size_t self() const { return self_; }
  // The leader of `round` on the chain ending at block `parent` (which must be
  // known), or nullopt if `parent` is unknown.
  std::optional<size_t> leader(uint64_t round, const Hash256& parent) const;

 private:
  struct Node {
    Hash256 id;
    Hash256 parent;
    uint64_t height = 0;
    uint64_t round = 0;
    Bytes block;
    Bytes header_bytes;
    ledger::v1::BlockHeader header;
    ledger::WriteSet writes;
    std::vector<Hash256> tx_hashes;
    std::optional<v1::QuorumCert> qc;  // certifies this block
    size_t tx_count = 0;
    size_t proposer = 0;
  };
  struct Root {
    Hash256 id;
    uint64_t height = 0;
    uint64_t round = 0;
    int64_t time_ms = 0;
    Bytes header_bytes;
    v1::QuorumCert qc;
  };

  // Message handlers.
  void handle_proposal(size_t from, const v1::Proposal& p, uint64_t now);
  void handle_vote(size_t from, const v1::Vote& v, uint64_t now);
  void handle_timeout(size_t from, const v1::TimeoutVote& t, uint64_t now);
  void handle_sync(size_t from, const v1::SyncInfo& s, uint64_t now);
  void broadcast_sync_info();
  void handle_block_request(size_t from, const v1::BlockRequest& r);
  void handle_block_response(size_t from, const v1::BlockResponse& r, uint64_t now);

  // Certificates move the replica forward.
  void process_qc(const v1::QuorumCert& qc, size_t from, uint64_t now);
  void process_tc(const v1::TimeoutCert& tc, uint64_t now);
  void advance_round(uint64_t round, bool via_tc, uint64_t now);
  void try_commit(const Node& certified);
  void commit_chain(const Hash256& b_id, const Node& child);
  // Hands `node`'s writes over to the Commit effect (the node is pruned next).
  void commit_node(Node& node, v1::CommitProof proof);
  void prune();

  // Blocks.
  bool known(const Hash256& id) const { return id == root_.id || tree_.count(id) > 0; }
  // Executes `block` on its parent's state and inserts it; returns the node.
  Result<const Node*> insert_block(ByteView block, uint64_t now);
  const Node& add_node(ledger::AppliedBlock applied);
  // The state after block `tip`: the store plus the writes of every
  // unapplied and uncommitted block up to it, as stacked overlays.
  struct StateView {
    std::vector<std::unique_ptr<ledger::Overlay>> layers;
    const ledger::KvReader* top = nullptr;
  };
  Result<StateView> state_at(const Hash256& tip) const;
  void request_block(const Hash256& id, size_t from, uint64_t now);
  void wait_for(const Hash256& id, size_t from, const v1::ConsensusMessage& msg);
  void retry_waiting(const Hash256& id, uint64_t now);

  // Proposing and voting.
  void try_propose(uint64_t now);
  // True if this replica holds a verified QC for qc's (epoch, round, block).
  bool holds_qc_for(const v1::QuorumCert& qc) const;
  bool chain_has_uncommitted_txs(const Hash256& tip) const;
  void vote_for(const Node& node, const v1::Proposal& p, uint64_t now);
  void local_timeout(uint64_t now);
  void count_vote(const v1::Vote& v, size_t from, uint64_t now);
  void check_timeouts(uint64_t round, uint64_t now);
  void persist_safety(const Node* voted = nullptr);

  uint64_t round_timeout() const;
  void set_timer(uint64_t deadline);
  void emit(Effect e) { effects_.push_back(std::move(e)); }
  void send(size_t to, v1::ConsensusMessage msg);
  void broadcast(v1::ConsensusMessage msg);
  void reject() { ++stats_.rejected_messages; }

  ValidatorSet validators_;
  crypto::KeyPair key_;
  size_t self_ = 0;
  const ledger::KvReader& committed_;
  PayloadSource& payload_;
  // Execution takes the payload source's decoded transactions (bound once).
  const ledger::DecodedLookup decoded_ = [this](const Hash256& h) { return payload_.decoded(h); };
  SignatureMemo sig_memo_;  // vote and timeout signatures verified once (certificates.h)
  CoreConfig config_;

  SafetyRules safety_{SafetyState{}};
  Root root_;
  std::map<Hash256, Node> tree_;
  std::deque<size_t> committed_proposers_;  // of the last reputation_window committed blocks, oldest first
  v1::QuorumCert high_qc_;
  std::optional<v1::TimeoutCert> last_tc_;  // the TC that ended round round_ - 1, if any
  uint64_t round_ = 1;
  uint64_t round_start_ = 0;
  uint64_t deadline_ = 0;
  uint64_t armed_ = UINT64_MAX;  // the environment's timer: the soonest wake-up asked for since the last tick
  uint32_t consecutive_timeouts_ = 0;
  uint64_t proposed_round_ = 0;
  uint64_t timed_out_round_ = 0;
  std::optional<v1::TimeoutVote> my_timeout_;
  // Blocks committed but perhaps not yet applied by the caller: the core
  // layers them over `committed_` until the store's head reaches them.
  std::deque<std::pair<uint64_t, std::shared_ptr<const ledger::WriteSet>>> unapplied_;
  std::map<uint64_t, std::map<Hash256, std::map<size_t, v1::Vote>>> votes_;   // round -> block -> voter
  std::map<uint64_t, std::map<size_t, v1::TimeoutVote>> timeouts_;            // round -> voter
  std::map<uint64_t, std::set<Hash256>> blocks_by_round_;
  // Proposals and votes waiting for a block we asked for, by that block's id.
  std::map<Hash256, std::vector<std::pair<size_t, v1::ConsensusMessage>>> waiting_;
  std::map<Hash256, uint64_t> requested_;  // id -> tick asked
  std::vector<Effect> effects_;
  CoreStats stats_;
  bool started_ = false;
};

}  // namespace prov::consensus
