#include "ledger/merkle_log.h"

namespace prov::ledger {

namespace {

// Tree levels are bounded by the 64-bit index space.
constexpr uint32_t kMaxLevel = 64;

Result<Hash256> read_node(const KvReader& state, uint32_t level, uint64_t index) {
  if (level > kMaxLevel) return Status::invalid_argument("merkle level out of range");
  if (level == 0) {
    // Leaves are not stored: a leaf is the hash of its entry, which is.
    auto e = state.get(Column::kEntries, u64_key(index));
    if (!e) return e.status();
    if (!e->has_value()) return Status::corruption("missing entry " + std::to_string(index) + " under a merkle leaf");
    return crypto::merkle::hash_leaf(**e);
  }
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
  for (size_t i = 0; i < leaf_hashes.size(); ++i) {
    uint64_t index = size + i;
    if ((index & 1) == 0) continue;  // a left child completes nothing yet
    // A right leaf completes its level-1 parent; its left sibling is the
    // previous leaf of this batch, or the entry before it in the log.
    Hash256 left;
    if (i > 0) {
      left = leaf_hashes[i - 1];
    } else {
      PROV_ASSIGN_OR_RETURN(left, read_node(view, 0, index - 1));
    }
    Hash256 node = crypto::merkle::hash_children(left, leaf_hashes[i]);
    index >>= 1;
    writes.put(Column::kMerkle, merkle_node_key(1, index), node);
    // A right child completes its parent: climb while the node is a right child.
    for (uint32_t level = 1; (index & 1) == 1; ++level, index >>= 1) {
      PROV_ASSIGN_OR_RETURN(left, read_node(view, level, index - 1));
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
