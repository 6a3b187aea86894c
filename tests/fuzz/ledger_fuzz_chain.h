// A fixed genesis state for the ledger fuzz targets: one validator and one
// agency with every role, keys from constant seeds, so inputs found by one
// run stay meaningful in the next.
#pragma once

#include <cstdlib>

#include "crypto/ed25519.h"
#include "ledger/state.h"

namespace prov::ledger::fuzz {

inline crypto::KeyPair fuzz_key(uint8_t n) {
  Seed s;
  s.bytes.fill(n);
  return crypto::KeyPair::from_seed(s);
}

// The state after genesis; built once per process.
inline const MemoryKv& genesis_state() {
  static const MemoryKv kv = [] {
    v1::Genesis g;
    g.set_version(1);
    g.set_chain_id("fuzz-chain");
    g.set_genesis_time_ms(1);
    v1::Validator* v = g.add_validators();
    v->set_name("validator-1");
    v->set_pub_key(to_string(fuzz_key(1).public_key()));
    v->set_address("127.0.0.1:7101");
    v1::Agency* a = g.add_agencies();
    a->set_id("stats");
    a->set_namespace_("stats");
    for (const char* r : {"writer", "recorder", "auditor", "admin"}) a->add_roles(r);
    v1::ClientKey* k = a->add_keys();
    k->set_name("stats-key");
    k->set_pub_key(to_string(fuzz_key(10).public_key()));
    auto w = apply_genesis(g);
    if (!w) std::abort();
    MemoryKv out;
    out.apply(*w);
    return out;
  }();
  return kv;
}

}  // namespace prov::ledger::fuzz
