#include "crypto/short_hash.h"

#include <sodium.h>

#include "crypto/ed25519.h"

namespace prov::crypto {
namespace {

struct ShortHashKey {
  unsigned char bytes[crypto_shorthash_KEYBYTES];
  ShortHashKey() {
    init();
    randombytes_buf(bytes, sizeof bytes);
  }
};

const ShortHashKey& process_key() {
  static const ShortHashKey key;  // thread-safe initialisation, never destroyed before use ends
  return key;
}

}  // namespace

uint64_t short_hash(ByteView data) {
  unsigned char out[crypto_shorthash_BYTES];
  crypto_shorthash(out, data.data(), data.size(), process_key().bytes);
  uint64_t h;
  static_assert(sizeof h == crypto_shorthash_BYTES);
  std::memcpy(&h, out, sizeof h);
  return h;
}

}  // namespace prov::crypto
