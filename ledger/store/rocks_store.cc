#include "ledger/store/rocks_store.h"

#include <rocksdb/cache.h>
#include <rocksdb/convenience.h>
#include <rocksdb/db.h>
#include <rocksdb/env.h>
#include <rocksdb/file_system.h>
#include <rocksdb/filter_policy.h>
#include <rocksdb/options.h>
#include <rocksdb/perf_level.h>
#include <rocksdb/slice_transform.h>
#include <rocksdb/table.h>
#include <rocksdb/write_batch.h>
#include <rocksdb/write_buffer_manager.h>

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cassert>
#include <cstdlib>
#include <filesystem>
#include <mutex>
#include <string_view>

namespace prov::ledger::store {
namespace {

constexpr size_t kColumnCount = static_cast<size_t>(Column::kCount);
// Bloom filter bits per key: ~1% false positives, the usual RocksDB choice.
constexpr double kBloomBitsPerKey = 10.0;
constexpr size_t kBlockBytes = 16u << 10;
constexpr size_t kMetadataBlockBytes = 4u << 10;  // index and filter partitions
// Share of the block cache reserved for index and filter blocks, so a scan
// over data blocks can not evict them.
constexpr double kCacheHighPriorityRatio = 0.5;
// Compaction reads with O_DIRECT bypass the kernel's readahead: RocksDB
// reads this much at a time instead (its own default when direct I/O is on).
constexpr size_t kCompactionReadaheadBytes = 2u << 20;
constexpr size_t kInfoLogFilesMax = 4;
constexpr size_t kInfoLogFileBytesMax = 4u << 20;

// RocksDB's per-thread perf counters start enabled (kEnableCount) on every
// thread: each key comparison in a memtable search then bumps a
// thread_local of the shared library, a __tls_get_addr call each (~2 % of a
// loaded node's CPU). Nothing here reads them; every thread that calls into
// the store turns them off once.
void quiet_perf_counters() {
  thread_local bool quiet = false;
  if (quiet) return;
  rocksdb::SetPerfLevel(rocksdb::PerfLevel::kDisable);
  quiet = true;
}

// RocksDB asserts that a Slice never points at null, which an empty span may.
rocksdb::Slice slice(ByteView b) {
  return b.empty() ? rocksdb::Slice("", 0) : rocksdb::Slice(reinterpret_cast<const char*>(b.data()), b.size());
}
ByteView view(const rocksdb::Slice& s) { return {reinterpret_cast<const uint8_t*>(s.data()), s.size()}; }

// Maps a RocksDB status to ours, naming the operation so an operator can
// tell a full disk from a broken one.
Status from_rocks(const rocksdb::Status& s, std::string_view what) {
  if (s.ok()) return Status::ok();
  std::string msg = "rocksdb " + std::string(what) + ": " + s.ToString();
  if (s.IsNoSpace()) return Status::resource_exhausted("disk full: " + msg);
  if (s.IsCorruption()) return Status::corruption(msg);
  if (s.IsNotFound()) return Status::not_found(msg);
  if (s.IsIOError()) return Status::io_error(msg);
  if (s.IsShutdownInProgress() || s.IsBusy() || s.IsTryAgain() || s.IsTimedOut() || s.IsIncomplete()) {
    return Status::unavailable(msg);
  }
  if (s.IsInvalidArgument() || s.IsNotSupported()) return Status::invalid_argument(msg);
  if (s.IsMemoryLimit()) return Status::resource_exhausted(msg);
  return Status::io_error(msg);
}

// The smallest key greater than every key that begins with `prefix`, or
// nothing when no such key exists (empty prefix, or all 0xff).
std::optional<std::string> prefix_successor(ByteView prefix) {
  std::string s(as_chars(prefix));
  while (!s.empty()) {
    auto& last = reinterpret_cast<unsigned char&>(s.back());
    if (last != 0xff) {
      ++last;
      return s;
    }
    s.pop_back();
  }
  return std::nullopt;
}

bool has_prefix(const rocksdb::Slice& key, ByteView prefix) {
  return key.size() >= prefix.size() && std::equal(prefix.begin(), prefix.end(), view(key).begin());
}

rocksdb::CompressionType pick_compression() {
  // Values are mostly hashes and signatures, which do not compress; LZ4 is
  // cheap enough that the metadata and protobuf framing still pay for it.
  auto supported = rocksdb::GetSupportedCompressions();
  for (auto c : {rocksdb::kLZ4Compression, rocksdb::kSnappyCompression}) {
    if (std::find(supported.begin(), supported.end(), c) != supported.end()) return c;
  }
  return rocksdb::kNoCompression;
}

}  // namespace

// ---------------------------------------------------------------- MemoryBudget

struct MemoryBudget::Impl {
  std::shared_ptr<rocksdb::Cache> cache;
  std::shared_ptr<rocksdb::WriteBufferManager> write_buffers;
};

MemoryBudget::MemoryBudget(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
MemoryBudget::~MemoryBudget() = default;

std::shared_ptr<MemoryBudget> MemoryBudget::create(size_t block_cache_bytes, size_t write_buffer_bytes) {
  assert(block_cache_bytes > 0 && write_buffer_bytes > 0);
  auto impl = std::make_unique<Impl>();
  impl->cache = rocksdb::NewLRUCache(block_cache_bytes, /*num_shard_bits=*/-1, /*strict_capacity_limit=*/false,
                                     kCacheHighPriorityRatio);
  // Memtables are not charged to the cache: the two bounds stay separate
  // and each is what its name says.
  impl->write_buffers = std::make_shared<rocksdb::WriteBufferManager>(write_buffer_bytes);
  return std::shared_ptr<MemoryBudget>(new MemoryBudget(std::move(impl)));
}

size_t MemoryBudget::block_cache_capacity_bytes() const { return impl_->cache->GetCapacity(); }
size_t MemoryBudget::block_cache_usage_bytes() const { return impl_->cache->GetUsage(); }
size_t MemoryBudget::write_buffer_usage_bytes() const { return impl_->write_buffers->memory_usage(); }

// ---------------------------------------------------------------- RocksStore

struct RocksStore::Impl {
  std::shared_ptr<MemoryBudget> memory;  // outlives the DB, which points into it
  std::unique_ptr<rocksdb::Env> env;     // wraps options.file_system, outlives the DB
  std::unique_ptr<rocksdb::DB> db;
  std::vector<rocksdb::ColumnFamilyHandle*> handles;  // index = Column; extra unknown families after
  mutable std::atomic<int> open_snapshots{0};
  bool direct_io = false;  // flushes and compactions use O_DIRECT

  rocksdb::ColumnFamilyHandle* cf(Column c) const {
    assert(static_cast<size_t>(c) < kColumnCount && "Column::kCount is not a column");
    return handles[static_cast<size_t>(c)];
  }

  Result<std::optional<Bytes>> get(const rocksdb::Snapshot* snap, Column c, ByteView key) const;
  Status scan(const rocksdb::Snapshot* snap, Column c, ByteView prefix, ByteView start, size_t limit,
              const Visitor& visit) const;
  Status scan_reverse(const rocksdb::Snapshot* snap, Column c, ByteView prefix, ByteView start, size_t limit,
                      const Visitor& visit) const;
  Status close();
};

namespace {

// Whether `dir` takes O_DIRECT writes: tmpfs before Linux 6.6 and some
// overlay and FUSE file systems refuse the flag, and a flush that could not
// open its file would stop the store. Writes one aligned block to a scratch
// file and removes it.
bool direct_io_works(const std::string& dir, bool create) {
  std::error_code ec;
  if (create) std::filesystem::create_directories(dir, ec);
  const std::string probe = (std::filesystem::path(dir) / "DIRECT_IO_PROBE").string();
  int fd = ::open(probe.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_DIRECT | O_CLOEXEC, 0600);
  if (fd < 0) return false;
  constexpr size_t kBlock = 4096;  // a multiple of every logical block size in use
  void* buf = std::aligned_alloc(kBlock, kBlock);
  bool ok = buf != nullptr;
  if (ok) {
    std::fill_n(static_cast<char*>(buf), kBlock, '\0');
    ok = ::pwrite(fd, buf, kBlock, 0) == static_cast<ssize_t>(kBlock);
  }
  std::free(buf);
  ok = (::close(fd) == 0) && ok;
  ::unlink(probe.c_str());
  return ok;
}

rocksdb::ColumnFamilyOptions column_options(const StoreOptions& o, const MemoryBudget& memory) {
  rocksdb::ColumnFamilyOptions cf;
  cf.write_buffer_size = o.memtable_bytes;
  cf.max_write_buffer_number = 2;
  cf.compaction_style = rocksdb::kCompactionStyleLevel;
  // Sizes levels from the bottom up so space amplification stays ~1.1x
  // however large the ledger grows.
  cf.level_compaction_dynamic_level_bytes = true;
  cf.compression = pick_compression();
  // Flushes write L0 files uncompressed: they are merged down within
  // seconds, so compressing them spent CPU on the hot path for nothing.
  // Every later level (counted from the base level) keeps the choice above.
  cf.compression_per_level.assign(static_cast<size_t>(cf.num_levels), cf.compression);
  cf.compression_per_level[0] = rocksdb::kNoCompression;
  // A bloom filter over whole keys in the memtable: execution looks up keys
  // that mostly do not exist yet (duplicate checks, new datasets), and a miss
  // then costs a few hash probes instead of a skip-list search.
  cf.memtable_prefix_bloom_size_ratio = 0.02;
  cf.memtable_whole_key_filtering = true;
  // One insert hint per memtable: apply() hands each column family's keys
  // over in ascending order, so every insert starts its skip-list search
  // from where the previous one ended (a walk of O(log distance) instead of
  // O(log memtable size) from the top: cache misses were most of a commit).
  cf.memtable_insert_with_hint_prefix_extractor.reset(rocksdb::NewFixedPrefixTransform(0));

  rocksdb::BlockBasedTableOptions table;
  table.block_cache = memory.impl().cache;
  table.block_size = kBlockBytes;
  table.filter_policy.reset(rocksdb::NewBloomFilterPolicy(kBloomBitsPerKey));
  // Index and filter blocks count against the shared cache, so memory stays
  // bounded as the ledger grows. They are partitioned: with one filter and
  // index block per SST file, a 10M-entry log's ~50 MB of them thrashed a
  // 64 MB cache and every point read re-read a whole filter (4 ms proofs).
  // Partitions are small and only the top-level index stays pinned.
  table.cache_index_and_filter_blocks = true;
  table.cache_index_and_filter_blocks_with_high_priority = true;
  table.pin_l0_filter_and_index_blocks_in_cache = true;
  table.index_type = rocksdb::BlockBasedTableOptions::kTwoLevelIndexSearch;
  table.partition_filters = true;
  table.metadata_block_size = kMetadataBlockBytes;
  table.pin_top_level_index_and_filter = true;
  table.format_version = 5;
  cf.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table));
  return cf;
}

rocksdb::DBOptions db_options(const StoreOptions& o, const MemoryBudget& memory, rocksdb::Env* env) {
  rocksdb::DBOptions db;
  db.create_if_missing = o.create_if_missing;
  db.create_missing_column_families = o.create_if_missing;
  db.max_background_jobs = o.background_jobs_max;
  db.max_total_wal_size = o.max_wal_bytes;
  db.write_buffer_manager = memory.impl().write_buffers;
  // A torn tail after a crash is expected (the last unsynced write); stop
  // recovery there and keep everything before it. Corruption in the middle
  // of the log still fails the open.
  db.wal_recovery_mode = rocksdb::WALRecoveryMode::kPointInTimeRecovery;
  db.keep_log_file_num = kInfoLogFilesMax;
  db.max_log_file_size = kInfoLogFileBytesMax;
  db.paranoid_checks = true;
  // Flushes and compactions hand their output to the disk a megabyte at a
  // time as they write it, instead of in one burst at the file's end: the
  // synced writes every vote and commit wait for would queue behind that
  // burst (all validators flush at about the same moment).
  db.bytes_per_sync = 1u << 20;
  if (o.direct_io) {
    db.use_direct_io_for_flush_and_compaction = true;
    db.compaction_readahead_size = kCompactionReadaheadBytes;
  }
  if (env != nullptr) db.env = env;
  return db;
}

}  // namespace

