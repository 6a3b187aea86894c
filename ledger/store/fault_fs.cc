#include "ledger/store/fault_fs.h"

#include <rocksdb/file_system.h>
#include <rocksdb/io_status.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <map>
#include <mutex>
#include <set>
#include <string>

namespace prov::ledger::store {
namespace {

// Splits a path into (directory, file name) after normalising it, so
// "/d//x" and "/d/x" name the same file as NewDirectory("/d/") sees it.
std::pair<std::string, std::string> split(const std::string& path) {
  std::filesystem::path p = std::filesystem::path(path).lexically_normal();
  return {p.parent_path().string(), p.filename().string()};
}

std::string normal_dir(const std::string& dir) {
  std::string d = std::filesystem::path(dir).lexically_normal().string();
  while (d.size() > 1 && d.back() == '/') d.pop_back();
  return d;
}

rocksdb::IOStatus crashed() { return rocksdb::IOStatus::IOError("fault injection: file system is inactive (crashed)"); }

}  // namespace

class FaultInjectionFs::Impl final : public rocksdb::FileSystemWrapper {
 public:
  Impl() : FileSystemWrapper(rocksdb::FileSystem::Default()) {}

  static const char* kClassName() { return "ProvFaultInjectionFs"; }
  const char* Name() const override { return kClassName(); }

  bool active() const { return active_.load(); }
  bool disk_full() const { return disk_full_.load(); }
  void set_active(bool a) { active_.store(a); }
  void set_disk_full(bool f) { disk_full_.store(f); }

  // ---- bookkeeping called by the file wrappers
  void on_append(const std::string& name, uint64_t end_offset) {
    std::lock_guard lock(mu_);
    auto& st = files_[name];
    st.size = std::max(st.size, end_offset);
  }
  uint64_t position(const std::string& name) {
    std::lock_guard lock(mu_);
    return files_[name].size;
  }
  void on_sync(const std::string& name) {
    std::lock_guard lock(mu_);
    auto& st = files_[name];
    st.synced = st.size;
  }
  void on_truncate(const std::string& name, uint64_t size) {
    std::lock_guard lock(mu_);
    auto& st = files_[name];
    st.size = size;
    st.synced = std::min(st.synced, size);
  }
  void on_dir_sync(const std::string& dir) {
    std::lock_guard lock(mu_);
    new_since_dir_sync_.erase(normal_dir(dir));
  }

  // ---- FileSystem overrides
  rocksdb::IOStatus NewWritableFile(const std::string& f, const rocksdb::FileOptions& o,
                                    std::unique_ptr<rocksdb::FSWritableFile>* r, rocksdb::IODebugContext* dbg) override;
  rocksdb::IOStatus ReopenWritableFile(const std::string& f, const rocksdb::FileOptions& o,
                                       std::unique_ptr<rocksdb::FSWritableFile>* r,
                                       rocksdb::IODebugContext* dbg) override;
  rocksdb::IOStatus ReuseWritableFile(const std::string& f, const std::string& old, const rocksdb::FileOptions& o,
                                      std::unique_ptr<rocksdb::FSWritableFile>* r,
                                      rocksdb::IODebugContext* dbg) override;
  rocksdb::IOStatus NewDirectory(const std::string& name, const rocksdb::IOOptions& o,
                                 std::unique_ptr<rocksdb::FSDirectory>* r, rocksdb::IODebugContext* dbg) override;
  rocksdb::IOStatus RenameFile(const std::string& s, const std::string& t, const rocksdb::IOOptions& o,
                               rocksdb::IODebugContext* dbg) override;
  rocksdb::IOStatus DeleteFile(const std::string& f, const rocksdb::IOOptions& o,
                               rocksdb::IODebugContext* dbg) override;
  rocksdb::IOStatus LinkFile(const std::string& s, const std::string& t, const rocksdb::IOOptions& o,
                             rocksdb::IODebugContext* dbg) override;
  rocksdb::IOStatus Truncate(const std::string& f, size_t size, const rocksdb::IOOptions& o,
                             rocksdb::IODebugContext* dbg) override;
  rocksdb::IOStatus NewRandomRWFile(const std::string& f, const rocksdb::FileOptions& o,
                                    std::unique_ptr<rocksdb::FSRandomRWFile>* r,
                                    rocksdb::IODebugContext* dbg) override;

