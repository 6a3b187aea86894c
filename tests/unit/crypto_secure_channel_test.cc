// Tests of the pure secure channel: handshake, frames, nonces, bounds, and
// every refusal the transport relies on.
#include <doctest/doctest.h>

#include "crypto/secure_channel.h"
#include "crypto/sha256.h"

using namespace prov;
using namespace prov::crypto;

namespace {

constexpr std::string_view kChain = "test-chain";

Seed seed_of(uint8_t b) {
  Seed s;
  s.bytes.fill(b);
  return s;
}

Handshake make(const KeyPair& key, std::string chain = std::string(kChain),
               uint32_t max_frame_bytes = kDefaultMaxFrameBytes) {
  auto hs = Handshake::create(key, HandshakeConfig{std::move(chain), max_frame_bytes});
  REQUIRE(hs.is_ok());
  return std::move(hs).value();
}

// Runs both sides to completion by handing each one's output to the other.
void run(Handshake& a, Handshake& b) {
  Bytes to_b = a.hello();
  Bytes to_a = b.hello();
  for (int round = 0; round < 4 && !(to_a.empty() && to_b.empty()); ++round) {
    auto sa = a.on_bytes(to_a);
    auto sb = b.on_bytes(to_b);
    CHECK(sa.consumed_bytes == to_a.size());
    CHECK(sb.consumed_bytes == to_b.size());
    to_b = std::move(sa.to_send);
    to_a = std::move(sb.to_send);
  }
}

// Feeds `wire` to `decoder` and returns every frame, or the first error.
struct Decoded {
  std::vector<Bytes> frames;
  std::optional<ChannelError> error;
};
Decoded decode_all(FrameDecoder& decoder, ByteView wire) {
  Decoded out;
  while (true) {
    DecodeStep step = decoder.decode(wire);
    wire = wire.subspan(step.consumed_bytes);
    if (step.frame) out.frames.push_back(std::move(*step.frame));
    if (step.error) {
      out.error = step.error;
      return out;
    }
    if (step.consumed_bytes == 0 || wire.empty()) return out;
  }
}

SessionKey key_of(uint8_t b) {
  SessionKey k;
  k.bytes.fill(b);
  return k;
}

// A hand-driven peer: its hello and keys, so tests can forge the auth step.
struct ManualPeer {
  KeyPair key;
  EphemeralKey eph;
  Bytes hello;
  ManualPeer(uint8_t seed, uint32_t version = kChannelVersion, std::string chain = std::string(kChain))
      : key(KeyPair::from_seed(seed_of(seed))), eph(EphemeralKey::from_seed(seed_of(seed + 100))) {
    hello = encode_hello(Hello{version, std::move(chain), eph.public_key()});
  }
  // The sealed auth frame for `auth` once the victim's hello is known.
  Bytes auth_frame(const Bytes& victim_hello, const AuthMessage& auth) const {
    auto victim = decode_hello_body(ByteView(victim_hello).subspan(kFrameHeaderBytes));
    REQUIRE(victim.is_ok());
    auto keys = eph.derive(victim->ephemeral);
    REQUIRE(keys.is_ok());
    FrameEncoder enc(keys->send, kDefaultMaxFrameBytes, 0);
    auto frame = enc.seal(encode_auth(auth));
    REQUIRE(frame.is_ok());
    return *frame;
  }
};

// Feeds a manual peer's hello and then `auth` to `victim`; returns its state.
HandshakeState feed_forged(Handshake& victim, const ManualPeer& peer, const AuthMessage& auth) {
  auto s1 = victim.on_bytes(peer.hello);
  if (s1.state != HandshakeState::kAwaitingAuth) return s1.state;
  return victim.on_bytes(peer.auth_frame(victim.hello(), auth)).state;
}

}  // namespace

TEST_CASE("handshake: both sides authenticate each other and frames flow both ways") {
  KeyPair ka = KeyPair::from_seed(seed_of(1));
  KeyPair kb = KeyPair::from_seed(seed_of(2));
  Handshake a = make(ka);
  Handshake b = make(kb);
  run(a, b);
  REQUIRE(a.state() == HandshakeState::kDone);
  REQUIRE(b.state() == HandshakeState::kDone);
  CHECK(a.peer_key() == kb.public_key());
  CHECK(b.peer_key() == ka.public_key());

  SecureSession sa = a.take_session();
  SecureSession sb = b.take_session();
  for (int i = 0; i < 3; ++i) {
    Bytes msg = to_bytes("a to b #" + std::to_string(i));
    auto wire = sa.encoder.seal(msg);
    REQUIRE(wire.is_ok());
    Decoded got = decode_all(sb.decoder, *wire);
    REQUIRE(got.frames.size() == 1);
    CHECK(got.frames[0] == msg);
    auto back = sb.encoder.seal(to_bytes("b to a"));
    REQUIRE(back.is_ok());
    Decoded got_back = decode_all(sa.decoder, *back);
    REQUIRE(got_back.frames.size() == 1);
    CHECK(to_string(got_back.frames[0]) == "b to a");
  }
}

