// Linked against consensus_broken (safety rules ignore the two-chain lock):
// passes only if a safety checker fires for at least one seed of the fork
// scenario, which proves the checkers can see the bug they exist for.
#include <doctest/doctest.h>

#include <cstdio>
#include <string>

#include "tests/sim/simulation.h"

namespace prov::sim {
namespace {

// Seeds tried before giving up; the first violation ends the search.
constexpr uint64_t kMaxSeeds = 200;

bool is_safety(const std::string& checker) {
  return checker == "agreement" || checker == "no_revert" || checker == "ledger_identity" ||
         checker == "final_state" || checker == "commit_proof";
}

TEST_CASE("the simulator catches a core that ignores the lock") {
  std::optional<RunResult> caught;
  uint64_t tried = 0;
  for (uint64_t seed = 1; seed <= kMaxSeeds && !caught; ++seed, ++tried) {
    RunConfig c;
    c.seed = seed;
    // n = 7 with two Byzantine replicas: one leader shows its proposal (and
    // the QC in it) to a single peer, the next forks after the TC.
    c.validators = 7;
    c.byzantine = 2;
    c.scenario = Scenario::kFork;
    RunResult r = run_simulation(c);
    if (r.failure && is_safety(r.failure->checker)) caught = r;
  }
  REQUIRE_MESSAGE(caught.has_value(), "no safety checker fired in " << tried << " seeds of the fork scenario");
  std::printf("broken core caught after %llu seed(s): seed %llu: %s: %s\n", static_cast<unsigned long long>(tried),
              static_cast<unsigned long long>(caught->seed), caught->failure->checker.c_str(),
              caught->failure->detail.c_str());
}

}  // namespace
}  // namespace prov::sim
