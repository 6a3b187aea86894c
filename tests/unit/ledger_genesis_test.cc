#include "ledger/genesis.h"

#include <doctest/doctest.h>

#include <fstream>
#include <functional>
#include <sstream>

#include "crypto/ed25519.h"
#include "crypto/encoding.h"
#include "ledger/registry.h"

using namespace prov;
using namespace prov::ledger;

namespace {

std::string key_b64(uint8_t fill) {
  Seed seed;
  seed.bytes.fill(fill);
  return crypto::base64_encode(crypto::KeyPair::from_seed(seed).public_key());
}

// A valid genesis with 4 validators, an observer and two agencies.
v1::Genesis valid_genesis() {
  v1::Genesis g;
  g.set_version(1);
  g.set_chain_id("test-net.1");
  g.set_genesis_time_ms(1700000000000);
  for (int i = 1; i <= 4; ++i) {
    v1::Validator* v = g.add_validators();
    v->set_name("validator-" + std::to_string(i));
    v->set_pub_key(to_string(*crypto::base64_decode(key_b64(static_cast<uint8_t>(i)))));
    v->set_address("127.0.0.1:" + std::to_string(7100 + i));
  }
  v1::Observer* o = g.add_observers();
  o->set_name("observer-1");
  o->set_pub_key(to_string(*crypto::base64_decode(key_b64(50))));
  o->set_address("[::1]:7200");
  for (int i = 0; i < 2; ++i) {
    v1::Agency* a = g.add_agencies();
    a->set_id(i == 0 ? "demo" : "stats");
    a->set_namespace_(i == 0 ? "demo" : "stats.gov");
    a->add_roles("writer");
    a->add_roles("recorder");
    v1::ClientKey* k = a->add_keys();
    k->set_name("client");
    k->set_pub_key(to_string(*crypto::base64_decode(key_b64(static_cast<uint8_t>(100 + i)))));
  }
  g.mutable_consensus();
  normalize_genesis(g);
  return g;
}

// Applies `mutate` to a valid genesis and returns the validation error.
Status invalid_after(const std::function<void(v1::Genesis&)>& mutate) {
  v1::Genesis g = valid_genesis();
  mutate(g);
  normalize_genesis(g);
  return validate_genesis(g);
}

void check_rejected(const std::function<void(v1::Genesis&)>& mutate, const std::string& expected_substring) {
  Status st = invalid_after(mutate);
  CAPTURE(st.message());
  CHECK(st.code() == StatusCode::kInvalidArgument);
  CHECK(st.message().find(expected_substring) != std::string::npos);
}

}  // namespace

TEST_CASE("genesis: valid genesis passes, round trips through JSON, hash is stable") {
  v1::Genesis g = valid_genesis();
  REQUIRE(validate_genesis(g).is_ok());
  CHECK(g.consensus().max_block_txs() == kDefaultMaxBlockTxs);
  CHECK(g.consensus().round_timeout_ms() == kDefaultRoundTimeoutMs);

  auto json = genesis_to_json(g);
  REQUIRE(json.is_ok());
  CHECK(json->find("\"chain_id\": \"test-net.1\"") != std::string::npos);
  CHECK(json->find("\"max_meta_entries\"") != std::string::npos);
  auto back = load_genesis_json(*json);
  REQUIRE(back.is_ok());
  CHECK(back->SerializeAsString() == g.SerializeAsString());
  CHECK(genesis_hash(*back) == genesis_hash(g));
  CHECK(validator_set_hash(back->validators()) == validator_set_hash(g.validators()));

  v1::Genesis other = g;
  other.set_chain_id("test-net.2");
  CHECK(genesis_hash(other) != genesis_hash(g));
}

