// provsim: runs seeded simulations of the consensus core (tests/sim) and
// reports, per seed, heights committed, faults injected and the trace hash.
// The last line is always `K/K seeds passed` or `FAILED seed S: <checker>: <detail>`.
// The wall clock is read here only to report throughput; nothing in a run
// depends on it.
#include <CLI/CLI.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "consensus/quorum.h"
#include "tests/sim/sim_chain.h"
#include "tests/sim/simulation.h"

namespace prov::sim {
namespace {

struct Options {
  size_t validators = 4;
  uint64_t seeds = 0;
  std::optional<uint64_t> seed;
  size_t byzantine = 1;
  uint64_t heights = 200;
  std::string scenario;
  bool wan = false;
  bool json = false;
  size_t jobs = std::max(1u, std::min(8u, std::thread::hardware_concurrency()));
  size_t trace = 0;
  bool quiet = false;
};

std::string json_escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", c);
      out += buf;
    } else {
      out += c;
    }
  }
  return out;
}

std::string ms_to_s(uint64_t ms) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1fs", static_cast<double>(ms) / 1000.0);
  return buf;
}

std::string run_text(const RunResult& r) {
  std::string s = "seed " + std::to_string(r.seed) + " " + scenario_name(r.scenario) +
                  " byz=" + std::to_string(r.byzantine) + " heights=" + std::to_string(r.heights) +
                  " txs=" + std::to_string(r.txs_committed) + " sim=" + ms_to_s(r.sim_ms) +
                  " heal=" + ms_to_s(r.heal_ms) +
                  " recovery=" + (r.recovery_ms ? ms_to_s(*r.recovery_ms) : std::string("-")) +
                  " worst_gap=" + ms_to_s(r.worst_gap_ms) + " delivered=" + std::to_string(r.delivered) +
                  " rejected=" + std::to_string(r.rejected) + " undecodable=" + std::to_string(r.undecodable) +
                  " faults[" + r.faults.to_string() + "] trace=" + r.trace_hash.substr(0, 16);
  if (r.failure) s += " FAILED " + r.failure->checker + " at " + std::to_string(r.failure->tick) + " ms: " + r.failure->detail;
  return s;
}

std::string run_json(const RunResult& r) {
  std::string s = "{\"seed\":" + std::to_string(r.seed) + ",\"scenario\":\"" + scenario_name(r.scenario) +
                  "\",\"byzantine\":" + std::to_string(r.byzantine) + ",\"heights\":" + std::to_string(r.heights) +
                  ",\"txs\":" + std::to_string(r.txs_committed) + ",\"sim_ms\":" + std::to_string(r.sim_ms) +
                  ",\"heal_ms\":" + std::to_string(r.heal_ms) + ",\"recovery_ms\":" +
                  (r.recovery_ms ? std::to_string(*r.recovery_ms) : std::string("null")) +
                  ",\"worst_gap_ms\":" + std::to_string(r.worst_gap_ms) + ",\"delivered\":" +
                  std::to_string(r.delivered) + ",\"rejected\":" + std::to_string(r.rejected) +
                  ",\"undecodable\":" + std::to_string(r.undecodable) + ",\"faults\":{";
  bool first = true;
  for (size_t i = 0; i < r.faults.n.size(); ++i) {
    if (!first) s += ',';
    first = false;
    s += "\"" + std::string(fault_name(static_cast<Fault>(i))) + "\":" + std::to_string(r.faults.n[i]);
  }
  s += "},\"trace_hash\":\"" + r.trace_hash + "\",\"ok\":" + (r.failure ? "false" : "true");
  if (r.failure) {
    s += ",\"checker\":\"" + json_escape(r.failure->checker) + "\",\"detail\":\"" + json_escape(r.failure->detail) +
         "\",\"failure_ms\":" + std::to_string(r.failure->tick);
  }
  return s + "}";
}

RunConfig config_for(const Options& o, uint64_t seed) {
  RunConfig c;
  c.seed = seed;
  c.validators = o.validators;
  c.byzantine = o.byzantine;
  c.target_heights = o.heights;
  if (!o.scenario.empty()) c.scenario = parse_scenario(o.scenario);
  c.trace_lines = o.trace;
  return c;
}

