#include "tests/sim/network.h"

#include <algorithm>
#include <cassert>

namespace prov::sim {

Network::Network(size_t replicas, NetworkConfig config, uint64_t seed)
    : n_(replicas), config_(config), rng_(seed), blocked_(replicas * replicas, 0), wan_latency_ms_(replicas * replicas, 0) {
  // The WAN matrix is drawn first and from its own stream, so it does not
  // depend on how many messages are sent later.
  Rng wan_rng(derive_seed(seed, 0x3a4));
  for (size_t a = 0; a < n_; ++a) {
    for (size_t b = a + 1; b < n_; ++b) {
      uint64_t ms = wan_rng.between(config_.wan_min_ms, std::max(config_.wan_min_ms, config_.wan_max_ms));
      wan_latency_ms_[a * n_ + b] = wan_latency_ms_[b * n_ + a] = ms;
    }
  }
}

uint64_t Network::sample_delay(size_t from, size_t to) {
  if (config_.wan) return wan_latency_ms_[from * n_ + to] + rng_.between(0, config_.wan_jitter_ms);
  return rng_.between(config_.delay_min_ms, std::max(config_.delay_min_ms, config_.delay_max_ms));
}

size_t Network::route(size_t from, size_t to, uint64_t now, uint64_t out_ticks[kMaxCopies], FaultCounts& faults) {
  assert(from < n_ && to < n_ && from != to);
  if (blocked_[from * n_ + to]) {
    faults.add(Fault::kPartitionDrop);
    return 0;
  }
  if (config_.drop_ppm && rng_.chance_ppm(config_.drop_ppm)) {
    faults.add(Fault::kDrop);
    return 0;
  }
  size_t copies = 1;
  if (config_.duplicate_ppm && rng_.chance_ppm(config_.duplicate_ppm)) {
    faults.add(Fault::kDuplicate);
    copies = 2;
  }
  for (size_t c = 0; c < copies; ++c) {
    uint64_t delay = sample_delay(from, to);
    if (config_.tail_ppm && rng_.chance_ppm(config_.tail_ppm)) {
      faults.add(Fault::kDelayTail);
      delay += rng_.between(0, config_.tail_max_ms);
    }
    out_ticks[c] = now + std::max<uint64_t>(delay, 1);
  }
  return copies;
}

void Network::partition(const std::vector<bool>& side) {
  assert(side.size() == n_);
  for (size_t a = 0; a < n_; ++a) {
    for (size_t b = 0; b < n_; ++b) {
      if (side[a] != side[b]) blocked_[a * n_ + b] = 1;
    }
  }
}

void Network::block_one_way(size_t from, size_t to) {
  assert(from < n_ && to < n_);
  blocked_[from * n_ + to] = 1;
}

void Network::heal() { std::fill(blocked_.begin(), blocked_.end(), 0); }

bool Network::healed() const { return std::none_of(blocked_.begin(), blocked_.end(), [](uint8_t b) { return b; }); }

}  // namespace prov::sim