RocksStore::RocksStore(std::string path, std::unique_ptr<Impl> impl) : path_(std::move(path)), impl_(std::move(impl)) {}

RocksStore::~RocksStore() {
  if (impl_) (void)impl_->close();
}

Result<std::unique_ptr<RocksStore>> RocksStore::open(const std::string& path, const StoreOptions& options) {
  // Compactions run at the lowest CPU priority (nice 19; the pool is the
  // process's, shared by every store): they merge files in the background
  // and can wait, while the commit writer, votes and admission cannot. At
  // normal priority every validator compacted at the same moment (their
  // data is the same) and the machine's rounds slowed together. Flushes
  // too: a flush starved for long would stall writes (RocksDB's own
  // backpressure), but the memtables leave seconds of headroom even at
  // maximum load, and no run of tools/bench net has had a stall.
  static std::once_flag lowered;
  std::call_once(lowered, [] {
    (void)rocksdb::Env::Default()->LowerThreadPoolCPUPriority(rocksdb::Env::Priority::LOW, rocksdb::CpuPriority::kLow);
    (void)rocksdb::Env::Default()->LowerThreadPoolCPUPriority(rocksdb::Env::Priority::HIGH, rocksdb::CpuPriority::kLow);
  });
  auto impl = std::make_unique<Impl>();
  impl->memory = options.memory ? options.memory
                                : MemoryBudget::create(kDefaultBlockCacheBytes, kDefaultWriteBufferBytes);
  if (options.file_system) impl->env = rocksdb::NewCompositeEnv(options.file_system);
  StoreOptions effective = options;
  effective.direct_io = options.direct_io && direct_io_works(path, options.create_if_missing);
  impl->direct_io = effective.direct_io;
  rocksdb::DBOptions dbo = db_options(effective, *impl->memory, impl->env.get());
  rocksdb::ColumnFamilyOptions cfo = column_options(options, *impl->memory);

  std::vector<rocksdb::ColumnFamilyDescriptor> families;
  for (size_t i = 0; i < kColumnCount; ++i) families.emplace_back(column_name(static_cast<Column>(i)), cfo);
  families.emplace_back(rocksdb::kDefaultColumnFamilyName, cfo);
  // RocksDB refuses to open unless every existing family is named, so a
  // family written by a newer version is opened too (and left alone).
  std::vector<std::string> existing;
  if (rocksdb::DB::ListColumnFamilies(dbo, path, &existing).ok()) {
    for (const auto& name : existing) {
      bool known = std::any_of(families.begin(), families.end(), [&](const auto& f) { return f.name == name; });
      if (!known) families.emplace_back(name, cfo);
    }
  }

  rocksdb::DB* raw = nullptr;
  rocksdb::Status s = rocksdb::DB::Open(dbo, path, families, &impl->handles, &raw);
  if (!s.ok()) return from_rocks(s, "open " + path);
  impl->db.reset(raw);
  return std::unique_ptr<RocksStore>(new RocksStore(path, std::move(impl)));
}

