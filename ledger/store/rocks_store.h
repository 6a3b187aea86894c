// ledger_store: the ledger's key/value interface (ledger/kv.h) on RocksDB.
//
// One RocksDB database per node, one column family per ledger::Column (named
// by column_name). A WriteSet is applied as ONE rocksdb::WriteBatch, so a
// block is either wholly in the database or not at all, whatever the moment
// the process dies or the power fails. With sync=true the write-ahead log is
// fsynced before apply returns: anything a vote or a checkpoint signature
// depends on must be applied that way (DESIGN.md, Storage).
//
// Several nodes on one machine share one MemoryBudget (an LRU block cache
// and a WriteBufferManager), so their memory together stays within it.
// RocksDB errors become Status: corruption -> kCorruption, disk full ->
// kResourceExhausted, other I/O -> kIOError, shutdown/busy -> kUnavailable.
// After a write error (disk full, I/O) RocksDB refuses further writes until
// the store is closed and reopened once the cause is gone.
//
// Thread-safety: reads (get, scan, snapshot and the snapshot's reads) may run
// concurrently with each other and with apply. apply must be called from one
// writer at a time (the node's commit path), so no WriteSet interleaves with
// another. close() and destruction must not race with anything else, and
// every Snapshot must be destroyed before its store.
//
// RocksDB types stay out of this header (rocksdb links privately); only the
// FileSystem used for fault injection is named, by forward declaration.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "crypto/bytes.h"
#include "crypto/status.h"
#include "ledger/kv.h"

namespace rocksdb {
class FileSystem;
}  // namespace rocksdb

namespace prov::ledger::store {

// Memory shared by every store opened with it: the LRU block cache (data,
// index and filter blocks) and the write-buffer manager that bounds all
// memtables together. The total is about block_cache_bytes + write_buffer_bytes.
// Thread-safe.
class MemoryBudget {
 public:
  // Creates a budget; both sizes must be > 0.
  static std::shared_ptr<MemoryBudget> create(size_t block_cache_bytes, size_t write_buffer_bytes);
  ~MemoryBudget();

  size_t block_cache_capacity_bytes() const;
  // Bytes currently held by the block cache.
  size_t block_cache_usage_bytes() const;
  // Bytes currently held by memtables of every store sharing this budget.
  size_t write_buffer_usage_bytes() const;

  struct Impl;
  const Impl& impl() const { return *impl_; }

 private:
  explicit MemoryBudget(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Defaults suit one node on a 2-core development machine.
inline constexpr size_t kDefaultBlockCacheBytes = 64u << 20;
inline constexpr size_t kDefaultWriteBufferBytes = 64u << 20;

struct StoreOptions {
  // Shared memory; nullptr = a private budget of the default sizes.
  std::shared_ptr<MemoryBudget> memory;
  // Per-column-family memtable size before a flush to an SST file.
  size_t memtable_bytes = 16u << 20;
  // Bounds the WAL: when it grows past this, the column families holding
  // its oldest data are flushed, so rarely written families (kSafety,
  // kRegistry) do not pin old log files forever.
  uint64_t max_wal_bytes = 128u << 20;
  // Flush and compaction threads together. Two cores are shared by the
  // whole node, so background work stays small.
  int background_jobs_max = 2;
  // Create the database and missing column families when absent.
  bool create_if_missing = true;
  // Flushes and compactions write (and compactions read) their files with
  // O_DIRECT, past the page cache, if the file system takes it (open()
  // tries; RocksStore::direct_io() says what it got). Buffered, those
  // files' pages were copied into the page cache and written back later,
  // while every vote and commit waited on an fdatasync of the WAL: a tenth
  // of a loaded node's CPU went to write(), and the synced writes queued
  // behind the writeback (docs/benchmarks.md). The WAL stays buffered.
  bool direct_io = true;
  // The file system RocksDB uses; nullptr = the operating system's.
  // Tests pass a FaultInjectionFs here (ledger/store/fault_fs.h).
  std::shared_ptr<rocksdb::FileSystem> file_system;
};

class RocksStore;

// A consistent, read-only view of the store at the moment snapshot() was
// called; later applies are invisible to it. Thread-safe for reads. Must be
// destroyed before the store that made it.
class Snapshot final : public KvReader {
 public:
  ~Snapshot() override;
  Result<std::optional<Bytes>> get(Column c, ByteView key) const override;
  Status scan(Column c, ByteView prefix, ByteView start, size_t limit, const Visitor& visit) const override;
  Status scan_reverse(Column c, ByteView prefix, ByteView start, size_t limit, const Visitor& visit) const override;

 private:
  friend class RocksStore;
  Snapshot(const RocksStore& store, const void* rocks_snapshot) : store_(store), snap_(rocks_snapshot) {}
  const RocksStore& store_;
  const void* snap_;  // const rocksdb::Snapshot*, released in the destructor
};

class RocksStore final : public KvReader {
 public:
  // Opens (or with options.create_if_missing creates) the database at
  // `path` with every ledger column family. Fails with kIOError (cannot
  // open, locked by another process), kCorruption, or kInvalidArgument.
  static Result<std::unique_ptr<RocksStore>> open(const std::string& path, const StoreOptions& options = {});
  // Closes the database if close() was not called; errors are dropped here,
  // so callers that care call close() first.
  ~RocksStore() override;
  RocksStore(const RocksStore&) = delete;
  RocksStore& operator=(const RocksStore&) = delete;

  // Reads the latest committed state (not a snapshot: two calls may see
  // different states). Use snapshot() for a consistent multi-read query.
  Result<std::optional<Bytes>> get(Column c, ByteView key) const override;
  Status scan(Column c, ByteView prefix, ByteView start, size_t limit, const Visitor& visit) const override;
  Status scan_reverse(Column c, ByteView prefix, ByteView start, size_t limit, const Visitor& visit) const override;

  // A reader bound to a RocksDB snapshot of the current state.
  std::unique_ptr<Snapshot> snapshot() const;

  // Applies every op of `writes` atomically, in one WriteBatch. With sync,
  // the WAL is fsynced before returning: the writes survive power loss.
  // Without sync they survive a process crash but maybe not power loss.
  Status apply(const WriteSet& writes, bool sync);
  // Applies the ops of every part, in order (a later part's op on a key
  // wins), atomically in one WriteBatch, as apply() does for one.
  Status apply(std::span<const WriteSet* const> parts, bool sync);

  // Fsyncs the WAL, making every earlier apply durable.
  Status sync_wal();
  // Flushes every memtable to SST files (benchmarks, clean shutdown).
  Status flush();
  // Closes the database; every later call fails with kUnavailable.
  Status close();

  const std::string& path() const { return path_; }
  // Approximate bytes in SST files plus memtables (RocksDB properties).
  uint64_t approximate_sst_bytes() const;
  uint64_t memtable_bytes() const;
  // Whether flushes and compactions use O_DIRECT (StoreOptions::direct_io
  // and the file system took it).
  bool direct_io() const;
  // True while flushes or compactions are running or queued (benchmarks
  // wait for a quiet store before timing reads).
  bool background_work_pending() const;

 private:
  struct Impl;
  friend class Snapshot;
  RocksStore(std::string path, std::unique_ptr<Impl> impl);
  std::string path_;
  std::unique_ptr<Impl> impl_;
};

}  // namespace prov::ledger::store
