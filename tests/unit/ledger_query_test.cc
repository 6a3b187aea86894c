#include <doctest/doctest.h>

#include "crypto/merkle.h"
#include "ledger/query.h"
#include "ledger_test_fixture.h"

using namespace prov;
using namespace prov::ledger;
using namespace prov::ledger::testing;

namespace {

// raw@1 -> clean@1 -> {report@1, model@1}; clean@1 also from codes@1.
void build_lineage(Chain& c) {
  REQUIRE(c.commit({c.sign(c.anchor("stats/raw", "r")), c.sign(c.anchor("stats/codes", "c"))}).is_ok());
  auto clean = c.anchor("stats/clean", "cl");
  Chain::derive(clean, "stats/raw", 1);
  Chain::derive(clean, "stats/codes", 1);
  REQUIRE(c.commit({c.sign(clean)}).is_ok());
  auto report = c.anchor("stats/report", "rep");
  Chain::derive(report, "stats/clean", 1);
  auto model = c.anchor("stats/model", "mod");
  Chain::derive(model, "stats/clean", 0 + 1);
  REQUIRE(c.commit({c.sign(report), c.sign(model)}).is_ok());
}

std::set<std::string> names(const LineageGraph& g) {
  std::set<std::string> out;
  for (const auto& n : g.nodes) out.insert(n.dataset + "@" + std::to_string(n.version));
  return out;
}

}  // namespace

TEST_CASE("dataset history pages forwards and backwards with a cursor") {
  Chain c;
  std::vector<Bytes> txs{c.sign(c.anchor("stats/a", "1"))};
  for (int i = 0; i < 6; ++i) txs.push_back(c.sign(c.access("stats/a", 1)));
  REQUIRE(c.commit({txs[0]}).is_ok());
  REQUIRE(c.commit({txs.begin() + 1, txs.end()}).is_ok());
  REQUIRE(c.commit({c.sign(c.anchor("stats/a", "2")), c.sign(c.anchor("stats/ab", "x"))}).is_ok());

  PageRequest page;
  page.limit = 3;
  std::vector<uint64_t> seen;
  for (int pages = 0; pages < 10; ++pages) {
    auto p = dataset_history(c.kv, "stats/a", page);
    REQUIRE(p.is_ok());
    for (const auto& item : p->items) seen.push_back(item.index);
    if (!p->next_cursor) break;
    page.cursor = p->next_cursor;
  }
  CHECK(seen == std::vector<uint64_t>{0, 1, 2, 3, 4, 5, 6, 7});  // "stats/ab" (index 8) is another dataset
  auto newest = dataset_history(c.kv, "stats/a", PageRequest{std::nullopt, 2, true});
  REQUIRE(newest.is_ok());
  REQUIRE(newest->items.size() == 2);
  CHECK(newest->items[0].index == 7);
  CHECK(newest->items[0].is_anchor);
  CHECK(newest->items[0].version == 2);
  CHECK_FALSE(newest->items[1].is_anchor);
  CHECK(newest->next_cursor == 5u);
  CHECK(dataset_history(c.kv, "stats/a", PageRequest{std::nullopt, 0, false}).status().code() ==
        StatusCode::kInvalidArgument);
  CHECK(dataset_history(c.kv, "stats/a", PageRequest{std::nullopt, kMaxPageLimit + 1, false}).status().code() ==
        StatusCode::kInvalidArgument);

  auto versions = dataset_versions(c.kv, "stats/a", PageRequest{});
  REQUIRE(versions.is_ok());
  REQUIRE(versions->items.size() == 2);
  CHECK(versions->items[1].version == 2);
  CHECK(versions->items[1].index == 7);
  CHECK(versions->items[1].digest == digest_of("2"));
  CHECK(latest_version_of(c.kv, "stats/a")->version == 2);
  CHECK(latest_version_of(c.kv, "stats/none").status().code() == StatusCode::kNotFound);
}

TEST_CASE("entries by digest and by agency") {
  Chain c;
  REQUIRE(c.commit({c.sign(c.anchor("stats/a", "same")), c.sign(c.anchor("stats/b", "same")),
                    c.sign(c.anchor("health/c", "same", 0, "health")), c.sign(c.anchor("stats/d", "other"))})
              .is_ok());
  auto by_digest = entries_by_digest(c.kv, digest_of("same"), PageRequest{});
  REQUIRE(by_digest.is_ok());
  CHECK(by_digest->indexes == std::vector<uint64_t>{0, 1, 2});
  auto by_agency = entries_by_agency(c.kv, "health", PageRequest{});
  REQUIRE(by_agency.is_ok());
  CHECK(by_agency->indexes == std::vector<uint64_t>{2});
  auto paged = entries_by_agency(c.kv, "stats", PageRequest{std::nullopt, 2, false});
  CHECK(paged->indexes == std::vector<uint64_t>{0, 1});
  CHECK(paged->next_cursor == 3u);
}

