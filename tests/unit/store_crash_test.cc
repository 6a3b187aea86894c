// Crash tests of RocksStore: simulated power loss (unsynced writes dropped by
// FaultInjectionFs) and real SIGKILLs of a writer process. After every crash
// the reopened store must hold a whole prefix of the blocks — each block
// fully present or fully absent — including every block acknowledged as
// synced. Seeds are fixed and printed so any failure replays; PROV_CRASH_SEED
// overrides them.
#include <doctest/doctest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fcntl.h>

#include <cerrno>
#include <cstdlib>
#include <random>
#include <string>

#include "ledger/store/fault_fs.h"
#include "ledger/store/rocks_store.h"
#include "store_test_chain.h"
#include "store_test_dir.h"

namespace prov::ledger::store {
namespace {

using testing::ChainState;
using testing::TempDir;

// The seed: `fallback`, or PROV_CRASH_SEED from the environment to explore
// other schedules or replay a failure.
uint64_t crash_seed(uint64_t fallback) {
  const char* env = std::getenv("PROV_CRASH_SEED");
  return env && *env ? std::strtoull(env, nullptr, 10) : fallback;
}

StoreOptions crash_options(const FaultInjectionFs* fault) {
  StoreOptions o;
  // Small memtables force flushes (SST files, MANIFEST edits, WAL
  // switches) in the middle of the run, so crashes hit those paths too.
  o.memtable_bytes = 128u << 10;
  if (fault) o.file_system = fault->file_system();
  return o;
}

ChainState must_check(const KvReader& kv) {
  auto state = testing::check_chain(kv);
  REQUIRE_MESSAGE(state.is_ok(), state.status().to_string());
  return *state;
}

TEST_CASE("power loss keeps every synced block and never tears one") {
  const uint64_t kSeed = crash_seed(20261123);
  constexpr int kRounds = 8;
  constexpr int kBlocksPerRoundMax = 60;
  INFO("seed " << kSeed);
  TempDir dir;
  FaultInjectionFs fault;
  std::mt19937_64 rng(kSeed);
  ChainState durable;  // the state as of the last sync=true apply
  uint64_t total_lost_blocks = 0;
  for (int round = 0; round < kRounds; ++round) {
    INFO("round " << round);
    auto opened = RocksStore::open(dir.path(), crash_options(&fault));
    REQUIRE_MESSAGE(opened.is_ok(), opened.status().to_string());
    std::unique_ptr<RocksStore> store = std::move(opened).value();
    ChainState at = must_check(*store);
    CHECK(at.height >= durable.height);
    durable = at;  // what survived a crash was on disk, so it is durable now

    const int blocks = 1 + static_cast<int>(rng() % kBlocksPerRoundMax);
    for (int i = 0; i < blocks; ++i) {
      const bool sync = rng() % 4 == 0;
      REQUIRE(store->apply(testing::make_block(at, kSeed), sync).is_ok());
      at = testing::next_state(at, kSeed);
      if (sync) durable = at;
    }
    // The power fails: nothing more reaches the disk, the process state is
    // gone, and only what was fsynced survives.
    fault.set_active(false);
    store.reset();
    Status dropped = fault.drop_unsynced();
  REQUIRE_MESSAGE(dropped.is_ok(), dropped.to_string());
    fault.set_active(true);

    auto reopened = RocksStore::open(dir.path(), crash_options(&fault));
    REQUIRE_MESSAGE(reopened.is_ok(), reopened.status().to_string());
    ChainState after = must_check(**reopened);
    CHECK(after.height >= durable.height);
    CHECK(after.height <= at.height);
    total_lost_blocks += at.height - after.height;
    REQUIRE((*reopened)->close().is_ok());
  }
  // The simulation really lost writes; otherwise it tested nothing.
  CHECK(fault.dropped_bytes() > 0);
  CHECK(total_lost_blocks > 0);
}

TEST_CASE("power loss before any sync loses the unsynced blocks, not the database") {
  TempDir dir;
  FaultInjectionFs fault;
  ChainState at;
  // Default (large) memtables: a flush would sync the WAL it closes and make
  // the "unsynced" blocks durable after all.
  StoreOptions o;
  o.file_system = fault.file_system();
  {
    auto store = RocksStore::open(dir.path(), o);
    REQUIRE(store.is_ok());
    REQUIRE((*store)->apply(testing::make_block(at, 1), /*sync=*/true).is_ok());
    at = testing::next_state(at, 1);
    for (int i = 0; i < 5; ++i) {
      REQUIRE((*store)->apply(testing::make_block(at, 1), /*sync=*/false).is_ok());
      at = testing::next_state(at, 1);
    }
    fault.set_active(false);
  }
  Status dropped = fault.drop_unsynced();
  REQUIRE_MESSAGE(dropped.is_ok(), dropped.to_string());
  fault.set_active(true);
  auto store = RocksStore::open(dir.path(), o);
  REQUIRE_MESSAGE(store.is_ok(), store.status().to_string());
  // Exactly the synced block: the five unsynced ones were only in the page cache.
  CHECK(must_check(**store).height == 1);
}

// Reads 8-byte acknowledgements from `fd` until `want` arrived or EOF;
// returns the last height seen and how many arrived.
std::pair<uint64_t, uint64_t> read_acks(int fd, uint64_t want, uint64_t last) {
  uint64_t got = 0;
  uint8_t buf[8];
  size_t have = 0;
  while (got < want) {
    ssize_t n = ::read(fd, buf + have, sizeof(buf) - have);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    have += static_cast<size_t>(n);
    if (have == sizeof(buf)) {
      last = get_u64_be(buf);
      ++got;
      have = 0;
    }
  }
  return {last, got};
}

struct Child {
  pid_t pid;
  int ack_fd;
};

Child spawn_writer(const std::string& dir, uint64_t seed) {
  int fds[2];
  REQUIRE(::pipe2(fds, O_CLOEXEC) == 0);
  pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    // Only async-signal-safe calls between fork and exec.
    ::dup2(fds[1], 3);  // dup2 clears close-on-exec on the copy
    std::string seed_arg = std::to_string(seed);
    const char* argv[] = {PROV_STORE_CRASH_WRITER, dir.c_str(), seed_arg.c_str(), "3", nullptr};
    ::execv(PROV_STORE_CRASH_WRITER, const_cast<char* const*>(argv));
    ::_exit(127);
  }
  ::close(fds[1]);
  return {pid, fds[0]};
}

TEST_CASE("SIGKILL at random moments: reopened store is whole and holds every acknowledged block") {
  const uint64_t kSeed = crash_seed(42);
  constexpr int kKills = 10;
  constexpr uint64_t kAcksBeforeKillMax = 25;
  INFO("seed " << kSeed);
  TempDir dir;
  std::mt19937_64 rng(kSeed);
  uint64_t acked = 0;  // highest height a writer acknowledged as synced
  for (int kill_no = 0; kill_no < kKills; ++kill_no) {
    INFO("kill " << kill_no);
    Child child = spawn_writer(dir.path(), kSeed);
    const uint64_t want = 1 + rng() % kAcksBeforeKillMax;
    auto [last, got] = read_acks(child.ack_fd, want, acked);
    REQUIRE(::kill(child.pid, SIGKILL) == 0);
    int status = 0;
    REQUIRE(::waitpid(child.pid, &status, 0) == child.pid);
    // The writer must have died of our SIGKILL, not of its own accord.
    REQUIRE_MESSAGE(WIFSIGNALED(status), "writer exited with status " << WEXITSTATUS(status));
    CHECK(got == want);
    // Acknowledgements written before the kill count too.
    auto [final_last, more] = read_acks(child.ack_fd, UINT64_MAX, last);
    (void)more;
    ::close(child.ack_fd);
    CHECK(final_last >= acked);
    acked = final_last;

    auto store = RocksStore::open(dir.path(), crash_options(nullptr));
    REQUIRE_MESSAGE(store.is_ok(), store.status().to_string());
    ChainState state = must_check(**store);
    // Every acknowledged block is there; at most the one in flight beyond.
    CHECK(state.height >= acked);
    CHECK(state.height <= acked + 1);
    acked = state.height;
  }
  CHECK(acked >= kKills);
}

}  // namespace
}  // namespace prov::ledger::store