Status RocksStore::Impl::close() {
  if (!db) return Status::ok();
  assert(open_snapshots.load() == 0 && "every Snapshot must be destroyed before its store closes");
  Status result;
  for (auto* h : handles) {
    rocksdb::Status s = db->DestroyColumnFamilyHandle(h);
    if (result.is_ok()) result = from_rocks(s, "close column family");
  }
  handles.clear();
  rocksdb::Status s = db->Close();
  if (result.is_ok()) result = from_rocks(s, "close");
  db.reset();
  return result;
}

Status RocksStore::close() { return impl_->close(); }

Result<std::optional<Bytes>> RocksStore::Impl::get(const rocksdb::Snapshot* snap, Column c, ByteView key) const {
  if (!db) return Status::unavailable("store is closed");
  quiet_perf_counters();
  rocksdb::ReadOptions ro;
  ro.snapshot = snap;
  rocksdb::PinnableSlice value;
  rocksdb::Status s = db->Get(ro, cf(c), slice(key), &value);
  if (s.IsNotFound()) return std::optional<Bytes>();
  if (!s.ok()) return from_rocks(s, "get");
  return std::optional<Bytes>(Bytes(value.data(), value.data() + value.size()));
}

Status RocksStore::Impl::scan(const rocksdb::Snapshot* snap, Column c, ByteView prefix, ByteView start, size_t limit,
                              const Visitor& visit) const {
  if (!db) return Status::unavailable("store is closed");
  quiet_perf_counters();
  std::optional<std::string> upper = prefix_successor(prefix);
  rocksdb::Slice upper_slice;
  rocksdb::ReadOptions ro;
  ro.snapshot = snap;
  if (upper) {
    upper_slice = rocksdb::Slice(*upper);
    ro.iterate_upper_bound = &upper_slice;
  }
  std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(ro, cf(c)));
  // Start at whichever is later: the prefix itself or `start`.
  ByteView from = std::lexicographical_compare(start.begin(), start.end(), prefix.begin(), prefix.end()) ? prefix : start;
  size_t visited = 0;
  for (it->Seek(slice(from)); it->Valid() && visited < limit; it->Next()) {
    if (!has_prefix(it->key(), prefix)) break;
    ++visited;
    if (!visit(view(it->key()), view(it->value()))) break;
  }
  return from_rocks(it->status(), "scan");
}

