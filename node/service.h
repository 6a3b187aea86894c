// What the client API needs from the node: the seam between node/api (HTTP)
// and provd's core (consensus driver, mempool, store, checkpoints).
//
// provd implements NodeService; the API server only calls it, and the API's
// unit tests implement it over a MemoryKv chain. Keeping this small keeps the
// API testable without consensus, sockets between replicas or RocksDB.
//
// Thread-safety: every method may be called from any thread, concurrently.
// Callbacks (`done`) may run on any thread, exactly once each, and must not
// block; the API re-posts them onto the connection's strand.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "crypto/bytes.h"
#include "crypto/status.h"
#include "ledger/kv.h"
#include "ledger/tx.h"

namespace prov::node {

struct SubmitOptions {
  bool wait_for_commit = false;  // false: answer once admitted to the mempool
  uint32_t timeout_ms = 10000;   // bound on waiting for commit; ignored without wait
};

enum class SubmitState {
  kAccepted,     // admitted to the mempool (not waited for, or the wait timed out)
  kCommitted,    // committed; entry_index and height are set
  kRejected,     // refused by admission or execution: `rejection` says why
  kBusy,         // mempool full (or a per-client bound): try again later
  kUnavailable,  // the node can not take transactions now (syncing, shutting down)
};

struct SubmitResult {
  SubmitState state = SubmitState::kRejected;
  std::optional<ledger::Rejection> rejection;  // set iff state == kRejected
  std::string message;                         // human-readable detail
  Hash256 tx_hash;                             // SHA-256 of the tx bytes (zero if undecodable)
  bool timed_out = false;                      // kAccepted because the commit wait ran out
  uint64_t entry_index = 0;                    // valid iff kCommitted
  uint64_t height = 0;                         // valid iff kCommitted
};

enum class SyncState { kSynced, kSyncing, kStarting };

struct NodeStatus {
  std::string chain_id;
  std::string node_name;        // this node's validator/observer name ("" if none)
  std::string version;          // software version
  uint64_t height = 0;          // committed head height
  Hash256 last_block_hash;      // SHA-256 of the head header bytes
  int64_t last_block_time_ms = 0;
  uint64_t log_size = 0;
  Hash256 log_root;
  uint64_t epoch = 0;
  uint64_t round = 0;           // current consensus round
  uint32_t peers_connected = 0;
  uint32_t peers_configured = 0;
  SyncState sync = SyncState::kStarting;
  uint64_t mempool_txs = 0;
  uint64_t mempool_bytes = 0;
  uint64_t checkpoint_size = 0; // tree size of the served checkpoint (0: none yet)
};

class NodeService {
 public:
  virtual ~NodeService() = default;

  // The chain id from the genesis; stable for the node's lifetime.
  virtual const std::string& chain_id() const = 0;

  // A consistent reader of committed state (a store snapshot): ledger/query.h
  // functions run on it. It stays valid and unchanged while the caller holds it.
  virtual std::shared_ptr<const ledger::KvReader> snapshot() = 0;

  // Submits `tx` (SignedTransaction bytes as received; at most the chain's
  // max_tx_bytes) and calls `done` once: when admitted (no wait), committed,
  // refused, or the wait timed out (kAccepted with timed_out).
  virtual void submit(Bytes tx, SubmitOptions options, std::function<void(SubmitResult)> done) = 0;

  // Submits every transaction of `txs` as submit() without wait, through
  // the same admission, and calls `done` once with one result per
  // transaction, in order, when each has its admission verdict (kAccepted,
  // kRejected, kBusy or kUnavailable). The caller bounds txs.size() (the API:
  // ApiConfig::max_batch_txs). The default fans out to submit().
  virtual void submit_batch(std::vector<Bytes> txs, std::function<void(std::vector<SubmitResult>)> done);

  // Where the node stands now.
  virtual NodeStatus status() = 0;

  // The latest C2SP checkpoint note with at least q verified validator
  // signatures, exactly as served; nullopt before the first one. Its tree
  // size is <= the log size of any snapshot() taken after this call.
  virtual std::optional<std::string> checkpoint_note() = 0;

  // Calls `done` once with the first checkpoint note (as checkpoint_note())
  // whose tree size is >= min_size, immediately if the current one already
  // is, or with nullopt after timeout_ms. For receipts of fresh commits.
  virtual void wait_for_checkpoint(uint64_t min_size, uint32_t timeout_ms,
                                   std::function<void(std::optional<std::string>)> done) = 0;

  // The node's metrics in Prometheus text format 0.0.4 (the API appends its own).
  virtual std::string metrics_text() = 0;
};

// Gathers the results of a batch's transactions in order and calls `done`
// once, after the last; results may arrive on any thread.
class BatchResults {
 public:
  static std::function<void(SubmitResult)> slot(const std::shared_ptr<BatchResults>& batch, size_t i) {
    return [batch, i](SubmitResult r) { batch->deliver(i, std::move(r)); };
  }
  BatchResults(size_t n, std::function<void(std::vector<SubmitResult>)> done)
      : results_(n), left_(n), done_(std::move(done)) {}

 private:
  void deliver(size_t i, SubmitResult r) {
    std::unique_lock lock(mu_);
    results_[i] = std::move(r);
    if (--left_ != 0) return;
    lock.unlock();
    done_(std::move(results_));
  }
  std::mutex mu_;
  std::vector<SubmitResult> results_;
  size_t left_;
  std::function<void(std::vector<SubmitResult>)> done_;
};

inline void NodeService::submit_batch(std::vector<Bytes> txs, std::function<void(std::vector<SubmitResult>)> done) {
  if (txs.empty()) return done({});
  auto batch = std::make_shared<BatchResults>(txs.size(), std::move(done));
  for (size_t i = 0; i < txs.size(); ++i) submit(std::move(txs[i]), SubmitOptions{}, BatchResults::slot(batch, i));
}

}  // namespace prov::node