TEST_CASE("lineage upstream, downstream and both, with bounds") {
  Chain c;
  build_lineage(c);
  LineageRequest up{"stats/report", 0, LineageDirection::kUpstream, 5, 100};
  auto g = lineage(c.kv, up);
  REQUIRE(g.is_ok());
  CHECK(names(*g) == std::set<std::string>{"stats/report@1", "stats/clean@1", "stats/raw@1", "stats/codes@1"});
  CHECK(g->edges.size() == 3);
  CHECK_FALSE(g->truncated);

  LineageRequest down{"stats/raw", 1, LineageDirection::kDownstream, 5, 100};
  g = lineage(c.kv, down);
  REQUIRE(g.is_ok());
  CHECK(names(*g) == std::set<std::string>{"stats/raw@1", "stats/clean@1", "stats/report@1", "stats/model@1"});
  for (const auto& e : g->edges) CHECK(e.parent.dataset != "stats/report");

  LineageRequest both{"stats/clean", 1, LineageDirection::kBoth, 1, 100};
  g = lineage(c.kv, both);
  REQUIRE(g.is_ok());
  CHECK(g->nodes.size() == 5);
  CHECK_FALSE(g->truncated);

  LineageRequest shallow{"stats/report", 1, LineageDirection::kUpstream, 1, 100};
  g = lineage(c.kv, shallow);
  REQUIRE(g.is_ok());
  CHECK(names(*g) == std::set<std::string>{"stats/report@1", "stats/clean@1"});
  CHECK(g->truncated);

  LineageRequest few{"stats/raw", 1, LineageDirection::kDownstream, 5, 2};
  g = lineage(c.kv, few);
  REQUIRE(g.is_ok());
  CHECK(g->nodes.size() == 2);
  CHECK(g->truncated);

  CHECK(lineage(c.kv, LineageRequest{"stats/raw", 1, LineageDirection::kUpstream, kMaxLineageDepth + 1, 10})
            .status()
            .code() == StatusCode::kInvalidArgument);
  CHECK(lineage(c.kv, LineageRequest{"stats/raw", 7, LineageDirection::kUpstream, 3, 10}).status().code() ==
        StatusCode::kNotFound);
}

TEST_CASE("inclusion and consistency proofs from the stored log verify") {
  Chain c;
  for (int b = 0; b < 5; ++b) {
    std::vector<Bytes> txs;
    for (int i = 0; i < 3; ++i) txs.push_back(c.sign(c.anchor("stats/p" + std::to_string(i), "x")));
    REQUIRE(c.commit(txs).is_ok());
  }
  uint64_t n = read_head(c.kv)->log_size;
  REQUIRE(n == 15);
  for (uint64_t size = 1; size <= n; ++size) {
    for (uint64_t i = 0; i < size; ++i) {
      auto p = inclusion_proof(c.kv, i, size);
      REQUIRE(p.is_ok());
      CHECK(crypto::merkle::verify_inclusion(p->leaf_hash, i, size, p->path, p->root).is_ok());
      CHECK(p->leaf_hash == crypto::merkle::hash_leaf(entry_by_index(c.kv, i)->bytes));
    }
    for (uint64_t old_size = 1; old_size <= size; ++old_size) {
      auto p = consistency_proof(c.kv, old_size, size);
      REQUIRE(p.is_ok());
      CHECK(crypto::merkle::verify_consistency(old_size, size, p->old_root, p->new_root, p->path).is_ok());
    }
  }
  auto head_proof = inclusion_proof(c.kv, 3, 0);
  REQUIRE(head_proof.is_ok());
  CHECK(head_proof->tree_size == n);
  CHECK(head_proof->root == read_head(c.kv)->log_root);
  CHECK(inclusion_proof(c.kv, 3, n + 1).status().code() == StatusCode::kInvalidArgument);
  CHECK(inclusion_proof(c.kv, 5, 5).status().code() == StatusCode::kInvalidArgument);
  CHECK(consistency_proof(c.kv, 0, 5).status().code() == StatusCode::kInvalidArgument);
  CHECK(consistency_proof(c.kv, 6, 5).status().code() == StatusCode::kInvalidArgument);
  auto tampered = inclusion_proof(c.kv, 2, n);
  tampered->path[0].bytes[0] ^= 1;
  CHECK_FALSE(crypto::merkle::verify_inclusion(tampered->leaf_hash, 2, n, tampered->path, tampered->root).is_ok());
}

TEST_CASE("blocks by height") {
  Chain c;
  auto applied = c.commit({c.sign(c.anchor("stats/a", "1"))});
  REQUIRE(applied.is_ok());
  auto b = block_by_height(c.kv, 1);
  REQUIRE(b.is_ok());
  CHECK(b->block_hash == applied->block_hash);
  CHECK(b->header.height() == 1);
  CHECK(b->block_bytes == applied->block_bytes);
  CHECK(read_head(c.kv)->block_hash == applied->block_hash);
  CHECK(block_by_height(c.kv, 2).status().code() == StatusCode::kNotFound);
  auto second = c.commit({});
  REQUIRE(second.is_ok());
  CHECK(second->header.parent_hash() == to_string(applied->block_hash));
}
