// Text encodings of bytes: lower-case hex and standard base64 (RFC 4648 §4,
// with padding). Decoders are strict: they reject anything a canonical
// encoder would not produce (wrong length, stray characters, non-zero
// padding bits), because our formats are hashed and signed as text.
// Pure functions; thread-safe.
#pragma once

#include <string>
#include <string_view>

#include "crypto/bytes.h"
#include "crypto/status.h"

namespace prov::crypto {

std::string hex_encode(ByteView b);
// Accepts upper- or lower-case hex of even length.
Result<Bytes> hex_decode(std::string_view s);

std::string base64_encode(ByteView b);
// Strict canonical base64 with padding; no whitespace.
Result<Bytes> base64_decode(std::string_view s);

// Canonical decimal u64: digits only, no sign, no leading zero (but "0"), no
// overflow. False for anything else; `out` is set only on success.
bool parse_decimal_u64(std::string_view s, uint64_t* out);

// Decodes exactly T::kSize bytes of hex or base64 into a fixed-size type.
template <class T>
Result<T> hex_decode_fixed(std::string_view s) {
  auto r = hex_decode(s);
  if (!r) return r.status();
  T out;
  if (!out.assign(*r)) return Status::invalid_argument("expected " + std::to_string(T::kSize) + " bytes of hex");
  return out;
}
template <class T>
Result<T> base64_decode_fixed(std::string_view s) {
  auto r = base64_decode(s);
  if (!r) return r.status();
  T out;
  if (!out.assign(*r)) return Status::invalid_argument("expected " + std::to_string(T::kSize) + " bytes of base64");
  return out;
}

}  // namespace prov::crypto