TEST_CASE("handshake: bytes delivered one at a time, with a frame right behind the auth") {
  KeyPair ka = KeyPair::from_seed(seed_of(1));
  KeyPair kb = KeyPair::from_seed(seed_of(2));
  Handshake a = make(ka);
  Handshake b = make(kb);
  Bytes b_out = b.hello();
  Bytes a_out = a.hello();
  // b learns a's hello and answers with its auth; b's session frame follows at once.
  auto sb = b.on_bytes(a_out);
  REQUIRE(sb.state == HandshakeState::kAwaitingAuth);
  append(b_out, sb.to_send);
  Bytes a_auth;
  size_t i = 0;
  for (; i < b_out.size() && a.state() == HandshakeState::kAwaitingHello; ++i) {
    auto s = a.on_bytes(ByteView(b_out).subspan(i, 1));
    CHECK(s.consumed_bytes == 1);
    append(a_auth, s.to_send);
  }
  for (; i < b_out.size(); ++i) {
    auto s = a.on_bytes(ByteView(b_out).subspan(i, 1));
    CHECK(s.consumed_bytes == 1);
  }
  REQUIRE(a.state() == HandshakeState::kDone);
  REQUIRE(b.on_bytes(a_auth).state == HandshakeState::kDone);

  SecureSession session_b = b.take_session();
  auto frame = session_b.encoder.seal(to_bytes("first"));
  REQUIRE(frame.is_ok());
  // The handshake stops at the end of the auth; the rest is the session's.
  Handshake a2 = make(ka);
  Handshake b2 = make(kb);
  auto s2 = b2.on_bytes(a2.hello());
  Bytes stream = b2.hello();
  append(stream, s2.to_send);
  const size_t handshake_len = stream.size();
  (void)a2.on_bytes({});
  Bytes extra = to_bytes("trailing bytes");
  append(stream, extra);
  auto sa2 = a2.on_bytes(stream);
  CHECK(sa2.state == HandshakeState::kDone);
  CHECK(sa2.consumed_bytes == handshake_len);
}

TEST_CASE("handshake: a peer on another chain is refused") {
  Handshake a = make(KeyPair::from_seed(seed_of(1)));
  Handshake b = make(KeyPair::from_seed(seed_of(2)), "other-chain");
  auto s = a.on_bytes(b.hello());
  CHECK(s.state == HandshakeState::kFailed);
  CHECK(a.error() == ChannelError::kWrongChainId);
  CHECK(s.to_send.empty());  // nothing of ours, not even our static key, leaves
}

TEST_CASE("handshake: another protocol version is refused as such, whatever its layout") {
  ManualPeer v2(7, 2);
  Handshake a = make(KeyPair::from_seed(seed_of(1)));
  CHECK(a.on_bytes(v2.hello).state == HandshakeState::kFailed);
  CHECK(a.error() == ChannelError::kWrongVersion);

  // A future hello with a longer body still gets kWrongVersion.
  Bytes future;
  put_u32_be(future, 200);
  put_u32_be(future, 2);
  future.resize(4 + 200, 0xab);
  Handshake a2 = make(KeyPair::from_seed(seed_of(1)));
  CHECK(a2.on_bytes(future).state == HandshakeState::kFailed);
  CHECK(a2.error() == ChannelError::kWrongVersion);
}

