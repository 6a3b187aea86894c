// Keyed BLAKE2b-256 for pseudonymous identifiers (DESIGN.md, "Privacy"): a
// data subject appears on the ledger only as keyed_hash(agency secret, id),
// so nobody without the agency's secret can test a guessed id against it.
// Pure functions; thread-safe.
#pragma once

#include <string_view>

#include "crypto/bytes.h"
#include "crypto/status.h"

namespace prov::crypto {

// Accepted key sizes (libsodium crypto_generichash_KEYBYTES_MIN/MAX).
inline constexpr size_t kKeyedHashMinKeyBytes = 16;
inline constexpr size_t kKeyedHashMaxKeyBytes = 64;

// BLAKE2b with a 32-byte output keyed by `key` over `message`
// (crypto_generichash). kInvalidArgument if the key size is out of range.
Result<Hash256> keyed_hash(ByteView key, std::string_view message);

}  // namespace prov::crypto
