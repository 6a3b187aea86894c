// The simulator's only source of randomness: xoshiro256** seeded through
// splitmix64, with our own integer and probability helpers.
//
// std::uniform_int_distribution and friends are implementation-defined, so a
// seed would replay differently under another standard library; these helpers
// are fully specified here, which keeps `provsim --seed S` bit-for-bit
// reproducible on any toolchain.
// Not thread-safe: one Rng per simulated run (or per purpose within a run).
#pragma once

#include <cstddef>
#include <cstdint>

namespace prov::sim {

// splitmix64: the mixing step used to seed xoshiro and to derive sub-seeds.
inline uint64_t splitmix64(uint64_t& state) {
  uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

// A sub-seed for `purpose` derived from `seed`, so separate streams (network,
// workload, faults, each Byzantine replica) never shift each other when one
// of them draws more numbers.
inline uint64_t derive_seed(uint64_t seed, uint64_t purpose) {
  uint64_t s = seed ^ (purpose * 0xd1b54a32d192ed03ULL);
  splitmix64(s);
  return splitmix64(s);
}

class Rng {
 public:
  explicit Rng(uint64_t seed) {
    uint64_t s = seed;
    for (uint64_t& w : s_) w = splitmix64(s);
  }

  uint64_t next() {
    const uint64_t result = rotl(s_[1] * 5, 7) * 9;
    const uint64_t t = s_[1] << 17;
    s_[2] ^= s_[0];
    s_[3] ^= s_[1];
    s_[1] ^= s_[2];
    s_[0] ^= s_[3];
    s_[2] ^= t;
    s_[3] = rotl(s_[3], 45);
    return result;
  }

  // Uniform in [0, n); n > 0. Lemire's multiply-shift; the tiny bias for
  // huge n does not matter for fault injection.
  uint64_t below(uint64_t n) { return static_cast<uint64_t>((static_cast<unsigned __int128>(next()) * n) >> 64); }
  // Uniform in [lo, hi] (inclusive); lo <= hi.
  uint64_t between(uint64_t lo, uint64_t hi) { return lo + below(hi - lo + 1); }
  // True with probability `per_million` / 1e6 (integers keep it exact).
  bool chance_ppm(uint32_t per_million) { return below(1'000'000) < per_million; }
  size_t index(size_t n) { return static_cast<size_t>(below(n)); }

 private:
  static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
  uint64_t s_[4];
};

}  // namespace prov::sim
