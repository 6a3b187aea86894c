#include <doctest/doctest.h>

#include <map>

#include "crypto/merkle.h"
#include "ledger/merkle_log.h"
#include "ledger/query.h"
#include "ledger/sig_cache.h"
#include "ledger_test_fixture.h"

using namespace prov;
using namespace prov::ledger;
using namespace prov::ledger::testing;

namespace {

uint64_t anchored_version(const MemoryKv& kv, uint64_t index) {
  auto e = entry_by_index(kv, index);
  REQUIRE(e.is_ok());
  REQUIRE(e->entry.links_size() == 1);
  return e->entry.links(0).version();
}

// Rebuilds a block with a modified header, keeping its transactions.
Bytes with_header(const AppliedBlock& b, const std::function<void(v1::BlockHeader&)>& edit) {
  v1::BlockHeader h = b.header;
  edit(h);
  v1::Block block;
  REQUIRE(block.ParseFromArray(b.block_bytes.data(), static_cast<int>(b.block_bytes.size())));
  block.set_header(to_string(serialize(h)));
  return serialize(block);
}

}  // namespace

TEST_CASE("genesis installs the head at height 0") {
  Chain c;
  auto head = read_head(c.kv);
  REQUIRE(head.is_ok());
  CHECK(head->chain_id == Chain::kChainId);
  CHECK(head->height == 0);
  CHECK(head->log_size == 0);
  CHECK(head->block_hash.is_zero());
  CHECK(head->log_root == crypto::merkle::empty_root());
  CHECK(head->validator_set_hash == validator_set_hash(c.genesis().validators()));
  MemoryKv empty;
  CHECK(read_head(empty).status().code() == StatusCode::kNotFound);
  v1::Genesis dup = c.genesis();
  *dup.add_agencies() = Chain::agency("stats2", {"writer"}, c.stats);  // same key twice
  CHECK_FALSE(apply_genesis(dup).is_ok());
}

TEST_CASE("validator_set_hash covers order, names and keys") {
  Chain c;
  v1::Genesis g = c.genesis();
  Hash256 h = validator_set_hash(g.validators());
  v1::Genesis swapped = g;
  swapped.mutable_validators()->SwapElements(0, 1);
  CHECK(validator_set_hash(swapped.validators()) != h);
  v1::Genesis renamed = g;
  renamed.mutable_validators(0)->set_name("other");
  CHECK(validator_set_hash(renamed.validators()) != h);
  v1::Genesis moved = g;
  moved.mutable_validators(0)->set_address("10.0.0.1:1");
  CHECK(validator_set_hash(moved.validators()) == h);
}

TEST_CASE("anchor versions: auto-assigned, explicit above latest, links to the previous entry") {
  Chain c;
  REQUIRE(c.commit({c.sign(c.anchor("stats/a", "1")), c.sign(c.anchor("stats/a", "2"))}).is_ok());
  CHECK(anchored_version(c.kv, 0) == 1);
  CHECK(anchored_version(c.kv, 1) == 2);
  REQUIRE(c.commit({c.sign(c.anchor("stats/a", "5", 5)), c.sign(c.anchor("stats/a", "6"))}).is_ok());
  CHECK(anchored_version(c.kv, 2) == 5);
  CHECK(anchored_version(c.kv, 3) == 6);
  REQUIRE(c.commit({c.sign(c.access("stats/a", 5))}).is_ok());
  auto e = entry_by_index(c.kv, 4);
  REQUIRE(e.is_ok());
  CHECK(e->entry.height() == 3);
  CHECK(e->entry.links(0).has_prev());
  CHECK(e->entry.links(0).prev_index() == 3);
  auto first = entry_by_index(c.kv, 0);
  CHECK_FALSE(first->entry.links(0).has_prev());
  // Entries hold the transaction bytes exactly as signed.
  Bytes tx = c.sign(c.anchor("stats/b", "x"));
  REQUIRE(c.commit({tx}).is_ok());
  CHECK(to_bytes(entry_by_index(c.kv, 5)->entry.tx()) == tx);
  CHECK(entry_by_tx_hash(c.kv, crypto::sha256(tx))->entry.index() == 5);
}

