#include "consensus/safety_rules.h"

#include <algorithm>

namespace prov::consensus {
namespace {

bool consecutive(uint64_t round, uint64_t previous) { return previous + 1 == round; }

}  // namespace

// PROV_CONSENSUS_BROKEN_LOCK builds the deliberately broken variant that only
// the simulator's checker test links (consensus/CMakeLists.txt).
#ifdef PROV_CONSENSUS_BROKEN_LOCK
constexpr bool kHonourLock = false;
#else
constexpr bool kHonourLock = true;
#endif

bool SafetyRules::safe_to_vote(uint64_t block_round, uint64_t qc_round, const std::optional<TcSummary>& tc) const {
  // The broken variant also forgets that it already voted in a round.
  if (block_round <= std::max(kHonourLock ? state_.highest_vote_round : 0, qc_round)) return false;
  if (consecutive(block_round, qc_round)) return true;
  // Extending an older QC is safe only right after a TC whose q timeouts
  // carried nothing newer than that QC: no block after it can be committed.
  return tc && consecutive(block_round, tc->round) && (qc_round >= tc->max_high_qc_round || !kHonourLock);
}

bool SafetyRules::safe_to_timeout(uint64_t round, uint64_t qc_round, const std::optional<TcSummary>& tc) const {
  if (qc_round < state_.highest_qc_round && kHonourLock) return false;
  uint64_t floor = std::max(state_.highest_vote_round == 0 ? 0 : state_.highest_vote_round - 1, qc_round);
  if (round <= floor) return false;
  return consecutive(round, qc_round) || (tc && consecutive(round, tc->round));
}

bool SafetyRules::try_vote(uint64_t block_round, uint64_t qc_round, const std::optional<TcSummary>& tc) {
  if (!safe_to_vote(block_round, qc_round, tc)) return false;
  state_.highest_qc_round = std::max(state_.highest_qc_round, qc_round);
  state_.highest_vote_round = std::max(state_.highest_vote_round, block_round);
  return true;
}

bool SafetyRules::try_timeout(uint64_t round, uint64_t qc_round, const std::optional<TcSummary>& tc) {
  if (!safe_to_timeout(round, qc_round, tc)) return false;
  state_.highest_vote_round = std::max(state_.highest_vote_round, round);
  return true;
}

}  // namespace prov::consensus
