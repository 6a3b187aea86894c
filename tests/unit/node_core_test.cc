#include <doctest/doctest.h>

#include <chrono>
#include <sstream>

#include "crypto/encoding.h"
#include "crypto/sha256.h"
#include "node/checkpoints.h"
#include "node/config.h"
#include "node/latency.h"
#include "node/mempool.h"
#include "node/node.h"
#include "store_test_dir.h"

using namespace prov;
using namespace prov::node;

TEST_CASE("config: defaults, values, and errors that name the line") {
  auto c = parse_config("# comment\n p2p_listen = 127.0.0.1:7102\napi_listen=0.0.0.0:7002\nmempool_max_txs = 10\n"
                        "data_dir = /var/lib/provd\n",
                        "/etc/provd");
  REQUIRE(c.is_ok());
  CHECK(c->p2p.port == 7102);
  CHECK(c->api.host == "0.0.0.0");
  CHECK(c->mempool_max_txs == 10);
  CHECK(c->data_dir == "/var/lib/provd");
  CHECK(c->node_key == "/etc/provd/node.key");
  CHECK(c->genesis == "/etc/provd/genesis.json");
  CHECK(c->min_block_interval_ms == 15);
  auto paced = parse_config("min_block_interval_ms = 0\n", ".");
  REQUIRE(paced.is_ok());
  CHECK(paced->min_block_interval_ms == 0);
  CHECK_FALSE(parse_config("min_block_interval_ms = 20000\n", ".").is_ok());
  CHECK(c->direct_io);
  auto buffered = parse_config("direct_io = false\n", ".");
  REQUIRE(buffered.is_ok());
  CHECK_FALSE(buffered->direct_io);
  auto bad_bool = parse_config("direct_io = yes\n", ".");
  REQUIRE_FALSE(bad_bool.is_ok());
  CHECK(bad_bool.status().message().find("direct_io must be true or false") != std::string::npos);

  auto unknown = parse_config("colour = blue\n", ".");
  REQUIRE_FALSE(unknown.is_ok());
  CHECK(unknown.status().message().find("line 1") != std::string::npos);
  CHECK_FALSE(parse_config("p2p_listen = nowhere\n", ".").is_ok());
  CHECK_FALSE(parse_config("p2p_listen = 127.0.0.1:70000\n", ".").is_ok());
  CHECK_FALSE(parse_config("mempool_max_txs = -3\n", ".").is_ok());
  CHECK_FALSE(parse_config("mempool_max_txs\n", ".").is_ok());
  CHECK_FALSE(parse_config("log_level = loud\n", ".").is_ok());
  CHECK_FALSE(parse_config(std::string(70000, '#'), ".").is_ok());
  auto trailing = parse_config("# fine\ndata_dir = data # the old one\n", ".");
  REQUIRE_FALSE(trailing.is_ok());
  CHECK(trailing.status().message().find("line 2") != std::string::npos);
  CHECK(trailing.status().message().find("comment") != std::string::npos);
  auto hash_in_name = parse_config("data_dir = data#2\n", "/srv");
  REQUIRE(hash_in_name.is_ok());
  CHECK(hash_in_name->data_dir == "/srv/data#2");
  auto two_sources = parse_config("passphrase_file = pw\npassphrase_env = PW\n", ".");
  REQUIRE_FALSE(two_sources.is_ok());
  CHECK(two_sources.status().message().find("both") != std::string::npos);
  CHECK_FALSE(load_config("/nonexistent/provd.conf").is_ok());
}