TEST_CASE("handshake: malformed and oversized hellos are refused before buffering") {
  SUBCASE("length prefix 0xFFFFFFFF") {
    Handshake a = make(KeyPair::from_seed(seed_of(1)));
    Bytes wire = {0xff, 0xff, 0xff, 0xff, 1, 2, 3};
    auto s = a.on_bytes(wire);
    CHECK(s.state == HandshakeState::kFailed);
    CHECK(a.error() == ChannelError::kOversized);
    CHECK(s.consumed_bytes == 4);
  }
  SUBCASE("body too short for a version") {
    Handshake a = make(KeyPair::from_seed(seed_of(1)));
    Bytes wire = {0, 0, 0, 2, 0, 0};
    CHECK(a.on_bytes(wire).state == HandshakeState::kFailed);
    CHECK(a.error() == ChannelError::kMalformed);
  }
  SUBCASE("chain id length disagrees with the body length") {
    ManualPeer p(7);
    p.hello[4 + 4] ^= 1;  // the u8 chain id length
    Handshake a = make(KeyPair::from_seed(seed_of(1)));
    CHECK(a.on_bytes(p.hello).state == HandshakeState::kFailed);
    CHECK(a.error() == ChannelError::kMalformed);
  }
  SUBCASE("HTTP request instead of a hello") {
    Handshake a = make(KeyPair::from_seed(seed_of(1)));
    CHECK(a.on_bytes(as_bytes("GET / HTTP/1.1\r\n\r\n")).state == HandshakeState::kFailed);
    CHECK(a.error() == ChannelError::kOversized);
  }
}

TEST_CASE("handshake: a bad transcript signature is refused") {
  ManualPeer m(7);
  SUBCASE("signature over another transcript") {
    Handshake a = make(KeyPair::from_seed(seed_of(1)));
    const Hash256 wrong = sha256(as_bytes("not the transcript"));
    AuthMessage auth{m.key.public_key(), m.key.sign(purpose::kHandshake, kChain, wrong.view())};
    CHECK(feed_forged(a, m, auth) == HandshakeState::kFailed);
    CHECK(a.error() == ChannelError::kBadSignature);
  }
  SUBCASE("right transcript, claims a key it does not hold") {
    Handshake a = make(KeyPair::from_seed(seed_of(1)));
    const Hash256 t = transcript_hash(a.hello(), m.hello);
    KeyPair victim = KeyPair::from_seed(seed_of(9));
    AuthMessage auth{victim.public_key(), m.key.sign(purpose::kHandshake, kChain, t.view())};
    CHECK(feed_forged(a, m, auth) == HandshakeState::kFailed);
    CHECK(a.error() == ChannelError::kBadSignature);
  }
  SUBCASE("right transcript, wrong purpose") {
    Handshake a = make(KeyPair::from_seed(seed_of(1)));
    const Hash256 t = transcript_hash(a.hello(), m.hello);
    AuthMessage auth{m.key.public_key(), m.key.sign(purpose::kVote, kChain, t.view())};
    CHECK(feed_forged(a, m, auth) == HandshakeState::kFailed);
    CHECK(a.error() == ChannelError::kBadSignature);
  }
  SUBCASE("control: the honest auth passes") {
    Handshake a = make(KeyPair::from_seed(seed_of(1)));
    const Hash256 t = transcript_hash(a.hello(), m.hello);
    AuthMessage auth{m.key.public_key(), m.key.sign(purpose::kHandshake, kChain, t.view())};
    CHECK(feed_forged(a, m, auth) == HandshakeState::kDone);
    CHECK(a.peer_key() == m.key.public_key());
  }
}

TEST_CASE("handshake: replayed and reflected hellos are refused") {
  KeyPair ka = KeyPair::from_seed(seed_of(1));
  KeyPair kb = KeyPair::from_seed(seed_of(2));
  // Record everything b sent in an honest session...
  Handshake a = make(ka);
  Handshake b = make(kb);
  Bytes recorded = b.hello();
  append(recorded, b.on_bytes(a.hello()).to_send);
  REQUIRE(a.on_bytes(recorded).state == HandshakeState::kDone);

  SUBCASE("replaying b's hello and auth to a new session of a") {
    Handshake a2 = make(ka);
    auto s = a2.on_bytes(recorded);
    CHECK(s.state == HandshakeState::kFailed);
    // a2's fresh ephemeral key makes new session keys; the old auth can not open.
    CHECK(a2.error() == ChannelError::kBadTag);
  }
  SUBCASE("reflecting a's own hello back to it") {
    Handshake a2 = make(ka);
    CHECK(a2.on_bytes(a2.hello()).state == HandshakeState::kFailed);
    CHECK(a2.error() == ChannelError::kReflected);
  }
  SUBCASE("a peer claiming our own static key") {
    Handshake a2 = make(ka);
    ManualPeer m(7);
    const Hash256 t = transcript_hash(a2.hello(), m.hello);
    AuthMessage auth{ka.public_key(), ka.sign(purpose::kHandshake, kChain, t.view())};
    CHECK(feed_forged(a2, m, auth) == HandshakeState::kFailed);
    CHECK(a2.error() == ChannelError::kReflected);
  }
}

