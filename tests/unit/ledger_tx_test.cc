#include <doctest/doctest.h>

#include <sodium.h>

#include <atomic>
#include <functional>
#include <thread>
#include <vector>

#include "ledger/sig_cache.h"
#include "ledger_test_fixture.h"

using namespace prov;
using namespace prov::ledger;
using namespace prov::ledger::testing;

namespace {

// A SignedTransaction around arbitrary body bytes, validly signed by `key`.
Bytes wrap_body(const Bytes& body, const crypto::KeyPair& key, uint32_t version = 1) {
  v1::SignedTransaction st;
  st.set_version(version);
  st.set_body(to_string(body));
  st.set_signer(to_string(key.public_key()));
  st.set_signature(to_string(key.sign(crypto::purpose::kTransaction, Chain::kChainId, body)));
  return serialize(st);
}

// A valid Ed25519 signature by `key` over `message` with a random nonce
// instead of RFC 8032's derived one: what a signer whose library or HSM
// randomizes nonces produces. It verifies, and differs from key.sign_raw's.
Signature sign_with_random_nonce(const crypto::KeyPair& key, const Bytes& message) {
  std::array<uint8_t, 64> h{};
  crypto_hash_sha512(h.data(), key.seed().data(), key.seed().size());
  h[0] &= 248;
  h[31] &= 127;
  h[31] |= 64;
  std::array<uint8_t, 64> wide{};
  std::copy(h.begin(), h.begin() + 32, wide.begin());
  std::array<uint8_t, 32> a{}, r{}, big_r{}, k{}, ka{}, s{};
  crypto_core_ed25519_scalar_reduce(a.data(), wide.data());
  crypto_core_ed25519_scalar_random(r.data());
  REQUIRE(crypto_scalarmult_ed25519_base_noclamp(big_r.data(), r.data()) == 0);
  crypto_hash_sha512_state st;
  crypto_hash_sha512_init(&st);
  crypto_hash_sha512_update(&st, big_r.data(), big_r.size());
  crypto_hash_sha512_update(&st, key.public_key().data(), key.public_key().size());
  crypto_hash_sha512_update(&st, message.data(), message.size());
  crypto_hash_sha512_final(&st, wide.data());
  crypto_core_ed25519_scalar_reduce(k.data(), wide.data());
  crypto_core_ed25519_scalar_mul(ka.data(), k.data(), a.data());
  crypto_core_ed25519_scalar_add(s.data(), r.data(), ka.data());
  Signature sig;
  std::copy(big_r.begin(), big_r.end(), sig.data());
  std::copy(s.begin(), s.end(), sig.data() + 32);
  return sig;
}

}  // namespace

TEST_CASE("a valid anchor passes decode, validation and admission") {
  Chain c;
  Bytes tx = c.sign(c.anchor("stats/census", "rows"));
  auto d = decode_transaction(tx, kDefaultMaxTxBytes);
  REQUIRE(d.is_ok());
  CHECK(d->tx_hash == crypto::sha256(tx));
  CHECK(d->body.anchor().dataset() == "stats/census");
  CHECK(validate_transaction(c.kv, d.value()).is_ok());
  CHECK(check_transaction(c.kv, tx).is_ok());
}

