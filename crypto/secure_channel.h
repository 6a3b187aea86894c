// The secure channel between two provledger nodes: an authenticated key
// exchange in the manner of CometBFT's secret connection, then AEAD frames.
//
// Everything here is pure and I/O-free: it turns received bytes into bytes to
// send, plaintext frames or a typed error, so it is unit-tested and fuzzed
// without sockets. node/transport.h moves the bytes. The wire format is
// documented byte by byte in docs/transport.md.
//
//   hello  = u32 BE body length ‖ u32 BE version ‖ u8 len ‖ chain id ‖ 32-byte X25519 key
//   frame  = u32 BE ciphertext length ‖ ChaCha20-Poly1305 IETF ciphertext ‖ 16-byte tag
//   auth   = the first frame of each direction: Ed25519 static key ‖ signature
//            over (purpose::kHandshake, chain id, SHA-256(hellos, canonical order))
//
// Every object is thread-compatible (no shared state; one thread at a time per
// object). Key material is wiped when its holder is destroyed.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <variant>

#include "crypto/bytes.h"
#include "crypto/ed25519.h"
#include "crypto/status.h"

namespace prov::crypto {

// The only protocol version spoken; a peer announcing another is refused.
inline constexpr uint32_t kChannelVersion = 1;
// Chain ids are bounded by genesis validation; the hello carries a u8 length.
inline constexpr size_t kChainIdBytesMax = 255;
inline constexpr size_t kFrameHeaderBytes = 4;
inline constexpr size_t kAeadTagBytes = 16;
inline constexpr size_t kEphemeralKeyBytes = 32;
// Hello body (after its length prefix): version, chain id length, chain id, key.
inline constexpr uint32_t kHelloBodyBytesMin = 4 + 1 + kEphemeralKeyBytes;
inline constexpr uint32_t kHelloBodyBytesMax = kHelloBodyBytesMin + kChainIdBytesMax;
// The auth message: static Ed25519 key ‖ transcript signature.
inline constexpr uint32_t kAuthPlaintextBytes = 32 + 64;
inline constexpr uint32_t kAuthFrameCiphertextBytes = kAuthPlaintextBytes + kAeadTagBytes;
// Default and smallest allowed bound on one frame's ciphertext (tag included,
// length prefix excluded). The smallest bound still fits the auth frame.
inline constexpr uint32_t kDefaultMaxFrameBytes = 16u << 20;
inline constexpr uint32_t kMinMaxFrameBytes = kAuthFrameCiphertextBytes;
// Frame counters run 0 … kLastFrameCounter; the next frame would reuse a
// nonce, so a direction that reaches it is closed instead.
inline constexpr uint64_t kLastFrameCounter = UINT64_MAX - 1;

// Why the channel refused bytes. Every error is final for that channel.
enum class ChannelError : uint8_t {
  kMalformed,       // bytes that do not parse as a hello, frame or auth message
  kOversized,       // a length prefix above the bound (refused before allocating)
  kBadTag,          // AEAD failed: tampered, truncated, replayed, reordered or wrong key
  kWrongVersion,    // the peer speaks another protocol version
  kWrongChainId,    // the peer is on another chain
  kBadSignature,    // the transcript signature does not verify under the claimed key
  kReflected,       // the peer echoed our ephemeral key or claims our static key
  kWeakKey,         // the peer's ephemeral key is of small order (no shared secret)
  kNonceExhausted,  // a direction used its last counter; the channel must close
};

// A stable lower-case name, e.g. "bad_tag".
const char* channel_error_name(ChannelError e);
// The error as a Status (for callers that only propagate it).
Status channel_status(ChannelError e);

// Either a value or a ChannelError.
template <class T>
class [[nodiscard]] ChannelResult {
 public:
  ChannelResult(T value) : v_(std::move(value)) {}     // NOLINT: implicit by design
  ChannelResult(ChannelError error) : v_(error) {}    // NOLINT
  bool is_ok() const { return std::holds_alternative<T>(v_); }
  explicit operator bool() const { return is_ok(); }
  const T& value() const& { assert(is_ok()); return std::get<T>(v_); }
  T&& value() && { assert(is_ok()); return std::get<T>(std::move(v_)); }
  const T& operator*() const& { return value(); }
  const T* operator->() const { return &value(); }
  // The error; only meaningful when !is_ok().
  ChannelError error() const { assert(!is_ok()); return std::get<ChannelError>(v_); }

