// A small chain on MemoryKv for the ledger unit tests: four validators and
// three agencies with deterministic keys, helpers to build signed
// transactions and to commit blocks. Single-threaded.
#pragma once

#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "crypto/ed25519.h"
#include "crypto/sha256.h"
#include "ledger/registry.h"
#include "ledger/state.h"
#include "ledger/tx.h"

namespace prov::ledger::testing {

inline crypto::KeyPair key_from(uint8_t n) {
  Seed s;
  s.bytes.fill(n);
  return crypto::KeyPair::from_seed(s);
}

inline Hash256 digest_of(std::string_view content) { return crypto::sha256(as_bytes(content)); }

struct Chain {
  static constexpr const char* kChainId = "test-chain";
  std::vector<crypto::KeyPair> validators{key_from(1), key_from(2), key_from(3), key_from(4)};
  crypto::KeyPair stats = key_from(10);   // agency "stats": writer, recorder, admin
  crypto::KeyPair health = key_from(11);  // agency "health": writer only
  crypto::KeyPair audit = key_from(12);   // agency "audit": auditor only
  MemoryKv kv;
  int64_t time_ms = 1000;
  uint64_t nonce = 0;
  uint64_t epoch = 0;

  static v1::Agency agency(const std::string& id, const std::vector<std::string>& roles, const crypto::KeyPair& k) {
    v1::Agency a;
    a.set_id(id);
    a.set_namespace_(id);
    for (const auto& r : roles) a.add_roles(r);
    v1::ClientKey* key = a.add_keys();
    key->set_name(id + "-key");
    key->set_pub_key(to_string(k.public_key()));
    return a;
  }

  v1::Genesis genesis() const {
    v1::Genesis g;
    g.set_version(1);
    g.set_chain_id(kChainId);
    g.set_genesis_time_ms(time_ms);
    for (size_t i = 0; i < validators.size(); ++i) {
      v1::Validator* v = g.add_validators();
      v->set_name("validator-" + std::to_string(i + 1));
      v->set_pub_key(to_string(validators[i].public_key()));
      v->set_address("127.0.0.1:" + std::to_string(7101 + i));
    }
    *g.add_agencies() = agency("stats", {"writer", "recorder", "admin"}, stats);
    *g.add_agencies() = agency("health", {"writer"}, health);
    *g.add_agencies() = agency("audit", {"auditor"}, audit);
    return g;
  }

  Chain() {
    auto w = apply_genesis(genesis());
    REQUIRE(w.is_ok());
    kv.apply(*w);
  }

  v1::TransactionBody body(const std::string& agency_id) {
    v1::TransactionBody b;
    b.set_version(1);
    b.set_chain_id(kChainId);
    b.set_agency(agency_id);
    b.set_nonce(++nonce);
    b.set_client_time_ms(time_ms);
    return b;
  }

  // An anchor of `dataset` by "stats" (or `agency_id`) with digest of `content`.
  v1::TransactionBody anchor(const std::string& dataset, const std::string& content, uint64_t version = 0,
                             const std::string& agency_id = "stats") {
    v1::TransactionBody b = body(agency_id);
    v1::AnchorRecord* a = b.mutable_anchor();
    a->set_dataset(dataset);
    a->set_version(version);
    a->set_digest(to_string(digest_of(content)));
    a->set_size_bytes(content.size());
    a->set_media_type("text/csv");
    return b;
  }

  v1::TransactionBody access(const std::string& dataset, uint64_t version = 0, const std::string& action = "read") {
    v1::TransactionBody b = body("stats");
    v1::AccessEvent* e = b.mutable_access();
    e->set_dataset(dataset);
    e->set_version(version);
    e->set_actor("analyst-7");
    e->set_action(action);
    e->set_purpose("monthly report");
    e->set_legal_basis("statistics act §5");
    return b;
  }

  static void derive(v1::TransactionBody& b, const std::string& dataset, uint64_t version) {
    v1::DatasetRef* r = b.mutable_anchor()->add_derived_from();
    r->set_dataset(dataset);
    r->set_version(version);
  }

  // A governance transaction by "stats" approved by the first `approvers` validators.
  v1::TransactionBody governance(const v1::GovernanceAction& action, size_t approvers) {
    v1::TransactionBody b = body("stats");
    Bytes action_bytes = serialize(action);
    b.mutable_governance()->set_action(to_string(action_bytes));
    for (size_t i = 0; i < approvers; ++i) {
      *b.mutable_governance()->add_approvals() = approve_governance(action_bytes, kChainId, validators[i]);
    }
    return b;
  }

  Bytes sign(const v1::TransactionBody& b, const crypto::KeyPair* key = nullptr) {
    if (!key) key = b.agency() == "health" ? &health : b.agency() == "audit" ? &audit : &stats;
    return sign_transaction(b, *key);
  }

  BlockTemplate next_template() {
    BlockTemplate t;
    t.epoch = epoch;
    t.round = 1;
    t.time_ms = ++time_ms;
    t.proposer = validators[0].public_key();
    return t;
  }

  // Builds, re-applies (as a follower would) and commits a block.
  Result<AppliedBlock> commit(const std::vector<Bytes>& txs) {
    auto built = build_block(kv, next_template(), txs);
    if (!built) return built;
    auto applied = apply_block(kv, built->block_bytes);
    REQUIRE(applied.is_ok());
    kv.apply(applied->writes);
    return applied;
  }

  // The rejection of `tx` as the next block's only transaction.
  Rejection rejection_of(const Bytes& tx) {
    auto r = check_transaction(kv, tx);
    REQUIRE_FALSE(r.is_ok());
    return r.reason();
  }
};

}  // namespace prov::ledger::testing
