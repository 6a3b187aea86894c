#include "ledger/kv.h"

// GCC 12 reports a false -Wstringop-overread inside std::vector's <=> when a
// map of byte-vector keys is searched with an empty key (GCC bug 107852's
// family); the comparison itself is the standard library's.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wstringop-overread"
#endif

#include <algorithm>
#include <cassert>
#include <limits>
#include <string_view>
#include <type_traits>

#include "crypto/short_hash.h"

namespace prov::ledger {

namespace {

bool starts_with(ByteView key, ByteView prefix) {
  return key.size() >= prefix.size() && std::equal(prefix.begin(), prefix.end(), key.begin());
}

// Lexicographic unsigned byte order, the order RocksDB's bytewise comparator uses.
int compare(ByteView a, ByteView b) {
  size_t n = std::min(a.size(), b.size());
  int c = n ? std::memcmp(a.data(), b.data(), n) : 0;
  if (c != 0) return c < 0 ? -1 : 1;
  if (a.size() == b.size()) return 0;
  return a.size() < b.size() ? -1 : 1;
}

// The smallest key greater than every key with `prefix`; nullopt when no such
// key exists (the prefix is empty or all 0xff).
std::optional<Bytes> prefix_successor(ByteView prefix) {
  Bytes s(prefix.begin(), prefix.end());
  while (!s.empty() && s.back() == 0xff) s.pop_back();
  if (s.empty()) return std::nullopt;
  ++s.back();
  return s;
}

ByteView max_view(ByteView a, ByteView b) { return compare(a, b) >= 0 ? a : b; }

// Counts visits against `limit` and remembers when the visitor asked to stop.
struct Emitter {
  size_t limit;
  const KvReader::Visitor& visit;
  size_t count = 0;
  bool stopped = false;

