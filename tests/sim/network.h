// The seeded network model: per-message delay, drop, duplication (and hence
// reordering), symmetric and one-way partitions, and a WAN latency matrix.
//
// The network only decides *when* (and whether) a message sent at tick `now`
// arrives; the simulation owns the event queue and the bytes. Every decision
// draws from the Rng it was given, so the same seed gives the same fate to
// every message. 1 tick = 1 simulated millisecond.
// Not thread-safe: owned by one simulation.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "tests/sim/faults.h"
#include "tests/sim/rng.h"

namespace prov::sim {

struct NetworkConfig {
  uint64_t delay_min_ms = 1;      // uniform base delay, both ends inclusive
  uint64_t delay_max_ms = 20;
  uint32_t tail_ppm = 0;          // chance (per million) of an extra long-tail delay
  uint64_t tail_max_ms = 0;       // the extra delay is uniform in [0, tail_max_ms]
  uint32_t drop_ppm = 0;
  uint32_t duplicate_ppm = 0;
  // WAN model: a fixed one-way latency per replica pair, uniform in
  // [wan_min_ms, wan_max_ms], plus per-message jitter in [0, wan_jitter_ms].
  bool wan = false;
  uint64_t wan_min_ms = 20;
  uint64_t wan_max_ms = 80;
  uint64_t wan_jitter_ms = 10;
};

class Network {
 public:
  Network(size_t replicas, NetworkConfig config, uint64_t seed);

  // Delivery ticks for one message from `from` to `to` sent at `now`:
  // none (lost), one, or two (duplicated). Counts what it did in `faults`.
  // The result holds at most kMaxCopies entries.
  static constexpr size_t kMaxCopies = 2;
  size_t route(size_t from, size_t to, uint64_t now, uint64_t out_ticks[kMaxCopies], FaultCounts& faults);

  // Replicas in `side` can not exchange messages with the others (both ways).
  void partition(const std::vector<bool>& side);
  // Messages from `from` to `to` are lost; `to` -> `from` still works.
  void block_one_way(size_t from, size_t to);
  void heal();
  bool healed() const;

  // Replaces the fault knobs (delays stay within the new bounds).
  void set_config(const NetworkConfig& config) { config_ = config; }
  const NetworkConfig& config() const { return config_; }

 private:
  uint64_t sample_delay(size_t from, size_t to);

  size_t n_;
  NetworkConfig config_;
  Rng rng_;
  std::vector<uint8_t> blocked_;          // n × n, [from * n + to]
  std::vector<uint64_t> wan_latency_ms_;  // n × n, symmetric
};

}  // namespace prov::sim
