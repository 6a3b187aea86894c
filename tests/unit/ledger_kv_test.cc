#include <doctest/doctest.h>

#include <random>
#include <string>
#include <vector>

#include "ledger/kv.h"

using namespace prov;
using namespace prov::ledger;

namespace {

using Pairs = std::vector<std::pair<std::string, std::string>>;

Pairs collect_scan(const KvReader& r, Column c, std::string_view prefix, std::string_view start, size_t limit,
                   bool reverse) {
  Pairs out;
  auto visit = [&](ByteView k, ByteView v) {
    out.emplace_back(to_string(k), to_string(v));
    return true;
  };
  Status s = reverse ? r.scan_reverse(c, as_bytes(prefix), as_bytes(start), limit, visit)
                     : r.scan(c, as_bytes(prefix), as_bytes(start), limit, visit);
  REQUIRE(s.is_ok());
  return out;
}

void put(WriteSet& w, std::string_view k, std::string_view v, Column c = Column::kEntries) {
  w.put(c, as_bytes(k), as_bytes(v));
}

}  // namespace

TEST_CASE("WriteSet::find returns the latest op for a key") {
  WriteSet w;
  CHECK(w.find(Column::kMeta, as_bytes("a")) == nullptr);
  put(w, "a", "1", Column::kMeta);
  w.erase(Column::kMeta, as_bytes("a"));
  REQUIRE(w.find(Column::kMeta, as_bytes("a")) != nullptr);
  CHECK_FALSE(w.find(Column::kMeta, as_bytes("a"))->value.has_value());
  put(w, "a", "2", Column::kMeta);
  CHECK(to_string(*w.find(Column::kMeta, as_bytes("a"))->value) == "2");
  // Columns are separate key spaces.
  CHECK(w.find(Column::kEntries, as_bytes("a")) == nullptr);
  CHECK(w.ops().size() == 3);
  WriteSet other;
  other.merge(w);
  CHECK(to_string(*other.find(Column::kMeta, as_bytes("a"))->value) == "2");
}

TEST_CASE("WriteSet::sorted_latest is what applying the ops in order leaves, in key order") {
  // Random ops over a few keys and two columns, split into three parts:
  // the sorted latest ops must equal a MemoryKv that applied the parts in order.
  std::mt19937 rng(7);
  for (int round = 0; round < 50; ++round) {
    WriteSet parts[3];
    MemoryKv expected;
    for (int i = 0; i < 60; ++i) {
      WriteSet& w = parts[rng() % 3];
      Column c = rng() % 2 ? Column::kEntries : Column::kDigest;
      std::string k = "k" + std::to_string(rng() % 12);
      if (rng() % 4 == 0) {
        w.erase(c, as_bytes(k));
      } else {
        put(w, k, "v" + std::to_string(i), c);
      }
    }
    for (const WriteSet& w : parts) expected.apply(w);
    const WriteSet* ptrs[] = {&parts[0], &parts[1], &parts[2]};
    std::vector<const WriteSet::Op*> sorted = WriteSet::sorted_latest(ptrs);
    MemoryKv got;
    WriteSet replay;
    for (size_t i = 0; i < sorted.size(); ++i) {
      const WriteSet::Op* op = sorted[i];
      if (i > 0) {
        const WriteSet::Op* prev = sorted[i - 1];
        // Strictly ascending (column, key): each key once.
        bool ascending = prev->column < op->column ||
                         (prev->column == op->column && to_string(prev->key) < to_string(op->key));
        CHECK(ascending);
      }
      if (op->value) {
        replay.put(op->column, op->key, *op->value);
      } else {
        replay.erase(op->column, op->key);
      }
    }
    got.apply(replay);
    for (Column c : {Column::kEntries, Column::kDigest}) {
      CHECK(collect_scan(got, c, "", "", 100, false) == collect_scan(expected, c, "", "", 100, false));
    }
  }
  WriteSet single;
  put(single, "b", "1");
  put(single, "a", "2");
  put(single, "b", "3");
  auto one = single.sorted_latest();
  REQUIRE(one.size() == 2);
  CHECK(to_string(one[0]->key) == "a");
  CHECK(to_string(*one[1]->value) == "3");
}

TEST_CASE("MemoryKv scans honour prefix, start, limit and direction") {
  MemoryKv kv;
  WriteSet w;
  for (std::string k : {"a1", "a2", "a3", "b1", "b2", "c"}) put(w, k, "v" + k);
  put(w, "a2", "other-column", Column::kDigest);
  kv.apply(w);
  using P = Pairs::value_type;
  CHECK(collect_scan(kv, Column::kEntries, "a", "", 10, false) == Pairs{P{"a1", "va1"}, P{"a2", "va2"}, P{"a3", "va3"}});
  CHECK(collect_scan(kv, Column::kEntries, "a", "a2", 10, false).size() == 2);
  CHECK(collect_scan(kv, Column::kEntries, "a", "", 2, false).size() == 2);
  CHECK(collect_scan(kv, Column::kEntries, "b", "", 10, true) == Pairs{P{"b2", "vb2"}, P{"b1", "vb1"}});
  CHECK(collect_scan(kv, Column::kEntries, "a", "a2", 10, true) == Pairs{P{"a2", "va2"}, P{"a1", "va1"}});
  // A start beyond the prefix range still only yields the prefix's keys.
  CHECK(collect_scan(kv, Column::kEntries, "a", "zz", 10, true).front().first == "a3");
  CHECK(collect_scan(kv, Column::kEntries, "", "", 100, true).size() == 6);
  CHECK(collect_scan(kv, Column::kDigest, "", "", 100, false) == Pairs{P{"a2", "other-column"}});
}

