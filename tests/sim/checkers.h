// The simulator's checkers: safety (agreement, no revert, byte-identical
// ledgers, checkable commit proofs) after every step, liveness after heal,
// and a final comparison of every honest replica's ledger head.
//
// Only honest replicas are checked: a Byzantine replica may commit anything.
// The first violation is kept (with the tick it happened at) and every later
// call is a no-op, so the report names the checker that fired first.
// Not thread-safe: owned by one simulation.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "consensus/certificates.h"
#include "consensus/core.h"
#include "ledger/kv.h"

namespace prov::sim {

struct Failure {
  std::string checker;  // agreement | no_revert | ledger_identity | commit_proof | liveness | final_state | sim_bound
  std::string detail;
  uint64_t tick = 0;
};

class Checkers {
 public:
  // `honest[i]` says whether replica i is checked; `liveness_bound_ms` is the
  // longest an honest replica may go without a new commit after the heal.
  Checkers(const consensus::ValidatorSet& set, std::vector<bool> honest, uint64_t liveness_bound_ms);

  // A Commit effect of replica `i`, before it is applied to its store.
  void on_commit(size_t i, const consensus::Commit& c, uint64_t now);
  // Replica i was rebuilt from its durable store, whose head is at `height`.
  void on_restart(size_t i, uint64_t height, const Hash256& head_id, uint64_t now);
  // After every input replica i handled: what its core says is committed.
  void on_core_state(size_t i, uint64_t height, const Hash256& id, uint64_t now);
  // The network is good and every honest replica is up from `now` on.
  void on_heal(uint64_t now);
  // Fires `liveness` if an honest replica went longer than the bound without
  // a commit since the heal. Call after every event.
  void check_liveness(uint64_t now);
  // At the end: every honest store agrees at the common height (block bytes,
  // log size and root), and stores at the same height have the same head.
  void check_final(const std::vector<const ledger::KvReader*>& stores, uint64_t now);
  // Fails the run for a reason outside the checkers (a simulator bound).
  void fail(std::string checker, std::string detail, uint64_t now);

  const std::optional<Failure>& failure() const { return failure_; }
  bool failed() const { return failure_.has_value(); }
  // Heights committed by every honest replica / by the most advanced one.
  uint64_t min_honest_height() const;
  uint64_t max_honest_height() const;
  uint64_t height(size_t i) const { return replicas_[i].height; }
  // Longest gap between commits after the heal seen so far, over honest replicas.
  uint64_t worst_gap_after_heal_ms() const { return worst_gap_ms_; }
  // Heal to the first commit of the slowest honest replica.
  std::optional<uint64_t> recovery_ms() const;
  // Block id committed at `height` (1-based), if any honest replica did.
  const Hash256* committed_id(uint64_t height) const;

 private:
  struct Canon {
    Hash256 id;
    Bytes block;  // exact bytes, compared with every later commit
    size_t first = 0;
  };
  struct ReplicaView {
    uint64_t height = 0;
    Hash256 id;                // zeros at height 0
    uint64_t last_commit = 0;  // tick
    std::optional<uint64_t> first_commit_after_heal;
  };

  std::string name(size_t i) const;

  consensus::ValidatorSet set_;
  std::vector<bool> honest_;
  uint64_t liveness_bound_ms_;
  std::vector<Canon> canon_;  // [height - 1]
  std::vector<ReplicaView> replicas_;
  std::optional<uint64_t> heal_tick_;
  uint64_t worst_gap_ms_ = 0;
  std::optional<Failure> failure_;
  // Hashes of commit proofs already verified; cleared when full.
  static constexpr size_t kMaxVerifiedProofs = 4096;
  std::set<Hash256> verified_proofs_;
};

}  // namespace prov::sim
