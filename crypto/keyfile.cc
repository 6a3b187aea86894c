#include "crypto/keyfile.h"

#include <fcntl.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "crypto/encoding.h"

namespace prov::crypto {
namespace {

constexpr std::string_view kMagicLine = "provledger-key v1";
constexpr std::string_view kAlgorithm = "argon2id13";
// Only the first line of a passphrase file counts; the rest is bounded anyway.
constexpr size_t kPassphraseFileMaxBytes = 64 * 1024;

std::string errno_text(int err) { return std::strerror(err); }

// Wipes a string's bytes before it is freed; secrets never linger in the heap.
struct WipeOnExit {
  std::string& s;
  ~WipeOnExit() { sodium_memzero(s.data(), s.size()); }
};

Status write_all(int fd, ByteView data, const std::string& path) {
  size_t done = 0;
  while (done < data.size()) {
    ssize_t n = ::write(fd, data.data() + done, data.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Status::io_error("writing " + path + ": " + errno_text(errno));
    done += static_cast<size_t>(n);
  }
  return Status::ok();
}

std::string parent_dir(const std::string& path) {
  auto slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

// Makes a rename or link in `dir` durable.
Status fsync_dir(const std::string& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return Status::io_error("opening directory " + dir + ": " + errno_text(errno));
  int rc = ::fsync(fd);
  int err = errno;
  ::close(fd);
  if (rc != 0) return Status::io_error("syncing directory " + dir + ": " + errno_text(err));
  return Status::ok();
}

// Opens `path` for reading, refusing files that group or others may access.
// Returns the fd, or an error; the caller closes it.
Result<int> open_private(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) {
    if (errno == ENOENT) return Status::not_found("no such file: " + path);
    if (errno == ELOOP) return Status::permission_denied(path + " is a symbolic link; refusing to read a secret through it");
    return Status::io_error("opening " + path + ": " + errno_text(errno));
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    int err = errno;
    ::close(fd);
    return Status::io_error("stat " + path + ": " + errno_text(err));
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    return Status::invalid_argument(path + " is not a regular file");
  }
  if ((st.st_mode & 077) != 0) {
    ::close(fd);
    char mode[8];
    std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 07777));
    return Status::permission_denied("permissions " + std::string(mode) + " for " + path +
                                     " are too open: group or others can access it; run chmod 600 " + path);
  }
  return fd;
}

Result<Bytes> read_fd_bounded(int fd, const std::string& path, size_t max_bytes) {
  Bytes out;
  uint8_t buf[4096];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Status::io_error("reading " + path + ": " + errno_text(errno));
    if (n == 0) break;
    if (out.size() + static_cast<size_t>(n) > max_bytes) {
      sodium_memzero(out.data(), out.size());
      return Status::resource_exhausted(path + " is larger than " + std::to_string(max_bytes) + " bytes");
    }
    out.insert(out.end(), buf, buf + n);
  }
  sodium_memzero(buf, sizeof buf);
  return out;
}

std::vector<std::string_view> split(std::string_view s, char sep) {
  std::vector<std::string_view> out;
  size_t start = 0;
  for (;;) {
    size_t pos = s.find(sep, start);
    if (pos == std::string_view::npos) {
      out.push_back(s.substr(start));
      return out;
    }
    out.push_back(s.substr(start, pos - start));
    start = pos + 1;
  }
}

struct Sealed {
  PwhashLimits limits;
  FixedBytes<crypto_pwhash_SALTBYTES, struct SaltTag> salt;
  FixedBytes<crypto_secretbox_NONCEBYTES, struct NonceTag> nonce;
  FixedBytes<Seed::kSize + crypto_secretbox_MACBYTES, struct BoxTag> box;
};

// The parsed contents of a key file; exactly one of seed/sealed is set.
struct Parsed {
  PublicKey public_key;
  std::optional<Seed> seed;
  std::optional<Sealed> sealed;
  ~Parsed() {
    if (seed) sodium_memzero(seed->data(), seed->size());
  }
};

template <class T>
bool decode_field(std::string_view b64, T& out) {
  auto r = base64_decode_fixed<T>(b64);
  if (!r) return false;
  out = *r;
  return true;
}

// Parses `key=value` into value when the key matches.
bool take_kv(std::string_view field, std::string_view key, std::string_view& value) {
  if (field.size() <= key.size() || field.substr(0, key.size()) != key || field[key.size()] != '=') return false;
  value = field.substr(key.size() + 1);
  return true;
}

bool limits_in_bounds(const PwhashLimits& l) {
  return l.ops >= crypto_pwhash_argon2id_OPSLIMIT_MIN && l.ops <= kPwhashOpsMax &&
         l.mem_bytes >= crypto_pwhash_argon2id_MEMLIMIT_MIN && l.mem_bytes <= kPwhashMemMaxBytes;
}