Status RocksStore::Impl::scan_reverse(const rocksdb::Snapshot* snap, Column c, ByteView prefix, ByteView start,
                                      size_t limit, const Visitor& visit) const {
  if (!db) return Status::unavailable("store is closed");
  quiet_perf_counters();
  std::optional<std::string> upper = prefix_successor(prefix);
  rocksdb::Slice upper_slice;
  rocksdb::Slice lower_slice = slice(prefix);
  rocksdb::ReadOptions ro;
  ro.snapshot = snap;
  ro.iterate_lower_bound = &lower_slice;
  if (upper) {
    upper_slice = rocksdb::Slice(*upper);
    ro.iterate_upper_bound = &upper_slice;
  }
  std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(ro, cf(c)));
  // An empty start, or one past every key with the prefix, means "from the
  // last key with the prefix"; a start before the prefix visits nothing.
  bool from_last = start.empty() || (upper && as_chars(start) >= std::string_view(*upper));
  if (from_last) {
    it->SeekToLast();
  } else {
    it->SeekForPrev(slice(start));
  }
  size_t visited = 0;
  for (; it->Valid() && visited < limit; it->Prev()) {
    if (!has_prefix(it->key(), prefix)) break;
    ++visited;
    if (!visit(view(it->key()), view(it->value()))) break;
  }
  return from_rocks(it->status(), "scan_reverse");
}

