#include "crypto/ed25519.h"

#include <sodium.h>

#include <cstdlib>
#include <mutex>

namespace prov::crypto {

void init() {
  static std::once_flag once;
  std::call_once(once, [] {
    // sodium_init fails only when the OS has no usable random source; nothing
    // in this program can be trusted without one.
    if (sodium_init() < 0) std::abort();
  });
}

KeyPair KeyPair::generate() {
  init();
  Seed seed;
  randombytes_buf(seed.data(), seed.size());
  KeyPair kp = from_seed(seed);
  sodium_memzero(seed.data(), seed.size());
  return kp;
}

KeyPair KeyPair::from_seed(const Seed& seed) {
  init();
  KeyPair kp;
  kp.seed_ = seed;
  crypto_sign_seed_keypair(kp.pub_.data(), kp.secret_.data(), seed.data());
  return kp;
}

KeyPair::KeyPair(const KeyPair&) = default;
KeyPair& KeyPair::operator=(const KeyPair&) = default;
KeyPair::~KeyPair() {
  sodium_memzero(seed_.data(), seed_.size());
  sodium_memzero(secret_.data(), secret_.size());
}

Signature KeyPair::sign_raw(ByteView message) const {
  Signature sig;
  crypto_sign_detached(sig.data(), nullptr, message.data(), message.size(), secret_.data());
  return sig;
}

Bytes domain_message(std::string_view purpose_tag, std::string_view chain_id, ByteView payload) {
  // Chain ids are bounded to 255 bytes by genesis validation; the length
  // prefix keeps (chain id, payload) boundaries unambiguous.
  Bytes m;
  m.reserve(purpose_tag.size() + 1 + chain_id.size() + payload.size());
  append(m, purpose_tag);
  m.push_back(static_cast<uint8_t>(chain_id.size() > 255 ? 255 : chain_id.size()));
  append(m, chain_id.substr(0, 255));
  append(m, payload);
  return m;
}

Signature KeyPair::sign(std::string_view purpose_tag, std::string_view chain_id, ByteView payload) const {
  return sign_raw(domain_message(purpose_tag, chain_id, payload));
}

bool verify_raw(const PublicKey& key, ByteView message, const Signature& sig) {
  init();
  return crypto_sign_verify_detached(sig.data(), message.data(), message.size(), key.data()) == 0;
}

bool verify(const PublicKey& key, std::string_view purpose_tag, std::string_view chain_id, ByteView payload,
            const Signature& sig) {
  return verify_raw(key, domain_message(purpose_tag, chain_id, payload), sig);
}

void random_bytes(std::span<uint8_t> out) {
  init();
  randombytes_buf(out.data(), out.size());
}

}  // namespace prov::crypto
