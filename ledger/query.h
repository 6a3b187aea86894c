// Read-only queries over a ledger state: entries, dataset history, lineage,
// digests, agencies, blocks and Merkle proofs.
//
// Every query reads only the KvReader it is given (a store snapshot, so a
// concurrent commit can not tear it) and is bounded: pages hold at most
// kMaxPageLimit items and carry a cursor to continue; lineage walks stop at
// kMaxLineageDepth levels and kMaxLineageNodes nodes and say so. Permission
// checks (who may read what) belong to the API layer, not here.
// Thread-safety: pure functions of their arguments.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "crypto/bytes.h"
#include "crypto/status.h"
#include "ledger/kv.h"
#include "ledger/proto/ledger.pb.h"

namespace prov::ledger {

inline constexpr uint32_t kMaxPageLimit = 1000;       // items per page
inline constexpr uint32_t kMaxLineageDepth = 32;      // edges from the start node
inline constexpr uint32_t kMaxLineageNodes = 10000;   // nodes per lineage answer

// An entry as stored: its exact bytes (the Merkle leaf input) and decoded form.
struct EntryRecord {
  Bytes bytes;
  v1::Entry entry;
};

// The entry at `index`; kNotFound beyond the log.
Result<EntryRecord> entry_by_index(const KvReader& state, uint64_t index);
// The entry of the transaction whose SHA-256(tx bytes) is `tx_hash`.
Result<EntryRecord> entry_by_tx_hash(const KvReader& state, const Hash256& tx_hash);

// A page request. `cursor` is opaque to callers: pass back next_cursor.
struct PageRequest {
  std::optional<uint64_t> cursor;  // absent: from the start (or the end if newest_first)
  uint32_t limit = 100;            // 1..kMaxPageLimit
  bool newest_first = false;
};

struct HistoryItem {
  uint64_t index = 0;      // entry index
  bool is_anchor = false;  // false: access event
  uint64_t version = 0;    // anchored version, or accessed version (0 = whole dataset)
};
struct HistoryPage {
  std::vector<HistoryItem> items;
  std::optional<uint64_t> next_cursor;  // absent: no more items
};
// Every entry touching `dataset` (anchors and accesses), in log order.
Result<HistoryPage> dataset_history(const KvReader& state, std::string_view dataset, const PageRequest& page);

struct VersionItem {
  uint64_t version = 0;
  uint64_t index = 0;   // entry index of the anchor
  Hash256 digest;
};
struct VersionPage {
  std::vector<VersionItem> items;
  std::optional<uint64_t> next_cursor;
};
// The anchored versions of `dataset`, by version.
Result<VersionPage> dataset_versions(const KvReader& state, std::string_view dataset, const PageRequest& page);
// The newest anchored version; kNotFound if the dataset was never anchored.
Result<VersionItem> latest_version_of(const KvReader& state, std::string_view dataset);

struct IndexPage {
  std::vector<uint64_t> indexes;  // entry indexes
  std::optional<uint64_t> next_cursor;
};
// Entries anchoring content with this SHA-256 digest.
Result<IndexPage> entries_by_digest(const KvReader& state, const Hash256& digest, const PageRequest& page);
// Entries submitted by `agency`.
Result<IndexPage> entries_by_agency(const KvReader& state, std::string_view agency, const PageRequest& page);

enum class LineageDirection { kUpstream, kDownstream, kBoth };
struct LineageRequest {
  std::string dataset;
  uint64_t version = 0;            // 0: the latest version
  LineageDirection direction = LineageDirection::kUpstream;
  uint32_t depth = 5;              // 1..kMaxLineageDepth
  uint32_t max_nodes = 1000;       // 1..kMaxLineageNodes
};
struct LineageNode {
  std::string dataset;
  uint64_t version = 0;
  uint32_t depth = 0;              // edges from the start node
};
struct LineageEdge {
  LineageNode child;               // depth fields unused
  LineageNode parent;
};
struct LineageGraph {
  std::vector<LineageNode> nodes;  // breadth-first; nodes[0] is the start
  std::vector<LineageEdge> edges;  // child derived from parent
  bool truncated = false;          // a depth or node bound cut the walk short
};
// Walks derived-from edges breadth-first from dataset@version.
Result<LineageGraph> lineage(const KvReader& state, const LineageRequest& request);

struct InclusionProof {
  uint64_t index = 0;
  uint64_t tree_size = 0;
  Bytes entry_bytes;               // the leaf input
  Hash256 leaf_hash;
  std::vector<Hash256> path;
  Hash256 root;                    // root of the tree of tree_size
};
// Proof that entry `index` is in the log of `tree_size` (index < tree_size
// <= the head's log size; tree_size 0 means the head's log size).
Result<InclusionProof> inclusion_proof(const KvReader& state, uint64_t index, uint64_t tree_size);

struct ConsistencyProof {
  uint64_t old_size = 0;
  uint64_t new_size = 0;
  Hash256 old_root;
  Hash256 new_root;
  std::vector<Hash256> path;
};
// Proof that the log of old_size is a prefix of the log of new_size
// (0 < old_size <= new_size <= the head's log size).
Result<ConsistencyProof> consistency_proof(const KvReader& state, uint64_t old_size, uint64_t new_size);

struct BlockRecord {
  Bytes block_bytes;
  Bytes header_bytes;
  v1::BlockHeader header;
  Hash256 block_hash;
};
// The block at `height` (>= 1); kNotFound above the head.
Result<BlockRecord> block_by_height(const KvReader& state, uint64_t height);

}  // namespace prov::ledger
