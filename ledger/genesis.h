// Genesis: the JSON file every node and auditor starts from.
//
// The file is the proto3 JSON mapping of prov.ledger.v1.Genesis (field names
// in snake_case, bytes as base64). Loading it is three steps: parse strictly
// (unknown fields are an error, so a typo can not silently drop a setting),
// normalize (zero consensus parameters take their defaults from registry.h),
// validate (every rule in docs/genesis.md; messages name the offending entry).
// The genesis hash is SHA-256 of the deterministic serialization of the
// normalized message, so every node that loads the same file, however it is
// formatted, gets the same hash. The validator-set hash is registry.h's
// validator_set_hash; there is only one.
// Thread-safety: pure functions of their arguments (load_genesis_file reads
// the file system).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "crypto/bytes.h"
#include "crypto/status.h"
#include "ledger/proto/ledger.pb.h"

namespace prov::ledger {

inline constexpr uint32_t kGenesisVersion = 1;
// Largest genesis file accepted, checked before parsing.
inline constexpr size_t kGenesisMaxBytes = size_t{4} << 20;  // 4 MiB
inline constexpr size_t kChainIdMaxBytes = 64;
inline constexpr size_t kMaxObservers = 256;
inline constexpr size_t kMaxAgencies = 4096;
inline constexpr size_t kAddressMaxBytes = 255;
// Sane bounds for the timing parameters (registry.h bounds the others).
inline constexpr uint32_t kMinRoundTimeoutMs = 50;
inline constexpr uint32_t kMaxRoundTimeoutMs = 600'000;
inline constexpr uint32_t kMaxBlockIntervalMs = 60'000;

// How complete a genesis must be. A draft (what `provctl genesis init` and
// `add-*` write while an operator assembles one) may have no validators yet;
// everything it does have must still be valid.
enum class GenesisCheck { kComplete, kDraft };

// Parses genesis JSON strictly; no normalization or validation. Fails with
// kInvalidArgument (syntax, unknown field, wrong type) or kResourceExhausted
// (larger than kGenesisMaxBytes).
Result<v1::Genesis> parse_genesis_json(std::string_view json);

// Replaces every zero consensus parameter with its default (creating the
// consensus message if absent is not done: validation requires it).
void normalize_genesis(v1::Genesis& genesis);

// Checks every rule of docs/genesis.md on a normalized genesis; the first
// violation is returned as kInvalidArgument naming the entry, e.g.
// `validators[2] "validator-3": pub_key must be 32 bytes, got 31`.
Status validate_genesis(const v1::Genesis& genesis, GenesisCheck check = GenesisCheck::kComplete);

// parse_genesis_json + normalize_genesis + validate_genesis.
Result<v1::Genesis> load_genesis_json(std::string_view json, GenesisCheck check = GenesisCheck::kComplete);
// load_genesis_json on the contents of `path`; kNotFound if it does not exist,
// and every error message starts with the path.
Result<v1::Genesis> load_genesis_file(const std::string& path, GenesisCheck check = GenesisCheck::kComplete);

// Pretty JSON (snake_case names, every primitive field printed), ending in a
// newline; load_genesis_json(genesis_to_json(g)) == g for a normalized g.
Result<std::string> genesis_to_json(const v1::Genesis& genesis);

// SHA-256 of the deterministic serialization of `genesis` (normalize first).
Hash256 genesis_hash(const v1::Genesis& genesis);

// Syntax checks shared with provctl, so it can reject bad flags early.
// chain id: 1..64 bytes of [a-z0-9._-].
bool valid_chain_id(std::string_view s);
// C2SP note key name (validators, observers, client keys): 1..64 bytes of
// printable ASCII without '+' or space. Stricter than the spec's "UTF-8
// without spaces or +", which keeps Unicode look-alikes out of key names.
bool valid_key_name(std::string_view s);
// Agency ids and namespaces: 1..64 bytes of [a-z0-9._-].
bool valid_agency_id(std::string_view s);
bool valid_namespace(std::string_view s);
// host:port, host a DNS name or IPv4 literal ([A-Za-z0-9.-_]) or a bracketed
// IPv6 literal, port 1..65535 in decimal without leading zeros.
bool valid_address(std::string_view s);

}  // namespace prov::ledger