  Status drop_unsynced();
  uint64_t dropped_bytes() const { return dropped_bytes_.load(); }
  uint64_t dropped_files() const { return dropped_files_.load(); }

 private:
  struct FileState {
    uint64_t size = 0;    // bytes written so far
    uint64_t synced = 0;  // bytes that survive power loss
  };
  // Starts tracking a file created (or truncated to empty) just now.
  void track_new(const std::string& name, bool existed);

  std::atomic<bool> active_{true};
  std::atomic<bool> disk_full_{false};
  std::atomic<uint64_t> dropped_bytes_{0};
  std::atomic<uint64_t> dropped_files_{0};
  std::mutex mu_;
  std::map<std::string, FileState> files_;                         // by normalised path
  std::map<std::string, std::set<std::string>> new_since_dir_sync_;  // dir -> file names
};

namespace {

// A writable file whose appends and syncs are reported to the Impl.
class TrackedFile final : public rocksdb::FSWritableFileOwnerWrapper {
 public:
  TrackedFile(std::unique_ptr<rocksdb::FSWritableFile> target, std::string name, FaultInjectionFs::Impl& fs)
      : FSWritableFileOwnerWrapper(std::move(target)), name_(std::move(name)), fs_(fs) {}

  rocksdb::IOStatus Append(const rocksdb::Slice& data, const rocksdb::IOOptions& o,
                           rocksdb::IODebugContext* dbg) override {
    if (auto s = check_write(); !s.ok()) return s;
    uint64_t end = fs_.position(name_) + data.size();
    auto s = target()->Append(data, o, dbg);
    if (s.ok()) fs_.on_append(name_, end);
    return s;
  }
  rocksdb::IOStatus Append(const rocksdb::Slice& data, const rocksdb::IOOptions& o,
                           const rocksdb::DataVerificationInfo& info, rocksdb::IODebugContext* dbg) override {
    if (auto s = check_write(); !s.ok()) return s;
    uint64_t end = fs_.position(name_) + data.size();
    auto s = target()->Append(data, o, info, dbg);
    if (s.ok()) fs_.on_append(name_, end);
    return s;
  }
  rocksdb::IOStatus PositionedAppend(const rocksdb::Slice& data, uint64_t offset, const rocksdb::IOOptions& o,
                                     rocksdb::IODebugContext* dbg) override {
    if (auto s = check_write(); !s.ok()) return s;
    auto s = target()->PositionedAppend(data, offset, o, dbg);
    if (s.ok()) fs_.on_append(name_, offset + data.size());
    return s;
  }
  rocksdb::IOStatus PositionedAppend(const rocksdb::Slice& data, uint64_t offset, const rocksdb::IOOptions& o,
                                     const rocksdb::DataVerificationInfo& info,
                                     rocksdb::IODebugContext* dbg) override {
    if (auto s = check_write(); !s.ok()) return s;
    auto s = target()->PositionedAppend(data, offset, o, info, dbg);
    if (s.ok()) fs_.on_append(name_, offset + data.size());
    return s;
  }
  rocksdb::IOStatus Truncate(uint64_t size, const rocksdb::IOOptions& o, rocksdb::IODebugContext* dbg) override {
    if (!fs_.active()) return crashed();
    auto s = target()->Truncate(size, o, dbg);
    if (s.ok()) fs_.on_truncate(name_, size);
    return s;
  }
  rocksdb::IOStatus Flush(const rocksdb::IOOptions& o, rocksdb::IODebugContext* dbg) override {
    if (!fs_.active()) return crashed();
    return target()->Flush(o, dbg);
  }
  rocksdb::IOStatus Sync(const rocksdb::IOOptions& o, rocksdb::IODebugContext* dbg) override {
    if (!fs_.active()) return crashed();
    auto s = target()->Sync(o, dbg);
    if (s.ok()) fs_.on_sync(name_);
    return s;
  }
  rocksdb::IOStatus Fsync(const rocksdb::IOOptions& o, rocksdb::IODebugContext* dbg) override {
    if (!fs_.active()) return crashed();
    auto s = target()->Fsync(o, dbg);
    if (s.ok()) fs_.on_sync(name_);
    return s;
  }
  // sync_file_range(2) writes pages out but promises neither their
  // durability nor the file size's, so it does not move the synced mark.
  rocksdb::IOStatus RangeSync(uint64_t offset, uint64_t nbytes, const rocksdb::IOOptions& o,
                              rocksdb::IODebugContext* dbg) override {
    if (!fs_.active()) return crashed();
    return target()->RangeSync(offset, nbytes, o, dbg);
  }
  // Close always releases the descriptor (a dying database must not leak
  // it) and never counts as a sync.
  rocksdb::IOStatus Close(const rocksdb::IOOptions& o, rocksdb::IODebugContext* dbg) override {
    return target()->Close(o, dbg);
  }

