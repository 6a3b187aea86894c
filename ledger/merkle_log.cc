#include "ledger/merkle_log.h"

namespace prov::ledger {

namespace {

// Tree levels are bounded by the 64-bit index space.
constexpr uint32_t kMaxLevel = 64;

Result<Hash256> read_node(const KvReader& state, uint32_t level, uint64_t index) {
  if (level > kMaxLevel) return Status::invalid_argument("merkle level out of range");
  auto v = state.get(Column::kMerkle, merkle_node_key(level, index));
  if (!v) return v.status();
  if (!v->has_value()) {
    return Status::corruption("missing merkle node (" + std::to_string(level) + ", " + std::to_string(index) + ")");
  }
  Hash256 h;
  if (!h.assign(**v)) return Status::corruption("merkle node is not 32 bytes");
  return h;
}

}  // namespace

Bytes merkle_node_key(uint32_t level, uint64_t index) {
  Bytes k;
  k.reserve(9);
  k.push_back(static_cast<uint8_t>(level));
  put_u64_be(k, index);
  return k;
}

crypto::merkle::NodeSource log_node_source(const KvReader& state) {
  return [&state](uint32_t level, uint64_t index) { return read_node(state, level, index); };
}

Status log_append(const KvReader& state, uint64_t size, const std::vector<Hash256>& leaf_hashes, WriteSet& writes) {
  Overlay view(state, writes);
  for (const Hash256& leaf : leaf_hashes) {
    uint64_t index = size++;
    writes.put(Column::kMerkle, merkle_node_key(0, index), leaf);
    // A right child completes its parent: climb while the node is a right child.
    Hash256 node = leaf;
    for (uint32_t level = 0; (index & 1) == 1; ++level, index >>= 1) {
      PROV_ASSIGN_OR_RETURN(Hash256 left, read_node(view, level, index - 1));
      node = crypto::merkle::hash_children(left, node);
      writes.put(Column::kMerkle, merkle_node_key(level + 1, index >> 1), node);
    }
  }
  return Status::ok();
}

Result<Hash256> log_root(const KvReader& state, uint64_t size) {
  if (size == 0) return crypto::merkle::empty_root();
  return crypto::merkle::root(log_node_source(state), size);
}

Result<std::vector<Hash256>> log_inclusion_proof(const KvReader& state, uint64_t index, uint64_t size) {
  if (index >= size) return Status::invalid_argument("leaf index not below tree size");
  return crypto::merkle::inclusion_proof(log_node_source(state), index, size);
}

Result<std::vector<Hash256>> log_consistency_proof(const KvReader& state, uint64_t old_size, uint64_t new_size) {
  if (old_size == 0 || old_size > new_size) return Status::invalid_argument("need 0 < old_size <= new_size");
  return crypto::merkle::consistency_proof(log_node_source(state), old_size, new_size);
}

}  // namespace prov::ledger