// Parses the sealed line's fields (after "sealed ").
std::optional<Sealed> parse_sealed(std::string_view rest) {
  auto f = split(rest, ' ');
  if (f.size() != 6 || f[0] != kAlgorithm) return std::nullopt;
  Sealed s;
  std::string_view v;
  if (!take_kv(f[1], "ops", v) || !parse_decimal_u64(v, &s.limits.ops)) return std::nullopt;
  if (!take_kv(f[2], "mem", v) || !parse_decimal_u64(v, &s.limits.mem_bytes)) return std::nullopt;
  if (!limits_in_bounds(s.limits)) return std::nullopt;
  if (!take_kv(f[3], "salt", v) || !decode_field(v, s.salt)) return std::nullopt;
  if (!take_kv(f[4], "nonce", v) || !decode_field(v, s.nonce)) return std::nullopt;
  if (!take_kv(f[5], "box", v) || !decode_field(v, s.box)) return std::nullopt;
  return s;
}

Result<Parsed> parse_key_text(std::string_view text, const std::string& path) {
  auto bad = [&](std::string_view why) {
    return Status::corruption("key file " + path + " is damaged or not a provledger key file: " + std::string(why));
  };
  if (text.empty() || text.back() != '\n') return bad("truncated (no final newline)");
  auto lines = split(text.substr(0, text.size() - 1), '\n');
  if (lines.size() != 4) return bad("expected 4 lines, found " + std::to_string(lines.size()));
  if (lines[0] != kMagicLine) return bad("first line is not \"provledger-key v1\"");
  if (lines[1] != "type ed25519") return bad("second line is not \"type ed25519\"");
  Parsed p;
  if (lines[2].substr(0, 7) != "public " || !decode_field(lines[2].substr(7), p.public_key))
    return bad("bad \"public\" line");
  if (lines[3].substr(0, 5) == "seed ") {
    Seed seed;
    if (!decode_field(lines[3].substr(5), seed)) return bad("bad \"seed\" line");
    p.seed = seed;
    sodium_memzero(seed.data(), seed.size());
  } else if (lines[3].substr(0, 7) == "sealed ") {
    p.sealed = parse_sealed(lines[3].substr(7));
    if (!p.sealed) return bad("bad \"sealed\" line");
  } else {
    return bad("fourth line is neither \"seed\" nor \"sealed\"");
  }
  return p;
}

Result<Parsed> read_and_parse(const std::string& path) {
  PROV_ASSIGN_OR_RETURN(int fd, open_private(path));
  auto data = read_fd_bounded(fd, path, kKeyFileMaxBytes);
  ::close(fd);
  if (!data) {
    if (data.status().code() == StatusCode::kResourceExhausted)
      return Status::corruption("key file " + path + " is too large to be a provledger key file");
    return data.status();
  }
  auto parsed = parse_key_text(as_chars(*data), path);
  sodium_memzero(data->data(), data->size());
  return parsed;
}

// Derives the secretbox key from a passphrase; kResourceExhausted if the
// machine can not provide the memory the limits ask for.
Status derive_key(const std::string& passphrase, const Sealed& s, uint8_t* key_out) {
  if (crypto_pwhash(key_out, crypto_secretbox_KEYBYTES, passphrase.data(), passphrase.size(), s.salt.data(),
                    s.limits.ops, static_cast<size_t>(s.limits.mem_bytes), crypto_pwhash_ALG_ARGON2ID13) != 0) {
    return Status::resource_exhausted("Argon2id could not allocate " + std::to_string(s.limits.mem_bytes) + " bytes");
  }
  return Status::ok();
}

Result<std::string> check_passphrase(std::string p, const std::string& source) {
  if (p.empty()) return Status::invalid_argument("passphrase from " + source + " is empty");
  if (p.size() > kPassphraseMaxBytes)
    return Status::invalid_argument("passphrase from " + source + " is longer than " +
                                    std::to_string(kPassphraseMaxBytes) + " bytes");
  return p;
}

std::string sealed_line(const Sealed& s) {
  return "sealed " + std::string(kAlgorithm) + " ops=" + std::to_string(s.limits.ops) +
         " mem=" + std::to_string(s.limits.mem_bytes) + " salt=" + base64_encode(s.salt) +
         " nonce=" + base64_encode(s.nonce) + " box=" + base64_encode(s.box);
}

Result<Sealed> seal_seed(const Seed& seed, const std::string& passphrase, const PwhashLimits& limits) {
  if (!limits_in_bounds(limits)) return Status::invalid_argument("Argon2id limits out of bounds");
  Sealed s;
  s.limits = limits;
  randombytes_buf(s.salt.data(), s.salt.size());
  randombytes_buf(s.nonce.data(), s.nonce.size());
  uint8_t key[crypto_secretbox_KEYBYTES];
  Status st = derive_key(passphrase, s, key);
  if (st.is_ok()) crypto_secretbox_easy(s.box.data(), seed.data(), seed.size(), s.nonce.data(), key);
  sodium_memzero(key, sizeof key);
  if (!st.is_ok()) return st;
  return s;
}

}  // namespace

PwhashLimits pwhash_moderate() {
  return {crypto_pwhash_argon2id_OPSLIMIT_MODERATE, crypto_pwhash_argon2id_MEMLIMIT_MODERATE};
}
PwhashLimits pwhash_interactive() {
  return {crypto_pwhash_argon2id_OPSLIMIT_INTERACTIVE, crypto_pwhash_argon2id_MEMLIMIT_INTERACTIVE};
}
PwhashLimits pwhash_minimum() {
  return {crypto_pwhash_argon2id_OPSLIMIT_MIN, crypto_pwhash_argon2id_MEMLIMIT_MIN};
}

