#include "node/node.h"

#include <pthread.h>
#include <sys/resource.h>
#include <unistd.h>

#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <sstream>
#include <tuple>

#include "crypto/encoding.h"
#include "crypto/keyfile.h"
#include "crypto/sha256.h"
#include "crypto/note.h"
#include "ledger/genesis.h"
#include "ledger/merkle_log.h"
#include "ledger/registry.h"
#include "ledger/sig_cache.h"
#include "ledger/state.h"
#include "node/log.h"
#include "node/version.h"

namespace prov::node {
namespace {

namespace asio = boost::asio;
namespace cv1 = ::prov::consensus::v1;

constexpr size_t kMaxAdmitting = 4096;           // transactions being checked at once; beyond: busy
constexpr size_t kAdmitChunkTxs = 32;            // transactions checked by one worker job
constexpr uint64_t kSyncIntervalMs = 500;        // observers ask for new blocks this often
constexpr uint32_t kSyncMaxBlocks = 64;          // blocks per sync answer
constexpr uint64_t kSyncRequestTimeoutMs = 3000; // then ask another peer
constexpr uint64_t kSyncBanMs = 60000;           // a peer that served a bad block is shunned this long
constexpr std::string_view kSafetyKey = "state";
// kSafety keys "voted/" ‖ u64 height ‖ block id: blocks this validator voted
// for and that are not committed yet (consensus/core.h, PersistSafety).
constexpr std::string_view kVotedBlockPrefix = "voted/";
// kMeta key of the ledger store, written once the safety store holds a
// record: from then on a safety store without one was lost, not new.
constexpr std::string_view kMetaSafetyUsed = "safety_store_used";
// kMeta key of the ledger store: the cosigned checkpoint note last served.
constexpr std::string_view kMetaServedCheckpoint = "served_checkpoint";
// The safety store is read at start only and holds a record and the blocks
// voted for but not committed yet. Its memtables flush when one is full
// (4 MiB): only two of its column families are written, so the write-buffer
// bound is one they do not reach together (a tight one, with 17 column
// families' empty memtables counted, flushed on every write).
constexpr size_t kSafetyCacheBytes = 1u << 20;
constexpr size_t kSafetyWriteBufferBytes = 64u << 20;
constexpr size_t kMaxVotedBlocks = 4096;
constexpr uint64_t kNotPooled = ~uint64_t{0};  // Mempool::remove found no such transaction

Bytes voted_block_key(uint64_t height, ByteView block) {
  Bytes key = to_bytes(kVotedBlockPrefix);
  put_u64_be(key, height);
  append(key, crypto::sha256(block).view());
  return key;
}
constexpr uint64_t kResignIntervalMs = 2000;     // re-sign an unchanged head this often
constexpr size_t kMaxQueuedConsensus = 10000;    // consensus messages waiting behind a proposal
// Gossip of admitted client transactions: one Transactions message per batch
// instead of one encrypted frame per transaction per peer. A batch leaves when
// it holds kGossipMaxTxs transactions or kGossipMaxBytes bytes, or
// kGossipDelayUs after its first transaction, whichever comes first. The byte
// bound keeps a batch far below the frame limit (a lone transaction larger
// than it travels alone).
constexpr size_t kGossipMaxTxs = 256;
constexpr size_t kGossipMaxBytes = 256u << 10;
constexpr uint64_t kGossipDelayUs = 2000;
// Durable blocks whose transactions admission looks up in memory (Node::
// recent_durable_); a check that took longer than this many commits reads
// the store instead.
constexpr size_t kRecentDurableBlocks = 32;
constexpr std::string_view kAlreadyCommitted = "duplicate: already committed";

// Thread priorities. Admission threads run at a lower CPU priority than
// everything else: under a flood of submissions, checking new transactions
// must not starve the round in progress (a starved round times out and
// wastes everything it carried). The threads that verify proposal
// transactions this node has not admitted and the commit writer run between
// the two: below the consensus strand, which executes every block and forms
// every vote and QC on one thread (under load it got a small share of the
// cores and a round stretched to hundreds of milliseconds), above admission.
constexpr int kAdmissionNice = 10;
constexpr int kHelperNice = 5;

// Linux applies setpriority() to one thread when given its id. Called at
// the start of every job; a thread names itself and changes its own
// priority once. The names (at most 15 characters) show in `top -H`,
// `ps -L` and perf: provd-admit, provd-verify, provd-commit; the io
// thread (the consensus strand, also networking and HTTP) keeps the
// process's name, provd.
void enter_helper(const char* name, int nice) {
  thread_local const char* current = nullptr;
  if (current == name) return;
  (void)pthread_setname_np(pthread_self(), name);
  (void)setpriority(PRIO_PROCESS, static_cast<id_t>(::gettid()), nice);
  current = name;
}

const char* sync_name(SyncState s) {
  switch (s) {
    case SyncState::kSynced: return "synced";
    case SyncState::kSyncing: return "syncing";
    case SyncState::kStarting: return "starting";
  }
  return "starting";
}

Result<PeerInfo> peer_info(const std::string& name, const std::string& key_bytes, const std::string& address,
                           PeerRole role) {
  PeerInfo p;
  p.name = name;
  p.role = role;
  if (!p.key.assign(as_bytes(key_bytes))) return Status::invalid_argument("peer " + name + ": key is not 32 bytes");
  if (!address.empty()) {
    PROV_ASSIGN_OR_RETURN(Endpoint e, parse_endpoint(address));
    p.host = e.host;
    p.port = e.port;
  }
  return p;
}

// Orders two safety records of one validator: the later one has rounds at
// least as high in every field (they only grow), so the larger key is it.
std::tuple<uint64_t, uint64_t, uint64_t> safety_order(ByteView raw) {
  v1::SafetyRecord rec;
  if (!rec.ParseFromArray(raw.data(), static_cast<int>(raw.size()))) return {0, 0, 0};
  return {rec.epoch(), rec.highest_vote_round(), rec.highest_qc_round()};
}

}  // namespace

Status migrate_safety(ledger::store::RocksStore& ledger, ledger::store::RocksStore& safety) {
  std::vector<std::pair<Bytes, Bytes>> legacy;
  PROV_RETURN_IF_ERROR(ledger.scan(ledger::Column::kSafety, {}, {}, kMaxVotedBlocks + 1, [&](ByteView k, ByteView v) {
    legacy.emplace_back(Bytes(k.begin(), k.end()), Bytes(v.begin(), v.end()));
    return true;
  }));
  auto record = std::find_if(legacy.begin(), legacy.end(),
                             [](const auto& kv) { return to_string(kv.first) == kSafetyKey; });
  if (record == legacy.end()) return Status::ok();
  PROV_ASSIGN_OR_RETURN(auto current, safety.get(ledger::Column::kSafety, as_bytes(kSafetyKey)));
  if (current && safety_order(*current) >= safety_order(record->second)) return Status::ok();
  // The ledger's copy is the only one, or newer (an earlier provd ran on
  // this data dir again after a first move): it and its voted blocks go over.
  // Nothing is erased from the ledger, so that earlier provd still finds
  // its record if the operator goes back to it.
  ledger::WriteSet copy;
  for (const auto& [k, v] : legacy) copy.put(ledger::Column::kSafety, k, v);
  PROV_RETURN_IF_ERROR(safety.apply(copy, /*sync=*/true));
  LOG_INFO("copied the consensus safety state (" << legacy.size() << " records) into its own store");
  return Status::ok();
}

uint64_t Node::now_ms() {
  using namespace std::chrono;
  return static_cast<uint64_t>(duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count());
}

// ------------------------------------------------------------------ opening

namespace {

// Validators hold the same data, so with one memtable budget every node
// filled it at the same log position and all of them flushed the same
// column family at the same moment (the write buffer manager's flushes,
// nearly all of them): on a shared disk four 15 MB flushes queued every
// node's synced commit writes at once (a 300 ms stall of the whole net, the
// slowest commits of a half-load run), and on separate disks each node still
// slowed in the same round, where a quorum tolerates one slow node but not
// all of them. Staggered budgets spread the flushes over the log: validator
// i of n gets 1 + i/(2n) times write_buffer_bytes (and the per-column-family
// memtable size); any other node a slot from its key. Returns (slot, slots).
std::pair<size_t, size_t> flush_stagger(const ledger::v1::Genesis& genesis, const PublicKey& self) {
  for (int i = 0; i < genesis.validators_size(); ++i) {
    if (genesis.validators(i).pub_key() == to_string(self))
      return {static_cast<size_t>(i), static_cast<size_t>(genesis.validators_size())};
  }
  return {self.bytes[0], 256};
}

}  // namespace

Result<std::unique_ptr<Node>> Node::open(const NodeConfig& config) {
  std::unique_ptr<Node> n(new Node());
  n->config_ = config;
  set_log_level(parse_log_level(config.log_level));
  PROV_ASSIGN_OR_RETURN(n->genesis_, ledger::load_genesis_file(config.genesis));
  n->chain_id_ = n->genesis_.chain_id();

  std::optional<std::string> passphrase;
  if (!config.passphrase_file.empty()) {
    PROV_ASSIGN_OR_RETURN(passphrase, crypto::read_passphrase_file(config.passphrase_file));
  } else if (!config.passphrase_env.empty()) {
    PROV_ASSIGN_OR_RETURN(passphrase, crypto::read_passphrase_env(config.passphrase_env));
  }
  PROV_ASSIGN_OR_RETURN(crypto::KeyPair key, crypto::load_key_file(config.node_key, passphrase));
  n->key_ = std::make_unique<crypto::KeyPair>(key);

  ledger::store::StoreOptions options;
  const auto [stagger, slots] = flush_stagger(n->genesis_, key.public_key());
  auto staggered = [&](size_t bytes) { return bytes + bytes * stagger / (2 * slots); };
  options.memory =
      ledger::store::MemoryBudget::create(config.block_cache_bytes, staggered(config.write_buffer_bytes));
  options.direct_io = config.direct_io;
  options.memtable_bytes = staggered(options.memtable_bytes);
  PROV_ASSIGN_OR_RETURN(n->store_, ledger::store::RocksStore::open(config.data_dir, options));
  if (config.direct_io && !n->store_->direct_io()) {
    LOG_WARN("the file system of " << config.data_dir
                                   << " refused O_DIRECT: flushes and compactions go through the page cache");
  } else {
    LOG_INFO("store: flushes and compactions " << (n->store_->direct_io() ? "use O_DIRECT" : "go through the page cache"));
  }
  // A subdirectory RocksDB leaves alone (it only touches files it named).
  // Its memory budget is its own: sharing the ledger's made every vote's
  // safety write flush the safety store whenever the ledger's memtables had
  // filled the shared budget (dozens of tiny flushes in a second, on every
  // validator at once), while only the ledger's flushes free memory.
  ledger::store::StoreOptions safety_options;
  safety_options.memory = ledger::store::MemoryBudget::create(kSafetyCacheBytes, kSafetyWriteBufferBytes);
  safety_options.memtable_bytes = 4u << 20;
  safety_options.max_wal_bytes = 16u << 20;
  safety_options.background_jobs_max = 1;
  safety_options.direct_io = config.direct_io;
  PROV_ASSIGN_OR_RETURN(n->safety_store_, ledger::store::RocksStore::open(
                                              (std::filesystem::path(config.data_dir) / kSafetyDirName).string(),
                                              safety_options));
  PROV_RETURN_IF_ERROR(migrate_safety(*n->store_, *n->safety_store_));

  // First start: install the genesis. Later starts: the store must be for
  // this very genesis, or the operator pointed the node at the wrong file.
  auto head = ledger::read_head(*n->store_);
  if (!head && head.status().code() == StatusCode::kNotFound) {
    PROV_ASSIGN_OR_RETURN(ledger::WriteSet w, ledger::apply_genesis(n->genesis_));
    PROV_RETURN_IF_ERROR(n->store_->apply(w, /*sync=*/true));
    LOG_INFO("initialized " << config.data_dir << " from genesis of chain " << n->chain_id_);
  } else if (!head) {
    return head.status();
  } else if (head->chain_id != n->chain_id_) {
    return Status::invalid_argument("data dir " + config.data_dir + " holds chain '" + head->chain_id +
                                    "', but the genesis is for '" + n->chain_id_ + "'");
  } else if (Status format = ledger::check_state_format(*n->store_); !format.is_ok()) {
    return Status::invalid_argument("data dir " + config.data_dir + ": " + format.message() +
                                    "; keep its " + kSafetyDirName +
                                    "/ subdirectory (this validator's record of its votes, already copied there) "
                                    "and put it into the new, otherwise empty data dir");
  }
  PROV_ASSIGN_OR_RETURN(ledger::v1::ValidatorSet vset, ledger::current_validators(*n->store_));
  PROV_ASSIGN_OR_RETURN(n->validators_, consensus::ValidatorSet::from_ledger(n->chain_id_, vset));
  PROV_ASSIGN_OR_RETURN(n->params_, ledger::consensus_params(*n->store_));

  std::vector<Checkpoints::Member> members;
  for (const auto& v : vset.validators()) {
    PROV_ASSIGN_OR_RETURN(PeerInfo p, peer_info(v.name(), v.pub_key(), v.address(), PeerRole::kValidator));
    n->validator_index_[p.key] = members.size();
    members.push_back({p.name, p.key});
    if (p.key == key.public_key()) {
      n->is_validator_ = true;
      n->name_ = p.name;
      continue;
    }
    n->peers_.push_back(std::move(p));
  }
  bool is_observer = false;
  for (const auto& o : n->genesis_.observers()) {
    PROV_ASSIGN_OR_RETURN(PeerInfo p, peer_info(o.name(), o.pub_key(), o.address(), PeerRole::kObserver));
    if (p.key == key.public_key()) {
      is_observer = true;
      n->name_ = p.name;
      continue;
    }
    n->peers_.push_back(std::move(p));
  }
  if (n->is_validator_) {
    PROV_ASSIGN_OR_RETURN(auto record, n->safety_store_->get(ledger::Column::kSafety, as_bytes(kSafetyKey)));
    PROV_ASSIGN_OR_RETURN(auto used, n->store_->get(ledger::Column::kMeta, as_bytes(kMetaSafetyUsed)));
    if (used && !record) {
      return Status::invalid_argument(
          "data dir " + config.data_dir + ": this validator voted from it, but its " + kSafetyDirName +
          "/ subdirectory holds no record of those votes (restored or copied without it?); starting would risk "
          "signing twice in a round. Restore " + kSafetyDirName +
          "/ from the same backup as the rest, or, to start this validator without it anyway, remove the whole "
          "data dir: it then syncs from its peers");
    }
    n->safety_used_ = used.has_value();
  }
  if (!n->is_validator_ && !is_observer) {
    return Status::permission_denied("this node's key " + crypto::base64_encode(key.public_key()) +
                                     " is neither a validator nor an observer in the genesis");
  }
  PROV_ASSIGN_OR_RETURN(n->checkpoints_, Checkpoints::create(n->chain_id_, members,
                                                             n->is_validator_ ? std::optional(key) : std::nullopt));
  n->mempool_ = std::make_unique<Mempool>(config.mempool_max_txs, config.mempool_max_bytes);
  n->workers_ = std::make_unique<asio::thread_pool>(config.worker_threads);
  n->consensus_workers_ = std::make_unique<asio::thread_pool>(config.worker_threads);
  n->commit_writer_ = std::make_unique<asio::thread_pool>(1);
  n->timer_ = std::make_unique<asio::steady_timer>(n->io_);
  n->sync_timer_ = std::make_unique<asio::steady_timer>(n->io_);
  n->gossip_timer_ = std::make_unique<asio::steady_timer>(n->io_);
  if (n->is_validator_) {
    consensus::CoreConfig core;
    core.round_timeout_ticks = n->params_.round_timeout_ms();
    // An idle leader sends an empty block well before the others' round
    // timers fire, but no more often than it must.
    core.idle_propose_ticks =
        std::max<uint64_t>({n->params_.block_interval_ms(), n->params_.round_timeout_ms() / 2, 1});
    if (config.min_block_interval_ms * 2 >= n->params_.round_timeout_ms()) {
      return Status::invalid_argument("config min_block_interval_ms = " + std::to_string(config.min_block_interval_ms) +
                                      " must be below half the genesis round_timeout_ms (" +
                                      std::to_string(n->params_.round_timeout_ms()) + ")");
    }
    core.min_block_interval_ticks = config.min_block_interval_ms;
    core.max_block_txs = n->params_.max_block_txs();
    core.max_block_bytes = n->params_.max_block_bytes();
    core.max_response_bytes = n->max_frame_bytes() / 2;
    n->replica_ = std::make_unique<consensus::Replica>(*n->validators_, key, *n->store_, *n->mempool_, core);
  }
  Result<ledger::Head> current = ledger::read_head(*n->store_);
  // The durable head is where checkpoints start from after a restart: peers'
  // signatures for it count at once, and a validator signs it again (it is
  // durable) so that a net with nothing new to commit still serves a
  // cosigned checkpoint to a node that restarted or joined (sync_tick hands
  // the signature to each peer whose link comes up).
  if (current && current->log_size > 0) {
    PROV_ASSIGN_OR_RETURN(auto kept, n->store_->get(ledger::Column::kMeta, as_bytes(kMetaServedCheckpoint)));
    if (kept) {
      // Checked as a peer's signatures would be; one that fails is not served
      // (logged), and the node collects a new one from its peers.
      if (Status st = n->restore_checkpoint(to_string(*kept), current->log_size); st.is_ok()) {
        n->kept_checkpoint_size_ = n->checkpoints_->served_size();
        LOG_INFO("serving the kept checkpoint of size " << n->kept_checkpoint_size_);
      } else {
        LOG_WARN("not serving the kept checkpoint: " << st.message());
      }
    }
    n->own_checkpoint_ = n->checkpoints_->on_durable_head(current->log_size, current->log_root, n->is_validator_);
    n->last_signed_size_ = current->log_size;
    n->last_signed_ms_ = now_ms();
  }
  n->refresh_status(&current);
  return n;
}

Status Node::restore_checkpoint(const std::string& text, uint64_t log_size) {
  auto note = crypto::note::parse_note(text);
  if (!note) return Status::verification_failed("kept checkpoint does not parse: " + note.status().message());
  auto cp = crypto::note::parse_checkpoint(note->text);
  if (!cp) return Status::verification_failed("kept checkpoint does not parse: " + cp.status().message());
  if (cp->size > log_size)
    return Status::verification_failed("kept checkpoint of size " + std::to_string(cp->size) +
                                       " is beyond the log (size " + std::to_string(log_size) + ")");
  PROV_ASSIGN_OR_RETURN(Hash256 root, ledger::log_root(*store_, cp->size));
  return checkpoints_->restore(text, cp->size, root);
}

Node::~Node() {
  stop();
  if (workers_) workers_->join();
  if (consensus_workers_) consensus_workers_->join();
  if (commit_writer_) commit_writer_->join();
  replica_.reset();
  admission_snap_.reset();  // a snapshot must not outlive its store
  if (safety_store_) (void)safety_store_->close();
  if (store_) (void)store_->close();
}

// ------------------------------------------------------------------ running

Status Node::run() {
  TransportConfig tc;
  tc.listen_host = config_.p2p.host;
  tc.listen_port = config_.p2p.port;
  tc.chain_id = chain_id_;
  tc.role = is_validator_ ? PeerRole::kValidator : PeerRole::kObserver;
  tc.max_frame_bytes = static_cast<uint32_t>(max_frame_bytes());
  transport_ = std::make_unique<PeerTransport>(io_, tc, *key_, peers_,
                                               [this](const PublicKey& peer, Bytes frame) {
                                                 on_frame(peer, std::move(frame));
                                               });
  PROV_RETURN_IF_ERROR(transport_->start());

  api::ApiConfig ac;
  ac.bind_address = config_.api.host;
  ac.port = config_.api.port;
  ac.max_connections = config_.api_max_connections;
  ac.max_body_bytes = config_.api_max_body_bytes;
  auto server = api::ApiServer::start(io_, *this, ac);
  if (!server) {
    transport_->stop();
    return server.status();
  }
  api_ = *server;

  asio::signal_set signals(io_, SIGTERM, SIGINT);
  signals.async_wait([this](const boost::system::error_code& ec, int sig) {
    if (ec) return;
    LOG_INFO("signal " << sig << ": shutting down");
    stop();
  });

  if (replica_) {
    consensus::SafetyState safety;
    cv1::QuorumCert high_qc = consensus::genesis_qc();
    std::optional<cv1::TimeoutCert> last_tc;
    auto stored = safety_store_->get(ledger::Column::kSafety, as_bytes(kSafetyKey));
    if (!stored) return stored.status();
    if (*stored) {
      v1::SafetyRecord rec;
      if (!rec.ParseFromArray((*stored)->data(), static_cast<int>((*stored)->size()))) {
        return Status::corruption("safety state in " + config_.data_dir + " is unreadable");
      }
      safety = {rec.epoch(), rec.highest_vote_round(), rec.highest_qc_round()};
      high_qc = rec.high_qc();
      if (rec.has_last_tc()) last_tc = rec.last_tc();
    }
    std::vector<Bytes> voted;
    PROV_RETURN_IF_ERROR(safety_store_->scan(ledger::Column::kSafety, as_bytes(kVotedBlockPrefix), {}, kMaxVotedBlocks,
                                      [&](ByteView key, ByteView value) {
                                        voted.emplace_back(value.begin(), value.end());
                                        if (key.size() >= kVotedBlockPrefix.size() + 8) {
                                          voted_keys_.emplace(get_u64_be(key.data() + kVotedBlockPrefix.size()),
                                                              Bytes(key.begin(), key.end()));
                                        }
                                        return true;
                                      }));
    PROV_RETURN_IF_ERROR(replica_->start(safety, high_qc, now_ms(), last_tc ? &*last_tc : nullptr, &voted));
    drain_effects();
  }
  {
    std::lock_guard lock(mu_);
    status_.sync = is_validator_ ? SyncState::kSynced : SyncState::kSyncing;
  }
  sync_tick();
  LOG_INFO("provd " << release() << " " << (is_validator_ ? "validator " : "observer ") << name_ << " of chain "
                    << chain_id_ << ": peers on " << config_.p2p.host << ":" << transport_->bound_port()
                    << ", API on " << config_.api.host << ":" << api_->port() << ", height "
                    << status().height);
  io_.run();
  workers_->join();
  consensus_workers_->join();
  commit_writer_->join();  // every commit handed over is written before the store closes
  admission_snap_.reset();
  PROV_RETURN_IF_ERROR(store_->sync_wal());
  PROV_RETURN_IF_ERROR(store_->flush());
  PROV_RETURN_IF_ERROR(safety_store_->flush());
  LOG_INFO("stopped at height " << status().height);
  return Status::ok();
}

size_t Node::max_frame_bytes() const {
  return std::min<size_t>(crypto::kDefaultMaxFrameBytes, 2 * ledger::max_block_envelope_bytes(params_) + (1 << 20));
}

void Node::stop() {
  if (stopping_.exchange(true)) return;
  asio::post(io_, [this] {
    if (transport_) transport_->stop();
    if (api_) api_->stop();
    timer_->cancel();
    sync_timer_->cancel();
    // The links are closing at once, so a pending gossip batch could not
    // leave anyway; its transactions were admitted here and die with this
    // mempool, like everything else in it.
    gossip_timer_->cancel();
    gossip_batch_.Clear();
    gossip_batch_bytes_ = 0;
    for (auto& [_, w] : waiters_) w->timer->cancel();
    for (auto& w : checkpoint_waiters_) w->timer->cancel();
    io_.stop();
  });
}

void Node::fatal(const Status& st) {
  LOG_ERROR("fatal: " << st.to_string() << "; stopping so nothing is signed on top of a state we could not save");
  stop();
}

// ------------------------------------------------------------------ peers

void Node::send_node_message(const PublicKey& peer, const v1::NodeMessage& msg) {
  std::string bytes = msg.SerializeAsString();
  (void)transport_->send(peer, Bytes(bytes.begin(), bytes.end()));
}

void Node::broadcast_node_message(const v1::NodeMessage& msg) {
  std::string bytes = msg.SerializeAsString();
  (void)transport_->broadcast(Bytes(bytes.begin(), bytes.end()));
}

void Node::on_frame(const PublicKey& peer, Bytes frame) {
  if (stopping_) return;
  v1::NodeMessage msg;
  if (!msg.ParseFromArray(frame.data(), static_cast<int>(frame.size()))) {
    std::lock_guard lock(mu_);
    ++bad_peer_messages_;
    return;
  }
  switch (msg.kind_case()) {
    case v1::NodeMessage::kConsensus: {
      auto it = validator_index_.find(peer);
      if (it == validator_index_.end() || !replica_) return;
      on_consensus(it->second, std::move(*msg.mutable_consensus()));
      return;
    }
    case v1::NodeMessage::kTransactions: return on_transactions(peer, msg.transactions());
    case v1::NodeMessage::kCheckpoint: return on_checkpoint(msg.checkpoint());
    case v1::NodeMessage::kSyncRequest: return on_sync_request(peer, msg.sync_request());
    case v1::NodeMessage::kSyncResponse: return on_sync_response(peer, msg.sync_response());
    case v1::NodeMessage::KIND_NOT_SET: {
      std::lock_guard lock(mu_);
      ++bad_peer_messages_;
      return;
    }
  }
}

void Node::on_consensus(size_t from, cv1::ConsensusMessage msg) {
  if (consensus_queue_.size() >= kMaxQueuedConsensus) {
    std::lock_guard lock(mu_);
    ++bad_peer_messages_;  // a flood: drop rather than grow
    return;
  }
  auto pending = std::make_shared<PendingMessage>(PendingMessage{from, std::move(msg), true, std::chrono::steady_clock::now()});
  consensus_queue_.push_back(pending);
  if (pending->msg.has_proposal()) {
    ledger::v1::Block block;
    auto txs = std::make_shared<std::vector<std::string>>();
    if (block.ParseFromString(pending->msg.proposal().block())) {
      uint64_t now = now_ms();
      // Transactions in a proposal are in flight: the next leaders pull newer
      // ones. Those in the mempool passed admission here, so their
      // signatures are in the memo already; only the others are checked.
      for (std::string& tx : *block.mutable_txs()) {
        Hash256 hash = crypto::sha256(as_bytes(tx));
        if (mempool_->contains(hash)) {
          mempool_->mark_in_flight(hash, now);
        } else {
          txs->push_back(std::move(tx));
        }
      }
    }
    if (!txs->empty()) {
      pending->ready = false;
      size_t chunks = std::max<size_t>(1, std::min(config_.worker_threads, txs->size()));
      auto remaining = std::make_shared<std::atomic<size_t>>(chunks);
      for (size_t c = 0; c < chunks; ++c) {
        asio::post(*consensus_workers_, [this, txs, c, chunks, remaining, pending] {
          enter_helper("provd-verify", kHelperNice);
          for (size_t i = c; i < txs->size(); i += chunks) ledger::prime_tx_signature(as_bytes((*txs)[i]));
          if (remaining->fetch_sub(1) == 1) {
            asio::post(io_, [this, pending] {
              pending->ready = true;
              pump_consensus();
            });
          }
        });
      }
    }
  }
  pump_consensus();
}

void Node::pump_consensus() {
  while (!consensus_queue_.empty() && consensus_queue_.front()->ready && !stopping_) {
    std::shared_ptr<PendingMessage> p = consensus_queue_.front();
    consensus_queue_.pop_front();
    uint64_t now = now_ms();
    mempool_->set_now(now);
    proposal_received_ = p->msg.has_proposal() ? p->received : std::chrono::steady_clock::time_point{};
    replica_->on_message(p->from, p->msg, now);
    drain_effects();
    proposal_received_ = {};
  }
}

void Node::on_transactions(const PublicKey&, const v1::Transactions& txs) {
  {
    std::lock_guard lock(mu_);
    gossip_txs_in_ += static_cast<uint64_t>(txs.txs_size());
  }
  std::vector<Offer> offers;
  offers.reserve(static_cast<size_t>(txs.txs_size()));
  for (const std::string& tx : txs.txs()) offers.push_back(Offer{to_bytes(tx), nullptr, {}});
  admit(std::move(offers), /*from_client=*/false);
}

void Node::queue_gossip(std::string tx) {
  if (stopping_) return;
  // A transaction that would push the batch over the byte bound goes out in the next one.
  if (gossip_batch_bytes_ > 0 && gossip_batch_bytes_ + tx.size() > kGossipMaxBytes) flush_gossip();
  gossip_batch_bytes_ += tx.size();
  gossip_batch_.mutable_transactions()->add_txs(std::move(tx));
  if (static_cast<size_t>(gossip_batch_.transactions().txs_size()) >= kGossipMaxTxs ||
      gossip_batch_bytes_ >= kGossipMaxBytes) {
    return flush_gossip();
  }
  if (gossip_timer_armed_) return;
  gossip_timer_armed_ = true;
  gossip_timer_->expires_after(std::chrono::microseconds(kGossipDelayUs));
  gossip_timer_->async_wait([this](const boost::system::error_code& ec) {
    // Cancelled: a size bound flushed the batch first (or the node stops).
    if (ec || stopping_) return;
    flush_gossip();
  });
}

void Node::flush_gossip() {
  if (gossip_timer_armed_) {
    gossip_timer_armed_ = false;
    gossip_timer_->cancel();
  }
  size_t count = static_cast<size_t>(gossip_batch_.transactions().txs_size());
  if (count == 0) return;
  broadcast_node_message(gossip_batch_);
  gossip_batch_.Clear();
  gossip_batch_bytes_ = 0;
  std::lock_guard lock(mu_);
  ++gossip_messages_out_;
  gossip_txs_out_ += count;
}

void Node::on_checkpoint(const v1::CheckpointSignature& sig) {
  Status st = checkpoints_->add(sig);
  if (!st.is_ok()) {
    std::lock_guard lock(mu_);
    ++bad_peer_messages_;
    return;
  }
  after_commit(nullptr);
}

// ------------------------------------------------------------------ effects

void Node::drain_effects() {
  if (!replica_) return;
  if (uint64_t round = replica_->current_round(); round != round_seen_) {
    auto now = std::chrono::steady_clock::now();
    if (round_seen_ != 0) round_latency_.observe(now - round_entered_);
    round_seen_ = round;
    round_entered_ = now;
  }
  for (consensus::Effect& e : replica_->drain()) {
    if (stopping_) return;
    if (auto* p = std::get_if<consensus::PersistSafety>(&e)) {
      Status st = persist_safety(*p);
      if (!st.is_ok()) return fatal(st);
    } else if (auto* c = std::get_if<consensus::Commit>(&e)) {
      Status st = apply_commit(*c);
      if (!st.is_ok()) return fatal(st);
    } else if (auto* s = std::get_if<consensus::Send>(&e)) {
      v1::NodeMessage msg;
      *msg.mutable_consensus() = std::move(s->msg);
      send_node_message(validators_->member(s->to).key, msg);
    } else if (auto* b = std::get_if<consensus::Broadcast>(&e)) {
      v1::NodeMessage msg;
      *msg.mutable_consensus() = std::move(b->msg);
      for (size_t i = 0; i < validators_->size(); ++i) {
        if (i != replica_->self()) send_node_message(validators_->member(i).key, msg);
      }
    } else if (auto* t = std::get_if<consensus::SetTimer>(&e)) {
      arm_timer(t->deadline_tick);
    }
  }
}

Status Node::persist_safety(const consensus::PersistSafety& p) {
  v1::SafetyRecord rec;
  rec.set_epoch(p.state.epoch);
  rec.set_highest_vote_round(p.state.highest_vote_round);
  rec.set_highest_qc_round(p.state.highest_qc_round);
  *rec.mutable_high_qc() = p.high_qc;
  if (p.last_tc) *rec.mutable_last_tc() = *p.last_tc;
  ledger::WriteSet w;
  w.put(ledger::Column::kSafety, as_bytes(kSafetyKey), as_bytes(rec.SerializeAsString()));
  if (p.voted_block) {
    Bytes key = voted_block_key(p.voted_height, *p.voted_block);
    w.put(ledger::Column::kSafety, key, *p.voted_block);
    voted_keys_.emplace(p.voted_height, std::move(key));
  }
  auto t0 = std::chrono::steady_clock::now();
  Status st = safety_store_->apply(w, /*sync=*/true);
  auto t1 = std::chrono::steady_clock::now();
  safety_writes_.observe(t1 - t0);
  if (st.is_ok() && p.voted_block && proposal_received_ != std::chrono::steady_clock::time_point{}) {
    vote_latency_.observe(t1 - proposal_received_);
  }
  if (st.is_ok() && !safety_used_) {
    // After the record is durable, never before: a crash in between leaves
    // a record without the mark, which the next vote marks.
    ledger::WriteSet mark;
    mark.put(ledger::Column::kMeta, as_bytes(kMetaSafetyUsed), as_bytes("1"));
    st = store_->apply(mark, /*sync=*/true);
    safety_used_ = st.is_ok();
  }
  return st;
}

struct Node::CommitJob {
  uint64_t height = 0;
  uint64_t log_size = 0;
  Hash256 log_root;
  uint64_t first_index = 0;
  std::vector<Hash256> tx_hashes;
  std::shared_ptr<const ledger::WriteSet> block_writes;  // shared with the core until applied
  ledger::WriteSet writes;                               // commit proof
  ledger::WriteSet voted_done;                           // voted blocks now committed (safety store)
  std::vector<std::unique_ptr<const ledger::DecodedTx>> released;  // left the mempool
  std::vector<uint64_t> pooled_ms;  // when those of this node's mempool entered it (now_ms clock)
  // The head after the write, read on the commit writer (a store read on
  // the strand was a twentieth of its time with small blocks).
  Result<ledger::Head> head = Status::internal("head not read");
};

Status Node::apply_commit(consensus::Commit& c) {
  const uint64_t tx_count = c.tx_hashes.size();
  if (c.header.log_size() < tx_count) return Status::internal("committed block's transaction count");
  auto job = std::make_shared<CommitJob>();
  job->height = c.height;
  job->log_size = c.header.log_size();
  if (!job->log_root.assign(as_bytes(c.header.log_root()))) return Status::internal("committed log root size");
  job->first_index = c.header.log_size() - tx_count;
  job->released.reserve(c.tx_hashes.size());
  for (const Hash256& hash : c.tx_hashes) {
    // Destroyed on the commit writer, not here: freeing the decoded forms
    // of a large block's transactions was a tenth of the strand's time.
    uint64_t added_ms = kNotPooled;
    if (auto decoded = mempool_->remove(hash, &added_ms)) job->released.push_back(std::move(decoded));
    if (added_ms != kNotPooled) job->pooled_ms.push_back(added_ms);
    committing_.insert(hash);
  }
  job->tx_hashes = std::move(c.tx_hashes);
  job->block_writes = std::move(c.block_writes);
  job->writes = std::move(c.writes);
  // Voted blocks at or below the committed height are no longer needed for
  // a restart: dropped from the safety store once the block is durable.
  // Their keys are known here (a scan of the column walked every tombstone
  // of the blocks before).
  for (auto it = voted_keys_.begin(); it != voted_keys_.end() && it->first <= job->height;) {
    job->voted_done.erase(ledger::Column::kSafety, it->second);
    it = voted_keys_.erase(it);
  }
  asio::post(*commit_writer_, [this, job] {
    enter_helper("provd-commit", kHelperNice);
    const ledger::WriteSet* parts[] = {job->block_writes.get(), &job->writes};
    auto t0 = std::chrono::steady_clock::now();
    Status st = store_->apply(parts, /*sync=*/true);
    commit_writes_.observe(std::chrono::steady_clock::now() - t0);
    // Not synced: a drop lost in a crash leaves a stale voted block, which
    // the restarted node loads and drops again at its next commit.
    if (st.is_ok() && !job->voted_done.empty()) st = safety_store_->apply(job->voted_done, /*sync=*/false);
    if (st.is_ok()) job->head = ledger::read_head(*store_);
    // Freed here, off the strand; the block's writes only if the core no
    // longer layers them.
    job->writes = ledger::WriteSet();
    job->block_writes.reset();
    job->released.clear();
    asio::post(io_, [this, job, st] { on_commit_durable(*job, st); });
  });
  return Status::ok();
}

void Node::made_durable(const std::vector<Hash256>& tx_hashes) {
  ++durable_seq_;
  recent_durable_.emplace_back(durable_seq_, tx_hashes);
  recent_durable_index_.insert(tx_hashes.begin(), tx_hashes.end());
  while (recent_durable_.size() > kRecentDurableBlocks) {
    for (const Hash256& h : recent_durable_.front().second) recent_durable_index_.erase(h);
    recent_durable_.pop_front();
  }
}

void Node::on_commit_durable(const CommitJob& job, const Status& written) {
  if (!written.is_ok()) return fatal(written);
  const uint64_t durable_ms = now_ms();
  for (uint64_t t : job.pooled_ms) {
    if (t <= durable_ms) commit_latency_.observe(std::chrono::milliseconds(durable_ms - t));
  }
  made_durable(job.tx_hashes);
  for (size_t i = 0; i < job.tx_hashes.size(); ++i) {
    const Hash256& hash = job.tx_hashes[i];
    committing_.erase(hash);
    auto range = waiters_.equal_range(hash);
    for (auto it = range.first; it != range.second; ++it) {
      SubmitResult r;
      r.state = SubmitState::kCommitted;
      r.tx_hash = hash;
      r.entry_index = job.first_index + i;
      r.height = job.height;
      it->second->timer->cancel();
      if (it->second->done) it->second->done(r);
      it->second->done = nullptr;
    }
    waiters_.erase(range.first, range.second);
  }
  {
    std::lock_guard lock(mu_);
    committed_txs_ += job.tx_hashes.size();
  }
  // Checkpoints are signed only over durably applied heads.
  uint64_t now = now_ms();
  bool sign = job.log_size != last_signed_size_ || now >= last_signed_ms_ + kResignIntervalMs;
  if (sign) {
    last_signed_size_ = job.log_size;
    last_signed_ms_ = now;
  }
  if (auto sig = checkpoints_->on_durable_head(job.log_size, job.log_root, sign)) {
    v1::NodeMessage msg;
    *msg.mutable_checkpoint() = *sig;
    broadcast_node_message(msg);
    own_checkpoint_ = std::move(*sig);
  }
  LOG_DEBUG("committed height " << job.height << " with " << job.tx_hashes.size() << " transactions");
  after_commit(&job.head);
}

void Node::after_commit(const Result<ledger::Head>* head) {
  refresh_status(head);
  const auto& note = checkpoints_->note();
  if (!note) return;
  uint64_t size = checkpoints_->served_size();
  if (size > kept_checkpoint_size_) {
    kept_checkpoint_size_ = size;
    auto keep = std::make_shared<ledger::WriteSet>();
    keep->put(ledger::Column::kMeta, as_bytes(kMetaServedCheckpoint), as_bytes(*note));
    asio::post(*commit_writer_, [this, keep] {
      Status st = store_->apply(*keep, /*sync=*/false);
      if (!st.is_ok()) LOG_WARN("keeping the served checkpoint: " << st.message());
    });
  }
  for (auto it = checkpoint_waiters_.begin(); it != checkpoint_waiters_.end();) {
    if ((*it)->min_size <= size) {
      checkpoint_latency_.observe(std::chrono::steady_clock::now() - (*it)->asked);
      (*it)->timer->cancel();
      if ((*it)->done) (*it)->done(note);
      (*it)->done = nullptr;
      it = checkpoint_waiters_.erase(it);
    } else {
      ++it;
    }
  }
}

void Node::arm_timer(uint64_t deadline_ms) {
  uint64_t now = now_ms();
  timer_->expires_after(std::chrono::milliseconds(deadline_ms > now ? deadline_ms - now : 0));
  timer_->async_wait([this](const boost::system::error_code& ec) {
    if (ec || stopping_) return;
    uint64_t t = now_ms();
    mempool_->set_now(t);
    replica_->on_tick(t);
    drain_effects();
  });
}

// ------------------------------------------------------------------ admission

void Node::submit(Bytes tx, SubmitOptions options, std::function<void(SubmitResult)> done) {
  auto received = std::chrono::steady_clock::now();
  asio::post(io_, [this, tx = std::move(tx), options, done = std::move(done), received]() mutable {
    std::vector<Offer> offers;
    offers.push_back(Offer{std::move(tx), std::move(done), options, received});
    admit(std::move(offers), /*from_client=*/true);
  });
}

void Node::submit_batch(std::vector<Bytes> txs, std::function<void(std::vector<SubmitResult>)> done) {
  auto received = std::chrono::steady_clock::now();
  asio::post(io_, [this, txs = std::move(txs), done = std::move(done), received]() mutable {
    if (txs.empty()) return done({});
    auto batch = std::make_shared<BatchResults>(txs.size(), std::move(done));
    // Each transaction takes the single submit's path, bounds included:
    // over kMaxAdmitting or a full mempool, it alone is answered busy.
    std::vector<Offer> offers;
    offers.reserve(txs.size());
    for (size_t i = 0; i < txs.size(); ++i) offers.push_back(Offer{std::move(txs[i]), BatchResults::slot(batch, i), {}, received});
    admit(std::move(offers), /*from_client=*/true);
  });
}

void Node::admit(std::vector<Offer> offers, bool from_client) {
  struct Checked {
    Hash256 hash;
    Offer offer;
    ledger::TxResult<ledger::DecodedTx> verdict = ledger::Rejected{};
  };
  using Chunk = std::vector<Checked>;
  std::vector<Chunk> chunks;
  for (Offer& offer : offers) {
    Hash256 hash = crypto::sha256(offer.tx);
    auto answer = [&](SubmitState state, std::string message,
                      std::optional<ledger::Rejection> rejection = std::nullopt) {
      if (!offer.done) return;
      SubmitResult r;
      r.state = state;
      r.tx_hash = hash;
      r.rejection = rejection;
      r.message = std::move(message);
      offer.done(r);
    };
    if (stopping_) {
      answer(SubmitState::kUnavailable, "the node is shutting down");
      continue;
    }
    if (mempool_->contains(hash) && !offer.options.wait_for_commit) {
      answer(SubmitState::kAccepted, "already pending");
      continue;
    }
    // Gossip that arrives after its block committed (the proposal carried it
    // first) would be decoded and checked only for admitted() to drop it.
    if (committing_.count(hash) > 0 || recent_durable_index_.count(hash) > 0) {
      answer(SubmitState::kRejected, std::string(kAlreadyCommitted), ledger::Rejection::kDuplicate);
      continue;
    }
    // Transactions being checked count as in the pool already: one checked
    // and then found no room for was a signature verified for nothing.
    if (mempool_->size() + admitting_ + 1 > config_.mempool_max_txs ||
        mempool_->bytes() + admitting_bytes_ + offer.tx.size() > config_.mempool_max_bytes ||
        admitting_ >= kMaxAdmitting) {
      answer(SubmitState::kBusy, "mempool full; retry later");
      continue;
    }
    ++admitting_;
    admitting_bytes_ += offer.tx.size();
    if (chunks.empty() || chunks.back().size() >= kAdmitChunkTxs) {
      chunks.emplace_back();
      chunks.back().reserve(std::min(kAdmitChunkTxs, offers.size()));
    }
    chunks.back().push_back(Checked{hash, std::move(offer)});
  }
  if (chunks.empty()) return;
  // One snapshot for every admission until the next block is durable: its
  // registry reads (CachingReader) are then made once per block, not once
  // per request (at moderate load a request carries two or three).
  if (!admission_snap_ || admission_snap_seq_ != durable_seq_) {
    admission_snap_ = snapshot();
    admission_snap_seq_ = durable_seq_;
  }
  std::shared_ptr<const ledger::KvReader> snap = admission_snap_;
  const uint64_t seq = durable_seq_;  // the snapshot holds every block made durable before now
  for (Chunk& chunk : chunks) {
    // One job (and one post back) per chunk, not per transaction: a post
    // is an allocation and often a futex wake-up on either side.
    asio::post(*workers_, [this, snap, seq, from_client, chunk = std::move(chunk)]() mutable {
      enter_helper("provd-admit", kAdmissionNice);
      ledger::TxContext ctx;  // the snapshot does not change: its registry is read once per chunk
      for (Checked& c : chunk) c.verdict = ledger::check_transaction(*snap, c.offer.tx, &ctx);
      asio::post(io_, [this, seq, from_client, chunk = std::move(chunk)]() mutable {
        const uint64_t now = now_ms();
        mempool_->set_now(now);  // stamps the transactions added below
        for (Checked& c : chunk) {
          --admitting_;
          admitting_bytes_ -= c.offer.tx.size();
          admitted(c.hash, std::move(c.offer.tx), from_client, std::move(c.verdict), std::move(c.offer.done),
                   c.offer.options, seq, c.offer.received);
        }
        // Once the whole chunk is in the mempool, not after each of its
        // transactions: an idle leader proposed a block of the first one.
        if (replica_ && !stopping_) {
          replica_->on_payload_ready(now);
          drain_effects();
        }
      });
    });
  }
}

void Node::admitted(Hash256 hash, Bytes tx, bool gossip, ledger::TxResult<ledger::DecodedTx> verdict,
                    std::function<void(SubmitResult)> done, SubmitOptions options, uint64_t snapshot_seq,
                    std::chrono::steady_clock::time_point received) {
  SubmitResult r;
  r.tx_hash = hash;
  if (!verdict) {
    std::lock_guard lock(mu_);
    ++rejected_by_reason_[ledger::rejection_name(verdict.reason())];
    r.state = SubmitState::kRejected;
    r.rejection = verdict.reason();
    r.message = verdict.status().message();
    if (done) done(r);
    return;
  }
  // The verdict came from a snapshot taken before the check was queued; the
  // transaction may have been committed since (it arrived by gossip while
  // its block was applied). Committed transactions never enter the pool.
  bool committed = committing_.count(hash) > 0;
  if (!committed && durable_seq_ != snapshot_seq) {
    if (!recent_durable_.empty() && recent_durable_.front().first <= snapshot_seq + 1) {
      committed = recent_durable_index_.count(hash) > 0;  // every block durable since is in there
    } else {
      auto stored = store_->get(ledger::Column::kEntryByHash, hash.view());
      committed = stored && *stored;
    }
  }
  if (committed) {
    r.state = SubmitState::kRejected;
    r.rejection = ledger::Rejection::kDuplicate;
    r.message = std::string(kAlreadyCommitted);
    if (done) done(r);
    return;
  }
  std::string copy = gossip ? to_string(tx) : std::string();
  // Kept as admission decoded it: executing the block that carries it then
  // skips decoding it again (Mempool::decoded).
  Mempool::Added added = mempool_->add(std::make_unique<const ledger::DecodedTx>(std::move(verdict).value()));
  if (added == Mempool::Added::kFull) {
    r.state = SubmitState::kBusy;
    r.message = "mempool full; retry later";
    if (done) done(r);
    return;
  }
  if (added == Mempool::Added::kAdded && received != std::chrono::steady_clock::time_point{}) {
    admission_latency_.observe(std::chrono::steady_clock::now() - received);
  }
  if (added == Mempool::Added::kAdded && gossip) queue_gossip(std::move(copy));
  if (!done) return;
  if (!options.wait_for_commit) {
    r.state = SubmitState::kAccepted;
    done(r);
    return;
  }
  auto waiter = std::make_shared<Waiter>();
  waiter->done = std::move(done);
  waiter->timer = std::make_shared<asio::steady_timer>(io_);
  waiter->timer->expires_after(std::chrono::milliseconds(options.timeout_ms));
  waiters_.emplace(hash, waiter);
  waiter->timer->async_wait([this, hash, waiter](const boost::system::error_code& ec) {
    if (ec || !waiter->done) return;
    SubmitResult r;
    r.state = SubmitState::kAccepted;
    r.tx_hash = hash;
    r.timed_out = true;
    r.message = "not committed within the wait; it stays in the mempool";
    waiter->done(r);
    waiter->done = nullptr;
    auto range = waiters_.equal_range(hash);
    for (auto it = range.first; it != range.second; ++it) {
      if (it->second == waiter) {
        waiters_.erase(it);
        break;
      }
    }
  });
}

// ------------------------------------------------------------------ sync

void Node::sync_tick() {
  if (stopping_) return;
  // A peer whose link came up since the last tick gets this validator's
  // latest checkpoint signature: a node that restarted or joined then
  // collects a quorum for the current head without waiting for a new block.
  std::vector<PublicKey> linked = transport_ ? transport_->connected_peers() : std::vector<PublicKey>{};  // sorted
  if (own_checkpoint_) {
    v1::NodeMessage msg;
    for (const PublicKey& k : linked) {
      if (std::binary_search(checkpoint_linked_.begin(), checkpoint_linked_.end(), k)) continue;
      if (!msg.has_checkpoint()) *msg.mutable_checkpoint() = *own_checkpoint_;
      send_node_message(k, msg);
    }
  }
  checkpoint_linked_ = std::move(linked);
  // Validators catch up through the consensus core's block retrieval;
  // observers pull committed blocks with their proofs here.
  if (!is_validator_ && !peers_.empty()) {
    uint64_t now = now_ms();
    if (now >= sync_requested_at_ms_ + kSyncRequestTimeoutMs || sync_requested_at_ms_ == 0) {
      std::vector<PublicKey> connected = transport_->connected_peers();
      std::vector<PublicKey> candidates;
      for (const PublicKey& k : connected) {
        auto banned = sync_banned_until_ms_.find(k);
        if (banned != sync_banned_until_ms_.end() && banned->second > now) continue;
        if (validator_index_.count(k)) candidates.push_back(k);
      }
      if (!candidates.empty()) {
        const PublicKey& peer = candidates[sync_peer_cursor_++ % candidates.size()];
        v1::NodeMessage msg;
        msg.mutable_sync_request()->set_from_height(status().height + 1);
        msg.mutable_sync_request()->set_max_blocks(kSyncMaxBlocks);
        send_node_message(peer, msg);
        sync_requested_at_ms_ = now;
      }
    }
  }
  sync_timer_->expires_after(std::chrono::milliseconds(kSyncIntervalMs));
  sync_timer_->async_wait([this](const boost::system::error_code& ec) {
    if (!ec) sync_tick();
  });
}

void Node::on_sync_request(const PublicKey& peer, const v1::SyncRequest& req) {
  v1::NodeMessage msg;
  v1::SyncResponse* resp = msg.mutable_sync_response();
  uint64_t head = status().height;
  resp->set_head_height(head);
  uint64_t last = std::min<uint64_t>(head, req.from_height() + std::min<uint32_t>(req.max_blocks(), kSyncMaxBlocks) - 1);
  ledger::read_committed_blocks(*store_, req.from_height(), last, max_frame_bytes() / 2,
                                [&](const Bytes& block, const Bytes& proof) {
                                  v1::SyncBlock* b = resp->add_blocks();
                                  b->set_block(to_string(block));
                                  b->set_commit_proof(to_string(proof));
                                  return true;
                                });
  send_node_message(peer, msg);
}

void Node::on_sync_response(const PublicKey& peer, const v1::SyncResponse& resp) {
  if (is_validator_) return;
  if (auto banned = sync_banned_until_ms_.find(peer);
      banned != sync_banned_until_ms_.end() && banned->second > now_ms()) {
    return;
  }
  sync_requested_at_ms_ = 0;  // answered: the next tick may ask again at once
  peer_height_ = std::max(peer_height_, resp.head_height());
  for (const v1::SyncBlock& sb : resp.blocks()) {
    auto bad = [&](const std::string& why) {
      std::lock_guard lock(mu_);
      ++bad_sync_blocks_;
      // A block that fails its commit proof or re-execution condemns the
      // peer that served it: ask the others instead for a while.
      sync_banned_until_ms_[peer] = now_ms() + kSyncBanMs;
      sync_requested_at_ms_ = 0;
      LOG_WARN("sync: block from " << crypto::base64_encode(peer) << " rejected (" << why
                                   << "); not syncing from that peer for " << kSyncBanMs / 1000 << " s");
    };
    cv1::CommitProof proof;
    ledger::v1::Block block;
    if (!proof.ParseFromString(sb.commit_proof()) || !block.ParseFromString(sb.block())) return bad("malformed");
    if (proof.header() != block.header()) return bad("commit proof is for another block");
    auto header = consensus::verify_commit_proof(*validators_, proof);
    if (!header) return bad(header.status().message());
    auto applied = ledger::apply_block(*store_, as_bytes(sb.block()));
    if (!applied) return bad(applied.status().message());
    applied->writes.put(ledger::Column::kCommitProofs, ledger::u64_key(header->height()), as_bytes(sb.commit_proof()));
    Status st = store_->apply(applied->writes, /*sync=*/true);
    if (!st.is_ok()) return fatal(st);
    made_durable(applied->tx_hashes);
    {
      std::lock_guard lock(mu_);
      ++synced_blocks_;
      committed_txs_ += static_cast<uint64_t>(block.txs_size());
    }
    Hash256 root;
    root.assign(as_bytes(header->log_root()));
    checkpoints_->on_durable_head(header->log_size(), root, /*sign=*/false);
    for (const Hash256& hash : applied->tx_hashes) mempool_->remove(hash);
  }
  Result<ledger::Head> head = ledger::read_head(*store_);
  after_commit(&head);
  uint64_t height = status().height;
  {
    std::lock_guard lock(mu_);
    status_.sync = height >= peer_height_ ? SyncState::kSynced : SyncState::kSyncing;
  }
  if (!resp.blocks().empty()) {
    LOG_INFO("sync: height " << height << " of " << peer_height_);
    if (height < peer_height_) sync_tick();
  }
}

// ------------------------------------------------------------------ service

std::shared_ptr<const ledger::KvReader> Node::snapshot() {
  // Admission shares one snapshot across a batch (or a gossip message):
  // its registry reads are made once for all of them.
  return std::make_shared<ledger::CachingReader>(std::shared_ptr<const ledger::KvReader>(store_->snapshot()));
}

void Node::refresh_status(const Result<ledger::Head>* head) {
  // Only a new head changes the head fields (a peer's checkpoint signature,
  // three per block, moves only the checkpoint fields).
  std::lock_guard lock(mu_);
  status_.chain_id = chain_id_;
  status_.node_name = name_;
  status_.version = release();
  if (head && *head) {
    const ledger::Head& h = head->value();
    status_.height = h.height;
    status_.last_block_hash = h.block_hash;
    status_.last_block_time_ms = h.time_ms;
    status_.log_size = h.log_size;
    status_.log_root = h.log_root;
    status_.epoch = h.epoch;
  }
  status_.round = replica_ ? replica_->current_round() : 0;
  status_.peers_configured = static_cast<uint32_t>(peers_.size());
  status_.peers_connected = transport_ ? static_cast<uint32_t>(transport_->connected_peers().size()) : 0;
  status_.mempool_txs = mempool_->size();
  status_.mempool_bytes = mempool_->bytes();
  status_.checkpoint_size = checkpoints_->served_size();
  note_ = checkpoints_->note();
}

NodeStatus Node::status() {
  std::lock_guard lock(mu_);
  NodeStatus s = status_;
  if (transport_) s.peers_connected = static_cast<uint32_t>(transport_->connected_peers().size());
  return s;
}

std::optional<std::string> Node::checkpoint_note() {
  std::lock_guard lock(mu_);
  return note_;
}

void Node::wait_for_checkpoint(uint64_t min_size, uint32_t timeout_ms,
                               std::function<void(std::optional<std::string>)> done) {
  auto asked = std::chrono::steady_clock::now();
  asio::post(io_, [this, min_size, timeout_ms, done = std::move(done), asked]() mutable {
    if (checkpoints_->note() && checkpoints_->served_size() >= min_size) {
      checkpoint_latency_.observe(std::chrono::steady_clock::now() - asked);
      return done(checkpoints_->note());
    }
    auto w = std::make_shared<CheckpointWaiter>();
    w->min_size = min_size;
    w->asked = asked;
    w->done = std::move(done);
    w->timer = std::make_shared<asio::steady_timer>(io_);
    w->timer->expires_after(std::chrono::milliseconds(timeout_ms));
    checkpoint_waiters_.push_back(w);
    w->timer->async_wait([this, w](const boost::system::error_code& ec) {
      if (ec || !w->done) return;
      checkpoint_latency_.observe(std::chrono::steady_clock::now() - w->asked);  // the worst cases count too
      w->done(std::nullopt);
      w->done = nullptr;
      std::erase(checkpoint_waiters_, w);
    });
  });
}

std::string Node::metrics_text() {
  NodeStatus s = status();
  std::ostringstream out;
  auto gauge = [&](const char* name, const char* help, uint64_t value, const char* type = "gauge") {
    out << "# HELP " << name << " " << help << "\n# TYPE " << name << " " << type << "\n" << name << " " << value << "\n";
  };
  gauge("provd_height", "Committed block height.", s.height);
  gauge("provd_log_size", "Entries in the Merkle log.", s.log_size);
  gauge("provd_round", "Current consensus round.", s.round);
  gauge("provd_peers_connected", "Peers with an authenticated link.", s.peers_connected);
  gauge("provd_mempool_txs", "Transactions waiting in the mempool.", s.mempool_txs);
  gauge("provd_mempool_bytes", "Bytes waiting in the mempool.", s.mempool_bytes);
  gauge("provd_checkpoint_size", "Tree size of the served cosigned checkpoint.", s.checkpoint_size);
  out << "# HELP provd_sync_state Sync state (1 for the current one).\n# TYPE provd_sync_state gauge\n";
  for (SyncState st : {SyncState::kStarting, SyncState::kSyncing, SyncState::kSynced}) {
    out << "provd_sync_state{state=\"" << sync_name(st) << "\"} " << (s.sync == st ? 1 : 0) << "\n";
  }
  std::lock_guard lock(mu_);
  gauge("provd_committed_txs_total", "Transactions committed since start.", committed_txs_, "counter");
  out << "# HELP provd_rejected_txs_total Transactions refused at admission, by reason.\n"
         "# TYPE provd_rejected_txs_total counter\n";
  for (auto& [reason, count] : rejected_by_reason_) {
    out << "provd_rejected_txs_total{reason=\"" << reason << "\"} " << count << "\n";
  }
  gauge("provd_bad_peer_messages_total", "Peer messages that did not parse or verify.",
        bad_peer_messages_ + checkpoints_->bad_signatures(), "counter");
  gauge("provd_sync_blocks_total", "Blocks applied through block sync.", synced_blocks_, "counter");
  gauge("provd_sync_bad_blocks_total", "Blocks refused during block sync.", bad_sync_blocks_, "counter");
  gauge("provd_gossip_messages_out_total", "Transactions messages gossiped to peers (batches of admitted client transactions).",
        gossip_messages_out_, "counter");
  gauge("provd_gossip_txs_out_total", "Admitted client transactions gossiped to peers.", gossip_txs_out_, "counter");
  gauge("provd_gossip_txs_in_total", "Transactions received from peers' gossip (before admission).", gossip_txs_in_,
        "counter");
  ledger::SigCacheStats sigs = ledger::sig_cache_stats();
  gauge("provd_tx_signatures_verified_total", "Transaction signatures verified (memo misses).", sigs.misses, "counter");
  gauge("provd_tx_signature_memo_hits_total", "Transaction signature checks answered by the memo.", sigs.hits,
        "counter");
  gauge("provd_tx_signature_memo_waits_total",
        "Transaction signature checks that waited for another thread verifying the same signature.", sigs.waits,
        "counter");
  gauge("provd_tx_signatures_overtaken_total",
        "Signatures of a proposal's transactions verified again instead of waiting for an admission thread "
        "(lower CPU priority) verifying the same one.",
        sigs.overtakes, "counter");
  out << "# HELP provd_tx_signature_verify_cpu_seconds Thread CPU time of sampled transaction signature "
         "verifications (one in "
      << ledger::kVerifyTimingEvery << ").\n# TYPE provd_tx_signature_verify_cpu_seconds summary\n"
      << "provd_tx_signature_verify_cpu_seconds_sum " << format_seconds(sigs.timed_verify_cpu_ns) << "\n"
      << "provd_tx_signature_verify_cpu_seconds_count " << sigs.timed_verifications << "\n";
  safety_writes_.render(out, "provd_safety_write_seconds",
                        "Synced writes of the consensus safety record (one before each vote).");
  commit_writes_.render(out, "provd_commit_write_seconds", "Synced writes of committed blocks (the commit writer).");
  admission_latency_.render(out, "provd_admission_seconds",
                            "Client transactions: from the API handing one over to its entering the mempool.");
  commit_latency_.render(out, "provd_commit_latency_seconds",
                         "Transactions of this node's mempool: from entering it to their block being durable here.");
  checkpoint_latency_.render(out, "provd_checkpoint_wait_seconds",
                             "Receipts waited for (wait=true): from the entry's commit here to a cosigned "
                             "checkpoint covering it (a wait that timed out counts with its whole length).");
  vote_latency_.render(out, "provd_vote_latency_seconds",
                       "Proposals voted for: from the proposal's arrival to the vote's safety record being durable "
                       "(the vote leaves next).");
  round_latency_.render(out, "provd_round_seconds", "Time between entering two consensus rounds.");
  gauge("provd_checkpoint_equivocations_total", "Two cosigned roots seen for one tree size.",
        checkpoints_->equivocations(), "counter");
  gauge("provd_checkpoint_signatures_verified_total",
        "Peers' checkpoint signatures verified (held for sizes beyond the head, then as many as the quorum needs; "
        "others at once).",
        checkpoints_->verified(), "counter");
  if (replica_) {
    const consensus::CoreStats& cs = replica_->stats();
    gauge("provd_consensus_timeouts_total", "Rounds this validator timed out.", cs.timeouts_sent, "counter");
    gauge("provd_consensus_rejected_messages_total", "Consensus messages dropped as invalid.", cs.rejected_messages,
          "counter");
    gauge("provd_consensus_blocks_committed_total", "Blocks committed by consensus since start.", cs.blocks_committed,
          "counter");
    gauge("provd_voted_blocks_pending", "Blocks this validator voted for, kept for a restart until they commit.",
          voted_keys_.size());
  }
  if (transport_) {
    TransportMetrics m = transport_->metrics();
    gauge("provd_peer_frames_in_total", "Frames received from peers.", m.frames_in, "counter");
    gauge("provd_peer_frames_out_total", "Frames sent to peers.", m.frames_out, "counter");
    out << "# HELP provd_peer_dropped_total Peer links dropped, by reason.\n# TYPE provd_peer_dropped_total counter\n";
    std::pair<const char*, uint64_t> reasons[] = {
        {"garbage", m.dropped_garbage},     {"oversized", m.dropped_oversized}, {"bad_tag", m.dropped_bad_tag},
        {"unknown_key", m.dropped_unknown_key}, {"timeout", m.dropped_timeout}, {"rejected", m.dropped_rejected},
        {"duplicate", m.dropped_duplicate}};
    for (auto& [reason, count] : reasons) out << "provd_peer_dropped_total{reason=\"" << reason << "\"} " << count << "\n";
  }
  return out.str();
}

}  // namespace prov::node