TEST_CASE("bytes-envelope rule: unknown fields and non-canonical encodings are malformed") {
  Chain c;
  Bytes body = serialize(c.anchor("stats/census", "rows"));
  REQUIRE(check_transaction(c.kv, wrap_body(body, c.stats)).is_ok());

  SUBCASE("unknown field in the body") {
    Bytes extra = body;
    extra.push_back(0x98);  // field 99, varint
    extra.push_back(0x06);
    extra.push_back(0x01);
    CHECK(c.rejection_of(wrap_body(extra, c.stats)) == Rejection::kMalformed);
  }
  SUBCASE("over-long varint in the body") {
    REQUIRE(body[0] == 0x08);  // field 1 (version), value 1
    REQUIRE(body[1] == 0x01);
    Bytes longer = {0x08, 0x81, 0x00};
    longer.insert(longer.end(), body.begin() + 2, body.end());
    v1::TransactionBody parsed;
    REQUIRE(parsed.ParseFromArray(longer.data(), static_cast<int>(longer.size())));  // protobuf accepts it...
    CHECK(parsed.version() == 1);
    CHECK(c.rejection_of(wrap_body(longer, c.stats)) == Rejection::kMalformed);  // ...we do not
  }
  SUBCASE("unknown field in the envelope") {
    Bytes tx = wrap_body(body, c.stats);
    tx.push_back(0x28);  // field 5, varint
    tx.push_back(0x00);
    CHECK(c.rejection_of(tx) == Rejection::kMalformed);
  }
  SUBCASE("unknown fields inside nested and repeated messages, and a known field with another wire type") {
    auto with_unknown = [&](auto add) {
      auto b = c.anchor("stats/census", "rows");
      auto* meta = b.mutable_anchor()->add_meta();
      meta->set_key("k");
      meta->set_value("v");
      add(b);
      return wrap_body(serialize(b), c.stats);
    };
    auto unknowns = [](google::protobuf::Message* m) { return m->GetReflection()->MutableUnknownFields(m); };
    CHECK(check_transaction(c.kv, with_unknown([&](v1::TransactionBody&) {})).is_ok());
    CHECK(c.rejection_of(with_unknown([&](v1::TransactionBody& b) { unknowns(b.mutable_anchor())->AddVarint(99, 1); })) ==
          Rejection::kMalformed);
    CHECK(c.rejection_of(with_unknown([&](v1::TransactionBody& b) {
            unknowns(b.mutable_anchor()->mutable_meta(0))->AddLengthDelimited(77, "x");
          })) == Rejection::kMalformed);
    // Field 1 (version) as a fixed32: protobuf files it as unknown.
    CHECK(c.rejection_of(with_unknown([&](v1::TransactionBody& b) { unknowns(&b)->AddFixed32(1, 1); })) ==
          Rejection::kMalformed);
  }
  SUBCASE("garbage") {
    CHECK(c.rejection_of(Bytes{0xff, 0xff, 0xff}) == Rejection::kMalformed);
    CHECK(c.rejection_of(Bytes{}) == Rejection::kUnsupportedVersion);  // an empty message has version 0
  }
}

TEST_CASE("stateless rejections") {
  Chain c;
  CHECK(c.rejection_of(wrap_body(serialize(c.anchor("stats/a", "x")), c.stats, 2)) == Rejection::kUnsupportedVersion);
  auto b = c.anchor("stats/a", "x");
  b.set_version(7);
  CHECK(c.rejection_of(c.sign(b)) == Rejection::kUnsupportedVersion);
  CHECK(c.rejection_of(c.sign(c.body("stats"))) == Rejection::kMalformed);  // no kind

  Bytes big = c.sign(c.anchor("stats/a", "x"));
  auto too_large = decode_transaction(big, static_cast<uint32_t>(big.size() - 1));
  REQUIRE_FALSE(too_large.is_ok());
  CHECK(too_large.reason() == Rejection::kTooLarge);
  CHECK(too_large.status().code() == StatusCode::kResourceExhausted);
  auto padded = c.anchor("stats/a", "x");
  padded.mutable_anchor()->add_meta()->set_key("k");
  padded.mutable_anchor()->mutable_meta(0)->set_value(std::string(kDefaultMaxTxBytes, 'v'));
  CHECK(c.rejection_of(c.sign(padded)) == Rejection::kTooLarge);
}

