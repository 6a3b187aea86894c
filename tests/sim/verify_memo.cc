// A per-thread memo of Ed25519 verification results for the simulator.
//
// In provsim every replica lives in one process, so each vote, proposal and
// certificate signature is verified once per replica that receives it: n
// times the same pure computation, and 85% of the simulator's CPU time.
// provsim and sim_test are linked with `-Wl,--wrap=crypto_sign_verify_detached`
// (tests/sim/CMakeLists.txt): every call the crypto module makes to
// libsodium's verifier lands here first. A verification result depends only
// on (signature, message, key), so answering from the memo is exactly what
// libsodium would answer; the trace hash of every seed is unchanged
// (docs/simulator.md). Nothing outside the simulator is linked with this.
#include <sodium.h>

#include <cstring>
#include <unordered_map>

#include "crypto/sha256.h"

extern "C" int __real_crypto_sign_verify_detached(const unsigned char* sig, const unsigned char* m,
                                                  unsigned long long mlen, const unsigned char* pk);

namespace {

struct DigestHash {
  size_t operator()(const prov::Hash256& h) const {
    size_t v;
    std::memcpy(&v, h.data(), sizeof v);
    return v;
  }
};

constexpr size_t kMaxEntries = 1u << 20;

}  // namespace

extern "C" int __wrap_crypto_sign_verify_detached(const unsigned char* sig, const unsigned char* m,
                                                  unsigned long long mlen, const unsigned char* pk) {
  thread_local std::unordered_map<prov::Hash256, int, DigestHash> memo;
  prov::crypto::Sha256 h;
  h.update(prov::ByteView(pk, crypto_sign_PUBLICKEYBYTES));
  h.update(prov::ByteView(sig, crypto_sign_BYTES));
  h.update(prov::ByteView(m, static_cast<size_t>(mlen)));
  prov::Hash256 key = h.finish();
  if (auto it = memo.find(key); it != memo.end()) return it->second;
  int result = __real_crypto_sign_verify_detached(sig, m, mlen, pk);
  if (memo.size() >= kMaxEntries) memo.clear();
  memo.emplace(key, result);
  return result;
}