TEST_CASE("applying the same block to the same state gives byte-identical writes") {
  Chain c;
  REQUIRE(c.commit({c.sign(c.anchor("stats/a", "1"))}).is_ok());
  auto b = c.anchor("stats/b", "2");
  Chain::derive(b, "stats/a", 1);
  auto built = build_block(c.kv, c.next_template(), {c.sign(b), c.sign(c.access("stats/a", 1))});
  REQUIRE(built.is_ok());
  auto one = apply_block(c.kv, built->block_bytes);
  auto two = apply_block(c.kv, built->block_bytes);
  REQUIRE(one.is_ok());
  REQUIRE(two.is_ok());
  auto same = [](const WriteSet& x, const WriteSet& y) {
    if (x.ops().size() != y.ops().size()) return false;
    for (size_t i = 0; i < x.ops().size(); ++i) {
      const auto &p = x.ops()[i], &q = y.ops()[i];
      auto bytes = [](std::optional<ByteView> v) { return v ? std::optional<std::string>(to_string(*v)) : std::nullopt; };
      if (p.column != q.column || to_string(p.key) != to_string(q.key) || bytes(p.value) != bytes(q.value)) return false;
    }
    return true;
  };
  CHECK(same(one->writes, two->writes));
  CHECK(same(one->writes, built->writes));
  CHECK(one->block_hash == built->block_hash);
  CHECK(one->writes.ops().size() > 10);
}

TEST_CASE("blocks with a wrong header are rejected") {
  Chain c;
  REQUIRE(c.commit({c.sign(c.anchor("stats/a", "1"))}).is_ok());
  auto built = build_block(c.kv, c.next_template(), {c.sign(c.anchor("stats/a", "2"))});
  REQUIRE(built.is_ok());
  auto expect = [&](const Bytes& block, StatusCode code) {
    auto r = apply_block(c.kv, block);
    REQUIRE_FALSE(r.is_ok());
    CHECK(r.status().code() == code);
  };
  expect(with_header(*built, [](auto& h) { h.mutable_log_root()->at(0) ^= 1; }), StatusCode::kVerificationFailed);
  expect(with_header(*built, [](auto& h) { h.set_log_size(h.log_size() + 1); }), StatusCode::kVerificationFailed);
  expect(with_header(*built, [](auto& h) { h.mutable_parent_hash()->at(0) ^= 1; }), StatusCode::kVerificationFailed);
  expect(with_header(*built, [](auto& h) { h.mutable_payload_hash()->at(0) ^= 1; }), StatusCode::kVerificationFailed);
  expect(with_header(*built, [](auto& h) { h.set_height(5); }), StatusCode::kInvalidArgument);
  expect(with_header(*built, [](auto& h) { h.set_chain_id("x"); }), StatusCode::kInvalidArgument);
  expect(with_header(*built, [](auto& h) { h.set_epoch(1); }), StatusCode::kInvalidArgument);
  expect(with_header(*built, [](auto& h) { h.set_time_ms(1); }), StatusCode::kInvalidArgument);
  expect(with_header(*built, [&](auto& h) { h.set_proposer(to_string(c.stats.public_key())); }),
         StatusCode::kPermissionDenied);
  expect(Bytes{0x0a, 0x01}, StatusCode::kInvalidArgument);
  CHECK(apply_block(c.kv, built->block_bytes).is_ok());
}

TEST_CASE("a block with a duplicate transaction is rejected") {
  Chain c;
  Bytes tx = c.sign(c.anchor("stats/a", "1"));
  auto both = build_block(c.kv, c.next_template(), {tx, tx});
  REQUIRE_FALSE(both.is_ok());
  CHECK(both.status().code() == StatusCode::kAlreadyExists);
  CHECK(both.status().message().find("tx 1: duplicate") != std::string::npos);
  // A proposer filtering its mempool drops the copy instead.
  std::vector<std::pair<size_t, Rejected>> dropped;
  auto filtered = build_block_filtered(c.kv, c.next_template(), {tx, tx}, &dropped);
  REQUIRE(filtered.is_ok());
  CHECK(filtered->header.log_size() == 1);
  REQUIRE(dropped.size() == 1);
  CHECK(dropped[0].first == 1);
  CHECK(dropped[0].second.reason == Rejection::kDuplicate);
  // Forged into a block anyway, followers reject it.
  v1::Block forged;
  forged.ParseFromArray(filtered->block_bytes.data(), static_cast<int>(filtered->block_bytes.size()));
  forged.add_txs(to_string(tx));
  CHECK(apply_block(c.kv, serialize(forged)).status().code() == StatusCode::kAlreadyExists);
}