TEST_CASE("chain, field bounds and identity rejections") {
  Chain c;
  auto wrong_chain = c.anchor("stats/a", "x");
  wrong_chain.set_chain_id("other-chain");
  CHECK(c.rejection_of(c.sign(wrong_chain)) == Rejection::kWrongChain);

  auto short_digest = c.anchor("stats/a", "x");
  short_digest.mutable_anchor()->set_digest(std::string(31, 'd'));
  CHECK(c.rejection_of(c.sign(short_digest)) == Rejection::kInvalidField);
  for (std::string bad : {"noslash", "/x", "stats/", "stats//x", "stats/../x", "Stats/x", "stats/a b"}) {
    CAPTURE(bad);
    CHECK(c.rejection_of(c.sign(c.anchor(bad, "x"))) == Rejection::kInvalidField);
  }
  CHECK(c.rejection_of(c.sign(c.access("stats/a", 0, "sell"))) == Rejection::kInvalidField);
  auto subject = c.access("stats/a");
  subject.mutable_access()->set_subject_hash("12345");
  CHECK(c.rejection_of(c.sign(subject)) == Rejection::kInvalidField);
  auto many_meta = c.anchor("stats/a", "x");
  for (uint32_t i = 0; i <= kDefaultMaxMetaEntries; ++i) {
    auto* m = many_meta.mutable_anchor()->add_meta();
    m->set_key("k" + std::to_string(i));
  }
  CHECK(c.rejection_of(c.sign(many_meta)) == Rejection::kInvalidField);
  auto dup_meta = c.anchor("stats/a", "x");
  dup_meta.mutable_anchor()->add_meta()->set_key("k");
  dup_meta.mutable_anchor()->add_meta()->set_key("k");
  CHECK(c.rejection_of(c.sign(dup_meta)) == Rejection::kInvalidField);
  auto many_parents = c.anchor("stats/a", "x");
  for (uint32_t i = 0; i <= kDefaultMaxDerivedFrom; ++i) Chain::derive(many_parents, "stats/p" + std::to_string(i), 1);
  CHECK(c.rejection_of(c.sign(many_parents)) == Rejection::kInvalidField);

  CHECK(c.rejection_of(c.sign(c.anchor("nobody/a", "x", 0, "nobody"), &c.stats)) == Rejection::kUnknownAgency);
  CHECK(c.rejection_of(c.sign(c.anchor("stats/a", "x"), &c.health)) == Rejection::kUnknownSigner);
  Bytes tx = c.sign(c.anchor("stats/a", "x"));
  tx[tx.size() - 5] ^= 0x01;  // the signature is the last field
  CHECK(c.rejection_of(tx) == Rejection::kBadSignature);
}

TEST_CASE("roles and namespaces") {
  Chain c;
  REQUIRE(c.commit({c.sign(c.anchor("health/beds", "b", 0, "health"))}).is_ok());
  auto access_by_health = c.access("health/beds");
  access_by_health.set_agency("health");
  CHECK(c.rejection_of(c.sign(access_by_health)) == Rejection::kRoleNotAllowed);
  CHECK(c.rejection_of(c.sign(c.anchor("audit/x", "x", 0, "audit"))) == Rejection::kRoleNotAllowed);
  CHECK(c.rejection_of(c.sign(c.anchor("health/x", "x"))) == Rejection::kNamespaceNotOwned);
  // A recorder may record access to another agency's dataset.
  CHECK(check_transaction(c.kv, c.sign(c.access("health/beds"))).is_ok());
  v1::GovernanceAction act;
  act.set_version(1);
  act.mutable_set_roles()->set_agency("audit");
  auto gov = c.governance(act, 4);
  gov.set_agency("health");
  CHECK(c.rejection_of(c.sign(gov)) == Rejection::kRoleNotAllowed);
}

