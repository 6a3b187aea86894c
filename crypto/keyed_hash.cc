// Keyed BLAKE2b; see keyed_hash.h.
#include "crypto/keyed_hash.h"

#include <sodium.h>

namespace prov::crypto {

Result<Hash256> keyed_hash(ByteView key, std::string_view message) {
  static_assert(kKeyedHashMinKeyBytes == crypto_generichash_KEYBYTES_MIN);
  static_assert(kKeyedHashMaxKeyBytes == crypto_generichash_KEYBYTES_MAX);
  if (key.size() < kKeyedHashMinKeyBytes || key.size() > kKeyedHashMaxKeyBytes)
    return Status::invalid_argument("a keyed-hash key must be 16..64 bytes, this one is " + std::to_string(key.size()));
  if (sodium_init() < 0) return Status::internal("libsodium failed to initialise");
  Hash256 out;
  crypto_generichash(out.data(), out.size(), reinterpret_cast<const unsigned char*>(message.data()), message.size(),
                     key.data(), key.size());
  return out;
}

}  // namespace prov::crypto
