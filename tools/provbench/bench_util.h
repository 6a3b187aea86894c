// Small helpers shared by the provbench benchmarks: a wall clock, latency
// percentiles, process memory from /proc, directory sizes and a report that
// prints as aligned text or as one JSON object. Single-threaded.
#pragma once

#include <algorithm>
#include <chrono>
#include <ctime>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <utility>
#include <vector>

namespace prov::bench {

class Stopwatch {
 public:
  Stopwatch() : start_(std::chrono::steady_clock::now()) {}
  double seconds() const { return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count(); }
  double micros() const { return seconds() * 1e6; }

 private:
  std::chrono::steady_clock::time_point start_;
};

// CPU time of the calling thread. Next to wall time it separates a
// figure's own cost from time the thread spent preempted on a busy machine.
class ThreadCpuStopwatch {
 public:
  ThreadCpuStopwatch() : start_(now()) {}
  double micros() const { return (now() - start_) / 1e3; }

 private:
  static double now() {
    timespec ts{};
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return static_cast<double>(ts.tv_sec) * 1e9 + static_cast<double>(ts.tv_nsec);
  }
  double start_;
};

// The q-quantile (0..1) of `samples` by nearest rank; 0 when empty.
inline double percentile(std::vector<double> samples, double q) {
  if (samples.empty()) return 0;
  std::sort(samples.begin(), samples.end());
  size_t rank = static_cast<size_t>(q * static_cast<double>(samples.size() - 1) + 0.5);
  return samples[std::min(rank, samples.size() - 1)];
}

// A field of /proc/self/status in KiB (VmRSS, VmHWM, ...); 0 if absent.
inline uint64_t proc_status_kib(const std::string& field) {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(field + ":", 0) == 0) return std::strtoull(line.c_str() + field.size() + 1, nullptr, 10);
  }
  return 0;
}

// Total bytes of regular files under `dir`.
inline uint64_t directory_bytes(const std::string& dir) {
  uint64_t total = 0;
  std::error_code ec;
  for (auto it = std::filesystem::recursive_directory_iterator(dir, ec); !ec && it != decltype(it)(); it.increment(ec)) {
    if (it->is_regular_file(ec)) total += it->file_size(ec);
  }
  return total;
}

// Ordered name -> value pairs, printed as text lines or one JSON object.
class Report {
 public:
  void add(const std::string& name, double value, const std::string& unit) { rows_.push_back({name, value, unit, {}}); }
  void add_text(const std::string& name, const std::string& text) { rows_.push_back({name, 0, {}, text}); }

  void print(bool json) const {
    if (json) {
      std::printf("{");
      for (size_t i = 0; i < rows_.size(); ++i) {
        const Row& r = rows_[i];
        std::printf("%s\"%s\": ", i ? ", " : "", r.name.c_str());
        if (!r.text.empty() || r.unit.empty()) {
          std::printf("\"%s\"", escape(r.text).c_str());
        } else {
          std::printf("%.6g", r.value);
        }
      }
      std::printf("}\n");
      return;
    }
    for (const Row& r : rows_) {
      if (!r.text.empty() || r.unit.empty()) {
        std::printf("%-40s %s\n", r.name.c_str(), r.text.c_str());
      } else {
        std::printf("%-40s %14.6g %s\n", r.name.c_str(), r.value, r.unit.c_str());
      }
    }
  }

 private:
  struct Row {
    std::string name;
    double value;
    std::string unit;
    std::string text;
  };
  static std::string escape(const std::string& s) {
    std::string out;
    for (char c : s) {
      if (c == '"' || c == '\\') out.push_back('\\');
      out.push_back(c);
    }
    return out;
  }
  std::vector<Row> rows_;
};

}  // namespace prov::bench