TEST_CASE("mempool: bounded, deduplicated, oldest first, in-flight marks expire") {
  Mempool pool(3, 1000, 100);
  auto tx = [](int i) { return to_bytes("tx-" + std::to_string(i)); };
  auto h = [&](int i) { return crypto::sha256(tx(i)); };
  CHECK(pool.add(h(1), tx(1)) == Mempool::Added::kAdded);
  CHECK(pool.add(h(1), tx(1)) == Mempool::Added::kDuplicate);
  CHECK(pool.add(h(2), tx(2)) == Mempool::Added::kAdded);
  CHECK(pool.add(h(3), tx(3)) == Mempool::Added::kAdded);
  CHECK(pool.add(h(4), tx(4)) == Mempool::Added::kFull);
  CHECK(pool.pull(2, 1000) == std::vector<Bytes>{tx(1), tx(2)});
  pool.set_now(10);
  pool.mark_in_flight(h(1), 10);
  CHECK(pool.pull(2, 1000) == std::vector<Bytes>{tx(2), tx(3)});
  pool.set_now(200);  // the mark expired: offered again
  CHECK(pool.pull(1, 1000) == std::vector<Bytes>{tx(1)});
  CHECK(pool.remove(h(1)) == nullptr);  // added without a decoded form
  CHECK(pool.size() == 2);
  CHECK(pool.remove(h(1)) == nullptr);  // absent: nothing happens
  CHECK(pool.size() == 2);
  CHECK(pool.add(h(4), tx(4)) == Mempool::Added::kAdded);
  CHECK(pool.pull(10, 7) == std::vector<Bytes>{tx(2)});  // byte bound: 4 + 4 > 7
  Mempool small(10, 10);
  CHECK(small.add(h(5), Bytes(11, 1)) == Mempool::Added::kFull);

  // A decoded transaction leaves with its decoded form, for the caller to free.
  auto decoded = std::make_unique<ledger::DecodedTx>();
  decoded->bytes = tx(6);
  decoded->tx_hash = h(6);
  const ledger::DecodedTx* kept = decoded.get();
  CHECK(small.add(std::move(decoded)) == Mempool::Added::kAdded);
  CHECK(small.decoded(h(6)) == kept);
  CHECK(small.bytes() == tx(6).size());
  uint64_t added_ms = 7;
  auto released = small.remove(h(6), &added_ms);
  CHECK(released.get() == kept);
  CHECK(added_ms == 0);  // when it entered the pool, by the set_now() clock (never set here)
  CHECK(small.size() == 0);
  CHECK(small.bytes() == 0);
  CHECK(small.decoded(h(6)) == nullptr);
}

TEST_CASE("latency histogram: cumulative Prometheus buckets, sum and count") {
  LatencyHistogram hist;
  using std::chrono::milliseconds;
  hist.observe(milliseconds(3));      // <= 0.005
  hist.observe(std::chrono::microseconds(900));  // <= 0.001
  hist.observe(milliseconds(5));      // <= 0.005 (bounds are inclusive)
  hist.observe(milliseconds(70));     // <= 0.1
  hist.observe(milliseconds(20000));  // above every bound
  hist.observe(-milliseconds(1));     // a clock oddity counts as zero
  std::ostringstream out;
  hist.render(out, "x_seconds", "Test.");
  std::string text = out.str();
  CHECK(text.find("# TYPE x_seconds histogram\n") != std::string::npos);
  CHECK(text.find("x_seconds_bucket{le=\"0.001\"} 2\n") != std::string::npos);
  CHECK(text.find("x_seconds_bucket{le=\"0.0025\"} 2\n") != std::string::npos);
  CHECK(text.find("x_seconds_bucket{le=\"0.005\"} 4\n") != std::string::npos);
  CHECK(text.find("x_seconds_bucket{le=\"0.05\"} 4\n") != std::string::npos);
  CHECK(text.find("x_seconds_bucket{le=\"0.1\"} 5\n") != std::string::npos);
  CHECK(text.find("x_seconds_bucket{le=\"10\"} 5\n") != std::string::npos);
  CHECK(text.find("x_seconds_bucket{le=\"+Inf\"} 6\n") != std::string::npos);
  CHECK(text.find("x_seconds_count 6\n") != std::string::npos);
  CHECK(text.find("x_seconds_sum 20.078900000\n") != std::string::npos);
  // Sums keep nanosecond resolution however long the node has run.
  CHECK(format_seconds(123456789012345678u) == "123456789.012345678");
  CHECK(format_seconds(5) == "0.000000005");
}

namespace {

crypto::KeyPair key(uint8_t n) {
  Seed s;
  s.bytes.fill(n);
  return crypto::KeyPair::from_seed(s);
}

}  // namespace