Status write_file_atomic(const std::string& path, ByteView data, mode_t mode, bool overwrite) {
  init();
  if (path.empty()) return Status::invalid_argument("empty file name");
  if (!overwrite && ::access(path.c_str(), F_OK) == 0)
    return Status::already_exists(path + " already exists; refusing to overwrite it");
  uint8_t rnd[8];
  randombytes_buf(rnd, sizeof rnd);
  const std::string tmp = path + ".tmp-" + hex_encode(ByteView(rnd, sizeof rnd));
  // The mode is set by open itself, so the file is never readable by others,
  // not even for an instant.
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode);
  if (fd < 0) return Status::io_error("creating " + tmp + ": " + errno_text(errno));
  Status st = write_all(fd, data, tmp);
  if (st.is_ok() && ::fsync(fd) != 0) st = Status::io_error("syncing " + tmp + ": " + errno_text(errno));
  if (::close(fd) != 0 && st.is_ok()) st = Status::io_error("closing " + tmp + ": " + errno_text(errno));
  if (st.is_ok()) {
    if (overwrite) {
      if (::rename(tmp.c_str(), path.c_str()) != 0) st = Status::io_error("renaming to " + path + ": " + errno_text(errno));
    } else if (::link(tmp.c_str(), path.c_str()) != 0) {
      // link, unlike rename, fails if the target appeared meanwhile.
      st = errno == EEXIST ? Status::already_exists(path + " already exists; refusing to overwrite it")
                           : Status::io_error("creating " + path + ": " + errno_text(errno));
    }
  }
  ::unlink(tmp.c_str());  // after rename it is already gone; after link it is a second name
  PROV_RETURN_IF_ERROR(st);
  return fsync_dir(parent_dir(path));
}

Result<Bytes> read_private_file(const std::string& path, size_t max_bytes) {
  PROV_ASSIGN_OR_RETURN(int fd, open_private(path));
  auto data = read_fd_bounded(fd, path, max_bytes);
  ::close(fd);
  return data;
}

Status write_key_file(const std::string& path, const KeyPair& key, const KeyFileWriteOptions& options) {
  init();
  std::string text = std::string(kMagicLine) + "\ntype ed25519\npublic " + base64_encode(key.public_key()) + "\n";
  WipeOnExit wipe{text};
  if (options.passphrase && !options.passphrase->empty()) {
    PROV_ASSIGN_OR_RETURN(Sealed s, seal_seed(key.seed(), *options.passphrase, options.limits));
    text += sealed_line(s) + "\n";
  } else {
    text += "seed " + base64_encode(key.seed()) + "\n";
  }
  return write_file_atomic(path, as_bytes(text), 0600, options.overwrite);
}

Result<KeyFileInfo> read_key_file_info(const std::string& path) {
  init();
  PROV_ASSIGN_OR_RETURN(Parsed p, read_and_parse(path));
  return KeyFileInfo{p.public_key, p.sealed.has_value()};
}

Result<KeyPair> load_key_file(const std::string& path, const std::optional<std::string>& passphrase) {
  init();
  PROV_ASSIGN_OR_RETURN(Parsed p, read_and_parse(path));
  if (p.sealed) {
    if (!passphrase || passphrase->empty())
      return Status::invalid_argument("key file " + path + " is sealed; a passphrase is needed");
    uint8_t key[crypto_secretbox_KEYBYTES];
    PROV_RETURN_IF_ERROR(derive_key(*passphrase, *p.sealed, key));
    Seed seed;
    int rc = crypto_secretbox_open_easy(seed.data(), p.sealed->box.data(), p.sealed->box.size(),
                                        p.sealed->nonce.data(), key);
    sodium_memzero(key, sizeof key);
    if (rc != 0) return Status::unauthenticated("wrong passphrase or damaged key file: " + path);
    p.seed = seed;
    sodium_memzero(seed.data(), seed.size());
  }
  KeyPair kp = KeyPair::from_seed(*p.seed);
  if (kp.public_key() != p.public_key)
    return Status::corruption("key file " + path + " is damaged: its seed does not derive its public key");
  return kp;
}

Result<std::string> read_passphrase_file(const std::string& path) {
  PROV_ASSIGN_OR_RETURN(Bytes data, read_private_file(path, kPassphraseFileMaxBytes));
  std::string text(as_chars(data));
  sodium_memzero(data.data(), data.size());
  WipeOnExit wipe{text};
  auto nl = text.find('\n');
  std::string line = text.substr(0, nl);
  if (!line.empty() && line.back() == '\r') line.pop_back();
  return check_passphrase(std::move(line), "file " + path);
}

Result<std::string> read_passphrase_env(const std::string& name) {
  const char* v = std::getenv(name.c_str());
  if (v == nullptr) return Status::not_found("environment variable " + name + " is not set");
  return check_passphrase(v, "environment variable " + name);
}

}  // namespace prov::crypto
