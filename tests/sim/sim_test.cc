// CI seed set for the simulator: every scenario at n = 4 (one Byzantine
// replica where the scenario has any) and a few at n = 7, each to the full
// 200 heights; and replay determinism (one seed twice, equal trace hashes).
#include <doctest/doctest.h>

#include <string>

#include "tests/sim/simulation.h"

namespace prov::sim {
namespace {

std::string describe(const RunResult& r) {
  std::string s = "seed " + std::to_string(r.seed) + " " + scenario_name(r.scenario) + " heights " +
                  std::to_string(r.heights) + " faults[" + r.faults.to_string() + "]";
  if (r.failure) s += " FAILED " + r.failure->checker + ": " + r.failure->detail;
  return s;
}

TEST_CASE("the same seed replays bit-for-bit") {
  for (uint64_t seed : {6u, 5u}) {  // chaos and byzantine: the most moving parts
    RunConfig c;
    c.seed = seed;
    c.target_heights = 60;
    RunResult a = run_simulation(c);
    RunResult b = run_simulation(c);
    INFO(describe(a));
    CHECK_FALSE(a.failure.has_value());
    CHECK(a.trace_hash == b.trace_hash);
    CHECK(a.events == b.events);
    CHECK(a.heights == b.heights);
    // A different seed takes a different path.
    c.seed = seed + static_cast<uint64_t>(Scenario::kCount);
    CHECK(run_simulation(c).trace_hash != a.trace_hash);
  }
}

TEST_CASE("CI seed set: every scenario at n = 4 reaches 200 heights with no checker firing") {
  FaultCounts total;
  for (uint64_t seed = 1; seed <= 2 * static_cast<uint64_t>(Scenario::kCount); ++seed) {
    RunConfig c;
    c.seed = seed;
    c.validators = 4;
    c.byzantine = 1;
    RunResult r = run_simulation(c);
    INFO(describe(r));
    CHECK_FALSE(r.failure.has_value());
    CHECK(r.heights >= 200);
    total.merge(r.faults);
  }
  // The set must actually exercise every kind of fault.
  for (size_t f = 0; f < static_cast<size_t>(Fault::kCount); ++f) {
    INFO(fault_name(static_cast<Fault>(f)));
    CHECK(total.n[f] > 0);
  }
}

TEST_CASE("CI seed set: n = 7 with two Byzantine replicas") {
  for (Scenario s : {Scenario::kByzantine, Scenario::kChaos, Scenario::kPartition}) {
    RunConfig c;
    c.seed = 1000 + static_cast<uint64_t>(s);
    c.validators = 7;
    c.byzantine = 2;
    c.scenario = s;
    RunResult r = run_simulation(c);
    INFO(describe(r));
    CHECK_FALSE(r.failure.has_value());
    CHECK(r.heights >= 200);
  }
}

}  // namespace
}  // namespace prov::sim