TEST_CASE("checkpoints: served once q validators signed a head we applied, never shrinking") {
  std::vector<crypto::KeyPair> keys{key(1), key(2), key(3), key(4)};
  std::vector<Checkpoints::Member> members;
  for (size_t i = 0; i < keys.size(); ++i) members.push_back({"validator-" + std::to_string(i + 1), keys[i].public_key()});
  std::vector<Checkpoints> cps;
  for (auto& k : keys) {
    auto c = Checkpoints::create("test-chain", members, k);
    REQUIRE(c.is_ok());
    cps.push_back(std::move(*c));
  }
  Hash256 root = crypto::sha256(as_bytes("root-5"));
  std::vector<node::v1::CheckpointSignature> sigs;
  for (auto& c : cps) {
    auto s = c.on_durable_head(5, root);
    REQUIRE(s.has_value());
    sigs.push_back(*s);
  }
  CHECK_FALSE(cps[0].note().has_value());  // only its own signature so far
  REQUIRE(cps[0].add(sigs[1]).is_ok());
  CHECK_FALSE(cps[0].note().has_value());  // 2 < q = 3
  REQUIRE(cps[0].add(sigs[2]).is_ok());
  REQUIRE(cps[0].note().has_value());
  CHECK(cps[0].served_size() == 5);

  // The served note verifies with any C2SP verifier given the validators' keys.
  std::vector<crypto::note::NoteVerifier> verifiers;
  for (auto& m : members) verifiers.push_back(*crypto::note::NoteVerifier::create(m.name, m.key));
  auto count = crypto::note::count_valid_signatures(*cps[0].note(), verifiers);
  REQUIRE(count.is_ok());
  CHECK(*count == 3);
  CHECK(cps[0].note()->rfind("test-chain\n5\n" + crypto::base64_encode(root) + "\n\n", 0) == 0);

  SUBCASE("a kept note is served again after a restart only if it is a quorum's checkpoint of our head") {
    const std::string kept = *cps[0].note();
    auto fresh = [&] { return std::move(*Checkpoints::create("test-chain", members, keys[0])); };
    Checkpoints restarted = fresh();
    REQUIRE(restarted.restore(kept, 5, root).is_ok());
    CHECK(restarted.served_size() == 5);
    CHECK(*restarted.note() == kept);
    // Never below what it serves: a smaller kept note changes nothing.
    CHECK(restarted.restore(kept, 5, root).is_ok());
    CHECK(restarted.served_size() == 5);

    Checkpoints other_root = fresh();
    CHECK(other_root.restore(kept, 5, crypto::sha256(as_bytes("not ours"))).code() == StatusCode::kVerificationFailed);
    CHECK_FALSE(other_root.note().has_value());
    Checkpoints other_size = fresh();
    CHECK_FALSE(other_size.restore(kept, 6, root).is_ok());
    // Too few signatures: the note with its first signature line only.
    std::string one_line = kept.substr(0, kept.find("\n", kept.find("\n\n") + 2) + 1);
    Checkpoints few = fresh();
    auto why = few.restore(one_line, 5, root);
    REQUIRE_FALSE(why.is_ok());
    CHECK(why.message().find("fewer than the quorum") != std::string::npos);
    // A flipped signature byte fails the whole note.
    std::string tampered = kept;
    size_t sig_at = tampered.size() - 5;  // inside the last line's base64 (key id ‖ signature)
    tampered[sig_at] = tampered[sig_at] == 'A' ? 'B' : 'A';
    Checkpoints forged = fresh();
    auto bad = forged.restore(tampered, 5, root);
    REQUIRE_FALSE(bad.is_ok());
    CHECK(bad.message().find("fewer than the quorum") == std::string::npos);  // refused for the bad line itself
    CHECK_FALSE(forged.note().has_value());
    CHECK_FALSE(fresh().restore("garbage", 5, root).is_ok());
    // Another chain's checkpoint is not ours.
    auto elsewhere = Checkpoints::create("other-chain", members, keys[0]);
    CHECK_FALSE(elsewhere->restore(kept, 5, root).is_ok());
  }
  SUBCASE("forged and foreign signatures are refused") {
    node::v1::CheckpointSignature forged = sigs[3];
    forged.set_size(6);
    // Beyond our head: held unchecked, then found bad once our head is there.
    CHECK(cps[0].add(forged).is_ok());
    CHECK(cps[0].bad_signatures() == 0);
    cps[0].on_durable_head(6, root);
    CHECK(cps[0].bad_signatures() == 1);
    CHECK(cps[0].served_size() == 5);
    // At a head we have, checked at once.
    node::v1::CheckpointSignature forged_now = sigs[3];
    forged_now.set_size(6);
    CHECK_FALSE(cps[0].add(forged_now).is_ok());
    CHECK(cps[0].served_size() == 5);
    auto outsider = Checkpoints::create("test-chain", {{"outsider", key(9).public_key()}}, key(9));
    auto foreign = outsider->on_durable_head(7, root);
    REQUIRE(foreign.has_value());
    CHECK_FALSE(cps[0].add(*foreign).is_ok());
    node::v1::CheckpointSignature truncated = sigs[3];
    truncated.set_signature("short");
    CHECK_FALSE(cps[0].add(truncated).is_ok());
  }
  SUBCASE("two roots for one size are evidence, and neither is served") {
    Hash256 other = crypto::sha256(as_bytes("other"));
    Checkpoints& c = cps[1];
    auto mine = c.on_durable_head(9, root);
    for (size_t i = 2; i < 4; ++i) REQUIRE(c.add(*cps[i].on_durable_head(9, root)).is_ok());
    CHECK(c.served_size() == 9);
    REQUIRE(c.add(*cps[0].on_durable_head(12, other)).is_ok());
    REQUIRE(c.add(*cps[2].on_durable_head(12, root)).is_ok());
    CHECK(c.equivocations() == 0);  // held unchecked: c's head is not at 12 yet
    c.on_durable_head(12, root);
    CHECK(c.equivocations() == 1);
    CHECK(c.served_size() == 9);
    // Two roots held for a size our head jumped past are checked too.
    REQUIRE(c.add(*cps[0].on_durable_head(14, other)).is_ok());
    REQUIRE(c.add(*cps[2].on_durable_head(14, root)).is_ok());
    c.on_durable_head(15, root);
    CHECK(c.equivocations() == 2);
    (void)mine;
  }
  SUBCASE("forged signatures held for a size beyond our head never keep out the signer's real one") {
    Checkpoints& c = cps[2];
    auto forge = [](node::v1::CheckpointSignature sig, const Hash256& claimed_root) {
      sig.set_root(to_string(claimed_root));
      std::string bytes = sig.signature();
      bytes[20] ^= 1;
      sig.set_signature(bytes);
      return sig;
    };
    auto real0 = *cps[0].on_durable_head(30, root);
    auto real1 = *cps[1].on_durable_head(30, root);
    // Validator 1's two slots filled with made-up roots, validator 2's with
    // its real root under bad bytes.
    REQUIRE(c.add(forge(real0, crypto::sha256(as_bytes("x")))).is_ok());
    REQUIRE(c.add(forge(real0, crypto::sha256(as_bytes("y")))).is_ok());
    REQUIRE(c.add(forge(real1, root)).is_ok());
    // The real ones do not fit: checked at once, and kept.
    REQUIRE(c.add(real0).is_ok());
    REQUIRE(c.add(real1).is_ok());
    c.on_durable_head(30, root);
    CHECK(c.served_size() == 30);
    CHECK(c.equivocations() == 0);  // the forged roots were never taken as evidence
  }
  SUBCASE("a signer's third root for one size is not kept; a size counts once as evidence") {
    Checkpoints& c = cps[1];
    c.on_durable_head(40, root);
    for (const char* r : {"a", "b", "c", "d"}) {
      (void)c.add(*cps[0].on_durable_head(40, crypto::sha256(as_bytes(r))));
    }
    (void)c.add(*cps[3].on_durable_head(40, crypto::sha256(as_bytes("e"))));
    CHECK(c.equivocations() == 1);
    CHECK(c.served_size() < 40);
  }
  SUBCASE("signatures that arrive before our head: only what the quorum needs is verified") {
    Checkpoints& c = cps[2];
    uint64_t before = c.verified();
    for (size_t i : {0, 1, 3}) REQUIRE(c.add(*cps[i].on_durable_head(20, root)).is_ok());
    CHECK(c.verified() == before);  // all three held
    CHECK(c.served_size() == 0);    // it was given no peer's signature for 5
    c.on_durable_head(20, root);
    CHECK(c.served_size() == 20);
    CHECK(c.verified() == before + 2);  // own + 2 = q
    auto n = crypto::note::count_valid_signatures(*c.note(), verifiers);
    REQUIRE(n.is_ok());
    CHECK(*n == 3);
    // Once served, later signatures for it are not checked at all.
    REQUIRE(c.add(*cps[3].on_durable_head(20, root)).is_ok());
    CHECK(c.verified() == before + 2);
    // A forged one among the held does not count: the next good one does.
    node::v1::CheckpointSignature bad = *cps[0].on_durable_head(21, root);
    std::string forged_sig = bad.signature();
    forged_sig[10] ^= 1;
    bad.set_signature(forged_sig);
    REQUIRE(c.add(bad).is_ok());
    for (size_t i : {1, 3}) REQUIRE(c.add(*cps[i].on_durable_head(21, root)).is_ok());
    c.on_durable_head(21, root);
    CHECK(c.bad_signatures() == 1);
    CHECK(c.served_size() == 21);
  }
  SUBCASE("an older checkpoint never replaces a newer one") {
    Checkpoints& c = cps[3];
    for (size_t i = 0; i < 3; ++i) REQUIRE(c.add(*cps[i].on_durable_head(8, root)).is_ok());
    c.on_durable_head(8, root);
    CHECK(c.served_size() == 8);
    for (size_t i = 0; i < 3; ++i) REQUIRE(c.add(*cps[i].on_durable_head(6, root)).is_ok());
    c.on_durable_head(6, root);
    CHECK(c.served_size() == 8);
  }
}

