// The global Merkle log (RFC 9162) stored in Column::kMerkle.
//
// Every perfect subtree node above the leaves is stored once it is
// complete, under the key u8 level ‖ u64 BE index, with its 32-byte hash as
// value. Leaves (level 0) are not stored: leaf i is SHA-256(0x00 ‖ entry i)
// of the entry in Column::kEntries, read and hashed when a root or proof
// needs it (at most two per proof), which saves a key per transaction on
// the commit path. Roots and proofs at any tree size then need O(log n)
// point reads, and nothing is held in RAM between calls, so memory stays
// flat as the log grows past RAM. Appending only writes new nodes into a
// WriteSet; the entries of the leaves must be in the state (or its writes)
// before a proof or a later append reads them.
// Thread-safety: pure functions of their arguments (the reader must allow
// concurrent reads).
#pragma once

#include <cstdint>
#include <vector>

#include "crypto/bytes.h"
#include "crypto/merkle.h"
#include "crypto/status.h"
#include "ledger/kv.h"

namespace prov::ledger {

// Key of the perfect node at (level, index).
Bytes merkle_node_key(uint32_t level, uint64_t index);

// A NodeSource reading perfect nodes from `state`; a missing node is
// kCorruption (the caller asked within the log's size). `state` must outlive
// the returned source.
crypto::merkle::NodeSource log_node_source(const KvReader& state);

// Appends `leaf_hashes` (each SHA-256(0x00 ‖ its entry)) to the log of
// `size` leaves stored in `state`, adding a put for every node above the
// leaves that becomes complete to `writes`. Reads `state` layered with
// `writes`, so several appends may share one WriteSet.
Status log_append(const KvReader& state, uint64_t size, const std::vector<Hash256>& leaf_hashes, WriteSet& writes);

// The RFC 9162 root of the first `size` leaves (empty_root() for 0).
Result<Hash256> log_root(const KvReader& state, uint64_t size);
// Inclusion path of leaf `index` in the tree of `size` (index < size).
Result<std::vector<Hash256>> log_inclusion_proof(const KvReader& state, uint64_t index, uint64_t size);
// Consistency proof from `old_size` to `new_size` (0 < old_size <= new_size).
Result<std::vector<Hash256>> log_consistency_proof(const KvReader& state, uint64_t old_size, uint64_t new_size);

}  // namespace prov::ledger
