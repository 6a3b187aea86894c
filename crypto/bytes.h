// Byte containers and strong fixed-size types (hashes, keys, signatures).
//
// Raw bytes cross module boundaries only as these types, never as
// std::string, so a hash can not be passed where a key is expected.
// All types are plain values: thread-compatible, no shared state.
#pragma once

#include <array>
#include <compare>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace prov {

using Bytes = std::vector<uint8_t>;
using ByteView = std::span<const uint8_t>;

inline ByteView as_bytes(std::string_view s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}
inline std::string_view as_chars(ByteView b) {
  return {reinterpret_cast<const char*>(b.data()), b.size()};
}
inline Bytes to_bytes(std::string_view s) { return Bytes(s.begin(), s.end()); }
inline std::string to_string(ByteView b) { return std::string(as_chars(b)); }
inline void append(Bytes& out, ByteView b) { out.insert(out.end(), b.begin(), b.end()); }
inline void append(Bytes& out, std::string_view s) { append(out, as_bytes(s)); }

// A fixed-size byte string; `Tag` keeps different meanings apart at compile time.
template <size_t N, class Tag>
struct FixedBytes {
  static constexpr size_t kSize = N;
  std::array<uint8_t, N> bytes{};

  const uint8_t* data() const { return bytes.data(); }
  uint8_t* data() { return bytes.data(); }
  static constexpr size_t size() { return N; }
  ByteView view() const { return {bytes.data(), N}; }
  operator ByteView() const { return view(); }  // NOLINT: bytes are bytes

  // Copies `b` if it has exactly N bytes; returns false otherwise.
  bool assign(ByteView b) {
    if (b.size() != N) return false;
    std::memcpy(bytes.data(), b.data(), N);
    return true;
  }
  static FixedBytes from(ByteView b) {
    FixedBytes out;
    if (!out.assign(b)) out.bytes.fill(0);
    return out;
  }
  bool is_zero() const {
    for (uint8_t c : bytes) if (c) return false;
    return true;
  }
  friend auto operator<=>(const FixedBytes&, const FixedBytes&) = default;
};

struct Hash256Tag {};
struct PublicKeyTag {};
struct SignatureTag {};
struct SeedTag {};

using Hash256 = FixedBytes<32, Hash256Tag>;      // SHA-256 output
using PublicKey = FixedBytes<32, PublicKeyTag>;  // Ed25519 public key
using Signature = FixedBytes<64, SignatureTag>;  // Ed25519 signature
using Seed = FixedBytes<32, SeedTag>;            // Ed25519 secret seed

// Big-endian fixed-width integer encoding, used for keys and signed messages.
inline void put_u64_be(Bytes& out, uint64_t v) {
  for (int i = 7; i >= 0; --i) out.push_back(static_cast<uint8_t>(v >> (8 * i)));
}
inline void put_u32_be(Bytes& out, uint32_t v) {
  for (int i = 3; i >= 0; --i) out.push_back(static_cast<uint8_t>(v >> (8 * i)));
}
inline uint64_t get_u64_be(const uint8_t* p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | p[i];
  return v;
}
inline uint32_t get_u32_be(const uint8_t* p) {
  uint32_t v = 0;
  for (int i = 0; i < 4; ++i) v = (v << 8) | p[i];
  return v;
}

}  // namespace prov
