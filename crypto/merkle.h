// RFC 9162 (RFC 6962) Merkle tree hashing, proofs and proof verification.
//
// leaf = SHA-256(0x00 ‖ leaf input), node = SHA-256(0x01 ‖ left ‖ right),
// empty tree = SHA-256(""). Leaf indexes are 0-based.
//
// Proof generation is written against a NodeSource so the tree can live
// anywhere (RAM for small trees, RocksDB for the ledger's log): a source only
// has to return the hash of a *perfect* subtree, i.e. the node at `level`
// covering leaves [index·2^level, (index+1)·2^level). Every proof needs
// O(log n) such lookups. Verification needs nothing but hashes.
// Pure functions; thread-safe as long as the NodeSource is.
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

#include "crypto/bytes.h"
#include "crypto/status.h"

namespace prov::crypto::merkle {

Hash256 empty_root();
Hash256 hash_leaf(ByteView leaf_input);
Hash256 hash_children(const Hash256& left, const Hash256& right);

// Returns the hash of the perfect subtree at (level, index); a source may
// fail (for example on a storage error), and the failure is passed on.
using NodeSource = std::function<Result<Hash256>(uint32_t level, uint64_t index)>;

// Root of the first `size` leaves.
Result<Hash256> root(const NodeSource& nodes, uint64_t size);
// RFC 9162 §2.1.3.1 inclusion path of leaf `index` in the tree of `size`.
// Requires index < size.
Result<std::vector<Hash256>> inclusion_proof(const NodeSource& nodes, uint64_t index, uint64_t size);
// RFC 9162 §2.1.4.1 consistency proof between sizes old_size ≤ new_size.
// Requires 0 < old_size ≤ new_size (a proof from the empty tree is empty and
// carries no information; RFC 9162 leaves it undefined).
Result<std::vector<Hash256>> consistency_proof(const NodeSource& nodes, uint64_t old_size, uint64_t new_size);

// Root implied by an inclusion proof (RFC 9162 §2.1.3.2 steps 1-5), or
// kVerificationFailed if index ≥ size or the proof has the wrong length.
Result<Hash256> root_from_inclusion_proof(const Hash256& leaf_hash, uint64_t index, uint64_t size,
                                          const std::vector<Hash256>& proof);

// RFC 9162 §2.1.3.2. OK iff `proof` proves `leaf_hash` is leaf `index` of the
// tree of `size` with root `root`; otherwise kVerificationFailed saying why.
Status verify_inclusion(const Hash256& leaf_hash, uint64_t index, uint64_t size, const std::vector<Hash256>& proof,
                        const Hash256& root);
// RFC 9162 §2.1.4.2. OK iff `proof` proves the tree of old_size with
// old_root is a prefix of the tree of new_size with new_root.
Status verify_consistency(uint64_t old_size, uint64_t new_size, const Hash256& old_root, const Hash256& new_root,
                          const std::vector<Hash256>& proof);

// Subtrees (draft-ietf-plants-merkle-tree-certs §4): [start, end) is a
// subtree iff start == end (empty), or start is a multiple of the smallest
// power of two ≥ end - start. Its hash is MTH(leaves[start:end]); root(),
// inclusion_proof() and consistency_proof() are the start = 0 special cases.
bool is_valid_subtree(uint64_t start, uint64_t end);
// MTH of leaves [start, end); the empty subtree hashes to empty_root().
Result<Hash256> subtree_hash(const NodeSource& nodes, uint64_t start, uint64_t end);
// Inclusion path of leaf `index` in the subtree [start, end); requires
// start ≤ index < end.
Result<std::vector<Hash256>> subtree_inclusion_proof(const NodeSource& nodes, uint64_t index, uint64_t start,
                                                     uint64_t end);
// Proof that subtree [start, end) is part of the tree of `size` leaves
// (SUBTREE_PROOF); requires end ≤ size. Empty for an empty subtree.
Result<std::vector<Hash256>> subtree_consistency_proof(const NodeSource& nodes, uint64_t start, uint64_t end,
                                                       uint64_t size);

// A whole tree held in memory, for batches and tests. Stores every perfect
// subtree node, so appends are amortised O(1) and proofs O(log n).
class MemoryTree {
 public:
  // Appends a leaf given its leaf hash; returns its index.
  uint64_t append_leaf_hash(const Hash256& leaf_hash);
  uint64_t append(ByteView leaf_input) { return append_leaf_hash(hash_leaf(leaf_input)); }
  uint64_t size() const { return levels_.empty() ? 0 : levels_[0].size(); }
  Hash256 root() const;
  Hash256 root_at(uint64_t size) const;
  // Preconditions (asserted): size ≤ size(); index < size; 0 < old_size ≤ new_size.
  std::vector<Hash256> inclusion_proof(uint64_t index, uint64_t size) const;
  std::vector<Hash256> consistency_proof(uint64_t old_size, uint64_t new_size) const;
  // A source over this tree's perfect nodes; valid while the tree lives.
  // Nodes beyond the current size are kNotFound.
  NodeSource source() const;

 private:
  std::vector<std::vector<Hash256>> levels_;  // levels_[l][i] = perfect node (l, i)
};

}  // namespace prov::crypto::merkle
