// RFC 9162 Merkle trees. Proof generation is one recursion over the tree
// shape (split at the largest power of two below the width); every range it
// needs is either a perfect aligned subtree, fetched from the NodeSource in
// one lookup, or the right spine of a range, which costs O(log n) lookups and
// occurs at most once per proof. Verification follows the algorithms of
// transparency-dev/merkle's proof package (RFC 9162 §2.1.3.2 and §2.1.4.2).
#include "crypto/merkle.h"

#include <bit>
#include <cassert>
#include <cstring>
#include <string>

#include "crypto/sha256.h"

namespace prov::crypto::merkle {

namespace {

constexpr uint8_t kLeafPrefix = 0x00;
constexpr uint8_t kNodePrefix = 0x01;

// Largest power of two strictly below n; requires n ≥ 2.
uint64_t split_point(uint64_t n) {
  assert(n >= 2);
  return std::bit_floor(n - 1);
}

std::string range_name(uint64_t start, uint64_t end) {
  return "[" + std::to_string(start) + ", " + std::to_string(end) + ")";
}

// The perfect subtree [lo, lo + width) with width a power of two dividing lo.
Result<Hash256> perfect_node(const NodeSource& nodes, uint64_t lo, uint64_t width) {
  const auto level = static_cast<uint32_t>(std::countr_zero(width));
  return nodes(level, lo >> level);
}

// MTH of [lo, hi), which must be a non-empty node of the tree's shape (lo a
// multiple of the power of two ≥ hi - lo). Depth is bounded by 64.
Result<Hash256> range_hash(const NodeSource& nodes, uint64_t lo, uint64_t hi) {
  const uint64_t width = hi - lo;
  if (std::has_single_bit(width)) return perfect_node(nodes, lo, width);
  const uint64_t k = split_point(width);
  PROV_ASSIGN_OR_RETURN(Hash256 left, perfect_node(nodes, lo, k));
  PROV_ASSIGN_OR_RETURN(Hash256 right, range_hash(nodes, lo + k, hi));
  return hash_children(left, right);
}

// RFC 9162 PATH(m, D[lo:hi]), appended to `out` leaf-first.
Status append_path(const NodeSource& nodes, uint64_t index, uint64_t lo, uint64_t hi, std::vector<Hash256>& out) {
  if (hi - lo <= 1) return Status::ok();
  const uint64_t mid = lo + split_point(hi - lo);
  Result<Hash256> sibling = index < mid ? range_hash(nodes, mid, hi) : range_hash(nodes, lo, mid);
  if (!sibling) return sibling.status();
  if (index < mid) {
    PROV_RETURN_IF_ERROR(append_path(nodes, index, lo, mid, out));
  } else {
    PROV_RETURN_IF_ERROR(append_path(nodes, index, mid, hi, out));
  }
  out.push_back(*sibling);
  return Status::ok();
}

// SUBTREE_SUBPROOF of [start, end) within the node [lo, hi); `known` says
// whether the verifier already holds the hash of [start, end).
Status append_subproof(const NodeSource& nodes, uint64_t start, uint64_t end, uint64_t lo, uint64_t hi, bool known,
                       std::vector<Hash256>& out) {
  if (start == lo && end == hi) {
    if (known) return Status::ok();
    PROV_ASSIGN_OR_RETURN(Hash256 node, range_hash(nodes, lo, hi));
    out.push_back(node);
    return Status::ok();
  }
  const uint64_t mid = lo + split_point(hi - lo);
  if (end <= mid) {
    PROV_RETURN_IF_ERROR(append_subproof(nodes, start, end, lo, mid, known, out));
    PROV_ASSIGN_OR_RETURN(Hash256 right, range_hash(nodes, mid, hi));
    out.push_back(right);
    return Status::ok();
  }
  // Either [start, end) lies in the right half, or it straddles mid, which a
  // valid subtree can only do when start == lo: then the left half is known
  // to the verifier only as part of the subtree, so the right part of the
  // subtree must be proven explicitly.
  if (start >= mid) {
    PROV_RETURN_IF_ERROR(append_subproof(nodes, start, end, mid, hi, known, out));
  } else {
    PROV_RETURN_IF_ERROR(append_subproof(nodes, mid, end, mid, hi, false, out));
  }
  PROV_ASSIGN_OR_RETURN(Hash256 left, range_hash(nodes, lo, mid));
  out.push_back(left);
  return Status::ok();
}

// Number of proof hashes below the point where the paths of `index` and
// the last leaf (size - 1) merge, and the number above it.
struct ProofShape {
  int inner = 0;
  int border = 0;
};
ProofShape decompose(uint64_t index, uint64_t size) {
  ProofShape s;
  s.inner = std::bit_width(index ^ (size - 1));
  s.border = std::popcount(s.inner >= 64 ? 0 : index >> s.inner);
  return s;
}

Hash256 chain_inner(Hash256 seed, const Hash256* proof, int count, uint64_t index) {
  for (int i = 0; i < count; ++i) {
    seed = ((index >> i) & 1) == 0 ? hash_children(seed, proof[i]) : hash_children(proof[i], seed);
  }
  return seed;
}

// Like chain_inner, but only the left siblings: recomputes the old root of
// a consistency proof, in which right siblings did not exist yet.
Hash256 chain_inner_right(Hash256 seed, const Hash256* proof, int count, uint64_t index) {
  for (int i = 0; i < count; ++i) {
    if ((index >> i) & 1) seed = hash_children(proof[i], seed);
  }
  return seed;
}

Hash256 chain_border_right(Hash256 seed, const Hash256* proof, int count) {
  for (int i = 0; i < count; ++i) seed = hash_children(proof[i], seed);
  return seed;
}

std::string proof_length_message(size_t got, size_t want) {
  return "proof has " + std::to_string(got) + " hashes, want " + std::to_string(want);
}

}  // namespace

Hash256 empty_root() { return sha256(ByteView{}); }

Hash256 hash_leaf(ByteView leaf_input) {
  const uint8_t prefix = kLeafPrefix;
  return sha256(ByteView{&prefix, 1}, leaf_input);
}

Hash256 hash_children(const Hash256& left, const Hash256& right) {
  uint8_t buf[1 + 2 * Hash256::kSize];
  buf[0] = kNodePrefix;
  std::memcpy(buf + 1, left.data(), Hash256::kSize);
  std::memcpy(buf + 1 + Hash256::kSize, right.data(), Hash256::kSize);
  return sha256(ByteView{buf, sizeof(buf)});
}

bool is_valid_subtree(uint64_t start, uint64_t end) {
  if (start > end) return false;
  if (start == end) return true;
  const uint64_t width = end - start;
  // A width above 2^63 rounds up to 2^64, of which only 0 is a multiple.
  if (width > (uint64_t{1} << 63)) return start == 0;
  return start % std::bit_ceil(width) == 0;
}

Result<Hash256> subtree_hash(const NodeSource& nodes, uint64_t start, uint64_t end) {
  if (!is_valid_subtree(start, end)) return Status::invalid_argument(range_name(start, end) + " is not a subtree");
  if (start == end) return empty_root();
  return range_hash(nodes, start, end);
}

Result<Hash256> root(const NodeSource& nodes, uint64_t size) { return subtree_hash(nodes, 0, size); }

Result<std::vector<Hash256>> subtree_inclusion_proof(const NodeSource& nodes, uint64_t index, uint64_t start,
                                                     uint64_t end) {
  if (!is_valid_subtree(start, end)) return Status::invalid_argument(range_name(start, end) + " is not a subtree");
  if (index < start || index >= end) {
    return Status::invalid_argument("index " + std::to_string(index) + " outside " + range_name(start, end));
  }
  std::vector<Hash256> out;
  out.reserve(64);
  PROV_RETURN_IF_ERROR(append_path(nodes, index, start, end, out));
  return out;
}

Result<std::vector<Hash256>> inclusion_proof(const NodeSource& nodes, uint64_t index, uint64_t size) {
  return subtree_inclusion_proof(nodes, index, 0, size);
}

Result<std::vector<Hash256>> subtree_consistency_proof(const NodeSource& nodes, uint64_t start, uint64_t end,
                                                       uint64_t size) {
  if (!is_valid_subtree(start, end)) return Status::invalid_argument(range_name(start, end) + " is not a subtree");
  if (end > size) {
    return Status::invalid_argument(range_name(start, end) + " exceeds tree size " + std::to_string(size));
  }
  std::vector<Hash256> out;
  if (start == end) return out;
  out.reserve(64);
  PROV_RETURN_IF_ERROR(append_subproof(nodes, start, end, 0, size, true, out));
  return out;
}

Result<std::vector<Hash256>> consistency_proof(const NodeSource& nodes, uint64_t old_size, uint64_t new_size) {
  if (old_size == 0) return Status::invalid_argument("consistency proof from the empty tree is undefined");
  if (old_size > new_size) {
    return Status::invalid_argument("old size " + std::to_string(old_size) + " > new size " +
                                    std::to_string(new_size));
  }
  return subtree_consistency_proof(nodes, 0, old_size, new_size);
}

Result<Hash256> root_from_inclusion_proof(const Hash256& leaf_hash, uint64_t index, uint64_t size,
                                          const std::vector<Hash256>& proof) {
  if (index >= size) {
    return Status::verification_failed("index " + std::to_string(index) + " is not below size " +
                                       std::to_string(size));
  }
  const ProofShape shape = decompose(index, size);
  const size_t want = static_cast<size_t>(shape.inner + shape.border);
  if (proof.size() != want) return Status::verification_failed(proof_length_message(proof.size(), want));
  Hash256 h = chain_inner(leaf_hash, proof.data(), shape.inner, index);
  return chain_border_right(h, proof.data() + shape.inner, shape.border);
}

Status verify_inclusion(const Hash256& leaf_hash, uint64_t index, uint64_t size, const std::vector<Hash256>& proof,
                        const Hash256& root) {
  PROV_ASSIGN_OR_RETURN(Hash256 computed, root_from_inclusion_proof(leaf_hash, index, size, proof));
  if (computed != root) return Status::verification_failed("inclusion proof does not lead to the root");
  return Status::ok();
}

Status verify_consistency(uint64_t old_size, uint64_t new_size, const Hash256& old_root, const Hash256& new_root,
                          const std::vector<Hash256>& proof) {
  // The empty tree is a prefix of every tree, so such a proof says nothing;
  // rejecting it keeps callers from mistaking it for evidence.
  if (old_size == 0) return Status::verification_failed("consistency proof from the empty tree is meaningless");
  if (new_size < old_size) return Status::verification_failed("new size is smaller than old size");
  if (old_size == new_size) {
    if (!proof.empty()) return Status::verification_failed("proof between equal sizes must be empty");
    if (old_root != new_root) return Status::verification_failed("equal sizes but different roots");
    return Status::ok();
  }
  if (proof.empty()) return Status::verification_failed("empty consistency proof between different sizes");

  // The proof is the inclusion path of leaf old_size - 1 in the new tree,
  // starting at the level where old_size's lowest set bit sits; below that
  // level the old tree's last perfect subtree is shared and stays implicit.
  ProofShape shape = decompose(old_size - 1, new_size);
  const int shift = std::countr_zero(old_size);
  shape.inner -= shift;  // shift < inner because old_size < new_size.
  // The seed is that shared subtree: proof[0], unless the whole old tree is
  // perfect, in which case its root is the seed.
  const bool old_is_perfect = std::has_single_bit(old_size);
  const Hash256 seed = old_is_perfect ? old_root : proof[0];
  const size_t start = old_is_perfect ? 0 : 1;
  const size_t want = start + static_cast<size_t>(shape.inner + shape.border);
  if (proof.size() != want) return Status::verification_failed(proof_length_message(proof.size(), want));

  const Hash256* rest = proof.data() + start;
  const uint64_t mask = (old_size - 1) >> shift;
  Hash256 h1 = chain_inner_right(seed, rest, shape.inner, mask);
  h1 = chain_border_right(h1, rest + shape.inner, shape.border);
  if (h1 != old_root) return Status::verification_failed("consistency proof does not lead to the old root");
  Hash256 h2 = chain_inner(seed, rest, shape.inner, mask);
  h2 = chain_border_right(h2, rest + shape.inner, shape.border);
  if (h2 != new_root) return Status::verification_failed("consistency proof does not lead to the new root");
  return Status::ok();
}

uint64_t MemoryTree::append_leaf_hash(const Hash256& leaf_hash) {
  if (levels_.empty()) levels_.emplace_back();
  const uint64_t index = levels_[0].size();
  levels_[0].push_back(leaf_hash);
  // Every completed pair at level l yields a node at level l + 1.
  for (size_t l = 0; levels_[l].size() % 2 == 0; ++l) {
    if (l + 1 == levels_.size()) levels_.emplace_back();
    const auto& level = levels_[l];
    levels_[l + 1].push_back(hash_children(level[level.size() - 2], level[level.size() - 1]));
  }
  return index;
}

NodeSource MemoryTree::source() const {
  return [this](uint32_t level, uint64_t index) -> Result<Hash256> {
    if (level >= levels_.size() || index >= levels_[level].size()) {
      return Status::not_found("no node at level " + std::to_string(level) + " index " + std::to_string(index));
    }
    return levels_[level][index];
  };
}

Hash256 MemoryTree::root() const { return root_at(size()); }

Hash256 MemoryTree::root_at(uint64_t size) const {
  assert(size <= this->size());
  return merkle::root(source(), size).value();
}

std::vector<Hash256> MemoryTree::inclusion_proof(uint64_t index, uint64_t size) const {
  assert(index < size && size <= this->size());
  return merkle::inclusion_proof(source(), index, size).value();
}

std::vector<Hash256> MemoryTree::consistency_proof(uint64_t old_size, uint64_t new_size) const {
  assert(0 < old_size && old_size <= new_size && new_size <= this->size());
  return merkle::consistency_proof(source(), old_size, new_size).value();
}

}  // namespace prov::crypto::merkle