 private:
  std::variant<T, ChannelError> v_;
};

using EphemeralPublicKey = FixedBytes<32, struct EphemeralPublicKeyTag>;
using SessionKey = FixedBytes<32, struct SessionKeyTag>;

// The two directional keys of one session.
struct SessionKeys {
  SessionKey send;
  SessionKey recv;
};

// ---- Hello ---------------------------------------------------------------

struct Hello {
  uint32_t version = kChannelVersion;
  std::string chain_id;
  EphemeralPublicKey ephemeral;
};

// The wire bytes of `hello`, length prefix included. Precondition:
// chain_id.size() <= kChainIdBytesMax.
Bytes encode_hello(const Hello& hello);
// Parses a hello body (the bytes after the length prefix). The version is
// read first, so a peer of another version gets kWrongVersion, not kMalformed.
ChannelResult<Hello> decode_hello_body(ByteView body);

// SHA-256 over both hellos' wire bytes, the lexicographically smaller first,
// so both sides compute the same hash without agreeing on roles.
Hash256 transcript_hash(ByteView hello_a, ByteView hello_b);

// ---- Ephemeral key exchange ----------------------------------------------

// A one-session X25519 key pair (libsodium crypto_kx).
class EphemeralKey {
 public:
  // A fresh key from the OS random source.
  static EphemeralKey generate();
  // The key determined by `seed` (deterministic: tests and fuzzing only).
  static EphemeralKey from_seed(const Seed& seed);
  EphemeralKey(const EphemeralKey&);
  EphemeralKey& operator=(const EphemeralKey&);
  ~EphemeralKey();

  const EphemeralPublicKey& public_key() const { return pub_; }
  // The session keys shared with the holder of `peer`. The side whose
  // ephemeral public key is smaller takes crypto_kx's client role, so roles
  // need no negotiation. Fails with kReflected if `peer` is our own key and
  // kWeakKey if the exchange yields no secret.
  ChannelResult<SessionKeys> derive(const EphemeralPublicKey& peer) const;

 private:
  EphemeralKey() = default;
  EphemeralPublicKey pub_;
  FixedBytes<32, struct EphemeralSecretTag> secret_;
};

// ---- Frames --------------------------------------------------------------

// Seals plaintexts into frames with a per-direction counter nonce
// (4 zero bytes ‖ u64 BE counter); the 4-byte length prefix is the AEAD's
// associated data.
class FrameEncoder {
 public:
  // Precondition: max_frame_bytes >= kMinMaxFrameBytes.
  FrameEncoder(const SessionKey& key, uint32_t max_frame_bytes, uint64_t first_counter = 0);
  FrameEncoder(const FrameEncoder&) = default;
  FrameEncoder& operator=(const FrameEncoder&) = default;
  ~FrameEncoder();

  // The wire bytes of one frame carrying `plaintext`. Fails with kOversized
  // if the ciphertext would exceed the bound and kNonceExhausted once the
  // counter is spent (then the channel must be closed).
  ChannelResult<Bytes> seal(ByteView plaintext);
  // The largest plaintext seal() accepts.
  size_t max_plaintext_bytes() const { return max_frame_bytes_ - kAeadTagBytes; }
  // The counter the next frame will use.
  uint64_t next_counter() const { return counter_; }

 private:
  SessionKey key_;
  uint32_t max_frame_bytes_;
  uint64_t counter_;
  bool exhausted_ = false;
};

// The outcome of FrameDecoder::decode.
struct DecodeStep {
  size_t consumed_bytes = 0;          // how much of the input was used
  std::optional<Bytes> frame;         // a complete, authenticated plaintext
  std::optional<ChannelError> error;  // set: the stream is unusable from here on
};

// Reassembles frames from a byte stream and opens them in counter order, so a
// replayed, reordered or dropped frame fails its tag. Memory held is at most
// the bytes actually received of the current frame, never the declared
// length: the prefix is checked against the bound before anything is kept.
class FrameDecoder {
 public:
  // Precondition: max_frame_bytes >= kAeadTagBytes.
  FrameDecoder(const SessionKey& key, uint32_t max_frame_bytes, uint64_t first_counter = 0);
  FrameDecoder(const FrameDecoder&) = default;
  FrameDecoder& operator=(const FrameDecoder&) = default;
  ~FrameDecoder();

