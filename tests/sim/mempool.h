// A replica's mempool in the simulator: indices into the pre-signed pool,
// oldest first, forgotten when the replica commits them. It is volatile: a
// crash clears it, as a real node's memory would be.
// Not thread-safe: owned by one simulated replica.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <unordered_set>
#include <vector>

#include "consensus/core.h"
#include "tests/sim/sim_chain.h"

namespace prov::sim {

class Mempool final : public consensus::PayloadSource {
 public:
  // Transactions held at most; more are refused (a real mempool's bound).
  static constexpr size_t kMaxTxs = 8192;

  explicit Mempool(const TxPool& pool) : pool_(pool) {}

  std::vector<Bytes> pull(size_t max_txs, size_t max_bytes) override;
  // Adds pool entry `index`; false if already held or full.
  bool add(uint32_t index);
  // Forgets every transaction of committed `block` bytes.
  void remove_committed(ByteView block);
  void clear();
  size_t size() const { return present_.size(); }

 private:
  const TxPool& pool_;
  std::deque<uint32_t> order_;              // arrival order; may hold forgotten entries
  std::unordered_set<uint32_t> present_;    // what is actually held
};

}  // namespace prov::sim