 private:
  rocksdb::IOStatus check_write() const {
    if (!fs_.active()) return crashed();
    if (fs_.disk_full()) return rocksdb::IOStatus::NoSpace("fault injection: no space left on device");
    return rocksdb::IOStatus::OK();
  }
  std::string name_;
  FaultInjectionFs::Impl& fs_;
};

// A directory whose fsync makes the entries created in it durable.
class TrackedDir final : public rocksdb::FSDirectoryWrapper {
 public:
  TrackedDir(std::unique_ptr<rocksdb::FSDirectory> target, std::string name, FaultInjectionFs::Impl& fs)
      : FSDirectoryWrapper(std::move(target)), name_(std::move(name)), fs_(fs) {}
  rocksdb::IOStatus Fsync(const rocksdb::IOOptions& o, rocksdb::IODebugContext* dbg) override {
    if (!fs_.active()) return crashed();
    auto s = FSDirectoryWrapper::Fsync(o, dbg);
    if (s.ok()) fs_.on_dir_sync(name_);
    return s;
  }
  rocksdb::IOStatus FsyncWithDirOptions(const rocksdb::IOOptions& o, rocksdb::IODebugContext* dbg,
                                        const rocksdb::DirFsyncOptions& opts) override {
    if (!fs_.active()) return crashed();
    auto s = FSDirectoryWrapper::FsyncWithDirOptions(o, dbg, opts);
    if (s.ok()) fs_.on_dir_sync(name_);
    return s;
  }

