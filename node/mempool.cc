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
  std::vector<uint64_t> added;  // of each pulled transaction: oldest first, so the young ones are a suffix
  size_t total = 0;
  bool full = false;
  for (Tx& tx : order_) {
    if (out.size() >= max_txs) {
      full = true;
      break;
    }
    if (tx.in_flight_until_ms > now_ms_) continue;
    if (total + tx.bytes().size() > max_bytes) {
      full = true;
      break;
    }
    total += tx.bytes().size();
    out.push_back(tx.bytes());
    added.push_back(tx.added_ms);
  }
  if (full || out.size() >= max_txs || min_age_ms_ == 0) return out;
  // Young: added less than min_age_ms_ ago. A clock that went back makes
  // every stamp look young; such a transaction counts as old instead of
  // waiting for the clock to catch up.
  auto young = [&](uint64_t a) { return a <= now_ms_ ? now_ms_ - a < min_age_ms_ : false; };
  size_t keep = out.size();
  while (keep > 0 && young(added[keep - 1])) --keep;
  if (keep < out.size()) {
    // Stamps only grow along the list, except after a clock step back: the
    // earliest to mature is the oldest of those left behind.
    next_mature_ms_ = added[keep] + min_age_ms_;
    out.resize(keep);
  }
  return out;
}

}  // namespace prov::node