TEST_CASE("handshake: a small-order ephemeral key is refused") {
  Handshake a = make(KeyPair::from_seed(seed_of(1)));
  Hello weak{kChannelVersion, std::string(kChain), EphemeralPublicKey{}};  // all zeros: small order
  CHECK(a.on_bytes(encode_hello(weak)).state == HandshakeState::kFailed);
  CHECK(a.error() == ChannelError::kWeakKey);
}

TEST_CASE("handshake: an auth frame of the wrong size is refused") {
  KeyPair ka = KeyPair::from_seed(seed_of(1));
  ManualPeer m(7);
  Handshake a = make(ka);
  REQUIRE(a.on_bytes(m.hello).state == HandshakeState::kAwaitingAuth);
  Bytes big = {0, 0, 1, 0};  // 256 bytes declared: more than an auth frame
  CHECK(a.on_bytes(big).state == HandshakeState::kFailed);
  CHECK(a.error() == ChannelError::kOversized);
}

TEST_CASE("handshake: configuration bounds") {
  KeyPair k = KeyPair::from_seed(seed_of(1));
  CHECK_FALSE(Handshake::create(k, HandshakeConfig{std::string(256, 'c'), kDefaultMaxFrameBytes}).is_ok());
  CHECK(Handshake::create(k, HandshakeConfig{std::string(255, 'c'), kDefaultMaxFrameBytes}).is_ok());
  CHECK_FALSE(Handshake::create(k, HandshakeConfig{"c", kMinMaxFrameBytes - 1}).is_ok());
  CHECK(Handshake::create(k, HandshakeConfig{"c", kMinMaxFrameBytes}).is_ok());
}

TEST_CASE("frames: round trip including empty and maximal plaintexts, split anywhere") {
  const uint32_t max_frame = 1024;
  FrameEncoder enc(key_of(1), max_frame);
  FrameDecoder dec(key_of(1), max_frame);
  std::vector<Bytes> msgs = {Bytes{}, to_bytes("x"), Bytes(max_frame - kAeadTagBytes, 0x5a)};
  Bytes stream;
  for (const Bytes& m : msgs) {
    auto f = enc.seal(m);
    REQUIRE(f.is_ok());
    CHECK(f->size() == kFrameHeaderBytes + m.size() + kAeadTagBytes);
    append(stream, *f);
  }
  // Feed in uneven pieces; frames come out whole and in order.
  std::vector<Bytes> got;
  for (size_t i = 0; i < stream.size();) {
    const size_t n = std::min<size_t>(7 + i % 13, stream.size() - i);
    Decoded d = decode_all(dec, ByteView(stream).subspan(i, n));
    REQUIRE_FALSE(d.error);
    for (auto& f : d.frames) got.push_back(std::move(f));
    i += n;
  }
  CHECK(got == msgs);
  CHECK(dec.at_frame_boundary());
  CHECK(enc.next_counter() == 3);
  CHECK(dec.next_counter() == 3);
}

TEST_CASE("frames: every flipped bit of ciphertext or tag fails the tag") {
  FrameEncoder enc(key_of(1), 1024);
  auto f = enc.seal(to_bytes("provenance"));
  REQUIRE(f.is_ok());
  for (size_t byte = kFrameHeaderBytes; byte < f->size(); ++byte) {
    Bytes bad = *f;
    bad[byte] ^= static_cast<uint8_t>(1u << (byte % 8));
    FrameDecoder dec(key_of(1), 1024);
    Decoded d = decode_all(dec, bad);
    CHECK(d.frames.empty());
    REQUIRE(d.error);
    CHECK(*d.error == ChannelError::kBadTag);
  }
  // A length prefix that still fits the bound shifts the boundary: bad tag or short.
  Bytes shorter = *f;
  shorter[3] -= 1;
  FrameDecoder dec(key_of(1), 1024);
  Decoded d = decode_all(dec, shorter);
  REQUIRE(d.error);
  CHECK(*d.error == ChannelError::kBadTag);
}