TEST_CASE("safety state: copied out of the ledger store, the newer record wins, the ledger keeps its copy") {
  using ledger::Column;
  using ledger::store::RocksStore;
  ledger::store::testing::TempDir dir;
  auto ledger_store = RocksStore::open(dir.path() + "/ledger");
  auto safety_store = RocksStore::open(dir.path() + "/safety");
  REQUIRE(ledger_store.is_ok());
  REQUIRE(safety_store.is_ok());
  RocksStore& ledger = **ledger_store;
  RocksStore& safety = **safety_store;
  auto record = [](uint64_t vote_round) {
    v1::SafetyRecord r;
    r.set_epoch(0);
    r.set_highest_vote_round(vote_round);
    r.set_highest_qc_round(vote_round - 1);
    return r.SerializeAsString();
  };
  auto get = [](RocksStore& s, std::string_view key) {
    auto v = s.get(Column::kSafety, as_bytes(key));
    REQUIRE(v.is_ok());
    return v->has_value() ? to_string(**v) : std::string("(none)");
  };
  auto count = [](RocksStore& s) {
    size_t n = 0;
    REQUIRE(s.scan(Column::kSafety, {}, {}, 100, [&](ByteView, ByteView) { return ++n, true; }).is_ok());
    return n;
  };
  auto put = [](RocksStore& s, std::vector<std::pair<std::string, std::string>> kvs) {
    ledger::WriteSet w;
    for (auto& [k, v] : kvs) w.put(Column::kSafety, as_bytes(k), as_bytes(v));
    REQUIRE(s.apply(w, true).is_ok());
  };

  CHECK(migrate_safety(ledger, safety).is_ok());  // nothing to copy
  CHECK(count(safety) == 0);

  // What provd kept in the ledger store before.
  put(ledger, {{"state", record(7)}, {"voted/a", "block-a"}, {"voted/b", "block-b"}});
  REQUIRE(migrate_safety(ledger, safety).is_ok());
  CHECK(get(safety, "state") == record(7));
  CHECK(get(safety, "voted/a") == "block-a");
  CHECK(get(safety, "voted/b") == "block-b");
  CHECK(count(ledger) == 3);  // kept: an earlier provd put back on this data dir still finds it

  // Votes went on in the safety store: its record is newer and stays.
  put(safety, {{"state", record(9)}});
  REQUIRE(migrate_safety(ledger, safety).is_ok());
  CHECK(get(safety, "state") == record(9));

  // An earlier provd ran again and voted further: the ledger's record wins.
  put(ledger, {{"state", record(12)}, {"voted/c", "block-c"}});
  REQUIRE(migrate_safety(ledger, safety).is_ok());
  CHECK(get(safety, "state") == record(12));
  CHECK(get(safety, "voted/c") == "block-c");
}