TEST_CASE("Overlay layers puts and deletes over the base") {
  MemoryKv kv;
  WriteSet base;
  for (std::string k : {"a1", "a2", "a3", "a4"}) put(base, k, "base");
  kv.apply(base);
  WriteSet w;
  w.erase(Column::kEntries, as_bytes("a2"));
  put(w, "a3", "new");
  put(w, "a0", "new");
  put(w, "a5", "new");
  Overlay view(kv, w);
  auto got = view.get(Column::kEntries, as_bytes("a2"));
  REQUIRE(got.is_ok());
  CHECK_FALSE(got->has_value());
  CHECK(to_string(**view.get(Column::kEntries, as_bytes("a3"))) == "new");
  CHECK(to_string(**view.get(Column::kEntries, as_bytes("a1"))) == "base");

  using P = Pairs::value_type;
  Pairs fwd{P{"a0", "new"}, P{"a1", "base"}, P{"a3", "new"}, P{"a4", "base"}, P{"a5", "new"}};
  CHECK(collect_scan(view, Column::kEntries, "a", "", 100, false) == fwd);
  Pairs rev(fwd.rbegin(), fwd.rend());
  CHECK(collect_scan(view, Column::kEntries, "a", "", 100, true) == rev);
  CHECK(collect_scan(view, Column::kEntries, "a", "a2", 2, false) == Pairs{P{"a3", "new"}, P{"a4", "base"}});
  CHECK(collect_scan(view, Column::kEntries, "a", "a2", 2, true) == Pairs{P{"a1", "base"}, P{"a0", "new"}});
  // A visitor that stops is not called again.
  int calls = 0;
  REQUIRE(view.scan(Column::kEntries, as_bytes("a"), {}, 100, [&](ByteView, ByteView) { return ++calls < 2; }).is_ok());
  CHECK(calls == 2);
}

TEST_CASE("Overlay scans agree with the applied store on random workloads") {
  std::mt19937_64 rng(42);
  for (int round = 0; round < 50; ++round) {
    MemoryKv kv;
    WriteSet base;
    auto key = [&] {
      std::string k(1 + rng() % 3, 'a');
      for (char& ch : k) ch = static_cast<char>('a' + rng() % 3);
      return k;
    };
    for (int i = 0; i < 20; ++i) put(base, key(), "b" + std::to_string(i));
    kv.apply(base);
    WriteSet w;
    for (int i = 0; i < 20; ++i) {
      if (rng() % 3 == 0) {
        w.erase(Column::kEntries, as_bytes(key()));
      } else {
        put(w, key(), "o" + std::to_string(i));
      }
    }
    MemoryKv merged = kv;
    merged.apply(w);
    Overlay view(kv, w);
    for (std::string prefix : {"", "a", "b", "ab", "c"}) {
      std::string start = rng() % 2 ? key() : "";
      size_t limit = 1 + rng() % 10;
      for (bool reverse : {false, true}) {
        CHECK(collect_scan(view, Column::kEntries, prefix, start, limit, reverse) ==
              collect_scan(merged, Column::kEntries, prefix, start, limit, reverse));
      }
    }
  }
}

TEST_CASE("key helpers order numerically and separate strings") {
  CHECK(u64_key(1) < u64_key(256));
  CHECK(u64_key(255).size() == 8);
  Bytes k = string_key("ns/a", 2);
  CHECK(k.size() == 4 + 1 + 8);
  CHECK(k[4] == 0);
  // "ns/a" sorts before "ns/a/b" for every version, so prefix scans do not mix them.
  CHECK(string_key("ns/a", ~0ull) < string_key("ns/a/b", 0));
  CHECK(std::string(column_name(Column::kMerkle)) == "merkle");
  CHECK(std::string(column_name(Column::kRegistry)) == "registry");
}

TEST_CASE("CachingReader remembers meta and registry reads and passes everything else through") {
  MemoryKv kv;
  WriteSet w;
  w.put(Column::kRegistry, as_bytes(std::string_view("params")), as_bytes(std::string_view("v1")));
  w.put(Column::kEntries, u64_key(1), as_bytes(std::string_view("e1")));
  kv.apply(w);
  CachingReader cached(kv);
  REQUIRE(cached.get(Column::kRegistry, as_bytes(std::string_view("params")))->has_value());
  CHECK_FALSE(cached.get(Column::kMeta, as_bytes(std::string_view("head")))->has_value());
  // The base changes behind the cache (a snapshot never would): remembered
  // columns keep their first answer, others read through.
  WriteSet later;
  later.put(Column::kRegistry, as_bytes(std::string_view("params")), as_bytes(std::string_view("v2")));
  later.put(Column::kMeta, as_bytes(std::string_view("head")), as_bytes(std::string_view("h")));
  later.put(Column::kEntries, u64_key(1), as_bytes(std::string_view("e2")));
  kv.apply(later);
  CHECK(to_string(**cached.get(Column::kRegistry, as_bytes(std::string_view("params")))) == "v1");
  CHECK_FALSE(cached.get(Column::kMeta, as_bytes(std::string_view("head")))->has_value());
  CHECK(to_string(**cached.get(Column::kEntries, u64_key(1))) == "e2");
  size_t seen = 0;
  REQUIRE(cached.scan(Column::kRegistry, {}, {}, 10, [&](ByteView, ByteView v) {
    CHECK(to_string(v) == "v2");
    return ++seen > 0;
  }).is_ok());
  CHECK(seen == 1);
}
