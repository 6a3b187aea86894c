// A Byzantine validator: the real core runs inside it (so it stays in step
// with the chain and can lead), and everything it sends passes through an
// adversary that equivocates, double-votes, votes for unknown blocks,
// corrupts signatures, signs with a key outside the validator set, withholds,
// replays old messages, sends garbage, and — in the fork scenario — proposes
// blocks that extend a QC older than the two-chain lock right after a TC.
//
// To sign *valid* conflicting blocks it keeps a shadow copy of the block tree:
// every proposal it sees is executed with the real state transition on an
// overlay of a store that lags its own commits by kForkLagHeights, so it can
// build a block on any recent ancestor. With B ≤ f such replicas, no checker
// may fire if the core is right.
// Not thread-safe: owned by one simulation.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <vector>

#include "consensus/core.h"
#include "ledger/kv.h"
#include "tests/sim/faults.h"
#include "tests/sim/mempool.h"
#include "tests/sim/rng.h"

namespace prov::sim {

// Chances are per message (per million) unless named otherwise.
struct ByzantineConfig {
  uint32_t equivocate_ppm = 500'000;   // per own proposal
  uint32_t fork_ppm = 0;               // per own proposal after a TC
  uint32_t selective_ppm = 0;          // per own proposal: send it to one peer only
  uint32_t double_vote_ppm = 300'000;  // per own vote
  uint32_t unknown_vote_ppm = 100'000;
  uint32_t bad_signature_ppm = 100'000;
  uint32_t outsider_ppm = 100'000;
  uint32_t withhold_ppm = 100'000;
  uint64_t act_min_ms = 50;            // spontaneous replay/garbage every [min, max] ms
  uint64_t act_max_ms = 400;
};

// What the simulation lets a Byzantine replica do.
class ByzantineHost {
 public:
  virtual ~ByzantineHost() = default;
  virtual void send_bytes(size_t from, size_t to, Bytes bytes, uint64_t now) = 0;
  virtual void set_timer(size_t replica, uint64_t deadline) = 0;
  virtual FaultCounts& faults() = 0;
};

class ByzantineReplica {
 public:
  // Commits kept behind the inner core's, so older ancestors stay buildable.
  static constexpr size_t kForkLagHeights = 3;
  // Old messages kept for replay.
  static constexpr size_t kReplayBufferMessages = 128;
  // Shadow blocks kept above the lagging store; older ones are pruned.
  static constexpr size_t kMaxShadowBlocks = 4096;

  ByzantineReplica(size_t self, size_t n, const consensus::ValidatorSet& set, const ledger::WriteSet& genesis,
                   consensus::CoreConfig core_config, ByzantineConfig config, uint64_t seed, ByzantineHost& host);

  Status start(uint64_t now);
  void on_message(size_t from, const consensus::v1::ConsensusMessage& msg, ByteView raw, uint64_t now);
  void on_tick(uint64_t now);
  void on_payload_ready(uint64_t now);
  // Spontaneous misbehaviour; returns the tick to act next.
  uint64_t act(uint64_t now);
  Mempool& mempool() { return mempool_; }

 private:
  struct ShadowBlock {
    Hash256 parent;
    uint64_t height = 0;
    uint64_t round = 0;
    int64_t time_ms = 0;
    ledger::WriteSet writes;
  };

  void execute(uint64_t now);
  void emit(size_t to, const consensus::v1::ConsensusMessage& msg, uint64_t now);
  void send(size_t to, const consensus::v1::ConsensusMessage& msg, uint64_t now);
  void broadcast_proposal(const consensus::v1::ConsensusMessage& msg, uint64_t now);
  void on_commit(const consensus::Commit& c);

  // Shadow tree.
  void learn(const consensus::v1::ConsensusMessage& msg);
  void learn_qc(const consensus::v1::QuorumCert& qc);
  std::optional<Hash256> shadow_execute(const std::string& block_bytes);
  bool state_at(const Hash256& parent, ledger::WriteSet& merged) const;
  std::optional<consensus::v1::Proposal> build_proposal(const consensus::v1::Proposal& original, const Hash256& parent,
                                                        const consensus::v1::QuorumCert& justify, int64_t time_ms,
                                                        size_t txs);
  std::optional<consensus::v1::Proposal> fork_of(const consensus::v1::Proposal& original);

  consensus::v1::ConsensusMessage corrupt_signature(consensus::v1::ConsensusMessage msg);
  std::optional<consensus::v1::ConsensusMessage> outsider_copy(const consensus::v1::ConsensusMessage& msg);
  void remember(ByteView raw);

  size_t self_;
  size_t n_;
  consensus::ValidatorSet set_;
  crypto::KeyPair key_;
  crypto::KeyPair outsider_;
  ByzantineConfig config_;
  Rng rng_;
  ByzantineHost& host_;

  ledger::MemoryKv kv_;       // the inner core's committed store
  ledger::MemoryKv base_kv_;  // kv_ lagging by kForkLagHeights commits
  Hash256 base_head_;
  uint64_t base_height_ = 0;
  std::deque<Hash256> unapplied_;  // committed by the core, not yet in base_kv_
  Mempool mempool_;
  consensus::CoreConfig core_config_;
  std::unique_ptr<consensus::Replica> core_;

  std::map<Hash256, ShadowBlock> shadow_;
  std::map<Hash256, consensus::v1::QuorumCert> qcs_;   // block id -> a QC certifying it
  std::map<uint64_t, std::set<Hash256>> by_round_;     // shadow blocks by round
  std::deque<Bytes> replay_;
};

// The proposal signature: purpose "proposal" over (epoch, round, block id).
consensus::v1::ValidatorSignature sign_proposal(const consensus::ValidatorSet& set, const crypto::KeyPair& key,
                                                uint64_t epoch, uint64_t round, const Hash256& block_id);

}  // namespace prov::sim