std::string replay_command(const Options& o, uint64_t seed) {
  std::string s = "provsim --validators " + std::to_string(o.validators) + " --byzantine " + std::to_string(o.byzantine) +
                  " --heights " + std::to_string(o.heights) + " --seed " + std::to_string(seed);
  if (!o.scenario.empty()) s += " --scenario " + o.scenario;
  return s + " --trace 200";
}

int run_seeds(const Options& o) {
  const uint64_t first = o.seed.value_or(1);
  const uint64_t count = o.seeds ? o.seeds : 1;
  (void)tx_pool();  // sign the shared workload once, before the workers start
  silence_protobuf_logs();
  auto start = std::chrono::steady_clock::now();

  std::vector<std::optional<RunResult>> results(count);
  std::mutex mu;
  std::condition_variable ready;
  std::atomic<uint64_t> next{0};
  auto worker = [&] {
    for (uint64_t k = next++; k < count; k = next++) {
      RunResult r = run_simulation(config_for(o, first + k));
      std::lock_guard lock(mu);
      results[k] = std::move(r);
      ready.notify_all();
    }
  };
  std::vector<std::thread> threads;
  for (size_t j = 0; j < std::max<size_t>(1, o.jobs); ++j) threads.emplace_back(worker);

  uint64_t passed = 0;
  std::optional<RunResult> first_failure;
  FaultCounts total;
  uint64_t total_heights = 0, worst_recovery = 0, worst_gap = 0;
  for (uint64_t k = 0; k < count; ++k) {
    std::unique_lock lock(mu);
    ready.wait(lock, [&] { return results[k].has_value(); });
    RunResult r = std::move(*results[k]);
    results[k].reset();
    lock.unlock();
    total.merge(r.faults);
    total_heights += r.heights;
    worst_gap = std::max(worst_gap, r.worst_gap_ms);
    if (r.recovery_ms) worst_recovery = std::max(worst_recovery, *r.recovery_ms);
    if (!o.quiet || r.failure) std::printf("%s\n", o.json ? run_json(r).c_str() : run_text(r).c_str());
    if (r.failure) {
      for (const std::string& line : r.trace_tail) std::printf("  | %s\n", line.c_str());
      if (!first_failure) first_failure = r;
    } else {
      ++passed;
    }
    std::fflush(stdout);
  }
  for (auto& t : threads) t.join();
  double wall_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

  if (o.json) {
    std::printf("{\"summary\":true,\"seeds\":%llu,\"passed\":%llu,\"heights\":%llu,\"worst_recovery_ms\":%llu,"
                "\"worst_gap_ms\":%llu,\"liveness_bound_ms\":%llu,\"wall_s\":%.1f}\n",
                static_cast<unsigned long long>(count), static_cast<unsigned long long>(passed),
                static_cast<unsigned long long>(total_heights), static_cast<unsigned long long>(worst_recovery),
                static_cast<unsigned long long>(worst_gap), static_cast<unsigned long long>(kLivenessBoundMs), wall_s);
  } else {
    std::printf("summary: n=%zu seeds=%llu heights=%llu faults[%s]\n", o.validators,
                static_cast<unsigned long long>(count), static_cast<unsigned long long>(total_heights),
                total.to_string().c_str());
    std::printf("liveness: bound %llu ms after heal; worst heal-to-commit %llu ms, worst commit gap %llu ms\n",
                static_cast<unsigned long long>(kLivenessBoundMs), static_cast<unsigned long long>(worst_recovery),
                static_cast<unsigned long long>(worst_gap));
    std::printf("wall: %.1f s (%.0f seeds/min)\n", wall_s, wall_s > 0 ? count * 60.0 / wall_s : 0.0);
  }
  if (first_failure) {
    std::printf("replay: %s\n", replay_command(o, first_failure->seed).c_str());
    std::printf("FAILED seed %llu: %s: %s\n", static_cast<unsigned long long>(first_failure->seed),
                first_failure->failure->checker.c_str(), first_failure->failure->detail.c_str());
    return 1;
  }
  std::printf("%llu/%llu seeds passed\n", static_cast<unsigned long long>(passed),
              static_cast<unsigned long long>(count));
  return 0;
}

