#include "crypto/keyfile.h"

#include <doctest/doctest.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "crypto/encoding.h"

namespace fs = std::filesystem;
using namespace prov;
using namespace prov::crypto;

namespace {

// A fresh directory under the system temp dir, removed with its contents.
struct TempDir {
  fs::path path;
  TempDir() {
    std::string tmpl = (fs::temp_directory_path() / "prov-keyfile-XXXXXX").string();
    REQUIRE(::mkdtemp(tmpl.data()) != nullptr);
    path = tmpl;
  }
  ~TempDir() { fs::remove_all(path); }
  std::string file(const std::string& name) const { return (path / name).string(); }
};

KeyPair test_key(uint8_t fill) {
  Seed seed;
  seed.bytes.fill(fill);
  return KeyPair::from_seed(seed);
}

KeyFileWriteOptions sealed_with(const std::string& pass) {
  KeyFileWriteOptions o;
  o.passphrase = pass;
  o.limits = pwhash_minimum();  // keeps the test fast
  return o;
}

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Writes `text` with mode 0600 (like a key file), replacing what was there.
void put(const std::string& path, const std::string& text, mode_t mode = 0600) {
  ::unlink(path.c_str());
  REQUIRE(write_file_atomic(path, as_bytes(text), mode, true).is_ok());
}

mode_t mode_of(const std::string& path) {
  struct stat st {};
  REQUIRE(::stat(path.c_str(), &st) == 0);
  return st.st_mode & 07777;
}

}  // namespace

TEST_CASE("keyfile: plain round trip, mode 0600, public key readable") {
  TempDir dir;
  const std::string path = dir.file("node.key");
  KeyPair key = test_key(7);
  REQUIRE(write_key_file(path, key, {}).is_ok());
  CHECK(mode_of(path) == 0600);
  auto info = read_key_file_info(path);
  REQUIRE(info.is_ok());
  CHECK(info->public_key == key.public_key());
  CHECK_FALSE(info->sealed);
  auto loaded = load_key_file(path, std::nullopt);
  REQUIRE(loaded.is_ok());
  CHECK(loaded->seed() == key.seed());
  CHECK(slurp(path).rfind("provledger-key v1\ntype ed25519\npublic ", 0) == 0);
}

TEST_CASE("keyfile: sealed round trip and wrong passphrase") {
  TempDir dir;
  const std::string path = dir.file("sealed.key");
  KeyPair key = test_key(9);
  REQUIRE(write_key_file(path, key, sealed_with("correct horse")).is_ok());
  CHECK(slurp(path).find(base64_encode(key.seed())) == std::string::npos);

  auto info = read_key_file_info(path);
  REQUIRE(info.is_ok());
  CHECK(info->sealed);
  CHECK(info->public_key == key.public_key());

  auto ok = load_key_file(path, std::string("correct horse"));
  REQUIRE(ok.is_ok());
  CHECK(ok->public_key() == key.public_key());

  auto wrong = load_key_file(path, std::string("battery staple"));
  REQUIRE_FALSE(wrong.is_ok());
  CHECK(wrong.status().code() == StatusCode::kUnauthenticated);
  CHECK(wrong.status().message().find("wrong passphrase or damaged key file") != std::string::npos);

  auto none = load_key_file(path, std::nullopt);
  REQUIRE_FALSE(none.is_ok());
  CHECK(none.status().code() == StatusCode::kInvalidArgument);
}

TEST_CASE("keyfile: sealed box tampering is unauthenticated") {
  TempDir dir;
  const std::string path = dir.file("sealed.key");
  REQUIRE(write_key_file(path, test_key(3), sealed_with("pw")).is_ok());
  std::string text = slurp(path);
  auto pos = text.find("box=") + 4;
  text[pos] = text[pos] == 'A' ? 'B' : 'A';
  put(path, text);
  auto r = load_key_file(path, std::string("pw"));
  REQUIRE_FALSE(r.is_ok());
  CHECK(r.status().code() == StatusCode::kUnauthenticated);
}

TEST_CASE("keyfile: refuses to overwrite unless asked") {
  TempDir dir;
  const std::string path = dir.file("k.key");
  REQUIRE(write_key_file(path, test_key(1), {}).is_ok());
  Status again = write_key_file(path, test_key(2), {});
  CHECK(again.code() == StatusCode::kAlreadyExists);
  CHECK(load_key_file(path, std::nullopt)->public_key() == test_key(1).public_key());
  KeyFileWriteOptions force;
  force.overwrite = true;
  REQUIRE(write_key_file(path, test_key(2), force).is_ok());
  CHECK(load_key_file(path, std::nullopt)->public_key() == test_key(2).public_key());
  CHECK(mode_of(path) == 0600);
  // No temporary files are left behind.
  size_t n = 0;
  for ([[maybe_unused]] auto& e : fs::directory_iterator(dir.path)) ++n;
  CHECK(n == 1);
}