 private:
  std::string name_;
  FaultInjectionFs::Impl& fs_;
};

std::string normal_file(const std::string& f) { return std::filesystem::path(f).lexically_normal().string(); }

}  // namespace

void FaultInjectionFs::Impl::track_new(const std::string& name, bool existed) {
  std::lock_guard lock(mu_);
  files_[name] = FileState{};
  if (!existed) {
    auto [dir, file] = split(name);
    new_since_dir_sync_[normal_dir(dir)].insert(file);
  }
}

rocksdb::IOStatus FaultInjectionFs::Impl::NewWritableFile(const std::string& f, const rocksdb::FileOptions& o,
                                                          std::unique_ptr<rocksdb::FSWritableFile>* r,
                                                          rocksdb::IODebugContext* dbg) {
  if (!active()) return crashed();
  bool existed = target()->FileExists(f, rocksdb::IOOptions(), dbg).ok();
  std::unique_ptr<rocksdb::FSWritableFile> file;
  auto s = target()->NewWritableFile(f, o, &file, dbg);
  if (!s.ok()) return s;
  std::string name = normal_file(f);
  track_new(name, existed);
  *r = std::make_unique<TrackedFile>(std::move(file), name, *this);
  return s;
}

rocksdb::IOStatus FaultInjectionFs::Impl::ReopenWritableFile(const std::string& f, const rocksdb::FileOptions& o,
                                                             std::unique_ptr<rocksdb::FSWritableFile>* r,
                                                             rocksdb::IODebugContext* dbg) {
  if (!active()) return crashed();
  bool existed = target()->FileExists(f, rocksdb::IOOptions(), dbg).ok();
  uint64_t size = 0;
  if (existed) (void)target()->GetFileSize(f, rocksdb::IOOptions(), &size, dbg);
  std::unique_ptr<rocksdb::FSWritableFile> file;
  auto s = target()->ReopenWritableFile(f, o, &file, dbg);
  if (!s.ok()) return s;
  std::string name = normal_file(f);
  {
    std::lock_guard lock(mu_);
    auto it = files_.find(name);
    if (it == files_.end()) {
      // Bytes written before tracking began are taken as durable.
      files_[name] = FileState{size, size};
      if (!existed) {
        auto [dir, file_name] = split(name);
        new_since_dir_sync_[normal_dir(dir)].insert(file_name);
      }
    }
  }
  *r = std::make_unique<TrackedFile>(std::move(file), name, *this);
  return s;
}

rocksdb::IOStatus FaultInjectionFs::Impl::ReuseWritableFile(const std::string& f, const std::string& old,
                                                            const rocksdb::FileOptions& o,
                                                            std::unique_ptr<rocksdb::FSWritableFile>* r,
                                                            rocksdb::IODebugContext* dbg) {
  // Reuse is a rename plus truncation; model it as exactly that.
  if (!active()) return crashed();
  auto s = RenameFile(old, f, rocksdb::IOOptions(), dbg);
  if (!s.ok()) return s;
  return NewWritableFile(f, o, r, dbg);
}

rocksdb::IOStatus FaultInjectionFs::Impl::NewDirectory(const std::string& name, const rocksdb::IOOptions& o,
                                                       std::unique_ptr<rocksdb::FSDirectory>* r,
                                                       rocksdb::IODebugContext* dbg) {
  std::unique_ptr<rocksdb::FSDirectory> dir;
  auto s = target()->NewDirectory(name, o, &dir, dbg);
  if (!s.ok()) return s;
  *r = std::make_unique<TrackedDir>(std::move(dir), normal_dir(name), *this);
  return s;
}

rocksdb::IOStatus FaultInjectionFs::Impl::RenameFile(const std::string& s, const std::string& t,
                                                     const rocksdb::IOOptions& o, rocksdb::IODebugContext* dbg) {
  if (!active()) return crashed();
  auto st = target()->RenameFile(s, t, o, dbg);
  if (!st.ok()) return st;
  // As in RocksDB's FaultInjectionTestFS: the file's durability state moves
  // with it, and a file whose entry was not yet durable stays that way under
  // its new name. (Losing the rename of an old, durable file is not modelled:
  // RocksDB fsyncs the directory after every rename it depends on.)
  std::string src = normal_file(s), tgt = normal_file(t);
  std::lock_guard lock(mu_);
  if (auto it = files_.find(src); it != files_.end()) {
    files_[tgt] = it->second;
    files_.erase(src);
  }
  auto [sdir, sname] = split(src);
  auto [tdir, tname] = split(tgt);
  if (new_since_dir_sync_[normal_dir(sdir)].erase(sname) != 0) new_since_dir_sync_[normal_dir(tdir)].insert(tname);
  return st;
}

rocksdb::IOStatus FaultInjectionFs::Impl::DeleteFile(const std::string& f, const rocksdb::IOOptions& o,
                                                     rocksdb::IODebugContext* dbg) {
  if (!active()) return crashed();
  auto s = target()->DeleteFile(f, o, dbg);
  if (!s.ok()) return s;
  std::string name = normal_file(f);
  std::lock_guard lock(mu_);
  files_.erase(name);
  auto [dir, file] = split(name);
  new_since_dir_sync_[normal_dir(dir)].erase(file);
  return s;
}

rocksdb::IOStatus FaultInjectionFs::Impl::LinkFile(const std::string& s, const std::string& t,
                                                   const rocksdb::IOOptions& o, rocksdb::IODebugContext* dbg) {
  if (!active()) return crashed();
  return target()->LinkFile(s, t, o, dbg);
}

rocksdb::IOStatus FaultInjectionFs::Impl::Truncate(const std::string& f, size_t size, const rocksdb::IOOptions& o,
                                                   rocksdb::IODebugContext* dbg) {
  if (!active()) return crashed();
  auto s = target()->Truncate(f, size, o, dbg);
  std::string name = normal_file(f);
  bool tracked;
  {
    std::lock_guard lock(mu_);
    tracked = files_.count(name) != 0;
  }
  if (s.ok() && tracked) on_truncate(name, size);
  return s;
}

rocksdb::IOStatus FaultInjectionFs::Impl::NewRandomRWFile(const std::string& f, const rocksdb::FileOptions& o,
                                                          std::unique_ptr<rocksdb::FSRandomRWFile>* r,
                                                          rocksdb::IODebugContext* dbg) {
  if (!active()) return crashed();
  return target()->NewRandomRWFile(f, o, r, dbg);
}

Status FaultInjectionFs::Impl::drop_unsynced() {
  std::lock_guard lock(mu_);
  rocksdb::IOOptions io;
  for (const auto& [name, st] : files_) {
    auto [dir, file] = split(name);
    auto d = new_since_dir_sync_.find(normal_dir(dir));
    bool entry_lost = d != new_since_dir_sync_.end() && d->second.count(file) != 0;
    if (!target()->FileExists(name, io, nullptr).ok()) continue;
    if (entry_lost) {
      auto s = target()->DeleteFile(name, io, nullptr);
      if (!s.ok()) return Status::io_error("fault injection: delete " + name + ": " + s.ToString());
      ++dropped_files_;
      continue;
    }
    uint64_t size = 0;
    auto s = target()->GetFileSize(name, io, &size, nullptr);
    if (!s.ok()) return Status::io_error("fault injection: size of " + name + ": " + s.ToString());
    if (size > st.synced) {
      // The OS file system does not implement FileSystem::Truncate; this
      // wrapper only ever sits on it, so truncate the file directly.
      std::error_code ec;
      std::filesystem::resize_file(name, st.synced, ec);
      if (ec) return Status::io_error("fault injection: truncate " + name + ": " + ec.message());
      dropped_bytes_ += size - st.synced;
    }
  }
  files_.clear();
  new_since_dir_sync_.clear();
  return Status::ok();
}

// ---------------------------------------------------------------- facade

FaultInjectionFs::FaultInjectionFs() : impl_(std::make_shared<Impl>()) {}
FaultInjectionFs::~FaultInjectionFs() = default;
std::shared_ptr<rocksdb::FileSystem> FaultInjectionFs::file_system() const { return impl_; }
void FaultInjectionFs::set_active(bool active) { impl_->set_active(active); }
void FaultInjectionFs::set_disk_full(bool full) { impl_->set_disk_full(full); }
Status FaultInjectionFs::drop_unsynced() { return impl_->drop_unsynced(); }
uint64_t FaultInjectionFs::dropped_bytes() const { return impl_->dropped_bytes(); }
uint64_t FaultInjectionFs::dropped_files() const { return impl_->dropped_files(); }

}  // namespace prov::ledger::store