TEST_CASE("dataset rules: duplicates, unknown datasets and version conflicts") {
  Chain c;
  Bytes first = c.sign(c.anchor("stats/a", "x"));
  REQUIRE(c.commit({first}).is_ok());
  CHECK(c.rejection_of(first) == Rejection::kDuplicate);
  // The same body signed again is the same transaction (Ed25519 is
  // deterministic), but a signer that randomizes its nonces makes another
  // valid transaction of the same body: a replay, caught by the body hash.
  {
    auto committed = decode_transaction(first, 1u << 20);
    REQUIRE(committed.is_ok());
    const Bytes body = to_bytes(committed.value().envelope.body());
    const Bytes message = crypto::domain_message(crypto::purpose::kTransaction, Chain::kChainId, body);
    Signature other = sign_with_random_nonce(c.stats, message);
    REQUIRE(crypto::verify_raw(c.stats.public_key(), message, other));
    v1::SignedTransaction st;
    st.set_version(1);
    st.set_body(to_string(body));
    st.set_signer(to_string(c.stats.public_key()));
    st.set_signature(to_string(other));
    Bytes resigned = serialize(st);
    REQUIRE(resigned != first);
    CHECK(c.rejection_of(resigned) == Rejection::kDuplicate);
  }
  CHECK(c.rejection_of(c.sign(c.access("stats/nothing"))) == Rejection::kUnknownDataset);
  CHECK(c.rejection_of(c.sign(c.access("stats/a", 2))) == Rejection::kUnknownDataset);
  auto parent_missing = c.anchor("stats/b", "y");
  Chain::derive(parent_missing, "stats/a", 9);
  CHECK(c.rejection_of(c.sign(parent_missing)) == Rejection::kUnknownDataset);
  auto wrong_digest = c.anchor("stats/b", "y");
  Chain::derive(wrong_digest, "stats/a", 1);
  wrong_digest.mutable_anchor()->mutable_derived_from(0)->set_digest(to_string(digest_of("not x")));
  CHECK(c.rejection_of(c.sign(wrong_digest)) == Rejection::kInvalidField);
  CHECK(c.rejection_of(c.sign(c.anchor("stats/a", "x2", 1))) == Rejection::kVersionConflict);
  CHECK(check_transaction(c.kv, c.sign(c.anchor("stats/a", "x2", 3))).is_ok());
}

TEST_CASE("governance needs a quorum of valid, distinct validator approvals") {
  Chain c;
  v1::GovernanceAction act;
  act.set_version(1);
  *act.mutable_register_agency() = Chain::agency("tax", {"writer"}, key_from(20));
  // n = 4 validators: q = 3.
  CHECK(quorum_size(4) == 3);
  CHECK(c.rejection_of(c.sign(c.governance(act, 2))) == Rejection::kQuorumNotMet);
  auto dup = c.governance(act, 2);
  *dup.mutable_governance()->add_approvals() = dup.governance().approvals(0);
  CHECK(c.rejection_of(c.sign(dup)) == Rejection::kInvalidField);
  auto forged = c.governance(act, 3);
  forged.mutable_governance()->mutable_approvals(2)->mutable_signature()->at(0) ^= 1;
  CHECK(c.rejection_of(c.sign(forged)) == Rejection::kBadSignature);
  auto outsider = c.governance(act, 2);
  *outsider.mutable_governance()->add_approvals() =
      approve_governance(as_bytes(outsider.governance().action()), Chain::kChainId, key_from(99));
  CHECK(c.rejection_of(c.sign(outsider)) == Rejection::kUnknownSigner);

  Bytes ok = c.sign(c.governance(act, 3));
  REQUIRE(c.commit({ok}).is_ok());
  auto tax = find_agency(c.kv, "tax");
  REQUIRE(tax.is_ok());
  REQUIRE(tax->has_value());
  // Replaying the approved action in a new transaction is a duplicate.
  CHECK(c.rejection_of(c.sign(c.governance(act, 4))) == Rejection::kDuplicate);

  v1::GovernanceAction bad;
  bad.set_version(1);
  bad.mutable_revoke_agency_key()->set_agency("tax");
  bad.mutable_revoke_agency_key()->set_key(to_string(key_from(77).public_key()));
  CHECK(c.rejection_of(c.sign(c.governance(bad, 3))) == Rejection::kInvalidGovernance);
}

TEST_CASE("key rotation and revocation take effect immediately") {
  Chain c;
  crypto::KeyPair fresh = key_from(30);
  v1::GovernanceAction rotate;
  rotate.set_version(1);
  rotate.mutable_rotate_agency_key()->set_agency("health");
  rotate.mutable_rotate_agency_key()->set_old_key(to_string(c.health.public_key()));
  rotate.mutable_rotate_agency_key()->mutable_new_key()->set_name("health-2");
  rotate.mutable_rotate_agency_key()->mutable_new_key()->set_pub_key(to_string(fresh.public_key()));
  // The old key still works in the same block before the rotation, not after it.
  Bytes before = c.sign(c.anchor("health/a", "1", 0, "health"));
  Bytes after = c.sign(c.anchor("health/a", "2", 0, "health"));
  auto blocked = build_block(c.kv, c.next_template(), {before, c.sign(c.governance(rotate, 3)), after});
  REQUIRE_FALSE(blocked.is_ok());
  CHECK(blocked.status().message().find("unknown_signer") != std::string::npos);
  REQUIRE(c.commit({before, c.sign(c.governance(rotate, 3))}).is_ok());
  CHECK(c.rejection_of(after) == Rejection::kUnknownSigner);
  CHECK(check_transaction(c.kv, c.sign(c.anchor("health/a", "2", 0, "health"), &fresh)).is_ok());
  // A revoked key can not be registered again.
  v1::GovernanceAction back = rotate;
  back.set_nonce(2);
  back.mutable_rotate_agency_key()->set_old_key(to_string(fresh.public_key()));
  back.mutable_rotate_agency_key()->mutable_new_key()->set_pub_key(to_string(c.health.public_key()));
  CHECK(c.rejection_of(c.sign(c.governance(back, 3))) == Rejection::kInvalidGovernance);
}