TEST_CASE("genesis: zero consensus parameters take defaults, so hashes agree") {
  v1::Genesis explicit_defaults = valid_genesis();
  v1::Genesis zeros = valid_genesis();
  zeros.mutable_consensus()->Clear();
  auto json = genesis_to_json(zeros);
  REQUIRE(json.is_ok());
  auto loaded = load_genesis_json(*json);
  REQUIRE(loaded.is_ok());
  CHECK(genesis_hash(*loaded) == genesis_hash(explicit_defaults));
}

TEST_CASE("genesis: unknown fields and malformed JSON are rejected") {
  auto json = genesis_to_json(valid_genesis());
  REQUIRE(json.is_ok());
  std::string unknown = *json;
  unknown.insert(1, "\"validator_count\": 4,");
  auto r = load_genesis_json(unknown);
  REQUIRE_FALSE(r.is_ok());
  CHECK(r.status().code() == StatusCode::kInvalidArgument);
  CHECK(r.status().message().find("validator_count") != std::string::npos);

  for (std::string bad : {std::string(""), std::string("{"), std::string("[]"), std::string("null"),
                          std::string("{\"version\": \"x\"}"), std::string("{\"validators\": {}}"),
                          std::string("{\"validators\": [{\"pub_key\": \"!!\"}]}")}) {
    CAPTURE(bad);
    CHECK_FALSE(load_genesis_json(bad).is_ok());
  }
  std::string huge(kGenesisMaxBytes + 1, ' ');
  CHECK(load_genesis_json(huge).status().code() == StatusCode::kResourceExhausted);
}

TEST_CASE("genesis: header rules") {
  check_rejected([](v1::Genesis& g) { g.set_version(2); }, "version");
  check_rejected([](v1::Genesis& g) { g.set_version(0); }, "version");
  check_rejected([](v1::Genesis& g) { g.set_chain_id(""); }, "chain_id");
  check_rejected([](v1::Genesis& g) { g.set_chain_id("Upper"); }, "chain_id");
  check_rejected([](v1::Genesis& g) { g.set_chain_id("has space"); }, "chain_id");
  check_rejected([](v1::Genesis& g) { g.set_chain_id(std::string(65, 'a')); }, "chain_id");
  CHECK(invalid_after([](v1::Genesis& g) { g.set_chain_id(std::string(64, 'a')); }).is_ok());
  check_rejected([](v1::Genesis& g) { g.set_genesis_time_ms(-1); }, "genesis_time_ms");
}

TEST_CASE("genesis: validator rules name the entry") {
  check_rejected([](v1::Genesis& g) { g.clear_validators(); }, "at least one validator");
  check_rejected([](v1::Genesis& g) { g.mutable_validators(1)->set_name("validator-1"); },
                 "validators[1] \"validator-1\": name is already used by validators[0]");
  check_rejected([](v1::Genesis& g) { g.mutable_validators(2)->set_pub_key(g.validators(0).pub_key()); },
                 "validators[2] \"validator-3\": pub_key is already used by validators[0]");
  check_rejected([](v1::Genesis& g) { g.mutable_validators(2)->set_pub_key("short"); },
                 "pub_key must be 32 bytes, got 5");
  check_rejected([](v1::Genesis& g) { g.mutable_validators(0)->set_name("a+b"); }, "validators[0]: name");
  check_rejected([](v1::Genesis& g) { g.mutable_validators(0)->set_name("a b"); }, "validators[0]: name");
  check_rejected([](v1::Genesis& g) { g.mutable_validators(0)->set_name(""); }, "validators[0]: name");
  for (const char* addr : {"", "host", "host:", ":80", "host:0", "host:65536", "host:080", "ho st:80", "[]:80"}) {
    CAPTURE(addr);
    check_rejected([&](v1::Genesis& g) { g.mutable_validators(3)->set_address(addr); }, "validators[3]");
  }
  for (const char* addr : {"node1.example.org:26656", "10.0.0.1:1", "[2001:db8::1]:65535"}) {
    CAPTURE(addr);
    CHECK(invalid_after([&](v1::Genesis& g) { g.mutable_validators(3)->set_address(addr); }).is_ok());
  }
}

