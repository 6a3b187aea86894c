#include "tests/sim/mempool.h"

#include "ledger/tx.h"

namespace prov::sim {
namespace {
constexpr size_t kMaxBlockBytes = size_t{16} << 20;  // parser bound for committed blocks
}  // namespace

std::vector<Bytes> Mempool::pull(size_t max_txs, size_t max_bytes) {
  // Forgotten entries are dropped lazily from the front so pull stays cheap.
  while (!order_.empty() && !present_.count(order_.front())) order_.pop_front();
  std::vector<Bytes> out;
  size_t bytes = 0;
  for (uint32_t index : order_) {
    if (out.size() >= max_txs) break;
    if (!present_.count(index)) continue;
    const Bytes& tx = pool_.txs[index];
    if (bytes + tx.size() > max_bytes) break;
    bytes += tx.size();
    out.push_back(tx);
  }
  return out;
}

bool Mempool::add(uint32_t index) {
  if (present_.size() >= kMaxTxs || !present_.insert(index).second) return false;
  order_.push_back(index);
  return true;
}

void Mempool::remove_committed(ByteView block) {
  auto decoded = ledger::decode_block(block, kMaxBlockBytes);
  if (!decoded) return;
  for (const std::string& tx : decoded->txs()) {
    if (auto index = pool_.find(as_bytes(tx))) present_.erase(*index);
  }
}

void Mempool::clear() {
  order_.clear();
  present_.clear();
}

}  // namespace prov::sim