TEST_CASE("block bounds come from the consensus parameters") {
  Chain c;
  v1::GovernanceAction act;
  act.set_version(1);
  act.mutable_set_params()->set_max_block_txs(2);
  REQUIRE(c.commit({c.sign(c.governance(act, 3))}).is_ok());
  CHECK(consensus_params(c.kv)->max_block_txs() == 2);
  auto r = build_block(c.kv, c.next_template(),
                       {c.sign(c.anchor("stats/a", "1")), c.sign(c.anchor("stats/b", "1")),
                        c.sign(c.anchor("stats/c", "1"))});
  CHECK(r.status().code() == StatusCode::kResourceExhausted);
}

TEST_CASE("the stored log agrees with an in-memory RFC 9162 tree") {
  Chain c;
  crypto::merkle::MemoryTree tree;
  for (int block = 0; block < 7; ++block) {
    std::vector<Bytes> txs;
    for (int i = 0; i <= block % 4; ++i) txs.push_back(c.sign(c.anchor("stats/d" + std::to_string(i), "v")));
    auto applied = c.commit(txs);
    REQUIRE(applied.is_ok());
    for (uint64_t i = tree.size(); i < applied->header.log_size(); ++i) tree.append(entry_by_index(c.kv, i)->bytes);
    CHECK(Hash256::from(as_bytes(applied->header.log_root())) == tree.root());
  }
  for (uint64_t size = 0; size <= tree.size(); ++size) {
    auto root = log_root(c.kv, size);
    REQUIRE(root.is_ok());
    CHECK(*root == tree.root_at(size));
  }
  // Every inclusion and consistency proof checks against the in-memory
  // tree's roots: leaves are read as their entries' hashes (they are not
  // stored), inner nodes from the merkle column.
  for (uint64_t size = 1; size <= tree.size(); ++size) {
    for (uint64_t index = 0; index < size; ++index) {
      auto path = log_inclusion_proof(c.kv, index, size);
      REQUIRE(path.is_ok());
      Hash256 leaf = crypto::merkle::hash_leaf(entry_by_index(c.kv, index)->bytes);
      CHECK(crypto::merkle::verify_inclusion(leaf, index, size, *path, tree.root_at(size)).is_ok());
    }
    for (uint64_t old_size = 1; old_size <= size; ++old_size) {
      auto proof = log_consistency_proof(c.kv, old_size, size);
      REQUIRE(proof.is_ok());
      CHECK(crypto::merkle::verify_consistency(old_size, size, tree.root_at(old_size), tree.root_at(size), *proof)
                .is_ok());
    }
  }
  // Empty blocks are fine and keep the log unchanged.
  auto empty = c.commit({});
  REQUIRE(empty.is_ok());
  CHECK(empty->header.log_size() == tree.size());
  CHECK(empty->header.payload_hash() == to_string(crypto::merkle::empty_root()));
}

TEST_CASE("validator changes wait for the next epoch") {
  Chain c;
  crypto::KeyPair v5 = key_from(5);
  v1::GovernanceAction act;
  act.set_version(1);
  act.mutable_add_validator()->set_name("validator-5");
  act.mutable_add_validator()->set_pub_key(to_string(v5.public_key()));
  act.mutable_add_validator()->set_address("127.0.0.1:7105");
  REQUIRE(c.commit({c.sign(c.governance(act, 3))}).is_ok());
  CHECK(current_validators(c.kv)->validators_size() == 4);
  auto pending = pending_validators(c.kv);
  REQUIRE(pending.is_ok());
  REQUIRE(pending->has_value());
  CHECK((*pending)->validators_size() == 5);
  Hash256 old_hash = read_head(c.kv)->validator_set_hash;

  // The same epoch keeps the old set; the next epoch installs the pending one.
  REQUIRE(c.commit({}).is_ok());
  CHECK(read_head(c.kv)->validator_set_hash == old_hash);
  c.epoch = 1;
  auto next = c.commit({});
  REQUIRE(next.is_ok());
  CHECK(next->header.epoch() == 1);
  CHECK(current_validators(c.kv)->validators_size() == 5);
  CHECK_FALSE(pending_validators(c.kv)->has_value());
  CHECK(read_head(c.kv)->validator_set_hash != old_hash);
  // Without a pending set the epoch can not advance again.
  c.epoch = 2;
  CHECK_FALSE(build_block(c.kv, c.next_template(), {}).is_ok());
  // Now q = ⌊10/3⌋ + 1 = 4 approvals are needed.
  v1::GovernanceAction roles;
  roles.set_version(1);
  roles.mutable_set_roles()->set_agency("audit");
  roles.mutable_set_roles()->add_roles("auditor");
  c.epoch = 1;
  CHECK(c.rejection_of(c.sign(c.governance(roles, 3))) == Rejection::kQuorumNotMet);
  CHECK(check_transaction(c.kv, c.sign(c.governance(roles, 4))).is_ok());
}