TEST_CASE("genesis: observers are disjoint from validators") {
  check_rejected([](v1::Genesis& g) { g.mutable_observers(0)->set_name("validator-2"); },
                 "observers[0] \"validator-2\": name is already used by validators[1]");
  check_rejected([](v1::Genesis& g) { g.mutable_observers(0)->set_pub_key(g.validators(3).pub_key()); },
                 "pub_key is already used by validators[3]");
  check_rejected([](v1::Genesis& g) { g.mutable_observers(0)->set_address("nowhere"); }, "observers[0]");
}

TEST_CASE("genesis: agency rules") {
  check_rejected([](v1::Genesis& g) { g.mutable_agencies(1)->set_id("demo"); },
                 "agencies[1] \"demo\": id is already used by agencies[0]");
  check_rejected([](v1::Genesis& g) { g.mutable_agencies(1)->set_namespace_("demo"); },
                 "namespace \"demo\" is already used by agencies[0]");
  check_rejected([](v1::Genesis& g) { g.mutable_agencies(0)->set_namespace_("a/b"); }, "namespace must be");
  check_rejected([](v1::Genesis& g) { g.mutable_agencies(0)->set_id(""); }, "id must be");
  check_rejected([](v1::Genesis& g) { g.mutable_agencies(0)->add_roles("root"); }, "unknown role \"root\"");
  check_rejected([](v1::Genesis& g) { g.mutable_agencies(0)->add_roles("writer"); }, "listed twice");
  check_rejected([](v1::Genesis& g) { g.mutable_agencies(0)->mutable_keys(0)->set_pub_key(std::string(33, 'k')); },
                 "agencies[0] \"demo\" keys[0] \"client\": pub_key must be 32 bytes");
  check_rejected(
      [](v1::Genesis& g) { g.mutable_agencies(1)->mutable_keys(0)->set_pub_key(g.agencies(0).keys(0).pub_key()); },
      "pub_key is already used by agencies[0]");
  check_rejected([](v1::Genesis& g) { *g.mutable_agencies(0)->add_keys() = g.agencies(0).keys(0); },
                 "name listed twice");
}

TEST_CASE("genesis: consensus parameters are present and bounded") {
  check_rejected([](v1::Genesis& g) { g.clear_consensus(); }, "consensus: missing");
  check_rejected([](v1::Genesis& g) { g.mutable_consensus()->set_max_block_txs(kCeilingMaxBlockTxs + 1); },
                 "consensus: max_block_txs");
  check_rejected([](v1::Genesis& g) { g.mutable_consensus()->set_round_timeout_ms(10); }, "round_timeout_ms");
  check_rejected(
      [](v1::Genesis& g) {
        g.mutable_consensus()->set_block_interval_ms(2000);
        g.mutable_consensus()->set_round_timeout_ms(1000);
      },
      "block_interval_ms must be below round_timeout_ms");
}

TEST_CASE("genesis: a draft may lack validators but nothing else") {
  v1::Genesis g = valid_genesis();
  g.clear_validators();
  CHECK(validate_genesis(g, GenesisCheck::kDraft).is_ok());
  CHECK_FALSE(validate_genesis(g, GenesisCheck::kComplete).is_ok());
  g.set_chain_id("");
  CHECK_FALSE(validate_genesis(g, GenesisCheck::kDraft).is_ok());
}

TEST_CASE("genesis: the shipped example is valid") {
  auto g = load_genesis_file(std::string(PROV_SOURCE_DIR) + "/genesis/example.genesis.json");
  REQUIRE(g.is_ok());
  CHECK(g->validators_size() == 4);
  auto missing = load_genesis_file(std::string(PROV_SOURCE_DIR) + "/genesis/no-such.json");
  CHECK(missing.status().code() == StatusCode::kNotFound);
}
