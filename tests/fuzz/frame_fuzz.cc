// Fuzzes the secure channel's decoders of untrusted bytes: the handshake
// state machine (as either side, with and without a real peer hello first)
// and the frame decoder. Properties: nothing crashes, nothing allocates more
// than the bytes received (ASan reports the rest), no consumed count exceeds
// its input, an error is final, and a frame is never yielded under a key the
// fuzzer does not hold unless it was sealed with it.
#include <cstdint>
#include <cstdlib>
#include <optional>

#include "crypto/secure_channel.h"

using namespace prov;
using namespace prov::crypto;

namespace {

constexpr uint32_t kMaxFrameBytes = 1 << 16;

Seed seed_of(uint8_t b) {
  Seed s;
  s.bytes.fill(b);
  return s;
}

void check(bool ok) {
  if (!ok) std::abort();
}

// Feeds `in` in pieces whose sizes come from the input itself.
void fuzz_handshake(Handshake hs, ByteView in, uint8_t split) {
  const size_t piece = 1 + split % 64;
  while (!in.empty()) {
    const ByteView part = in.first(std::min(piece, in.size()));
    auto step = hs.on_bytes(part);
    check(step.consumed_bytes <= part.size());
    in = in.subspan(step.consumed_bytes);
    if (step.state == HandshakeState::kFailed) {
      check(hs.on_bytes(in).consumed_bytes == 0);
      return;
    }
    if (step.state == HandshakeState::kDone) {
      SecureSession s = hs.take_session();
      (void)s.decoder.decode(in);
      return;
    }
    if (step.consumed_bytes == 0) return;
  }
}

void fuzz_decoder(ByteView in, uint8_t split) {
  SessionKey key;
  key.bytes.fill(0x11);
  FrameDecoder dec(key, kMaxFrameBytes, split % 4);
  bool failed = false;
  const size_t piece = 1 + split;
  while (!in.empty()) {
    const ByteView part = in.first(std::min(piece, in.size()));
    size_t used = 0;
    while (used < part.size()) {
      DecodeStep step = dec.decode(part.subspan(used));
      check(step.consumed_bytes <= part.size() - used);
      check(dec.buffered_capacity_bytes() <= 2 * size_t{kMaxFrameBytes});
      if (failed) check(step.error.has_value() && step.consumed_bytes == 0);
      if (step.error) {
        failed = true;
        break;
      }
      if (step.frame) check(step.frame->size() + kAeadTagBytes <= kMaxFrameBytes);
      used += step.consumed_bytes;
      if (step.consumed_bytes == 0) break;
    }
    if (failed) return;
    in = in.subspan(part.size());
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  const uint8_t mode = data[0];
  const uint8_t split = data[1];
  const ByteView in(data + 2, size - 2);
  static const KeyPair us = KeyPair::from_seed(seed_of(1));
  static const KeyPair peer = KeyPair::from_seed(seed_of(2));
  const HandshakeConfig config{"fuzz-chain", kMaxFrameBytes};

  switch (mode % 4) {
    case 0:  // raw bytes as the first thing a peer sends
    case 1: {
      // The ephemeral seed picks which side takes crypto_kx's client role.
      auto hs = Handshake::create(us, config, EphemeralKey::from_seed(seed_of(mode % 2 ? 3 : 4)));
      fuzz_handshake(std::move(hs).value(), in, split);
      break;
    }
    case 2: {
      // A genuine peer hello first, so the fuzzed bytes reach the auth frame.
      auto hs = Handshake::create(us, config, EphemeralKey::from_seed(seed_of(5))).value();
      auto other = Handshake::create(peer, config, EphemeralKey::from_seed(seed_of(6))).value();
      auto step = hs.on_bytes(other.hello());
      check(step.state == HandshakeState::kAwaitingAuth);
      fuzz_handshake(std::move(hs), in, split);
      break;
    }
    default:
      fuzz_decoder(in, split);
      break;
  }
  return 0;
}
