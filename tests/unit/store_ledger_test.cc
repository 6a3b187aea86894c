// Real ledger blocks on RocksStore: the state transition gives byte-identical
// state on RocksDB and on MemoryKv, and after simulated power loss the
// ledger's own invariants hold (head, log size = entries, log root).
#include <doctest/doctest.h>

#include <random>

#include "crypto/merkle.h"
#include "ledger/merkle_log.h"
#include "ledger/query.h"
#include "ledger/store/fault_fs.h"
#include "ledger/store/rocks_store.h"
#include "ledger_test_fixture.h"
#include "store_test_dir.h"

namespace prov::ledger::store {
namespace {

using ledger::testing::Chain;
using store::testing::TempDir;

// Every (column, key, value) of a reader, in order.
std::vector<std::tuple<size_t, Bytes, Bytes>> dump(const KvReader& kv) {
  std::vector<std::tuple<size_t, Bytes, Bytes>> out;
  for (size_t c = 0; c < static_cast<size_t>(Column::kCount); ++c) {
    Status s = kv.scan(static_cast<Column>(c), {}, {}, SIZE_MAX, [&](ByteView k, ByteView v) {
      out.emplace_back(c, Bytes(k.begin(), k.end()), Bytes(v.begin(), v.end()));
      return true;
    });
    REQUIRE_MESSAGE(s.is_ok(), s.to_string());
  }
  return out;
}

std::unique_ptr<RocksStore> must_open(const std::string& path, const StoreOptions& o = {}) {
  auto r = RocksStore::open(path, o);
  REQUIRE_MESSAGE(r.is_ok(), r.status().to_string());
  return std::move(r).value();
}

// A block of `count` anchors (and every third one an access to it).
std::vector<Bytes> block_txs(Chain& c, uint64_t block_no, int count) {
  std::vector<Bytes> txs;
  for (int i = 0; i < count; ++i) {
    std::string dataset = "stats/d" + std::to_string((block_no * 7 + i) % 5);
    txs.push_back(c.sign(c.anchor(dataset, std::to_string(block_no) + "/" + std::to_string(i))));
    if (i % 3 == 0) txs.push_back(c.sign(c.access(dataset)));
  }
  return txs;
}

// Checks the ledger's invariants on `kv` and returns its head.
Head check_ledger(const KvReader& kv) {
  auto head = read_head(kv);
  REQUIRE_MESSAGE(head.is_ok(), head.status().to_string());
  uint64_t entries = 0;
  REQUIRE(kv.scan(Column::kEntries, {}, {}, SIZE_MAX, [&](ByteView, ByteView) {
              ++entries;
              return true;
            }).is_ok());
  CHECK(entries == head->log_size);
  auto root = log_root(kv, head->log_size);
  REQUIRE_MESSAGE(root.is_ok(), root.status().to_string());
  CHECK(*root == head->log_root);
  for (uint64_t h = 1; h <= head->height; ++h) {
    auto b = block_by_height(kv, h);
    REQUIRE_MESSAGE(b.is_ok(), "block " << h << ": " << b.status().to_string());
  }
  CHECK_FALSE(block_by_height(kv, head->height + 1).is_ok());
  if (head->log_size > 0) {
    // The newest entry proves into the head's root.
    uint64_t last = head->log_size - 1;
    auto e = kv.get(Column::kEntries, u64_key(last));
    REQUIRE(e.is_ok());
    REQUIRE(e->has_value());
    auto proof = log_inclusion_proof(kv, last, head->log_size);
    REQUIRE(proof.is_ok());
    CHECK(crypto::merkle::verify_inclusion(crypto::merkle::hash_leaf(**e), last, head->log_size, *proof,
                                           head->log_root)
              .is_ok());
  }
  return *head;
}

TEST_CASE("real blocks give identical state on RocksStore and MemoryKv") {
  TempDir dir;
  auto store = must_open(dir.path());
  Chain c;  // applies genesis to its MemoryKv
  auto genesis = apply_genesis(c.genesis());
  REQUIRE(genesis.is_ok());
  REQUIRE(store->apply(*genesis, true).is_ok());
  for (uint64_t n = 1; n <= 6; ++n) {
    auto committed = c.commit(block_txs(c, n, 5 + static_cast<int>(n)));
    REQUIRE_MESSAGE(committed.is_ok(), committed.status().to_string());
    // A follower applying the block on RocksDB computes the same writes.
    auto on_store = apply_block(*store, committed->block_bytes);
    REQUIRE_MESSAGE(on_store.is_ok(), on_store.status().to_string());
    CHECK(on_store->block_hash == committed->block_hash);
    REQUIRE(store->apply(on_store->writes, n % 2 == 0).is_ok());
  }
  CHECK(dump(*store) == dump(c.kv));
  Head head = check_ledger(*store);
  CHECK(head.height == 6);
  // Queries read the same answers through a snapshot.
  auto snap = store->snapshot();
  auto a = entry_by_index(*snap, 3);
  auto b = entry_by_index(c.kv, 3);
  REQUIRE(a.is_ok());
  REQUIRE(b.is_ok());
  CHECK(a->entry.SerializeAsString() == b->entry.SerializeAsString());
}

TEST_CASE("real blocks survive power loss: head, log size and log root stay consistent") {
  constexpr uint64_t kSeed = 77;
  INFO("seed " << kSeed);
  TempDir dir;
  FaultInjectionFs fault;
  StoreOptions o;
  o.file_system = fault.file_system();
  o.memtable_bytes = 64u << 10;
  std::mt19937_64 rng(kSeed);
  Chain c;
  uint64_t durable_height = 0;
  {
    auto store = must_open(dir.path(), o);
    auto genesis = apply_genesis(c.genesis());
    REQUIRE(genesis.is_ok());
    REQUIRE(store->apply(*genesis, true).is_ok());
  }
  uint64_t block_no = 0;
  for (int round = 0; round < 4; ++round) {
    INFO("round " << round);
    auto store = must_open(dir.path(), o);
    Head head = check_ledger(*store);
    CHECK(head.height >= durable_height);
    durable_height = head.height;
    const int blocks = 2 + static_cast<int>(rng() % 6);
    for (int i = 0; i < blocks; ++i) {
      auto built = build_block(*store, c.next_template(), block_txs(c, ++block_no, 4));
      REQUIRE_MESSAGE(built.is_ok(), built.status().to_string());
      const bool sync = rng() % 3 == 0;
      REQUIRE(store->apply(built->writes, sync).is_ok());
      if (sync) durable_height = built->header.height();
    }
    fault.set_active(false);
    store.reset();
    Status dropped = fault.drop_unsynced();
    REQUIRE_MESSAGE(dropped.is_ok(), dropped.to_string());
    fault.set_active(true);
  }
  auto store = must_open(dir.path(), o);
  Head head = check_ledger(*store);
  CHECK(head.height >= durable_height);
  CHECK(fault.dropped_bytes() > 0);
}

}  // namespace
}  // namespace prov::ledger::store
