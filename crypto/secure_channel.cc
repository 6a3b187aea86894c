#include "crypto/secure_channel.h"

#include <sodium.h>

#include <algorithm>
#include <cassert>

#include "crypto/sha256.h"

namespace prov::crypto {

static_assert(crypto_kx_PUBLICKEYBYTES == kEphemeralKeyBytes);
static_assert(crypto_kx_SESSIONKEYBYTES == SessionKey::kSize);
static_assert(crypto_kx_SEEDBYTES == Seed::kSize);
static_assert(crypto_aead_chacha20poly1305_ietf_ABYTES == kAeadTagBytes);
static_assert(crypto_aead_chacha20poly1305_ietf_KEYBYTES == SessionKey::kSize);
static_assert(crypto_aead_chacha20poly1305_ietf_NPUBBYTES == 12);

const char* channel_error_name(ChannelError e) {
  switch (e) {
    case ChannelError::kMalformed: return "malformed";
    case ChannelError::kOversized: return "oversized";
    case ChannelError::kBadTag: return "bad_tag";
    case ChannelError::kWrongVersion: return "wrong_version";
    case ChannelError::kWrongChainId: return "wrong_chain_id";
    case ChannelError::kBadSignature: return "bad_signature";
    case ChannelError::kReflected: return "reflected";
    case ChannelError::kWeakKey: return "weak_key";
    case ChannelError::kNonceExhausted: return "nonce_exhausted";
  }
  return "unknown";
}

Status channel_status(ChannelError e) {
  std::string m = std::string("secure channel: ") + channel_error_name(e);
  switch (e) {
    case ChannelError::kOversized: return Status::resource_exhausted(std::move(m));
    case ChannelError::kNonceExhausted: return Status::resource_exhausted(std::move(m));
    case ChannelError::kBadTag:
    case ChannelError::kBadSignature:
    case ChannelError::kReflected:
    case ChannelError::kWeakKey: return Status::unauthenticated(std::move(m));
    case ChannelError::kWrongVersion:
    case ChannelError::kWrongChainId: return Status::permission_denied(std::move(m));
    case ChannelError::kMalformed: break;
  }
  return Status::invalid_argument(std::move(m));
}

// ---- Hello ---------------------------------------------------------------

Bytes encode_hello(const Hello& hello) {
  assert(hello.chain_id.size() <= kChainIdBytesMax);
  Bytes out;
  const auto body_len = static_cast<uint32_t>(kHelloBodyBytesMin + hello.chain_id.size());
  out.reserve(kFrameHeaderBytes + body_len);
  put_u32_be(out, body_len);
  put_u32_be(out, hello.version);
  out.push_back(static_cast<uint8_t>(hello.chain_id.size()));
  append(out, hello.chain_id);
  append(out, hello.ephemeral.view());
  return out;
}

ChannelResult<Hello> decode_hello_body(ByteView body) {
  if (body.size() < 4) return ChannelError::kMalformed;
  Hello hello;
  hello.version = get_u32_be(body.data());
  if (hello.version != kChannelVersion) return ChannelError::kWrongVersion;
  if (body.size() < kHelloBodyBytesMin) return ChannelError::kMalformed;
  const size_t chain_len = body[4];
  if (body.size() != kHelloBodyBytesMin + chain_len) return ChannelError::kMalformed;
  hello.chain_id = to_string(body.subspan(5, chain_len));
  hello.ephemeral.assign(body.subspan(5 + chain_len, kEphemeralKeyBytes));
  return hello;
}

Hash256 transcript_hash(ByteView hello_a, ByteView hello_b) {
  const bool a_first = std::lexicographical_compare(hello_a.begin(), hello_a.end(), hello_b.begin(), hello_b.end());
  return a_first ? sha256(hello_a, hello_b) : sha256(hello_b, hello_a);
}

// ---- Ephemeral key exchange ----------------------------------------------

EphemeralKey EphemeralKey::generate() {
  init();
  EphemeralKey k;
  crypto_kx_keypair(k.pub_.data(), k.secret_.data());
  return k;
}

EphemeralKey EphemeralKey::from_seed(const Seed& seed) {
  init();
  EphemeralKey k;
  crypto_kx_seed_keypair(k.pub_.data(), k.secret_.data(), seed.data());
  return k;
}

EphemeralKey::EphemeralKey(const EphemeralKey&) = default;
EphemeralKey& EphemeralKey::operator=(const EphemeralKey&) = default;
EphemeralKey::~EphemeralKey() { sodium_memzero(secret_.data(), secret_.size()); }

ChannelResult<SessionKeys> EphemeralKey::derive(const EphemeralPublicKey& peer) const {
  if (peer == pub_) return ChannelError::kReflected;
  SessionKeys keys;
  // crypto_kx fails when X25519 yields all zeros: a small-order peer key
  // would make the "shared" secret known to everyone.
  const int rc = pub_ < peer
                     ? crypto_kx_client_session_keys(keys.recv.data(), keys.send.data(), pub_.data(),
                                                     secret_.data(), peer.data())
                     : crypto_kx_server_session_keys(keys.recv.data(), keys.send.data(), pub_.data(),
                                                     secret_.data(), peer.data());
  if (rc != 0) return ChannelError::kWeakKey;
  return keys;
}

// ---- Frames --------------------------------------------------------------

namespace {

using Nonce = std::array<uint8_t, crypto_aead_chacha20poly1305_ietf_NPUBBYTES>;

Nonce counter_nonce(uint64_t counter) {
  Nonce n{};
  for (int i = 0; i < 8; ++i) n[4 + i] = static_cast<uint8_t>(counter >> (8 * (7 - i)));
  return n;
}

}  // namespace

FrameEncoder::FrameEncoder(const SessionKey& key, uint32_t max_frame_bytes, uint64_t first_counter)
    : key_(key), max_frame_bytes_(max_frame_bytes), counter_(first_counter) {
  assert(max_frame_bytes >= kMinMaxFrameBytes);
  init();
}

FrameEncoder::~FrameEncoder() { sodium_memzero(key_.data(), key_.size()); }

ChannelResult<Bytes> FrameEncoder::seal(ByteView plaintext) {
  if (plaintext.size() > max_plaintext_bytes()) return ChannelError::kOversized;
  if (exhausted_ || counter_ > kLastFrameCounter) {
    exhausted_ = true;
    return ChannelError::kNonceExhausted;
  }
  const auto cipher_len = static_cast<uint32_t>(plaintext.size() + kAeadTagBytes);
  Bytes out;
  out.reserve(kFrameHeaderBytes + cipher_len);
  put_u32_be(out, cipher_len);
  out.resize(kFrameHeaderBytes + cipher_len);
  uint8_t* cipher = out.data() + kFrameHeaderBytes;
  if (!plaintext.empty()) std::memcpy(cipher, plaintext.data(), plaintext.size());
  const Nonce nonce = counter_nonce(counter_);
  crypto_aead_chacha20poly1305_ietf_encrypt_detached(cipher, cipher + plaintext.size(), nullptr, cipher,
                                                     plaintext.size(), out.data(), kFrameHeaderBytes, nullptr,
                                                     nonce.data(), key_.data());
  ++counter_;
  return out;
}

FrameDecoder::FrameDecoder(const SessionKey& key, uint32_t max_frame_bytes, uint64_t first_counter)
    : key_(key), max_frame_bytes_(max_frame_bytes), counter_(first_counter) {
  assert(max_frame_bytes >= kAeadTagBytes);
  init();
}

FrameDecoder::~FrameDecoder() { sodium_memzero(key_.data(), key_.size()); }

DecodeStep FrameDecoder::decode(ByteView in) {
  DecodeStep step;
  if (error_) {
    step.error = error_;
    return step;
  }
  // The header first: the declared length is judged before one body byte is kept.
  if (header_have_ < kFrameHeaderBytes) {
    const size_t take = std::min(in.size(), kFrameHeaderBytes - header_have_);
    std::memcpy(header_ + header_have_, in.data(), take);
    header_have_ += take;
    step.consumed_bytes += take;
    in = in.subspan(take);
    if (header_have_ < kFrameHeaderBytes) return step;
    body_len_ = get_u32_be(header_);
    if (body_len_ > max_frame_bytes_) error_ = ChannelError::kOversized;
    else if (body_len_ < kAeadTagBytes) error_ = ChannelError::kMalformed;
    if (error_) {
      step.error = error_;
      return step;
    }
  }
  // The body grows only with bytes received, never to the declared length.
  const size_t take = std::min(in.size(), body_len_ - body_.size());
  body_.insert(body_.end(), in.begin(), in.begin() + static_cast<std::ptrdiff_t>(take));
  step.consumed_bytes += take;
  if (body_.size() < body_len_) return step;

  if (counter_ > kLastFrameCounter) {
    error_ = ChannelError::kNonceExhausted;
    step.error = error_;
    return step;
  }
  const size_t plain_len = body_len_ - kAeadTagBytes;
  const Nonce nonce = counter_nonce(counter_);
  if (crypto_aead_chacha20poly1305_ietf_decrypt_detached(body_.data(), nullptr, body_.data(), plain_len,
                                                         body_.data() + plain_len, header_, kFrameHeaderBytes,
                                                         nonce.data(), key_.data()) != 0) {
    error_ = ChannelError::kBadTag;
    step.error = error_;
    return step;
  }
  ++counter_;
  body_.resize(plain_len);
  step.frame = std::move(body_);
  body_ = Bytes();
  header_have_ = 0;
  body_len_ = 0;
  return step;
}

// ---- Handshake -----------------------------------------------------------

Bytes encode_auth(const AuthMessage& auth) {
  Bytes out;
  out.reserve(kAuthPlaintextBytes);
  append(out, auth.static_key.view());
  append(out, auth.signature.view());
  return out;
}

ChannelResult<AuthMessage> decode_auth(ByteView plaintext) {
  if (plaintext.size() != kAuthPlaintextBytes) return ChannelError::kMalformed;
  AuthMessage auth;
  auth.static_key.assign(plaintext.first(PublicKey::kSize));
  auth.signature.assign(plaintext.subspan(PublicKey::kSize));
  return auth;
}

Result<Handshake> Handshake::create(const KeyPair& static_key, HandshakeConfig config) {
  return create(static_key, std::move(config), EphemeralKey::generate());
}

Result<Handshake> Handshake::create(const KeyPair& static_key, HandshakeConfig config, EphemeralKey ephemeral) {
  if (config.chain_id.size() > kChainIdBytesMax) {
    return Status::invalid_argument("handshake: chain id longer than " + std::to_string(kChainIdBytesMax) + " bytes");
  }
  if (config.max_frame_bytes < kMinMaxFrameBytes) {
    return Status::invalid_argument("handshake: max_frame_bytes below " + std::to_string(kMinMaxFrameBytes));
  }
  return Handshake(static_key, std::move(config), std::move(ephemeral));
}

Handshake::Handshake(const KeyPair& static_key, HandshakeConfig config, EphemeralKey ephemeral)
    : static_key_(static_key), config_(std::move(config)), ephemeral_(std::move(ephemeral)) {
  our_hello_ = encode_hello(Hello{kChannelVersion, config_.chain_id, ephemeral_.public_key()});
}

const PublicKey& Handshake::peer_key() const {
  assert(state_ == HandshakeState::kDone);
  return *peer_key_;
}

SecureSession Handshake::take_session() {
  assert(state_ == HandshakeState::kDone && keys_);
  // Counter 0 of each direction carried the auth frame.
  SecureSession s{FrameEncoder(keys_->send, config_.max_frame_bytes, 1),
                  FrameDecoder(keys_->recv, config_.max_frame_bytes, 1)};
  sodium_memzero(&*keys_, sizeof(SessionKeys));
  keys_.reset();
  return s;
}

void Handshake::fail(ChannelError e) {
  state_ = HandshakeState::kFailed;
  error_ = e;
}

Handshake::Step Handshake::on_bytes(ByteView in) {
  Step step;
  while (!in.empty() && (state_ == HandshakeState::kAwaitingHello || state_ == HandshakeState::kAwaitingAuth)) {
    const size_t used = state_ == HandshakeState::kAwaitingHello ? read_hello(in, step.to_send) : read_auth(in);
    step.consumed_bytes += used;
    in = in.subspan(used);
    if (used == 0) break;
  }
  step.state = state_;
  return step;
}

size_t Handshake::read_hello(ByteView in, Bytes& to_send) {
  // Header first, checked against the bound before the body is collected.
  size_t used = 0;
  if (peer_hello_.size() < kFrameHeaderBytes) {
    used = std::min(in.size(), kFrameHeaderBytes - peer_hello_.size());
    append(peer_hello_, in.first(used));
    if (peer_hello_.size() < kFrameHeaderBytes) return used;
    const uint32_t body_len = get_u32_be(peer_hello_.data());
    if (body_len > kHelloBodyBytesMax) {
      fail(ChannelError::kOversized);
      return used;
    }
    // Too short to hold even a version: garbage. Other short bodies reach
    // decode_hello_body, which judges the version first so that a peer of
    // another version gets a precise answer.
    if (body_len < 4) {
      fail(ChannelError::kMalformed);
      return used;
    }
  }
  const size_t want = kFrameHeaderBytes + get_u32_be(peer_hello_.data());
  const size_t take = std::min(in.size() - used, want - peer_hello_.size());
  append(peer_hello_, in.subspan(used, take));
  used += take;
  if (peer_hello_.size() < want) return used;

  auto hello = decode_hello_body(ByteView(peer_hello_).subspan(kFrameHeaderBytes));
  if (!hello) {
    fail(hello.error());
    return used;
  }
  if (hello->chain_id != config_.chain_id) {
    fail(ChannelError::kWrongChainId);
    return used;
  }
  auto keys = ephemeral_.derive(hello->ephemeral);
  if (!keys) {
    fail(keys.error());
    return used;
  }
  keys_ = std::move(keys).value();
  transcript_ = transcript_hash(our_hello_, peer_hello_);
  const AuthMessage ours{static_key_.public_key(),
                         static_key_.sign(purpose::kHandshake, config_.chain_id, transcript_.view())};
  FrameEncoder auth_encoder(keys_->send, kAuthFrameCiphertextBytes, 0);
  auto sealed = auth_encoder.seal(encode_auth(ours));
  assert(sealed.is_ok());  // fixed size, counter 0: cannot fail
  append(to_send, *sealed);
  // The peer's auth is exactly one frame of known size; anything else is refused.
  auth_decoder_.emplace(keys_->recv, kAuthFrameCiphertextBytes, 0);
  state_ = HandshakeState::kAwaitingAuth;
  return used;
}

size_t Handshake::read_auth(ByteView in) {
  DecodeStep step = auth_decoder_->decode(in);
  if (step.error) {
    fail(*step.error);
    return step.consumed_bytes;
  }
  if (!step.frame) return step.consumed_bytes;
  auto auth = decode_auth(*step.frame);
  if (!auth) {
    fail(auth.error());
    return step.consumed_bytes;
  }
  if (auth->static_key == static_key_.public_key()) {
    fail(ChannelError::kReflected);
    return step.consumed_bytes;
  }
  if (!verify(auth->static_key, purpose::kHandshake, config_.chain_id, transcript_.view(), auth->signature)) {
    fail(ChannelError::kBadSignature);
    return step.consumed_bytes;
  }
  peer_key_ = auth->static_key;
  auth_decoder_.reset();
  state_ = HandshakeState::kDone;
  return step.consumed_bytes;
}

}  // namespace prov::crypto
