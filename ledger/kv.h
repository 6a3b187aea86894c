// The ledger's view of storage: column families of ordered key/value pairs.
//
// The state-transition function and every query are written against KvReader
// and produce a WriteSet, so the same deterministic code runs on RocksDB
// (ledger_store) and on the in-memory store of the simulator and unit tests.
// An Overlay layers a WriteSet on a reader so a block sees its own writes
// before anything is committed. Readers must be safe for concurrent reads;
// WriteSet and Overlay are single-threaded values.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "crypto/bytes.h"
#include "crypto/status.h"

namespace prov::ledger {

// Column families. The numeric values are stable: they name RocksDB column
// families and must never be reordered.
enum class Column : uint8_t {
  kMeta = 0,         // chain id, head height, log size, genesis hash, ...
  kBlocks,           // u64 height -> Block bytes
  kBlockHashes,      // header hash -> u64 height
  kEntries,          // u64 index -> Entry bytes
  kEntryByHash,      // SHA-256(tx bytes) -> u64 index (duplicate detection)
  kDatasetVersions,  // dataset ‖ 0x00 ‖ u64 version -> u64 entry index
  kDatasetEvents,    // dataset ‖ 0x00 ‖ u64 entry index -> "" (history, anchors and accesses)
  kLineageUp,        // dataset@version -> parents (child ‖ parent keys)
  kLineageDown,      // parent ‖ child keys
  kDigest,           // digest ‖ u64 entry index -> ""
  kAgency,           // agency ‖ 0x00 ‖ u64 entry index -> ""
  kMerkle,           // u8 level ‖ u64 index -> 32-byte perfect subtree hash
  kSafety,           // consensus safety state (provd keeps it in a store of its own: <data_dir>/safety)
  kRegistry,         // agency and validator registry (genesis + governance)
  kCommitProofs,     // u64 height -> consensus CommitProof bytes of the block
  kDatasetHeads,     // dataset -> u64 latest version ‖ u64 (newest event index + 1, 0 = none)
  kCount,
};

// Stable name of a column family (used by ledger_store).
const char* column_name(Column c);

// Read access to a consistent state. Implementations read from a snapshot
// (or an immutable map) so concurrent writers never tear a query.
class KvReader {
 public:
  virtual ~KvReader() = default;
  // Returns the value, std::nullopt if absent, or an error from storage.
  virtual Result<std::optional<Bytes>> get(Column c, ByteView key) const = 0;
  // Visits keys >= `start` that begin with `prefix`, in order, until `visit`
  // returns false or `limit` pairs were visited.
  using Visitor = std::function<bool(ByteView key, ByteView value)>;
  virtual Status scan(Column c, ByteView prefix, ByteView start, size_t limit, const Visitor& visit) const = 0;
  // Like scan, but in descending key order starting at keys <= `start`
  // (an empty `start` means from the last key with `prefix`).
  virtual Status scan_reverse(Column c, ByteView prefix, ByteView start, size_t limit,
                              const Visitor& visit) const = 0;
};

// An ordered set of puts and deletes, applied atomically by a store.
//
// Ops are kept in order of arrival (a store applies them in that order); a
// hash index maps each (column, key) to its latest op without copying the
// key: an open-addressing table of op positions and key hashes (linear
// probing, power-of-two capacity, at most half full; keyed SipHash, so keys
// a client chose can not be aimed at one bucket), and an ordered index of
// views of the keys, which stay put in the WriteSet's chunks however `ops_`
// grows or the WriteSet moves. Both are caught up lazily: a put
// only appends, the hash index absorbs new ops on the next lookup, the
// ordered index (only scans need it) on the next scan.
// So a copy that is only applied to a store never builds an index at all.
// Lookups mutate these caches: a WriteSet is not safe for concurrent reads.
class WriteSet {
 public:
  // Keys and values live in the WriteSet's own storage (chunks it owns,
  // never moved while it lives): one allocation per chunk, not two per op.
  struct Op {
    Column column;
    ByteView key;
    std::optional<ByteView> value;  // nullopt = delete
  };
  WriteSet() = default;
  WriteSet(const WriteSet& other);
  WriteSet& operator=(const WriteSet& other);
  // A moved-from WriteSet is empty and usable.
  WriteSet(WriteSet&& other) noexcept;
  WriteSet& operator=(WriteSet&& other) noexcept;

  void put(Column c, ByteView key, ByteView value);
  void erase(Column c, ByteView key);
  const std::vector<Op>& ops() const { return ops_; }
  bool empty() const { return ops_.empty(); }
  size_t approximate_bytes() const { return bytes_; }
  // The latest op of every (column, key) touched, in (column, key) order:
  // what applying the ops in arrival order leaves, as a store can take it
  // fastest (RocksDB memtables insert ascending keys cheaply).
  std::vector<const Op*> sorted_latest() const;
  // The same over the ops of every part in turn (a later part's op wins).
  static std::vector<const Op*> sorted_latest(std::span<const WriteSet* const> parts);
  // The latest op for (c, key), if any: nullptr when untouched.
  const Op* find(Column c, ByteView key) const;
  // Appends every op of `other`.
  void merge(const WriteSet& other);
  void merge(WriteSet&& other);