Result<std::optional<Bytes>> RocksStore::get(Column c, ByteView key) const { return impl_->get(nullptr, c, key); }

Status RocksStore::scan(Column c, ByteView prefix, ByteView start, size_t limit, const Visitor& visit) const {
  return impl_->scan(nullptr, c, prefix, start, limit, visit);
}

Status RocksStore::scan_reverse(Column c, ByteView prefix, ByteView start, size_t limit, const Visitor& visit) const {
  return impl_->scan_reverse(nullptr, c, prefix, start, limit, visit);
}

std::unique_ptr<Snapshot> RocksStore::snapshot() const {
  assert(impl_->db && "snapshot() of a closed store");
  ++impl_->open_snapshots;
  return std::unique_ptr<Snapshot>(new Snapshot(*this, impl_->db->GetSnapshot()));
}

Status RocksStore::apply(const WriteSet& writes, bool sync) {
  const WriteSet* parts[] = {&writes};
  return apply(parts, sync);
}

Status RocksStore::apply(std::span<const WriteSet* const> parts, bool sync) {
  if (!impl_->db) return Status::unavailable("store is closed");
  quiet_perf_counters();
  size_t bytes = 0;
  for (const WriteSet* w : parts) bytes += w->approximate_bytes() + 64 * w->ops().size();
  rocksdb::WriteBatch batch(bytes);
  for (const WriteSet::Op* op : WriteSet::sorted_latest(parts)) {
    rocksdb::Status s = op->value ? batch.Put(impl_->cf(op->column), slice(op->key), slice(*op->value))
                                  : batch.Delete(impl_->cf(op->column), slice(op->key));
    if (!s.ok()) return from_rocks(s, "build write batch");
  }
  rocksdb::WriteOptions wo;
  wo.sync = sync;
  return from_rocks(impl_->db->Write(wo, &batch), sync ? "write (sync)" : "write");
}

