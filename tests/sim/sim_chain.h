// The simulated chain: deterministic validator keys, the in-code genesis and
// a process-wide pool of pre-signed anchor transactions.
//
// Ed25519 signing dominates the cost of generating a workload, so the pool is
// signed once per process and every seed draws from it (transactions do not
// depend on the validator set: one chain id, one agency "sim" holding every
// role, one client key). A run uses each pool entry at most once, so the
// ledger never sees a duplicate it did not ask for.
// Thread-safety: keys and genesis are pure functions; tx_pool() initialises
// once (static local) and is read-only afterwards.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "consensus/certificates.h"
#include "crypto/bytes.h"
#include "crypto/ed25519.h"
#include "ledger/proto/ledger.pb.h"

namespace prov::sim {

inline constexpr const char* kChainId = "provsim";
inline constexpr const char* kAgency = "sim";
// Pre-signed anchors per process; a run stops offering load once it used them all.
inline constexpr size_t kTxPoolSize = 6000;
// Datasets the workload spreads its anchors over (versions auto-increment).
inline constexpr size_t kWorkloadDatasets = 64;

// Validator i's key (0-based), derived from a fixed seed.
crypto::KeyPair validator_key(size_t i);
// The agency's client key that signs every workload transaction.
crypto::KeyPair client_key();
// A key outside every validator set (Byzantine "outsider" messages).
crypto::KeyPair outsider_key();

// Genesis with `n` validators "v1".."vn" and the agency "sim".
ledger::v1::Genesis make_genesis(size_t n);
// The consensus view of the same validators.
consensus::ValidatorSet make_validator_set(size_t n);

struct TxPool {
  std::vector<Bytes> txs;                    // SignedTransaction bytes, index = workload id
  std::map<Hash256, uint32_t> index_by_hash;  // SHA-256(tx bytes) -> index
  std::optional<uint32_t> find(ByteView tx) const;
};
// The process-wide pool (signed on first use).
const TxPool& tx_pool();

}  // namespace prov::sim
