#include "tests/sim/sim_chain.h"

#include <cassert>

#include "crypto/sha256.h"
#include "ledger/registry.h"
#include "ledger/state.h"
#include "ledger/tx.h"
#include "tests/sim/rng.h"

namespace prov::sim {
namespace {

crypto::KeyPair key_for(uint64_t purpose) {
  Seed seed;
  uint64_t s = purpose;
  for (size_t i = 0; i < Seed::kSize; i += 8) {
    uint64_t w = splitmix64(s);
    for (size_t j = 0; j < 8; ++j) seed.bytes[i + j] = static_cast<uint8_t>(w >> (8 * j));
  }
  return crypto::KeyPair::from_seed(seed);
}

constexpr uint64_t kValidatorKeyBase = 0x5a11'0000;
constexpr uint64_t kClientKeyPurpose = 0xc11e'0001;
constexpr uint64_t kOutsiderKeyPurpose = 0x0b75'1de5;

TxPool build_pool() {
  TxPool pool;
  crypto::KeyPair key = client_key();
  pool.txs.reserve(kTxPoolSize);
  for (size_t i = 0; i < kTxPoolSize; ++i) {
    ledger::v1::TransactionBody b;
    b.set_version(1);
    b.set_chain_id(kChainId);
    b.set_agency(kAgency);
    b.set_nonce(i + 1);
    b.set_client_time_ms(1);
    ledger::v1::AnchorRecord* a = b.mutable_anchor();
    a->set_dataset(std::string(kAgency) + "/ds-" + std::to_string(i % kWorkloadDatasets));
    a->set_version(0);
    std::string content = "sim payload " + std::to_string(i);
    a->set_digest(to_string(crypto::sha256(as_bytes(content))));
    a->set_size_bytes(content.size());
    a->set_media_type("text/plain");
    Bytes tx = ledger::sign_transaction(b, key);
    pool.index_by_hash.emplace(crypto::sha256(tx), static_cast<uint32_t>(i));
    pool.txs.push_back(std::move(tx));
  }
  return pool;
}

}  // namespace

crypto::KeyPair validator_key(size_t i) { return key_for(kValidatorKeyBase + i); }
crypto::KeyPair client_key() { return key_for(kClientKeyPurpose); }
crypto::KeyPair outsider_key() { return key_for(kOutsiderKeyPurpose); }

ledger::v1::Genesis make_genesis(size_t n) {
  ledger::v1::Genesis g;
  g.set_version(1);
  g.set_chain_id(kChainId);
  g.set_genesis_time_ms(0);
  for (size_t i = 0; i < n; ++i) {
    ledger::v1::Validator* v = g.add_validators();
    v->set_name("v" + std::to_string(i + 1));
    v->set_pub_key(to_string(validator_key(i).public_key()));
    v->set_address("10.0.0." + std::to_string(i + 1) + ":7000");
  }
  ledger::v1::Agency* a = g.add_agencies();
  a->set_id(kAgency);
  a->set_namespace_(kAgency);
  for (const char* role : {"writer", "recorder", "auditor", "admin"}) a->add_roles(role);
  ledger::v1::ClientKey* k = a->add_keys();
  k->set_name("sim-client");
  k->set_pub_key(to_string(client_key().public_key()));
  g.mutable_consensus();  // zero parameters take their defaults
  return g;
}

consensus::ValidatorSet make_validator_set(size_t n) {
  // Read back through the ledger, exactly as a node does, so the simulator
  // can not disagree with the registry about names, order or keys.
  auto writes = ledger::apply_genesis(make_genesis(n));
  assert(writes.is_ok());
  ledger::MemoryKv kv;
  kv.apply(*writes);
  auto current = ledger::current_validators(kv);
  assert(current.is_ok());
  auto set = consensus::ValidatorSet::from_ledger(kChainId, *current);
  assert(set.is_ok());
  return std::move(set).value();
}

std::optional<uint32_t> TxPool::find(ByteView tx) const {
  auto it = index_by_hash.find(crypto::sha256(tx));
  if (it == index_by_hash.end()) return std::nullopt;
  return it->second;
}

const TxPool& tx_pool() {
  static const TxPool pool = build_pool();
  return pool;
}

}  // namespace prov::sim
