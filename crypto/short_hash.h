// A keyed 64-bit hash for in-memory hash tables (SipHash-2-4).
//
// Hash tables keyed by transaction hashes or signature-memo keys hold
// values that remote parties choose; with an unkeyed hash a client could
// grind inputs into one bucket and turn every lookup linear. The key is
// random per process and never leaves it, so bucket collisions can not be
// aimed. Not for anything that must be stable across processes.
// Thread-safety: all functions are safe from any thread.
#pragma once

#include <cstddef>
#include <cstdint>

#include "crypto/bytes.h"

namespace prov::crypto {

// SipHash-2-4 of `data` under this process's random key.
uint64_t short_hash(ByteView data);

// std::unordered_* hasher for the fixed-size byte types (Hash256, ...).
struct FixedBytesHash {
  template <size_t N, class Tag>
  size_t operator()(const FixedBytes<N, Tag>& b) const {
    return static_cast<size_t>(short_hash(b.view()));
  }
};

}  // namespace prov::crypto
