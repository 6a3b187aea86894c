// Ed25519 keys and signatures, and domain-separated signing.
//
// Every signature over a provledger message covers
//   purpose tag ‖ u8 len(chain_id) ‖ chain_id ‖ payload
// where each tag starts with byte 0x00. No C2SP note text can start with 0x00,
// so a validator's checkpoint signature can never be replayed as a vote or a
// transaction, and a signature from one chain is worthless on another.
// C2SP signed notes (crypto/note.h) sign their text as the spec says.
// Thread-safe; KeyPair wipes its secret on destruction.
#pragma once

#include <string_view>

#include "crypto/bytes.h"
#include "crypto/status.h"

namespace prov::crypto {

// Initialises libsodium once; every entry point of this module calls it.
void init();

// Purpose tags. Adding one is fine; changing one breaks every signature.
namespace purpose {
inline constexpr std::string_view kTransaction{"\0prov/tx/v1", 11};
inline constexpr std::string_view kVote{"\0prov/vote/v1", 13};
inline constexpr std::string_view kTimeout{"\0prov/timeout/v1", 16};
inline constexpr std::string_view kProposal{"\0prov/proposal/v1", 17};
inline constexpr std::string_view kCommit{"\0prov/commit/v1", 15};
inline constexpr std::string_view kHandshake{"\0prov/handshake/v1", 18};
inline constexpr std::string_view kGovernanceApproval{"\0prov/gov-approval/v1", 21};
inline constexpr std::string_view kHttpRequest{"\0prov/http/v1", 13};
}  // namespace purpose

class KeyPair {
 public:
  // A fresh key from the OS random source.
  static KeyPair generate();
  // The key determined by `seed` (deterministic; tests and key files).
  static KeyPair from_seed(const Seed& seed);

  KeyPair(const KeyPair&);
  KeyPair& operator=(const KeyPair&);
  ~KeyPair();

  const PublicKey& public_key() const { return pub_; }
  const Seed& seed() const { return seed_; }

  // Plain Ed25519 signature of `message` (no domain separation).
  Signature sign_raw(ByteView message) const;
  // Signature of purpose ‖ chain id ‖ payload (see the header comment).
  Signature sign(std::string_view purpose_tag, std::string_view chain_id, ByteView payload) const;

 private:
  KeyPair() = default;
  PublicKey pub_;
  Seed seed_;
  FixedBytes<64, struct SecretTag> secret_;  // libsodium's expanded secret key
};

// The message actually signed for (purpose, chain id, payload).
Bytes domain_message(std::string_view purpose_tag, std::string_view chain_id, ByteView payload);

// Verifies a plain Ed25519 signature. Rejects small-order and non-canonical
// keys and signatures.
bool verify_raw(const PublicKey& key, ByteView message, const Signature& sig);
// Verifies a domain-separated signature (see KeyPair::sign).
bool verify(const PublicKey& key, std::string_view purpose_tag, std::string_view chain_id, ByteView payload,
            const Signature& sig);

// Fills `out` with bytes from the OS random source.
void random_bytes(std::span<uint8_t> out);

}  // namespace prov::crypto