TEST_CASE("dataset heads track the latest version and the newest event, in one block and across blocks") {
  Chain c;
  // One block: v1 (auto), an access, v5 (explicit gap), v6 (auto, after v5 in the same block).
  auto b1 = c.commit({c.sign(c.anchor("stats/h", "a")), c.sign(c.access("stats/h")),
                      c.sign(c.anchor("stats/h", "b", 5)), c.sign(c.anchor("stats/h", "c"))});
  REQUIRE(b1.is_ok());
  CHECK(anchored_version(c.kv, 0) == 1);
  CHECK(anchored_version(c.kv, 2) == 5);
  CHECK(anchored_version(c.kv, 3) == 6);
  auto e3 = entry_by_index(c.kv, 3);
  REQUIRE(e3.is_ok());
  CHECK(e3->entry.links(0).has_prev());
  CHECK(e3->entry.links(0).prev_index() == 2);
  // Next block: an access first, then an anchor whose link points at that access.
  REQUIRE(c.commit({c.sign(c.access("stats/h")), c.sign(c.anchor("stats/h", "d"))}).is_ok());
  CHECK(anchored_version(c.kv, 5) == 7);
  auto e5 = entry_by_index(c.kv, 5);
  REQUIRE(e5.is_ok());
  CHECK(e5->entry.links(0).prev_index() == 4);
  CHECK(latest_version_of(c.kv, "stats/h")->version == 7);
  // Not above the head: a conflict; an untouched dataset starts at 1 with no previous event.
  CHECK(c.rejection_of(c.sign(c.anchor("stats/h", "e", 7))) == Rejection::kVersionConflict);
  REQUIRE(c.commit({c.sign(c.anchor("stats/other", "x"))}).is_ok());
  auto e6 = entry_by_index(c.kv, 6);
  REQUIRE(e6.is_ok());
  CHECK(e6->entry.links(0).version() == 1);
  CHECK_FALSE(e6->entry.links(0).has_prev());
}

TEST_CASE("a store written with another state format is refused, not misread") {
  Chain c;
  CHECK(check_state_format(c.kv).is_ok());
  MemoryKv empty;
  CHECK(check_state_format(empty).is_ok());  // nothing installed yet
  WriteSet old;
  old.erase(Column::kMeta, as_bytes(kMetaStateFormat));  // a format-1 store had no marker
  c.kv.apply(old);
  Status st = check_state_format(c.kv);
  CHECK(st.code() == StatusCode::kInvalidArgument);
  CHECK(st.message().find("state format is 1") != std::string::npos);
}

