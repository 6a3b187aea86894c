// OpenSSL's low-level SHA256_* functions are deprecated in 3.0 in favour of
// EVP, but they are the fastest path for the many 65-byte Merkle node hashes
// (no EVP context allocation) and still dispatch to the SHA instructions.
#define OPENSSL_SUPPRESS_DEPRECATED 1
#include "crypto/sha256.h"

#include <fcntl.h>
#include <openssl/sha.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>

namespace prov::crypto {

static_assert(sizeof(SHA256_CTX) <= 128, "Sha256::state_ too small");

Hash256 sha256(ByteView data) {
  // Not SHA256(): in OpenSSL 3 the one-shot call fetches the algorithm on
  // every call (EVP_Q_digest), which costs more than hashing 64 bytes;
  // Init/Update/Final does not (docs/benchmarks.md).
  SHA256_CTX ctx;
  SHA256_Init(&ctx);
  SHA256_Update(&ctx, data.data(), data.size());
  Hash256 out;
  SHA256_Final(out.data(), &ctx);
  return out;
}

Hash256 sha256(ByteView a, ByteView b) {
  SHA256_CTX ctx;
  SHA256_Init(&ctx);
  SHA256_Update(&ctx, a.data(), a.size());
  SHA256_Update(&ctx, b.data(), b.size());
  Hash256 out;
  SHA256_Final(out.data(), &ctx);
  return out;
}

Hash256 sha256_with(Sha256Backend backend, ByteView data) {
  if (backend == Sha256Backend::kOpenSsl) return sha256(data);
  Hash256 out;
  crypto_hash_sha256(out.data(), data.data(), data.size());
  return out;
}

Sha256::Sha256() { SHA256_Init(reinterpret_cast<SHA256_CTX*>(state_)); }

void Sha256::update(ByteView data) {
  SHA256_Update(reinterpret_cast<SHA256_CTX*>(state_), data.data(), data.size());
}

Hash256 Sha256::finish() {
  Hash256 out;
  SHA256_Final(out.data(), reinterpret_cast<SHA256_CTX*>(state_));
  return out;
}

Result<FileDigest> sha256_file(const std::string& path, const ProgressFn& progress) {
  constexpr size_t kChunkBytes = 1 << 20;
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Status::io_error("cannot open " + path + ": " + std::strerror(errno));
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    return Status::io_error(path + " is not a regular file");
  }
  ::posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
  auto buf = std::make_unique<uint8_t[]>(kChunkBytes);
  Sha256 h;
  uint64_t done = 0;
  for (;;) {
    ssize_t n = ::read(fd, buf.get(), kChunkBytes);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      int err = errno;
      ::close(fd);
      return Status::io_error("cannot read " + path + ": " + std::strerror(err));
    }
    if (n == 0) break;
    h.update({buf.get(), static_cast<size_t>(n)});
    done += static_cast<uint64_t>(n);
    if (progress) progress(done, static_cast<uint64_t>(st.st_size));
  }
  ::close(fd);
  return FileDigest{h.finish(), done};
}

}  // namespace prov::crypto
