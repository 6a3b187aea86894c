// Names and counters of every fault the simulator injects, so each run can
// report what it actually exercised (a scenario that injected nothing proves
// nothing). Plain values; not thread-safe.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>

namespace prov::sim {

enum class Fault : uint8_t {
  kDrop,             // message lost by the network
  kDuplicate,        // message delivered twice
  kReorder,          // delivered after a message sent later on the same link
  kDelayTail,        // message hit the long tail of the delay distribution
  kPartitionDrop,    // message lost to a partition
  kPartition,        // symmetric partition installed
  kOneWay,           // one-way partition installed (A hears B, B does not hear A)
  kHeal,             // every partition removed
  kCrash,            // replica lost its memory
  kCrashMidEffects,  // crash in the middle of executing an effect list
  kRestart,          // replica rebuilt from its durable store
  kEquivocate,       // Byzantine leader sent different proposals for one round
  kDoubleVote,       // Byzantine vote for a second block in one round
  kUnknownVote,      // Byzantine vote for a block id nobody has
  kBadSignature,     // message with a corrupted signature
  kReplay,           // an old message sent again
  kOutsider,         // message signed by a key outside the validator set
  kGarbage,          // random bytes on the wire
  kWithhold,         // Byzantine replica kept a message to itself
  kForkProposal,     // Byzantine leader extended a QC older than the lock
  kCount,
};

inline const char* fault_name(Fault f) {
  static constexpr const char* kNames[] = {
      "drop",        "duplicate",   "reorder",       "delay_tail", "partition_drop", "partition",
      "one_way",     "heal",        "crash",         "crash_mid_effects", "restart",   "equivocate",
      "double_vote", "unknown_vote", "bad_signature", "replay",     "outsider",       "garbage",
      "withhold",    "fork_proposal"};
  static_assert(sizeof(kNames) / sizeof(kNames[0]) == static_cast<size_t>(Fault::kCount));
  return kNames[static_cast<size_t>(f)];
}

struct FaultCounts {
  std::array<uint64_t, static_cast<size_t>(Fault::kCount)> n{};
  void add(Fault f, uint64_t k = 1) { n[static_cast<size_t>(f)] += k; }
  uint64_t get(Fault f) const { return n[static_cast<size_t>(f)]; }
  void merge(const FaultCounts& o) {
    for (size_t i = 0; i < n.size(); ++i) n[i] += o.n[i];
  }
  // "drop=3 duplicate=1 ..." listing only the faults that happened.
  std::string to_string() const {
    std::string out;
    for (size_t i = 0; i < n.size(); ++i) {
      if (n[i] == 0) continue;
      if (!out.empty()) out += ' ';
      out += fault_name(static_cast<Fault>(i));
      out += '=';
      out += std::to_string(n[i]);
    }
    return out.empty() ? "none" : out;
  }
};

}  // namespace prov::sim