TEST_CASE("execution takes transactions decoded at admission only for the very same bytes") {
  Chain c;
  REQUIRE(c.commit({c.sign(c.anchor("stats/a", "1"))}).is_ok());
  std::vector<Bytes> txs = {c.sign(c.anchor("stats/b", "2")), c.sign(c.access("stats/a", 1))};
  const BlockTemplate tmpl = c.next_template();
  auto plain = build_block(c.kv, tmpl, txs);
  REQUIRE(plain.is_ok());

  // What admission decoded, by transaction hash; each lookup is counted.
  std::map<Hash256, DecodedTx> admitted;
  for (const Bytes& tx : txs) {
    auto d = check_transaction(c.kv, tx);
    REQUIRE(d.is_ok());
    CHECK(d->signature_verified);  // admission verified it; decoding alone never says so
    auto decoded_only = decode_transaction(tx, 1 << 16);
    REQUIRE(decoded_only.is_ok());
    CHECK_FALSE(decoded_only->signature_verified);
    admitted.emplace(d->tx_hash, std::move(d).value());
  }
  size_t found = 0;
  const DecodedLookup lookup = [&](const Hash256& h) -> const DecodedTx* {
    auto it = admitted.find(h);
    if (it == admitted.end()) return nullptr;
    ++found;
    return &it->second;
  };
  auto with = build_block_filtered(c.kv, tmpl, txs, nullptr, &lookup);
  REQUIRE(with.is_ok());
  CHECK(found == txs.size());
  CHECK(with->block_bytes == plain->block_bytes);
  // Taken from admission, their signatures are not looked up again.
  auto memo_lookups = [] {
    const SigCacheStats st = sig_cache_stats();
    return st.hits + st.misses + st.waits + st.overtakes;
  };
  const size_t memo_before = memo_lookups();
  auto applied = apply_block(c.kv, plain->block_bytes, &lookup);
  REQUIRE(applied.is_ok());
  CHECK(applied->block_hash == plain->block_hash);
  CHECK(found == 2 * txs.size());
  CHECK(memo_lookups() == memo_before);

  // A lookup answering with another transaction under a block
  // transaction's hash (a bug, or a collision) is not believed: the bytes are
  // compared and the block's own transaction is decoded and executed.
  auto other = check_transaction(c.kv, c.sign(c.anchor("stats/z", "other")));
  REQUIRE(other.is_ok());
  for (auto& [hash, d] : admitted) d = other.value();
  found = 0;
  const size_t memo_misled = memo_lookups();
  auto misled = apply_block(c.kv, plain->block_bytes, &lookup);
  REQUIRE(misled.is_ok());
  // Decoded afresh, so each signature goes through the memo once more.
  CHECK(memo_lookups() == memo_misled + txs.size());
  CHECK(found == txs.size());
  CHECK(misled->block_hash == plain->block_hash);
  CHECK(misled->header.log_root() == plain->header.log_root());
}

TEST_CASE("a stored block is its header and count: the block is rebuilt from its entries, byte for byte") {
  Chain c;
  auto first = c.commit({c.sign(c.anchor("stats/a", "1")), c.sign(c.anchor("stats/b", "2")),
                         c.sign(c.access("stats/a"))});
  REQUIRE(first.is_ok());
  auto empty = c.commit({});
  REQUIRE(empty.is_ok());
  // A proposer's filtered block keeps only what it included.
  Bytes dup = c.sign(c.anchor("stats/c", "3"));
  std::vector<std::pair<size_t, Rejected>> dropped;
  auto filtered = build_block_filtered(c.kv, c.next_template(), {dup, dup}, &dropped);
  REQUIRE(filtered.is_ok());
  REQUIRE(dropped.size() == 1);
  c.kv.apply(filtered->writes);

  for (const AppliedBlock* b : {&first.value(), &empty.value(), &filtered.value()}) {
    const uint64_t h = b->header.height();
    auto stored = read_stored_block(c.kv, h);
    REQUIRE(stored.is_ok());
    REQUIRE(stored->has_value());
    CHECK((*stored)->header_bytes == b->header_bytes);
    CHECK((*stored)->tx_count == b->tx_hashes.size());
    auto rebuilt = read_block(c.kv, h);
    REQUIRE(rebuilt.is_ok());
    REQUIRE(rebuilt->has_value());
    CHECK(**rebuilt == b->block_bytes);
    // Not the whole block again: the header and a count.
    auto raw = c.kv.get(Column::kBlocks, u64_key(h));
    REQUIRE(raw.is_ok());
    CHECK((*raw)->size() < b->header_bytes.size() + 16);
  }
  CHECK(first->tx_hashes.size() == 3);
  CHECK(read_block(c.kv, 99).value() == std::nullopt);

  // A missing entry is corruption, never a shorter block.
  WriteSet lose;
  lose.erase(Column::kEntries, u64_key(1));
  c.kv.apply(lose);
  auto broken = read_block(c.kv, first->header.height());
  CHECK(broken.status().code() == StatusCode::kCorruption);
  CHECK(read_block(c.kv, empty->header.height()).is_ok());  // holds no entries
}
