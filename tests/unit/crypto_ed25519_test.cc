#include <doctest/doctest.h>

#include "crypto/ed25519.h"
#include "crypto/encoding.h"
#include "crypto/sha256.h"

using namespace prov;
using namespace prov::crypto;

TEST_CASE("RFC 8032 test vector 2 (one-byte message)") {
  auto seed = hex_decode_fixed<Seed>("4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb");
  REQUIRE(seed.is_ok());
  KeyPair kp = KeyPair::from_seed(*seed);
  CHECK(hex_encode(kp.public_key()) == "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c");
  Bytes msg = {0x72};
  Signature sig = kp.sign_raw(msg);
  CHECK(hex_encode(sig) ==
        "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da"
        "085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00");
  CHECK(verify_raw(kp.public_key(), msg, sig));
  msg[0] ^= 1;
  CHECK_FALSE(verify_raw(kp.public_key(), msg, sig));
}

TEST_CASE("domain separation binds purpose and chain id") {
  KeyPair kp = KeyPair::generate();
  Bytes payload = to_bytes("block 7");
  Signature sig = kp.sign(purpose::kVote, "chain-a", payload);
  CHECK(verify(kp.public_key(), purpose::kVote, "chain-a", payload, sig));
  CHECK_FALSE(verify(kp.public_key(), purpose::kVote, "chain-b", payload, sig));
  CHECK_FALSE(verify(kp.public_key(), purpose::kTimeout, "chain-a", payload, sig));
  // Every tag starts with 0x00 so no C2SP note text can collide with it.
  for (auto tag : {purpose::kTransaction, purpose::kVote, purpose::kTimeout, purpose::kProposal, purpose::kCommit,
                   purpose::kHandshake, purpose::kGovernanceApproval, purpose::kHttpRequest}) {
    REQUIRE(!tag.empty());
    CHECK(tag[0] == '\0');
    CHECK(tag.find('\0', 1) == std::string_view::npos);
  }
  // (chain id, payload) boundaries are unambiguous.
  CHECK(domain_message(purpose::kVote, "ab", to_bytes("c")) != domain_message(purpose::kVote, "a", to_bytes("bc")));
}

TEST_CASE("SHA-256 backends agree with FIPS 180-2 vectors") {
  const std::string abc = "abc";
  const char* want = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
  CHECK(hex_encode(sha256(as_bytes(abc))) == want);
  CHECK(hex_encode(sha256_with(Sha256Backend::kSodium, as_bytes(abc))) == want);
  CHECK(hex_encode(sha256(as_bytes("a"), as_bytes("bc"))) == want);
  Sha256 h;
  h.update(as_bytes("ab"));
  h.update(as_bytes("c"));
  CHECK(hex_encode(h.finish()) == want);
  Bytes big(100000, 0x61);
  CHECK(sha256(big) == sha256_with(Sha256Backend::kSodium, big));
}
