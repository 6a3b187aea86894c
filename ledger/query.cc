#include "ledger/query.h"

#include <deque>
#include <set>

#include "crypto/merkle.h"
#include "crypto/sha256.h"
#include "ledger/merkle_log.h"
#include "ledger/state.h"
#include "ledger/tx.h"

namespace prov::ledger {

namespace {

Status check_page(const PageRequest& page) {
  if (page.limit == 0 || page.limit > kMaxPageLimit) {
    return Status::invalid_argument("page limit must be 1.." + std::to_string(kMaxPageLimit));
  }
  return Status::ok();
}

// Visits up to page.limit keys `prefix ‖ u64` in order from the cursor and
// returns the u64 of the next key, if any. Keys of another shape are skipped
// as corruption would be: they can not be produced by the state transition.
Result<std::optional<uint64_t>> scan_page(const KvReader& state, Column c, const Bytes& prefix,
                                          const PageRequest& page,
                                          const std::function<Status(uint64_t, ByteView)>& visit) {
  PROV_RETURN_IF_ERROR(check_page(page));
  Bytes start;
  if (page.cursor) {
    start = prefix;
    put_u64_be(start, *page.cursor);
  }
  std::optional<uint64_t> next;
  uint32_t seen = 0;
  Status inner = Status::ok();
  auto visitor = [&](ByteView k, ByteView v) {
    if (k.size() != prefix.size() + 8) {
      inner = Status::corruption("index key of the wrong size");
      return false;
    }
    uint64_t n = get_u64_be(k.data() + prefix.size());
    if (seen == page.limit) {
      next = n;
      return false;
    }
    ++seen;
    inner = visit(n, v);
    return inner.is_ok();
  };
  size_t limit = static_cast<size_t>(page.limit) + 1;
  if (page.newest_first) {
    PROV_RETURN_IF_ERROR(state.scan_reverse(c, prefix, start, limit, visitor));
  } else {
    PROV_RETURN_IF_ERROR(state.scan(c, prefix, start.empty() ? prefix : start, limit, visitor));
  }
  PROV_RETURN_IF_ERROR(inner);
  return next;
}

// Resolves version 0 to the latest version.
Result<uint64_t> resolve_version(const KvReader& state, const std::string& dataset, uint64_t version) {
  if (version != 0) {
    PROV_ASSIGN_OR_RETURN(auto rec, state.get(Column::kDatasetVersions, string_key(dataset, version)));
    if (!rec) return Status::not_found(dataset + "@" + std::to_string(version) + " was never anchored");
    return version;
  }
  PROV_ASSIGN_OR_RETURN(VersionItem latest, latest_version_of(state, dataset));
  return latest.version;
}

// The neighbours of dataset@version in one direction's column.
Status neighbours(const KvReader& state, Column c, const LineageNode& from, std::vector<LineageNode>* out) {
  Bytes prefix = string_key(from.dataset, from.version);
  Status inner = Status::ok();
  // A node has at most kCeilingMaxDerivedFrom parents, but any number of
  // children; the caller's node bound caps the walk, so cap the scan too.
  PROV_RETURN_IF_ERROR(state.scan(c, prefix, prefix, kMaxLineageNodes + 1, [&](ByteView k, ByteView) {
    LineageNode n;
    if (!parse_dataset_version(k.subspan(prefix.size()), &n.dataset, &n.version)) {
      inner = Status::corruption("bad lineage key");
      return false;
    }
    n.depth = from.depth + 1;
    out->push_back(std::move(n));
    return true;
  }));
  return inner;
}

// Breadth-first walk in one direction, appending to `g`; `seen` is shared
// between directions so kBoth lists each node once.
Status walk(const KvReader& state, Column c, const LineageRequest& req, LineageGraph& g,
            std::set<std::pair<std::string, uint64_t>>& seen) {
  bool up = c == Column::kLineageUp;
  std::deque<LineageNode> queue{g.nodes.front()};
  while (!queue.empty()) {
    LineageNode cur = std::move(queue.front());
    queue.pop_front();
    if (cur.depth >= req.depth) {
      // Only report truncation if there was more to see.
      std::vector<LineageNode> more;
      PROV_RETURN_IF_ERROR(neighbours(state, c, cur, &more));
      if (!more.empty()) g.truncated = true;
      continue;
    }
    std::vector<LineageNode> next;
    PROV_RETURN_IF_ERROR(neighbours(state, c, cur, &next));
    for (LineageNode& n : next) {
      LineageEdge e;
      e.child = up ? cur : n;
      e.parent = up ? n : cur;
      if (!seen.insert({n.dataset, n.version}).second) {
        g.edges.push_back(std::move(e));
        continue;
      }
      if (g.nodes.size() >= req.max_nodes) {
        g.truncated = true;
        return Status::ok();
      }
      g.edges.push_back(std::move(e));
      g.nodes.push_back(n);
      queue.push_back(std::move(n));
    }
  }
  return Status::ok();
}

Result<uint64_t> head_log_size(const KvReader& state) {
  PROV_ASSIGN_OR_RETURN(Head head, read_head(state));
  return head.log_size;
}

}  // namespace

Result<EntryRecord> entry_by_index(const KvReader& state, uint64_t index) {
  PROV_ASSIGN_OR_RETURN(auto raw, state.get(Column::kEntries, u64_key(index)));
  if (!raw) return Status::not_found("no entry " + std::to_string(index));
  auto entry = decode_entry(*raw);
  if (!entry) return Status::corruption("stored entry " + std::to_string(index) + ": " + entry.status().message());
  return EntryRecord{std::move(*raw), std::move(entry).value()};
}

Result<EntryRecord> entry_by_tx_hash(const KvReader& state, const Hash256& tx_hash) {
  PROV_ASSIGN_OR_RETURN(auto raw, state.get(Column::kEntryByHash, tx_hash));
  if (!raw) return Status::not_found("no transaction with that hash");
  if (raw->size() != 8) return Status::corruption("entry-by-hash value is not 8 bytes");
  return entry_by_index(state, get_u64_be(raw->data()));
}

Result<HistoryPage> dataset_history(const KvReader& state, std::string_view dataset, const PageRequest& page) {
  HistoryPage out;
  PROV_ASSIGN_OR_RETURN(out.next_cursor,
                        scan_page(state, Column::kDatasetEvents, dataset_prefix(dataset), page,
                                  [&](uint64_t index, ByteView v) {
                                    if (v.size() != 9) return Status::corruption("dataset event value size");
                                    out.items.push_back({index, v[0] == kEventAnchor, get_u64_be(v.data() + 1)});
                                    return Status::ok();
                                  }));
  return out;
}

Result<VersionPage> dataset_versions(const KvReader& state, std::string_view dataset, const PageRequest& page) {
  VersionPage out;
  PROV_ASSIGN_OR_RETURN(out.next_cursor,
                        scan_page(state, Column::kDatasetVersions, dataset_prefix(dataset), page,
                                  [&](uint64_t version, ByteView v) {
                                    if (v.size() != 40) return Status::corruption("dataset version value size");
                                    VersionItem item;
                                    item.version = version;
                                    item.index = get_u64_be(v.data());
                                    item.digest.assign(v.subspan(8));
                                    out.items.push_back(item);
                                    return Status::ok();
                                  }));
  return out;
}

Result<VersionItem> latest_version_of(const KvReader& state, std::string_view dataset) {
  PageRequest page;
  page.limit = 1;
  page.newest_first = true;
  PROV_ASSIGN_OR_RETURN(VersionPage p, dataset_versions(state, dataset, page));
  if (p.items.empty()) return Status::not_found("dataset " + std::string(dataset) + " was never anchored");
  return p.items.front();
}

Result<IndexPage> entries_by_digest(const KvReader& state, const Hash256& digest, const PageRequest& page) {
  IndexPage out;
  Bytes prefix(digest.bytes.begin(), digest.bytes.end());
  PROV_ASSIGN_OR_RETURN(out.next_cursor, scan_page(state, Column::kDigest, prefix, page, [&](uint64_t i, ByteView) {
                          out.indexes.push_back(i);
                          return Status::ok();
                        }));
  return out;
}

Result<IndexPage> entries_by_agency(const KvReader& state, std::string_view agency, const PageRequest& page) {
  IndexPage out;
  PROV_ASSIGN_OR_RETURN(out.next_cursor,
                        scan_page(state, Column::kAgency, dataset_prefix(agency), page, [&](uint64_t i, ByteView) {
                          out.indexes.push_back(i);
                          return Status::ok();
                        }));
  return out;
}

Result<LineageGraph> lineage(const KvReader& state, const LineageRequest& req) {
  if (req.depth == 0 || req.depth > kMaxLineageDepth) {
    return Status::invalid_argument("depth must be 1.." + std::to_string(kMaxLineageDepth));
  }
  if (req.max_nodes == 0 || req.max_nodes > kMaxLineageNodes) {
    return Status::invalid_argument("max_nodes must be 1.." + std::to_string(kMaxLineageNodes));
  }
  PROV_ASSIGN_OR_RETURN(uint64_t version, resolve_version(state, req.dataset, req.version));
  LineageGraph g;
  g.nodes.push_back(LineageNode{req.dataset, version, 0});
  std::set<std::pair<std::string, uint64_t>> seen{{req.dataset, version}};
  if (req.direction != LineageDirection::kDownstream) {
    PROV_RETURN_IF_ERROR(walk(state, Column::kLineageUp, req, g, seen));
  }
  if (req.direction != LineageDirection::kUpstream && !(g.truncated && g.nodes.size() >= req.max_nodes)) {
    PROV_RETURN_IF_ERROR(walk(state, Column::kLineageDown, req, g, seen));
  }
  return g;
}

Result<InclusionProof> inclusion_proof(const KvReader& state, uint64_t index, uint64_t tree_size) {
  PROV_ASSIGN_OR_RETURN(uint64_t log_size, head_log_size(state));
  if (tree_size == 0) tree_size = log_size;
  if (tree_size > log_size) return Status::invalid_argument("tree size beyond the log");
  if (index >= tree_size) return Status::invalid_argument("entry index not below tree size");
  InclusionProof p;
  p.index = index;
  p.tree_size = tree_size;
  PROV_ASSIGN_OR_RETURN(EntryRecord rec, entry_by_index(state, index));
  p.entry_bytes = std::move(rec.bytes);
  p.leaf_hash = crypto::merkle::hash_leaf(p.entry_bytes);
  PROV_ASSIGN_OR_RETURN(p.path, log_inclusion_proof(state, index, tree_size));
  PROV_ASSIGN_OR_RETURN(p.root, log_root(state, tree_size));
  return p;
}

Result<ConsistencyProof> consistency_proof(const KvReader& state, uint64_t old_size, uint64_t new_size) {
  PROV_ASSIGN_OR_RETURN(uint64_t log_size, head_log_size(state));
  if (old_size == 0 || old_size > new_size || new_size > log_size) {
    return Status::invalid_argument("need 0 < old_size <= new_size <= log size");
  }
  ConsistencyProof p;
  p.old_size = old_size;
  p.new_size = new_size;
  PROV_ASSIGN_OR_RETURN(p.path, log_consistency_proof(state, old_size, new_size));
  PROV_ASSIGN_OR_RETURN(p.old_root, log_root(state, old_size));
  PROV_ASSIGN_OR_RETURN(p.new_root, log_root(state, new_size));
  return p;
}

Result<BlockRecord> block_by_height(const KvReader& state, uint64_t height) {
  PROV_ASSIGN_OR_RETURN(auto raw, read_block(state, height));
  if (!raw) return Status::not_found("no block at height " + std::to_string(height));
  auto block = decode_block(*raw, raw->size());
  if (!block) return Status::corruption("stored block: " + block.status().message());
  auto header = decode_header(as_bytes(block->header()));
  if (!header) return Status::corruption("stored header: " + header.status().message());
  BlockRecord out;
  out.header_bytes = to_bytes(block->header());
  out.block_hash = crypto::sha256(out.header_bytes);
  out.header = std::move(header).value();
  out.block_bytes = std::move(*raw);
  return out;
}

}  // namespace prov::ledger
