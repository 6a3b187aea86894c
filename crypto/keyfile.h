// Key files: Ed25519 seeds on disk, in plain or passphrase-sealed form, and
// the small file helpers every secret on disk goes through.
//
// A key file is short versioned text, one `field value` per line, in this
// exact order and nothing else:
//
//   provledger-key v1
//   type ed25519
//   public <base64 of the 32-byte public key>
//   seed <base64 of the 32-byte seed>                    (plain)
//   sealed argon2id13 ops=<n> mem=<bytes> salt=<b64> nonce=<b64> box=<b64>
//                                                        (sealed, instead of seed)
//
// A sealed file stores crypto_secretbox(seed) under a key derived from the
// passphrase with Argon2id and the stored limits and salt. The public key is
// in clear in both forms so tools can show it without the passphrase; on load
// the seed must derive exactly that public key, which catches a swapped or
// edited line. Files are written atomically (temporary file, fsync, rename or
// link, directory fsync) and created with mode 0600; a file group or others
// can read is refused on load, as ssh does.
//
// Thread-safety: all functions are free functions with no shared state; two
// writers racing for one path leave one complete file (or, without
// `overwrite`, exactly one winner).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <sys/types.h>

#include "crypto/bytes.h"
#include "crypto/ed25519.h"
#include "crypto/status.h"

namespace prov::crypto {

// Largest key file we read; real ones are under 300 bytes.
inline constexpr size_t kKeyFileMaxBytes = 4096;
// Longest passphrase accepted, in bytes.
inline constexpr size_t kPassphraseMaxBytes = 1024;
// Bounds on stored Argon2id limits: a key file is input, and a hostile one
// must not make us allocate without limit.
inline constexpr uint64_t kPwhashOpsMax = 64;
inline constexpr uint64_t kPwhashMemMaxBytes = uint64_t{4} << 30;  // 4 GiB

// Argon2id cost parameters.
struct PwhashLimits {
  uint64_t ops = 0;
  uint64_t mem_bytes = 0;
};
// libsodium's MODERATE limits (3 passes, 256 MiB): the default for real keys.
PwhashLimits pwhash_moderate();
// libsodium's INTERACTIVE limits (2 passes, 64 MiB).
PwhashLimits pwhash_interactive();
// The smallest limits libsodium allows; for tests only.
PwhashLimits pwhash_minimum();

struct KeyFileWriteOptions {
  // Seal the seed with this passphrase; plain file if empty/absent.
  std::optional<std::string> passphrase;
  PwhashLimits limits = pwhash_moderate();
  // Replace an existing file; otherwise an existing file is kAlreadyExists.
  bool overwrite = false;
};

// What a key file says without opening the seal.
struct KeyFileInfo {
  PublicKey public_key;
  bool sealed = false;
};

// Writes `key` to `path` (mode 0600, atomic). Fails with kAlreadyExists if the
// file exists and !options.overwrite, kIOError naming the path on OS errors.
Status write_key_file(const std::string& path, const KeyPair& key, const KeyFileWriteOptions& options);

// Reads the public part of the key file at `path` (no passphrase needed).
// kNotFound if missing, kPermissionDenied if group/others can read it,
// kCorruption naming the file if it is not a well-formed key file.
Result<KeyFileInfo> read_key_file_info(const std::string& path);

// Loads the key at `path`; `passphrase` is needed only for sealed files.
// Errors as read_key_file_info, plus kUnauthenticated "wrong passphrase or
// damaged key file", kInvalidArgument if the file is sealed and no passphrase
// was given, kCorruption if the seed does not derive the stated public key.
Result<KeyPair> load_key_file(const std::string& path, const std::optional<std::string>& passphrase);

// The first line of the file at `path` (without its line ending) as a
// passphrase. Refuses files group/others can read, empty and over-long ones.
Result<std::string> read_passphrase_file(const std::string& path);
// The value of environment variable `name` as a passphrase; kNotFound if unset.
Result<std::string> read_passphrase_env(const std::string& name);

// Writes `data` to `path` atomically with permission bits `mode` (subject to
// the umask) set at creation, never changed afterwards. Without `overwrite`
// an existing `path` is kAlreadyExists and is left untouched.
Status write_file_atomic(const std::string& path, ByteView data, mode_t mode, bool overwrite);

// Reads at most `max_bytes` of a secret file, refusing (kPermissionDenied) one
// that group or others can read. kNotFound if missing, kResourceExhausted if
// larger than `max_bytes`.
Result<Bytes> read_private_file(const std::string& path, size_t max_bytes);

}  // namespace prov::crypto