 private:
  friend class Overlay;  // merges the index into its ordered scans
  struct KeyRef {
    Column column;
    ByteView key;  // into the WriteSet's chunks, or a caller's key for lookups
  };
  struct KeyLess {
    bool operator()(const KeyRef& a, const KeyRef& b) const;
  };
  struct Slot {
    uint64_t hash = 0;
    uint32_t op_plus_one = 0;  // 0: empty
  };
  static uint64_t key_hash(Column c, ByteView key);
  // The slot holding (c, key), or the empty slot where it would go.
  size_t probe(Column c, ByteView key, uint64_t hash) const;
  void grow() const;
  using Ordered = std::map<KeyRef, size_t, KeyLess>;
  // (column, key) -> latest op, in key order; rebuilt after writes.
  const Ordered& ordered() const;

  void catch_up() const;  // indexes ops_[indexed_..]
  // A copy of `b` in this WriteSet's storage.
  ByteView keep(ByteView b);

  std::vector<std::unique_ptr<uint8_t[]>> chunks_;
  uint8_t* chunk_at_ = nullptr;  // free space in chunks_.back()
  size_t chunk_left_ = 0;
  size_t chunk_bytes_ = 0;       // size of the last chunk made
  std::vector<Op> ops_;
  size_t bytes_ = 0;
  mutable std::vector<Slot> slots_;  // empty or a power of two in size
  mutable size_t used_ = 0;          // occupied slots: distinct keys indexed
  mutable size_t indexed_ = 0;       // ops_[0..indexed_) are in slots_
  mutable Ordered ordered_;
  mutable bool ordered_stale_ = false;
};

// A reader that sees `writes` layered over `base`.
class Overlay final : public KvReader {
 public:
  Overlay(const KvReader& base, const WriteSet& writes) : base_(base), writes_(writes) {}
  Result<std::optional<Bytes>> get(Column c, ByteView key) const override;
  Status scan(Column c, ByteView prefix, ByteView start, size_t limit, const Visitor& visit) const override;
  Status scan_reverse(Column c, ByteView prefix, ByteView start, size_t limit, const Visitor& visit) const override;

 private:
  const KvReader& base_;
  const WriteSet& writes_;
};

// A reader that remembers its point reads of the small, hot columns (kMeta:
// head, chain id; kRegistry: parameters, agencies, keys) in front of a
// reader that does not change while it is used: a store snapshot, or the
// state a block executes on. Every transaction reads the same few registry
// records; with this they cost one lookup in a map instead of a trip
// through RocksDB (memtables, bloom filters, block cache). Other columns and
// all scans pass through. Thread-safe when the base is. It remembers at most
// kMaxRemembered reads per column (misses included), so a reader kept for a
// while (admission keeps one per durable block) does not grow with a flood of
// transactions naming made-up signers.
class CachingReader final : public KvReader {
 public:
  static constexpr size_t kMaxRemembered = 4096;
  explicit CachingReader(const KvReader& base) : base_(base) {}
  // Owns (and keeps alive) its base, e.g. a snapshot.
  explicit CachingReader(std::shared_ptr<const KvReader> base) : owned_(std::move(base)), base_(*owned_) {}
  Result<std::optional<Bytes>> get(Column c, ByteView key) const override;
  Status scan(Column c, ByteView prefix, ByteView start, size_t limit, const Visitor& visit) const override {
    return base_.scan(c, prefix, start, limit, visit);
  }
  Status scan_reverse(Column c, ByteView prefix, ByteView start, size_t limit, const Visitor& visit) const override {
    return base_.scan_reverse(c, prefix, start, limit, visit);
  }

 private:
  std::shared_ptr<const KvReader> owned_;
  const KvReader& base_;
  struct BytesLess {  // transparent: lookups by ByteView allocate nothing
    using is_transparent = void;
    bool operator()(ByteView a, ByteView b) const;
    bool operator()(const Bytes& a, ByteView b) const;
    bool operator()(ByteView a, const Bytes& b) const;
    bool operator()(const Bytes& a, const Bytes& b) const;
  };
  using Memo = std::map<Bytes, std::optional<Bytes>, BytesLess>;
  mutable std::mutex mu_;
  mutable Memo meta_;
  mutable Memo registry_;
};

// An in-memory ordered store: the simulator's and the unit tests' ledger.
// Not thread-safe; callers serialise access.
class MemoryKv final : public KvReader {
 public:
  Result<std::optional<Bytes>> get(Column c, ByteView key) const override;
  Status scan(Column c, ByteView prefix, ByteView start, size_t limit, const Visitor& visit) const override;
  Status scan_reverse(Column c, ByteView prefix, ByteView start, size_t limit, const Visitor& visit) const override;
  // Applies every op of `writes` (atomic by construction: nothing can fail).
  void apply(const WriteSet& writes);

 private:
  std::map<Bytes, Bytes> cols_[static_cast<size_t>(Column::kCount)];
};

// Key helpers shared by the state transition, queries and stores.
Bytes u64_key(uint64_t v);
Bytes string_key(std::string_view s, uint64_t v);  // s ‖ 0x00 ‖ u64 v

}  // namespace prov::ledger
