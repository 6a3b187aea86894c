// SHA-256, one-shot and streaming, and hashing of files with progress.
//
// Two backends sit behind this interface: OpenSSL's libcrypto (which uses the
// CPU's SHA instructions) and libsodium's portable code. `tools/bench crypto`
// measures both; the default is the faster one on our machines (OpenSSL, see
// docs/benchmarks.md). Functions are thread-safe; a Sha256 object is not.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "crypto/bytes.h"
#include "crypto/status.h"

namespace prov::crypto {

enum class Sha256Backend { kOpenSsl, kSodium };

// SHA-256 of `data` with the default backend.
Hash256 sha256(ByteView data);
// SHA-256 of the concatenation a ‖ b, without copying.
Hash256 sha256(ByteView a, ByteView b);
// SHA-256 with an explicit backend (benchmarks and cross-checks).
Hash256 sha256_with(Sha256Backend backend, ByteView data);

// Streaming SHA-256 with the default backend.
class Sha256 {
 public:
  Sha256();
  void update(ByteView data);
  // Returns the digest; the object must not be updated afterwards.
  Hash256 finish();

 private:
  alignas(16) unsigned char state_[128];
};

// Called after each chunk with bytes hashed so far and the file's size.
using ProgressFn = std::function<void(uint64_t done_bytes, uint64_t total_bytes)>;

struct FileDigest {
  Hash256 digest;
  uint64_t size_bytes = 0;
};

// Streams the file at `path` through SHA-256 in 1 MiB chunks. Fails with
// kIOError naming the path if it can not be opened or read.
Result<FileDigest> sha256_file(const std::string& path, const ProgressFn& progress = nullptr);

}  // namespace prov::crypto
