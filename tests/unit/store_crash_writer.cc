// Helper for store_crash_test's kill test: opens the store at DIR, checks
// the synthetic chain in it (exit 3 if inconsistent), then appends blocks
// with sync=true forever, writing each applied height as 8 big-endian bytes
// to file descriptor FD only after apply returned. The parent kills it with
// SIGKILL at a moment of its choosing; any exit of its own is a failure.
//
// usage: store_crash_writer DIR SEED FD
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>

#include "ledger/store/rocks_store.h"
#include "store_test_chain.h"

namespace {

constexpr int kExitUsage = 1;
constexpr int kExitStore = 2;
constexpr int kExitInconsistent = 3;

bool write_all(int fd, const uint8_t* p, size_t n) {
  while (n > 0) {
    ssize_t w = ::write(fd, p, n);
    if (w <= 0) return false;
    p += w;
    n -= static_cast<size_t>(w);
  }
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace prov;
  using namespace prov::ledger::store;
  if (argc != 4) {
    std::fprintf(stderr, "usage: store_crash_writer DIR SEED FD\n");
    return kExitUsage;
  }
  const std::string dir = argv[1];
  const uint64_t seed = std::strtoull(argv[2], nullptr, 10);
  const int fd = std::atoi(argv[3]);

  StoreOptions o;
  // Small memtables so flushes and compactions run while the parent kills us.
  o.memtable_bytes = 256u << 10;
  auto store = RocksStore::open(dir, o);
  if (!store.is_ok()) {
    std::fprintf(stderr, "open: %s\n", store.status().to_string().c_str());
    return kExitStore;
  }
  auto state = testing::check_chain(**store);
  if (!state.is_ok()) {
    std::fprintf(stderr, "%s\n", state.status().to_string().c_str());
    return kExitInconsistent;
  }
  testing::ChainState at = *state;
  for (;;) {
    ledger::WriteSet ws = testing::make_block(at, seed);
    Status s = (*store)->apply(ws, /*sync=*/true);
    if (!s.is_ok()) {
      std::fprintf(stderr, "apply: %s\n", s.to_string().c_str());
      return kExitStore;
    }
    at = testing::next_state(at, seed);
    Bytes ack;
    put_u64_be(ack, at.height);
    if (!write_all(fd, ack.data(), ack.size())) return kExitUsage;
  }
}