int run_wan(const Options& o, bool validators_given) {
  std::vector<size_t> sizes = validators_given ? std::vector<size_t>{o.validators} : std::vector<size_t>{4, 7, 10, 31};
  const uint64_t seed = o.seed.value_or(1);
  if (!o.json) {
    std::printf("WAN projection: one-way latency per pair uniform 20-80 ms + 0-10 ms jitter, no faults, seed %llu, "
                "%llu heights\n",
                static_cast<unsigned long long>(seed), static_cast<unsigned long long>(o.heights));
    std::printf("%4s %4s %12s %10s %10s %10s\n", "n", "q", "commits/s", "p50 ms", "p99 ms", "sim s");
  }
  bool ok = true;
  std::string json = "{\"wan\":[";
  for (size_t k = 0; k < sizes.size(); ++k) {
    RunConfig c;
    c.seed = seed;
    c.validators = sizes[k];
    c.byzantine = 0;
    c.target_heights = o.heights;
    c.scenario = Scenario::kCalm;
    c.wan = true;
    RunResult r = run_simulation(c);
    if (r.failure) {
      ok = false;
      std::printf("FAILED seed %llu: %s: %s\n", static_cast<unsigned long long>(seed), r.failure->checker.c_str(),
                  r.failure->detail.c_str());
    }
    size_t q = consensus::quorum_size(sizes[k]);
    if (o.json) {
      char buf[256];
      std::snprintf(buf, sizeof buf,
                    "%s{\"n\":%zu,\"q\":%zu,\"commits_per_s\":%.2f,\"latency_p50_ms\":%llu,\"latency_p99_ms\":%llu,"
                    "\"sim_ms\":%llu,\"heights\":%llu}",
                    k ? "," : "", sizes[k], q, r.commits_per_s, static_cast<unsigned long long>(r.latency_p50_ms),
                    static_cast<unsigned long long>(r.latency_p99_ms), static_cast<unsigned long long>(r.sim_ms),
                    static_cast<unsigned long long>(r.heights));
      json += buf;
    } else {
      std::printf("%4zu %4zu %12.2f %10llu %10llu %10.1f\n", sizes[k], q, r.commits_per_s,
                  static_cast<unsigned long long>(r.latency_p50_ms), static_cast<unsigned long long>(r.latency_p99_ms),
                  static_cast<double>(r.sim_ms) / 1000.0);
    }
  }
  if (o.json) std::printf("%s]}\n", json.c_str());
  return ok ? 0 : 1;
}

}  // namespace
}  // namespace prov::sim

int main(int argc, char** argv) {
  using prov::sim::Options;
  Options o;
  CLI::App app{"provsim: deterministic simulation of the provledger consensus core"};
  app.add_option("--validators", o.validators, "validators per run (n)")->check(CLI::Range(2, 64));
  app.add_option("--seeds", o.seeds, "number of seeded runs (K)");
  app.add_option("--seed", o.seed, "first seed (alone: replay exactly this seed)");
  app.add_option("--byzantine", o.byzantine, "Byzantine replicas in the Byzantine scenarios (clamped to f)");
  app.add_option("--heights", o.heights, "heights every honest replica must commit")->check(CLI::Range(1, 100000));
  app.add_option("--scenario", o.scenario, "force one scenario: calm lossy partition one_way crash byzantine chaos fork");
  app.add_flag("--wan", o.wan, "WAN projection for n = 4, 7, 10, 31 (or --validators)");
  app.add_flag("--json", o.json, "JSON lines instead of text");
  app.add_option("--jobs", o.jobs, "seeds run in parallel (threads; default: the machine's cores, at most 8)")->check(CLI::Range(1, 64));
  app.add_option("--trace", o.trace, "on failure, print the last N trace lines");
  app.add_flag("--quiet", o.quiet, "print only failing runs and the summary");
  CLI11_PARSE(app, argc, argv);
  if (!o.scenario.empty() && !prov::sim::parse_scenario(o.scenario)) {
    std::fprintf(stderr, "unknown scenario %s\n", o.scenario.c_str());
    return 2;
  }
  if (o.byzantine > prov::consensus::max_faulty(o.validators)) {
    std::fprintf(stderr, "--byzantine %zu exceeds f = %zu for n = %zu\n", o.byzantine,
                 prov::consensus::max_faulty(o.validators), o.validators);
    return 2;
  }
  if (o.wan) return prov::sim::run_wan(o, app.count("--validators") > 0);
  return prov::sim::run_seeds(o);
}
