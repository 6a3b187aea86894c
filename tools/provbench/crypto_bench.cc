// `provbench crypto`: SHA-256 per backend (64-byte Merkle nodes and 1 MiB
// bulk) and single-threaded Ed25519 sign and verify rates.
#include <cstdint>
#include <cstdio>
#include <string>
#include <thread>

#include "bench_util.h"
#include "benches.h"
#include "crypto/ed25519.h"
#include "crypto/sha256.h"

namespace prov::bench {
namespace {

// Runs `op` in rounds until `min_seconds` passed; returns operations per second.
template <class Op>
double rate(double min_seconds, Op&& op) {
  uint64_t done = 0;
  uint64_t round = 64;
  Stopwatch sw;
  while (sw.seconds() < min_seconds) {
    for (uint64_t i = 0; i < round; ++i) op(done + i);
    done += round;
    round = std::min<uint64_t>(round * 2, 1u << 16);
  }
  return static_cast<double>(done) / sw.seconds();
}

// Single-threaded verifications per second of a transaction-sized message;
// 0 (after a message) if a valid signature failed to verify.
double verify_rate(double min_seconds) {
  crypto::KeyPair key = crypto::KeyPair::generate();
  Bytes msg(200, 0x11);  // about the size of a transaction body
  Signature sig = key.sign(crypto::purpose::kTransaction, "bench", msg);
  bool all_ok = true;
  double verifies = rate(min_seconds, [&](uint64_t) {
    all_ok = crypto::verify(key.public_key(), crypto::purpose::kTransaction, "bench", msg, sig) && all_ok;
  });
  if (!all_ok) {
    std::fprintf(stderr, "provbench crypto: a valid signature failed to verify\n");
    return 0;
  }
  return verifies;
}

}  // namespace

int run_crypto(const CryptoArgs& args) {
  crypto::init();
  Report report;
  const double t = args.seconds_per_case;
  report.add("cores", std::thread::hardware_concurrency(), "count");
  if (args.verify_only) {
    double verifies = verify_rate(t);
    if (verifies <= 0) return 1;
    report.add("ed25519_verify_per_s", verifies, "verifications/s (1 thread)");
    report.print(args.json);
    return 0;
  }

  Bytes node(64, 0xab);  // the input size of an RFC 9162 interior node hash
  Bytes bulk(1u << 20, 0x5c);
  volatile uint8_t sink = 0;  // keeps the compiler from dropping the hashes
  for (auto [which, name] : {std::pair{crypto::Sha256Backend::kOpenSsl, "openssl"},
                             std::pair{crypto::Sha256Backend::kSodium, "sodium"}}) {
    const crypto::Sha256Backend backend = which;  // lambdas capture a variable, not a structured binding (clang)
    double nodes = rate(t, [&](uint64_t i) {
      node[0] = static_cast<uint8_t>(i);
      sink = sink ^ crypto::sha256_with(backend, node).bytes[0];
    });
    double bulks = rate(t, [&](uint64_t i) {
      bulk[0] = static_cast<uint8_t>(i);
      sink = sink ^ crypto::sha256_with(backend, bulk).bytes[0];
    });
    report.add(std::string("sha256_") + name + "_64B_hashes_per_s", nodes, "hashes/s");
    report.add(std::string("sha256_") + name + "_64B_MB_per_s", nodes * 64 / 1e6, "MB/s");
    report.add(std::string("sha256_") + name + "_1MiB_MB_per_s", bulks * (1u << 20) / 1e6, "MB/s");
  }

  // The default backend through the two-part call the Merkle code uses
  // (streaming API), for comparison with the one-shot figures above.
  Bytes left(32, 0x01), right(32, 0x02);
  double two_part = rate(t, [&](uint64_t i) {
    left[0] = static_cast<uint8_t>(i);
    sink = sink ^ crypto::sha256(left, right).bytes[0];
  });
  report.add("sha256_default_two_part_64B_hashes_per_s", two_part, "hashes/s (sha256(a, b), 32+32 bytes)");

  crypto::KeyPair key = crypto::KeyPair::generate();
  Bytes msg(200, 0x11);  // about the size of a transaction body
  double signs = rate(t, [&](uint64_t i) {
    msg[0] = static_cast<uint8_t>(i);
    sink = sink ^ key.sign(crypto::purpose::kTransaction, "bench", msg).bytes[0];
  });
  double verifies = verify_rate(t);
  if (verifies <= 0) return 1;
  report.add("ed25519_sign_per_s", signs, "signatures/s (1 thread)");
  report.add("ed25519_verify_per_s", verifies, "verifications/s (1 thread)");
  report.add("ed25519_verify_ceiling_all_cores_per_s", verifies * std::thread::hardware_concurrency(),
             "verifications/s (cores x single-thread rate)");
  report.print(args.json);
  return 0;
}

}  // namespace prov::bench