  bool done() const { return stopped || count >= limit; }
  void emit(ByteView k, ByteView v) {
    if (done()) return;
    ++count;
    if (!visit(k, v)) stopped = true;
  }
};

}  // namespace

const char* column_name(Column c) {
  switch (c) {
    case Column::kMeta: return "meta";
    case Column::kBlocks: return "blocks";
    case Column::kBlockHashes: return "block_hashes";
    case Column::kEntries: return "entries";
    case Column::kEntryByHash: return "entry_by_hash";
    case Column::kDatasetVersions: return "dataset_versions";
    case Column::kDatasetEvents: return "dataset_events";
    case Column::kLineageUp: return "lineage_up";
    case Column::kLineageDown: return "lineage_down";
    case Column::kDigest: return "digest";
    case Column::kAgency: return "agency";
    case Column::kMerkle: return "merkle";
    case Column::kSafety: return "safety";
    case Column::kRegistry: return "registry";
    case Column::kCommitProofs: return "commit_proofs";
    case Column::kDatasetHeads: return "dataset_heads";
    case Column::kCount: break;
  }
  return "unknown";
}

// ------------------------------------------------------------------ WriteSet

static_assert(std::is_trivially_copyable_v<WriteSet::Op>,
              "ops are views into the WriteSet's chunks: growing ops_ copies no bytes");

bool WriteSet::KeyLess::operator()(const KeyRef& a, const KeyRef& b) const {
  if (a.column != b.column) return a.column < b.column;
  return compare(a.key, b.key) < 0;
}

uint64_t WriteSet::key_hash(Column c, ByteView key) {
  return crypto::short_hash(key) ^ (static_cast<uint64_t>(c) * 0x9e3779b97f4a7c15ull);
}

size_t WriteSet::probe(Column c, ByteView key, uint64_t hash) const {
  const size_t mask = slots_.size() - 1;
  for (size_t i = hash & mask;; i = (i + 1) & mask) {
    const Slot& s = slots_[i];
    if (s.op_plus_one == 0) return i;
    if (s.hash != hash) continue;
    const Op& op = ops_[s.op_plus_one - 1];
    if (op.column == c && op.key.size() == key.size() && compare(op.key, key) == 0) return i;
  }
}

void WriteSet::grow() const {
  size_t capacity = std::max<size_t>(64, slots_.size() * 2);
  while (capacity < 2 * (ops_.size() + 1)) capacity *= 2;
  std::vector<Slot> old = std::move(slots_);
  slots_.assign(capacity, Slot{});
  const size_t mask = capacity - 1;
  for (const Slot& s : old) {
    if (s.op_plus_one == 0) continue;
    size_t i = s.hash & mask;
    while (slots_[i].op_plus_one != 0) i = (i + 1) & mask;
    slots_[i] = s;
  }
}

// Chunks start small (a transaction's own few hundred bytes) and double up
// to kChunkMaxBytes; a larger key or value gets a chunk of its own size.
constexpr size_t kChunkMinBytes = 1u << 10;
constexpr size_t kChunkMaxBytes = 64u << 10;

ByteView WriteSet::keep(ByteView b) {
  if (b.empty()) return {};
  if (b.size() > chunk_left_) {
    chunk_bytes_ = std::clamp(2 * chunk_bytes_, kChunkMinBytes, kChunkMaxBytes);
    size_t size = std::max(chunk_bytes_, b.size());
    chunks_.push_back(std::make_unique<uint8_t[]>(size));
    chunk_at_ = chunks_.back().get();
    chunk_left_ = size;
  }
  std::memcpy(chunk_at_, b.data(), b.size());
  ByteView out{chunk_at_, b.size()};
  chunk_at_ += b.size();
  chunk_left_ -= b.size();
  return out;
}

WriteSet::WriteSet(const WriteSet& other) : bytes_(other.bytes_), ordered_stale_(true) {
  ops_.reserve(other.ops_.size());
  for (const Op& op : other.ops_) {
    ops_.push_back(Op{op.column, keep(op.key), op.value ? std::optional<ByteView>(keep(*op.value)) : std::nullopt});
  }
}

WriteSet::WriteSet(WriteSet&& other) noexcept { *this = std::move(other); }

WriteSet& WriteSet::operator=(WriteSet&& other) noexcept {
  if (this == &other) return *this;
  // The chunks move with their ops: every view stays valid.
  chunks_ = std::move(other.chunks_);
  chunk_at_ = std::exchange(other.chunk_at_, nullptr);
  chunk_left_ = std::exchange(other.chunk_left_, 0);
  chunk_bytes_ = std::exchange(other.chunk_bytes_, 0);
  other.chunks_.clear();
  ops_ = std::move(other.ops_);
  bytes_ = std::exchange(other.bytes_, 0);
  slots_ = std::move(other.slots_);
  used_ = std::exchange(other.used_, 0);
  indexed_ = std::exchange(other.indexed_, 0);
  ordered_ = std::move(other.ordered_);
  ordered_stale_ = std::exchange(other.ordered_stale_, false);
  other.ops_.clear();
  other.slots_.clear();
  other.ordered_.clear();
  return *this;
}

void WriteSet::catch_up() const {
  if (indexed_ == ops_.size()) return;
  assert(ops_.size() < UINT32_MAX && "op positions are 32-bit");
  for (; indexed_ < ops_.size(); ++indexed_) {
    // At most half full, so probing always ends at an empty slot.
    if (2 * (used_ + 1) > slots_.size()) grow();
    const Op& op = ops_[indexed_];
    uint64_t hash = key_hash(op.column, op.key);
    Slot& s = slots_[probe(op.column, op.key, hash)];
    if (s.op_plus_one == 0) ++used_;
    s.hash = hash;
    s.op_plus_one = static_cast<uint32_t>(indexed_ + 1);  // the later op wins
  }
}

const WriteSet::Ordered& WriteSet::ordered() const {
  catch_up();
  if (ordered_stale_) {
    ordered_.clear();
    for (const Slot& s : slots_) {
      if (s.op_plus_one == 0) continue;
      const Op& op = ops_[s.op_plus_one - 1];
      ordered_.emplace(KeyRef{op.column, op.key}, s.op_plus_one - 1);
    }
    ordered_stale_ = false;
  }
  return ordered_;
}

WriteSet& WriteSet::operator=(const WriteSet& other) {
  if (this != &other) *this = WriteSet(other);
  return *this;
}

void WriteSet::put(Column c, ByteView key, ByteView value) {
  assert(c < Column::kCount);
  ops_.push_back(Op{c, keep(key), keep(value)});
  bytes_ += key.size() + value.size();
  ordered_stale_ = true;
}

void WriteSet::erase(Column c, ByteView key) {
  assert(c < Column::kCount);
  ops_.push_back(Op{c, keep(key), std::nullopt});
  bytes_ += key.size();
  ordered_stale_ = true;
}

std::vector<const WriteSet::Op*> WriteSet::sorted_latest() const {
  const WriteSet* parts[] = {this};
  return sorted_latest(parts);
}

std::vector<const WriteSet::Op*> WriteSet::sorted_latest(std::span<const WriteSet* const> parts) {
  std::vector<const Op*> out;
  size_t total = 0;
  for (const WriteSet* w : parts) total += w->ops_.size();
  out.reserve(total);
  for (const WriteSet* w : parts) {
    for (const Op& op : w->ops_) out.push_back(&op);
  }
  // Stable: of equal keys the later op stays after the earlier one, and
  // only the last of each run is kept.
  std::stable_sort(out.begin(), out.end(), [](const Op* a, const Op* b) {
    if (a->column != b->column) return a->column < b->column;
    return compare(a->key, b->key) < 0;
  });
  size_t kept = 0;
  for (size_t i = 0; i < out.size(); ++i) {
    bool superseded = i + 1 < out.size() && out[i + 1]->column == out[i]->column &&
                      compare(out[i + 1]->key, out[i]->key) == 0;
    if (!superseded) out[kept++] = out[i];
  }
  out.resize(kept);
  return out;
}

const WriteSet::Op* WriteSet::find(Column c, ByteView key) const {
  catch_up();
  if (used_ == 0) return nullptr;
  const Slot& s = slots_[probe(c, key, key_hash(c, key))];
  return s.op_plus_one == 0 ? nullptr : &ops_[s.op_plus_one - 1];
}

void WriteSet::merge(const WriteSet& other) { merge(WriteSet(other)); }

void WriteSet::merge(WriteSet&& other) {
  if (ops_.empty()) {
    *this = std::move(other);
    other = WriteSet();
    return;
  }
  // Taking over `other`'s chunks keeps its ops' views valid here.
  for (auto& chunk : other.chunks_) chunks_.push_back(std::move(chunk));
  // Appended one by one: the vector's geometric growth keeps a block's
  // many small merges linear (an exact reserve() here would not).
  for (Op& op : other.ops_) ops_.push_back(op);
  ordered_stale_ = true;
  bytes_ += other.bytes_;
  other = WriteSet();
}

// ------------------------------------------------------------------ Overlay

Result<std::optional<Bytes>> Overlay::get(Column c, ByteView key) const {
  if (const WriteSet::Op* op = writes_.find(c, key)) {
    if (!op->value) return std::optional<Bytes>();
    return std::optional<Bytes>(Bytes(op->value->begin(), op->value->end()));
  }
  return base_.get(c, key);
}

// Merges the overlay's latest ops for keys in [max(prefix, start), end of
// prefix) with the base's scan, overlay winning on equal keys; deletes hide
// base keys and are never visited.
Status Overlay::scan(Column c, ByteView prefix, ByteView start, size_t limit, const Visitor& visit) const {
  Emitter out{limit, visit};
  if (limit == 0) return Status::ok();
  const auto& latest = writes_.ordered();
  ByteView lo = max_view(prefix, start);
  auto it = latest.lower_bound(WriteSet::KeyRef{c, lo});
  auto in_range = [&] { return it != latest.end() && it->first.column == c && starts_with(it->first.key, prefix); };
  auto emit_op = [&](const WriteSet::Op& op) {
    if (op.value) out.emit(op.key, *op.value);
  };
  Status s = base_.scan(c, prefix, start, std::numeric_limits<size_t>::max(), [&](ByteView k, ByteView v) {
    while (!out.done() && in_range() && compare(it->first.key, k) < 0) {
      emit_op(writes_.ops_[it->second]);
      ++it;
    }
    if (out.done()) return false;
    if (in_range() && compare(it->first.key, k) == 0) {
      emit_op(writes_.ops_[it->second]);
      ++it;
    } else {
      out.emit(k, v);
    }
    return !out.done();
  });
  PROV_RETURN_IF_ERROR(s);
  while (!out.done() && in_range()) {
    emit_op(writes_.ops_[it->second]);
    ++it;
  }
  return Status::ok();
}

Status Overlay::scan_reverse(Column c, ByteView prefix, ByteView start, size_t limit, const Visitor& visit) const {
  Emitter out{limit, visit};
  if (limit == 0) return Status::ok();
  const auto& latest = writes_.ordered();
  // `it` is one past the next overlay candidate; walk it backwards.
  auto it = latest.end();
  std::optional<Bytes> succ = prefix_successor(prefix);
  if (succ) {
    it = latest.lower_bound(WriteSet::KeyRef{c, *succ});
  } else {
    it = latest.lower_bound(WriteSet::KeyRef{static_cast<Column>(static_cast<uint8_t>(c) + 1), ByteView{}});
  }
  if (!start.empty()) {
    auto bound = latest.upper_bound(WriteSet::KeyRef{c, start});
    if (bound != latest.end() && (it == latest.end() || WriteSet::KeyLess{}(bound->first, it->first))) it = bound;
  }
  auto in_range = [&] {
    if (it == latest.begin()) return false;
    auto prev = std::prev(it);
    return prev->first.column == c && starts_with(prev->first.key, prefix);
  };
  auto candidate = [&]() -> const WriteSet::Op& { return writes_.ops_[std::prev(it)->second]; };
  auto emit_op = [&](const WriteSet::Op& op) {
    if (op.value) out.emit(op.key, *op.value);
  };
  Status s =
      base_.scan_reverse(c, prefix, start, std::numeric_limits<size_t>::max(), [&](ByteView k, ByteView v) {
        while (!out.done() && in_range() && compare(candidate().key, k) > 0) {
          emit_op(candidate());
          --it;
        }
        if (out.done()) return false;
        if (in_range() && compare(candidate().key, k) == 0) {
          emit_op(candidate());
          --it;
        } else {
          out.emit(k, v);
        }
        return !out.done();
      });
  PROV_RETURN_IF_ERROR(s);
  while (!out.done() && in_range()) {
    emit_op(candidate());
    --it;
  }
  return Status::ok();
}

// ------------------------------------------------------------------ CachingReader

bool CachingReader::BytesLess::operator()(ByteView a, ByteView b) const { return compare(a, b) < 0; }
bool CachingReader::BytesLess::operator()(const Bytes& a, ByteView b) const { return compare(a, b) < 0; }
bool CachingReader::BytesLess::operator()(ByteView a, const Bytes& b) const { return compare(a, b) < 0; }
bool CachingReader::BytesLess::operator()(const Bytes& a, const Bytes& b) const { return compare(a, b) < 0; }

Result<std::optional<Bytes>> CachingReader::get(Column c, ByteView key) const {
  if (c != Column::kMeta && c != Column::kRegistry) return base_.get(c, key);
  auto& memo = c == Column::kMeta ? meta_ : registry_;
  {
    std::lock_guard lock(mu_);
    if (auto it = memo.find(key); it != memo.end()) return it->second;
  }
  PROV_ASSIGN_OR_RETURN(std::optional<Bytes> value, base_.get(c, key));
  std::lock_guard lock(mu_);
  if (memo.size() < kMaxRemembered) memo.emplace(Bytes(key.begin(), key.end()), value);
  return value;
}

// ------------------------------------------------------------------ MemoryKv

Result<std::optional<Bytes>> MemoryKv::get(Column c, ByteView key) const {
  const auto& m = cols_[static_cast<size_t>(c)];
  auto it = m.find(Bytes(key.begin(), key.end()));
  if (it == m.end()) return std::optional<Bytes>();
  return std::optional<Bytes>(it->second);
}

Status MemoryKv::scan(Column c, ByteView prefix, ByteView start, size_t limit, const Visitor& visit) const {
  const auto& m = cols_[static_cast<size_t>(c)];
  ByteView lo = max_view(prefix, start);
  size_t n = 0;
  for (auto it = m.lower_bound(Bytes(lo.begin(), lo.end())); it != m.end() && n < limit; ++it, ++n) {
    if (!starts_with(it->first, prefix)) break;
    if (!visit(it->first, it->second)) break;
  }
  return Status::ok();
}

Status MemoryKv::scan_reverse(Column c, ByteView prefix, ByteView start, size_t limit,
                              const Visitor& visit) const {
  const auto& m = cols_[static_cast<size_t>(c)];
  auto it = m.end();
  if (auto succ = prefix_successor(prefix)) it = m.lower_bound(*succ);
  if (!start.empty()) {
    auto bound = m.upper_bound(Bytes(start.begin(), start.end()));
    if (bound != m.end() && (it == m.end() || compare(bound->first, it->first) < 0)) it = bound;
  }
  size_t n = 0;
  while (it != m.begin() && n < limit) {
    --it;
    if (!starts_with(it->first, prefix)) break;
    ++n;
    if (!visit(it->first, it->second)) break;
  }
  return Status::ok();
}

void MemoryKv::apply(const WriteSet& writes) {
  for (const WriteSet::Op& op : writes.ops()) {
    auto& m = cols_[static_cast<size_t>(op.column)];
    Bytes key(op.key.begin(), op.key.end());
    if (op.value) {
      m[std::move(key)] = Bytes(op.value->begin(), op.value->end());
    } else {
      m.erase(key);
    }
  }
}

// ------------------------------------------------------------------ keys

Bytes u64_key(uint64_t v) {
  Bytes out;
  out.reserve(8);
  put_u64_be(out, v);
  return out;
}

Bytes string_key(std::string_view s, uint64_t v) {
  Bytes out;
  out.reserve(s.size() + 9);
  append(out, s);
  out.push_back(0x00);
  put_u64_be(out, v);
  return out;
}

}  // namespace prov::ledger