TEST_CASE("keyfile: missing file is kNotFound") {
  TempDir dir;
  auto r = load_key_file(dir.file("absent.key"), std::nullopt);
  REQUIRE_FALSE(r.is_ok());
  CHECK(r.status().code() == StatusCode::kNotFound);
  CHECK(r.status().message().find("absent.key") != std::string::npos);
}

TEST_CASE("keyfile: group- or world-readable file is refused") {
  TempDir dir;
  const std::string path = dir.file("open.key");
  REQUIRE(write_key_file(path, test_key(4), {}).is_ok());
  REQUIRE(::chmod(path.c_str(), 0640) == 0);
  auto r = load_key_file(path, std::nullopt);
  REQUIRE_FALSE(r.is_ok());
  CHECK(r.status().code() == StatusCode::kPermissionDenied);
  CHECK(r.status().message().find("chmod 600") != std::string::npos);
  CHECK_FALSE(read_key_file_info(path).is_ok());
}

TEST_CASE("keyfile: truncated and garbage files are kCorruption naming the file") {
  TempDir dir;
  const std::string path = dir.file("bad.key");
  REQUIRE(write_key_file(path, test_key(5), {}).is_ok());
  const std::string good = slurp(path);
  const std::string pub_line = "public " + base64_encode(test_key(5).public_key());
  const std::string other_seed = "seed " + base64_encode(test_key(6).seed());
  const std::vector<std::string> bad = {
      "",
      good.substr(0, good.size() / 2),
      good.substr(0, good.size() - 1),  // no final newline
      "garbage\n",
      std::string(5000, 'x'),
      "provledger-key v2\n" + good.substr(good.find('\n') + 1),
      "provledger-key v1\ntype rsa\n" + good.substr(good.find("public")),
      "provledger-key v1\ntype ed25519\n" + pub_line + "\n" + other_seed + "\n",  // seed/public mismatch
      "provledger-key v1\ntype ed25519\n" + pub_line + "\nsealed argon2id13 ops=1 mem=99999999999999 salt=AAAA "
                                                       "nonce=AAAA box=AAAA\n",
      good + "extra line\n",
  };
  for (const std::string& text : bad) {
    CAPTURE(text);
    put(path, text);
    auto r = load_key_file(path, std::nullopt);
    REQUIRE_FALSE(r.is_ok());
    CHECK(r.status().code() == StatusCode::kCorruption);
    CHECK(r.status().message().find(path) != std::string::npos);
  }
}

TEST_CASE("keyfile: write_file_atomic sets the mode at creation") {
  TempDir dir;
  const std::string path = dir.file("public.json");
  const mode_t old = ::umask(022);
  REQUIRE(write_file_atomic(path, as_bytes("{}"), 0644, false).is_ok());
  ::umask(old);
  CHECK(mode_of(path) == 0644);
  CHECK(slurp(path) == "{}");
  CHECK(write_file_atomic(path, as_bytes("x"), 0644, false).code() == StatusCode::kAlreadyExists);
  CHECK(write_file_atomic(dir.file("no/such/dir"), as_bytes("x"), 0600, false).code() == StatusCode::kIOError);
}

TEST_CASE("keyfile: read_private_file bounds and modes") {
  TempDir dir;
  const std::string path = dir.file("agency.secret");
  put(path, std::string(32, 's'));
  auto r = read_private_file(path, 32);
  REQUIRE(r.is_ok());
  CHECK(r->size() == 32);
  CHECK(read_private_file(path, 31).status().code() == StatusCode::kResourceExhausted);
  REQUIRE(::chmod(path.c_str(), 0604) == 0);
  CHECK(read_private_file(path, 32).status().code() == StatusCode::kPermissionDenied);
}

TEST_CASE("keyfile: passphrase from file and environment") {
  TempDir dir;
  const std::string path = dir.file("pass");
  put(path, "s3cret\r\nsecond line ignored\n");
  auto p = read_passphrase_file(path);
  REQUIRE(p.is_ok());
  CHECK(*p == "s3cret");

  put(path, "\nafter an empty first line\n");
  CHECK(read_passphrase_file(path).status().code() == StatusCode::kInvalidArgument);
  CHECK(read_passphrase_file(dir.file("none")).status().code() == StatusCode::kNotFound);
  put(path, "s3cret\n", 0644);
  CHECK(read_passphrase_file(path).status().code() == StatusCode::kPermissionDenied);

  REQUIRE(::setenv("PROV_TEST_PASSPHRASE", "from-env", 1) == 0);
  auto e = read_passphrase_env("PROV_TEST_PASSPHRASE");
  REQUIRE(e.is_ok());
  CHECK(*e == "from-env");
  REQUIRE(::setenv("PROV_TEST_PASSPHRASE", "", 1) == 0);
  CHECK(read_passphrase_env("PROV_TEST_PASSPHRASE").status().code() == StatusCode::kInvalidArgument);
  REQUIRE(::unsetenv("PROV_TEST_PASSPHRASE") == 0);
  CHECK(read_passphrase_env("PROV_TEST_PASSPHRASE").status().code() == StatusCode::kNotFound);
}