TEST_CASE("frames: wrong key, replay and reordering fail the tag; errors are sticky") {
  FrameEncoder enc(key_of(1), 1024);
  Bytes f0 = enc.seal(to_bytes("zero")).value();
  Bytes f1 = enc.seal(to_bytes("one")).value();
  CHECK(f0 != f1);
  SUBCASE("wrong key") {
    FrameDecoder dec(key_of(2), 1024);
    CHECK(decode_all(dec, f0).error == ChannelError::kBadTag);
  }
  SUBCASE("replay") {
    FrameDecoder dec(key_of(1), 1024);
    CHECK(decode_all(dec, f0).frames.size() == 1);
    CHECK(decode_all(dec, f0).error == ChannelError::kBadTag);
    // Sticky: even the right next frame is refused now.
    CHECK(decode_all(dec, f1).error == ChannelError::kBadTag);
    CHECK(dec.decode(f1).consumed_bytes == 0);
  }
  SUBCASE("reorder") {
    FrameDecoder dec(key_of(1), 1024);
    CHECK(decode_all(dec, f1).error == ChannelError::kBadTag);
  }
  SUBCASE("same plaintext, different counter, different bytes") {
    FrameEncoder e2(key_of(1), 1024);
    Bytes a = e2.seal(to_bytes("same")).value();
    Bytes b = e2.seal(to_bytes("same")).value();
    CHECK(a != b);
  }
}

TEST_CASE("frames: the counter never wraps") {
  FrameEncoder enc(key_of(1), 1024, kLastFrameCounter);
  auto last = enc.seal(to_bytes("last"));
  REQUIRE(last.is_ok());
  auto next = enc.seal(to_bytes("one too many"));
  REQUIRE_FALSE(next.is_ok());
  CHECK(next.error() == ChannelError::kNonceExhausted);
  CHECK_FALSE(enc.seal({}).is_ok());

  FrameDecoder dec(key_of(1), 1024, kLastFrameCounter);
  Decoded d = decode_all(dec, *last);
  CHECK(d.frames.size() == 1);
  FrameEncoder wrapped(key_of(1), 1024, 0);  // what a wrapped sender would produce
  CHECK(decode_all(dec, wrapped.seal(to_bytes("x")).value()).error == ChannelError::kNonceExhausted);
}

TEST_CASE("frames: lengths are checked before anything is allocated") {
  SUBCASE("0xFFFFFFFF") {
    FrameDecoder dec(key_of(1), kDefaultMaxFrameBytes);
    Bytes wire = {0xff, 0xff, 0xff, 0xff, 0, 0, 0};
    DecodeStep s = dec.decode(wire);
    REQUIRE(s.error);
    CHECK(*s.error == ChannelError::kOversized);
    CHECK(s.consumed_bytes == kFrameHeaderBytes);
    CHECK(dec.buffered_capacity_bytes() == 0);
  }
  SUBCASE("one above the bound, and the bound itself") {
    FrameDecoder over(key_of(1), 1000);
    Bytes wire;
    put_u32_be(wire, 1001);
    CHECK(over.decode(wire).error == ChannelError::kOversized);
    FrameDecoder at(key_of(1), 1000);
    Bytes ok;
    put_u32_be(ok, 1000);
    CHECK_FALSE(at.decode(ok).error);
  }
  SUBCASE("shorter than a tag") {
    FrameDecoder dec(key_of(1), 1000);
    Bytes wire;
    put_u32_be(wire, kAeadTagBytes - 1);
    CHECK(dec.decode(wire).error == ChannelError::kMalformed);
  }
  SUBCASE("a declared 16 MiB frame costs only the bytes received") {
    FrameDecoder dec(key_of(1), kDefaultMaxFrameBytes);
    Bytes wire;
    put_u32_be(wire, kDefaultMaxFrameBytes);
    wire.resize(wire.size() + 100, 0);
    DecodeStep s = dec.decode(wire);
    CHECK_FALSE(s.error);
    CHECK_FALSE(s.frame);
    CHECK(s.consumed_bytes == wire.size());
    CHECK(dec.buffered_capacity_bytes() < 4096);
    CHECK_FALSE(dec.at_frame_boundary());
  }
  SUBCASE("the encoder refuses what the decoder would refuse") {
    FrameEncoder enc(key_of(1), 1000);
    CHECK(enc.seal(Bytes(1000 - kAeadTagBytes)).is_ok());
    auto r = enc.seal(Bytes(1000 - kAeadTagBytes + 1));
    REQUIRE_FALSE(r.is_ok());
    CHECK(r.error() == ChannelError::kOversized);
    CHECK(enc.next_counter() == 1);  // a refused frame spends no nonce
  }
}

TEST_CASE("channel errors have stable names and map to statuses") {
  CHECK(std::string(channel_error_name(ChannelError::kBadTag)) == "bad_tag");
  CHECK(channel_status(ChannelError::kOversized).code() == StatusCode::kResourceExhausted);
  CHECK(channel_status(ChannelError::kBadSignature).code() == StatusCode::kUnauthenticated);
  CHECK(channel_status(ChannelError::kWrongChainId).code() == StatusCode::kPermissionDenied);
}
