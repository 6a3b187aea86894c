// The voting rules of Jolteon / DiemBFT v4 (two-chain HotStuff), over rounds.
//
// SafetyRules decides whether this replica may vote for a block or time out a
// round, and updates the state that must be persisted (with fsync) before the
// resulting vote or timeout leaves the node. It knows nothing of signatures,
// blocks or networks: the core checks certificates first and passes rounds.
//
//   safe_to_vote(r, qc_r, tc):  r > max(highest_vote_round, qc_r) and
//                               (r == qc_r + 1 or (tc for r-1 and qc_r >= max high-QC round in tc))
//   safe_to_timeout(r, qc_r, tc): qc_r >= highest_qc_round and
//                               r > max(highest_vote_round - 1, qc_r) and
//                               (r == qc_r + 1 or r == tc_round + 1)
//
// highest_qc_round is the two-chain "lock": after voting for a block whose QC
// is for round k, this replica never times out with a QC older than k, so a
// block that may have been committed is carried into every later TC.
// Not thread-safe: owned by the single consensus strand.
#pragma once

#include <cstdint>
#include <optional>

namespace prov::consensus {

// What must survive a crash for the rules to stay safe.
struct SafetyState {
  uint64_t epoch = 0;
  uint64_t highest_vote_round = 0;  // highest round voted or timed out in
  uint64_t highest_qc_round = 0;    // highest QC round of a block voted for
  friend bool operator==(const SafetyState&, const SafetyState&) = default;
};

// The part of a timeout certificate the rules need.
struct TcSummary {
  uint64_t round = 0;               // the round that timed out
  uint64_t max_high_qc_round = 0;   // highest QC round among its q timeouts
};

class SafetyRules {
 public:
  explicit SafetyRules(SafetyState state) : state_(state) {}

  // If voting for a block of `block_round` whose QC is for `qc_round` (with the
  // TC of round block_round-1, if the QC is not for that round) is safe,
  // records the vote and returns true; the caller must persist state() before
  // sending the vote.
  bool try_vote(uint64_t block_round, uint64_t qc_round, const std::optional<TcSummary>& tc);

  // If timing out `round` with a high QC of `qc_round` (entering the round via
  // that QC or via `tc`) is safe, records it and returns true; persist first.
  bool try_timeout(uint64_t round, uint64_t qc_round, const std::optional<TcSummary>& tc);

  // Pure checks, without recording anything.
  bool safe_to_vote(uint64_t block_round, uint64_t qc_round, const std::optional<TcSummary>& tc) const;
  bool safe_to_timeout(uint64_t round, uint64_t qc_round, const std::optional<TcSummary>& tc) const;

  const SafetyState& state() const { return state_; }

 private:
  SafetyState state_;
};

}  // namespace prov::consensus
