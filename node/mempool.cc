#include "node/mempool.h"

namespace prov::node {

Mempool::Added Mempool::add(const Hash256& hash, Bytes tx) { return insert(Tx{hash, std::move(tx), nullptr, 0}); }

Mempool::Added Mempool::add(std::unique_ptr<const ledger::DecodedTx> tx) {
  Hash256 hash = tx->tx_hash;
  return insert(Tx{hash, {}, std::move(tx), 0});
}

Mempool::Added Mempool::insert(Tx tx) {
  if (index_.count(tx.hash)) return Added::kDuplicate;
  size_t size = tx.bytes().size();
  if (index_.size() >= max_txs_ || bytes_ + size > max_bytes_) return Added::kFull;
  bytes_ += size;
  tx.added_ms = now_ms_;
  Hash256 hash = tx.hash;
  order_.push_back(std::move(tx));
  index_[hash] = std::prev(order_.end());
  return Added::kAdded;
}

const ledger::DecodedTx* Mempool::decoded(const Hash256& hash) const {
  auto it = index_.find(hash);
  return it == index_.end() ? nullptr : it->second->decoded.get();
}

std::unique_ptr<const ledger::DecodedTx> Mempool::remove(const Hash256& hash, uint64_t* added_ms) {
  auto it = index_.find(hash);
  if (it == index_.end()) return nullptr;
  if (added_ms) *added_ms = it->second->added_ms;
  bytes_ -= it->second->bytes().size();
  std::unique_ptr<const ledger::DecodedTx> decoded = std::move(it->second->decoded);
  order_.erase(it->second);
  index_.erase(it);
  return decoded;
}

void Mempool::mark_in_flight(const Hash256& hash, uint64_t now_ms) {
  auto it = index_.find(hash);
  if (it != index_.end()) it->second->in_flight_until_ms = now_ms + in_flight_ms_;
}

std::vector<Bytes> Mempool::pull(size_t max_txs, size_t max_bytes) {
  std::vector<Bytes> out;
  size_t total = 0;
  for (Tx& tx : order_) {
    if (out.size() >= max_txs) break;
    if (tx.in_flight_until_ms > now_ms_) continue;
    if (total + tx.bytes().size() > max_bytes) break;
    total += tx.bytes().size();
    out.push_back(tx.bytes());
  }
  return out;
}

}  // namespace prov::node