TEST_CASE("rejections map to status codes with their names") {
  Rejected r{Rejection::kBadSignature, "nope"};
  CHECK(r.to_status().code() == StatusCode::kUnauthenticated);
  CHECK(r.to_status().message() == "bad_signature: nope");
  CHECK(rejection_code(Rejection::kRoleNotAllowed) == StatusCode::kPermissionDenied);
  CHECK(rejection_code(Rejection::kDuplicate) == StatusCode::kAlreadyExists);
  CHECK(rejection_code(Rejection::kMalformed) == StatusCode::kInvalidArgument);
  CHECK(std::string(rejection_name(Rejection::kNamespaceNotOwned)) == "namespace_not_owned");
}

TEST_CASE("strict decoders for entries, blocks and headers") {
  v1::Entry e;
  e.set_version(1);
  e.set_index(3);
  Bytes bytes = serialize(e);
  CHECK(decode_entry(bytes).is_ok());
  Bytes extra = bytes;
  extra.push_back(0x78);  // field 15, varint
  extra.push_back(0x01);
  CHECK_FALSE(decode_entry(extra).is_ok());
  e.set_version(2);
  CHECK_FALSE(decode_entry(serialize(e)).is_ok());
  v1::BlockHeader h;
  h.set_version(1);
  CHECK(decode_header(serialize(h)).is_ok());
  CHECK(decode_block(Bytes(100, 0), 10).status().code() == StatusCode::kResourceExhausted);
  CHECK_FALSE(decode_block(Bytes{0x0a, 0x05}, 100).is_ok());
}

TEST_CASE("signature memo: a valid signature is verified once, a bad one never remembered") {
  prov::ledger::testing::Chain chain;
  prov::Bytes tx = chain.sign(chain.anchor("stats/memo", "content"));
  auto decoded = prov::ledger::decode_transaction(tx, 1 << 16);
  REQUIRE(decoded.is_ok());
  auto before = prov::ledger::sig_cache_stats();
  REQUIRE(prov::ledger::validate_transaction(chain.kv, decoded.value()).is_ok());
  REQUIRE(prov::ledger::validate_transaction(chain.kv, decoded.value()).is_ok());
  auto after = prov::ledger::sig_cache_stats();
  CHECK(after.misses == before.misses + 1);
  CHECK(after.hits == before.hits + 1);
  // A forged signature fails every time, however often it is tried.
  prov::ledger::DecodedTx forged = decoded.value();
  forged.signature.bytes[0] ^= 1;
  CHECK(prov::ledger::validate_transaction(chain.kv, forged).reason() == prov::ledger::Rejection::kBadSignature);
  CHECK(prov::ledger::validate_transaction(chain.kv, forged).reason() == prov::ledger::Rejection::kBadSignature);
}

namespace {

// Checks `sig` over `d`'s body on `threads` threads that start together, so
// they ask the memo about the same signature within microseconds of one
// another; thread t waits for another thread's verification iff waits(t).
// Returns how many accepted it.
int race_verify(const prov::ledger::DecodedTx& d, const prov::Signature& sig, int threads,
                const std::function<bool(int)>& waits) {
  std::atomic<int> ready{0};
  std::atomic<int> accepted{0};
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&, t] {
      ready.fetch_add(1);
      while (ready.load() < threads) {
      }
      if (prov::ledger::verify_tx_signature_cached(d.signer, d.body.chain_id(), as_bytes(d.envelope.body()), sig,
                                                    waits(t))) {
        accepted.fetch_add(1);
      }
    });
  }
  for (auto& th : pool) th.join();
  return accepted.load();
}

}  // namespace

