// Latency histograms for /metrics (Prometheus text format, cumulative
// buckets in seconds): the stages a submitted transaction passes through,
// so an operator sees where commit latency goes, tails included.
// Thread-safe: observe() from any thread, render() from any other.
#pragma once

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <ostream>
#include <string>

namespace prov::node {

// Nanoseconds as decimal seconds with all nine digits ("12345.000678901"):
// a sum that grows for as long as the node runs keeps its resolution,
// which a double printed at the stream's six significant digits did not.
inline std::string format_seconds(uint64_t ns) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%llu.%09llu", static_cast<unsigned long long>(ns / 1000000000u),
                static_cast<unsigned long long>(ns % 1000000000u));
  return buf;
}

class LatencyHistogram {
 public:
  // Upper bounds of the buckets, in seconds: Prometheus' defaults, with 1 ms
  // and 2.5 ms in front so a synced write (an fsync takes a millisecond or
  // two on a good disk) is resolved too.
  static constexpr std::array<double, 13> kBounds = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                                                     0.25,  0.5,    1.0,   2.5,  5.0,   10.0};

  void observe(std::chrono::steady_clock::duration d) {
    uint64_t ns = static_cast<uint64_t>(std::max<int64_t>(
        0, std::chrono::duration_cast<std::chrono::nanoseconds>(d).count()));
    double s = static_cast<double>(ns) / 1e9;
    size_t i = 0;
    while (i < kBounds.size() && s > kBounds[i]) ++i;
    buckets_[i].fetch_add(1, std::memory_order_relaxed);  // i == size: above every bound (+Inf only)
    sum_ns_.fetch_add(ns, std::memory_order_relaxed);
  }

  // Writes `name` as a Prometheus histogram: _bucket{le=...} (cumulative),
  // _sum and _count.
  void render(std::ostream& out, const char* name, const char* help) const {
    out << "# HELP " << name << " " << help << "\n# TYPE " << name << " histogram\n";
    uint64_t cumulative = 0;
    for (size_t i = 0; i < kBounds.size(); ++i) {
      cumulative += buckets_[i].load(std::memory_order_relaxed);
      out << name << "_bucket{le=\"" << kBounds[i] << "\"} " << cumulative << "\n";
    }
    cumulative += buckets_[kBounds.size()].load(std::memory_order_relaxed);
    out << name << "_bucket{le=\"+Inf\"} " << cumulative << "\n"
        << name << "_sum " << format_seconds(sum_ns_.load(std::memory_order_relaxed)) << "\n"
        << name << "_count " << cumulative << "\n";
  }

 private:
  std::array<std::atomic<uint64_t>, kBounds.size() + 1> buckets_{};
  std::atomic<uint64_t> sum_ns_{0};
};

}  // namespace prov::node