Status RocksStore::sync_wal() {
  if (!impl_->db) return Status::unavailable("store is closed");
  return from_rocks(impl_->db->SyncWAL(), "sync wal");
}

Status RocksStore::flush() {
  if (!impl_->db) return Status::unavailable("store is closed");
  rocksdb::FlushOptions fo;
  fo.wait = true;
  std::vector<rocksdb::ColumnFamilyHandle*> cfs(impl_->handles.begin(), impl_->handles.begin() + kColumnCount);
  return from_rocks(impl_->db->Flush(fo, cfs), "flush");
}

uint64_t RocksStore::approximate_sst_bytes() const {
  uint64_t total = 0;
  if (!impl_->db) return 0;
  for (size_t i = 0; i < kColumnCount; ++i) {
    uint64_t v = 0;
    if (impl_->db->GetIntProperty(impl_->handles[i], rocksdb::DB::Properties::kTotalSstFilesSize, &v)) total += v;
  }
  return total;
}

uint64_t RocksStore::memtable_bytes() const {
  uint64_t total = 0;
  if (!impl_->db) return 0;
  for (size_t i = 0; i < kColumnCount; ++i) {
    uint64_t v = 0;
    if (impl_->db->GetIntProperty(impl_->handles[i], rocksdb::DB::Properties::kSizeAllMemTables, &v)) total += v;
  }
  return total;
}

bool RocksStore::direct_io() const { return impl_->direct_io; }

bool RocksStore::background_work_pending() const {
  if (!impl_->db) return false;
  for (const char* p : {"rocksdb.num-running-compactions", "rocksdb.num-running-flushes"}) {
    uint64_t v = 0;
    if (impl_->db->GetIntProperty(p, &v) && v > 0) return true;
  }
  for (size_t i = 0; i < kColumnCount; ++i) {
    uint64_t v = 0;
    if (impl_->db->GetIntProperty(impl_->handles[i], rocksdb::DB::Properties::kCompactionPending, &v) && v > 0) {
      return true;
    }
  }
  return false;
}

// ---------------------------------------------------------------- Snapshot

Snapshot::~Snapshot() {
  store_.impl_->db->ReleaseSnapshot(static_cast<const rocksdb::Snapshot*>(snap_));
  --store_.impl_->open_snapshots;
}

Result<std::optional<Bytes>> Snapshot::get(Column c, ByteView key) const {
  return store_.impl_->get(static_cast<const rocksdb::Snapshot*>(snap_), c, key);
}

Status Snapshot::scan(Column c, ByteView prefix, ByteView start, size_t limit, const Visitor& visit) const {
  return store_.impl_->scan(static_cast<const rocksdb::Snapshot*>(snap_), c, prefix, start, limit, visit);
}

Status Snapshot::scan_reverse(Column c, ByteView prefix, ByteView start, size_t limit, const Visitor& visit) const {
  return store_.impl_->scan_reverse(static_cast<const rocksdb::Snapshot*>(snap_), c, prefix, start, limit, visit);
}

}  // namespace prov::ledger::store