TEST_CASE("signature memo: threads checking one signature at the same moment verify it once") {
  prov::ledger::testing::Chain chain;
  constexpr int kThreads = 8;
  auto always = [](int) { return true; };
  // Several signatures, so some rounds do race.
  for (int round = 0; round < 20; ++round) {
    auto d = prov::ledger::decode_transaction(chain.sign(chain.anchor("stats/race", "content " + std::to_string(round))),
                                              1 << 16);
    REQUIRE(d.is_ok());
    auto before = prov::ledger::sig_cache_stats();
    CHECK(race_verify(d.value(), d->signature, kThreads, always) == kThreads);
    auto after = prov::ledger::sig_cache_stats();
    // Exactly one thread paid for the curve arithmetic; the others found the
    // verdict in the memo or waited for it.
    CHECK(after.misses == before.misses + 1);
    CHECK(after.hits + after.waits == before.hits + before.waits + kThreads - 1);
  }
  // A forged signature raced the same way is refused by every thread.
  auto d = prov::ledger::decode_transaction(chain.sign(chain.anchor("stats/race", "forged")), 1 << 16);
  REQUIRE(d.is_ok());
  prov::Signature forged = d->signature;
  forged.bytes[0] ^= 1;
  CHECK(race_verify(d.value(), forged, kThreads, always) == 0);
}

TEST_CASE("signature memo: a check in a hurry verifies itself instead of waiting for another thread") {
  // A proposal's transactions are primed without waiting (prime_tx_signature):
  // the thread verifying the same signature may be a low-priority admission
  // thread. Half the threads here wait, half do not; each gets the right
  // verdict, the memo counts every check once as a hit, a wait, a miss or an
  // overtake, and only threads that did not wait overtake.
  prov::ledger::testing::Chain chain;
  constexpr int kThreads = 8;
  auto even_wait = [](int t) { return t % 2 == 0; };
  size_t overtakes = 0;
  for (int round = 0; round < 40; ++round) {
    auto d = prov::ledger::decode_transaction(
        chain.sign(chain.anchor("stats/hurry", "content " + std::to_string(round))), 1 << 16);
    REQUIRE(d.is_ok());
    auto before = prov::ledger::sig_cache_stats();
    CHECK(race_verify(d.value(), d->signature, kThreads, even_wait) == kThreads);
    auto after = prov::ledger::sig_cache_stats();
    CHECK(after.misses == before.misses + 1);
    CHECK(after.hits + after.waits + after.overtakes == before.hits + before.waits + before.overtakes + kThreads - 1);
    CHECK(after.overtakes - before.overtakes <= kThreads / 2);
    overtakes += after.overtakes - before.overtakes;
    // Remembered however the race went: one more check is a hit.
    CHECK(prov::ledger::verify_tx_signature_cached(d->signer, d->body.chain_id(), as_bytes(d->envelope.body()),
                                                    d->signature, false));
    CHECK(prov::ledger::sig_cache_stats().hits == after.hits + 1);
  }
  MESSAGE("overtakes in 40 races: " << overtakes);
  // A forged signature is refused by threads that do not wait, and never remembered.
  auto d = prov::ledger::decode_transaction(chain.sign(chain.anchor("stats/hurry", "forged")), 1 << 16);
  REQUIRE(d.is_ok());
  prov::Signature forged = d->signature;
  forged.bytes[0] ^= 1;
  CHECK(race_verify(d.value(), forged, kThreads, [](int) { return false; }) == 0);
  auto before = prov::ledger::sig_cache_stats();
  CHECK_FALSE(prov::ledger::verify_tx_signature_cached(d->signer, d->body.chain_id(), as_bytes(d->envelope.body()),
                                                        forged, false));
  CHECK(prov::ledger::sig_cache_stats().misses == before.misses + 1);
}