  // Consumes a prefix of `in`, stopping after the first complete frame or
  // error. Call again with the rest of the input while consumed_bytes > 0.
  // After an error, every call returns the same error and consumes nothing.
  DecodeStep decode(ByteView in);
  // Bytes of a partial frame held (capacity, not size: what memory costs).
  size_t buffered_capacity_bytes() const { return body_.capacity(); }
  // True between frames (nothing partial held): EOF here is a clean close.
  bool at_frame_boundary() const { return header_have_ == 0; }
  uint64_t next_counter() const { return counter_; }

 private:
  SessionKey key_;
  uint32_t max_frame_bytes_;
  uint64_t counter_;
  uint8_t header_[kFrameHeaderBytes] = {};
  size_t header_have_ = 0;
  uint32_t body_len_ = 0;
  Bytes body_;
  std::optional<ChannelError> error_;
};

// Both directions of an established channel.
struct SecureSession {
  FrameEncoder encoder;
  FrameDecoder decoder;
};

// ---- Handshake -----------------------------------------------------------

struct HandshakeConfig {
  std::string chain_id;                            // must equal the peer's
  uint32_t max_frame_bytes = kDefaultMaxFrameBytes;  // bound on each later frame's ciphertext
};

// The auth message each side sends sealed as its first frame.
struct AuthMessage {
  PublicKey static_key;
  Signature signature;  // over (purpose::kHandshake, chain id, transcript hash)
};
Bytes encode_auth(const AuthMessage& auth);
ChannelResult<AuthMessage> decode_auth(ByteView plaintext);

enum class HandshakeState : uint8_t { kAwaitingHello, kAwaitingAuth, kDone, kFailed };

// One side of the handshake. Both sides run the same machine: send hello(),
// feed everything received to on_bytes() and send what it returns, until
// kDone (then take the peer key and session) or kFailed (then close).
// Messages: hello → (keys derived) → sealed auth. The caller decides whether
// the authenticated peer key is allowed; this class only proves possession.
class Handshake {
 public:
  // Fails with kInvalidArgument if the chain id is too long or the frame
  // bound is below kMinMaxFrameBytes.
  static Result<Handshake> create(const KeyPair& static_key, HandshakeConfig config);
  // As create(), with a given ephemeral key (deterministic tests, fuzzing).
  static Result<Handshake> create(const KeyPair& static_key, HandshakeConfig config, EphemeralKey ephemeral);

  // Our hello's wire bytes: send them first (both sides send at once).
  const Bytes& hello() const { return our_hello_; }

  struct Step {
    size_t consumed_bytes = 0;  // input used; bytes after the auth belong to the session
    Bytes to_send;              // send these to the peer (our sealed auth)
    HandshakeState state = HandshakeState::kAwaitingHello;
  };
  // Consumes received bytes up to the end of the peer's auth frame at most.
  Step on_bytes(ByteView in);

  HandshakeState state() const { return state_; }
  // Why the handshake failed. Precondition: state() == kFailed.
  ChannelError error() const { return *error_; }
  // The peer's authenticated static key. Precondition: state() == kDone.
  const PublicKey& peer_key() const;
  // The established session (counters start after the auth frames).
  // Precondition: state() == kDone; call at most once.
  SecureSession take_session();

 private:
  Handshake(const KeyPair& static_key, HandshakeConfig config, EphemeralKey ephemeral);
  size_t read_hello(ByteView in, Bytes& to_send);
  size_t read_auth(ByteView in);
  void fail(ChannelError e);

  KeyPair static_key_;
  HandshakeConfig config_;
  EphemeralKey ephemeral_;
  Bytes our_hello_;
  HandshakeState state_ = HandshakeState::kAwaitingHello;
  std::optional<ChannelError> error_;
  // Peer hello reassembly: never more than its prefix plus kHelloBodyBytesMax.
  Bytes peer_hello_;
  Hash256 transcript_;
  std::optional<SessionKeys> keys_;
  std::optional<FrameDecoder> auth_decoder_;
  std::optional<PublicKey> peer_key_;
};

}  // namespace prov::crypto
