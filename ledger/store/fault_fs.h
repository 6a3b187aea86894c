// A RocksDB FileSystem wrapper that simulates power loss, for tests.
//
// `kill -9` keeps the page cache, so it never loses a write the process made;
// a power failure loses everything not fsynced. FaultInjectionFs tracks, for
// every file written through it, how many bytes were last made durable
// (Sync/Fsync; RangeSync and Close do not count: neither promises the data
// or the file's size reached the disk), and which files were created or
// renamed since their directory was last fsynced. drop_unsynced() then does
// what the power cut would: truncates each file to its durable length and
// deletes files whose directory entry was never made durable.
//
// Crash recipe: set_active(false) (every later write, sync, rename or delete
// fails with an I/O error, so the dying database persists nothing more),
// destroy the store, drop_unsynced(), set_active(true), reopen.
// It can also fail writes with ENOSPC (set_disk_full) to exercise disk-full
// handling. Modelled on RocksDB's utilities/fault_injection_fs.h.
//
// Thread-safety: all methods are thread-safe (RocksDB calls the wrapper from
// its background threads).
#pragma once

#include <cstdint>
#include <memory>

#include "crypto/status.h"

namespace rocksdb {
class FileSystem;
}  // namespace rocksdb

namespace prov::ledger::store {

class FaultInjectionFs {
 public:
  // Wraps the operating system's file system.
  FaultInjectionFs();
  ~FaultInjectionFs();

  // The file system to pass as StoreOptions::file_system.
  std::shared_ptr<rocksdb::FileSystem> file_system() const;

  // While inactive, every mutating operation fails with an I/O error.
  void set_active(bool active);
  // While set, appends fail with a "no space" I/O error, as with ENOSPC.
  void set_disk_full(bool full);

  // Loses every write not made durable (see above) and forgets all tracked
  // state. Call only while no database uses the file system.
  Status drop_unsynced();

  // Counters for tests: bytes cut off and files deleted by drop_unsynced.
  uint64_t dropped_bytes() const;
  uint64_t dropped_files() const;

  class Impl;

 private:
  std::shared_ptr<Impl> impl_;
};

}  // namespace prov::ledger::store
