// The deterministic simulator: N replicas running the real consensus core
// over the real ledger state transition on in-memory stores, a seeded
// network, crash-restart from durable state, Byzantine replicas, and the
// checkers after every event.
//
// Time is a simulated tick clock (1 tick = 1 ms) advanced by a discrete-event
// queue ordered by (tick, insertion sequence); nothing reads the wall clock,
// so a seed replays bit-for-bit. Messages cross a real encode/decode boundary
// (serialized when sent, parsed when delivered).
//
// Durability model: a replica's durable state is its MemoryKv (every Commit
// effect it executed) and the SafetyState of the last PersistSafety it
// executed. Effects execute synchronously and in order, each durable when it
// returns (an fsync that completed); a crash may strike between two effects
// of one list (crash_mid_effects), which loses every later effect — the
// commit or the vote that the safety state was persisted for. Nothing else
// survives a crash: the core, the mempool and pending timers are rebuilt or
// dropped, and messages in flight to a crashed replica are lost.
//
// Run structure: a fault window (scenario faults from the seed) ends in a
// heal — partitions removed, the network made good, every crashed honest
// replica restarted — after which every honest replica must commit a new
// block within the liveness bound, over and over, until each has committed
// the target height. Byzantine replicas keep misbehaving after the heal.
// Not thread-safe: one Simulation per thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "crypto/bytes.h"
#include "tests/sim/checkers.h"
#include "tests/sim/faults.h"

namespace prov::sim {

enum class Scenario : uint8_t {
  kCalm,       // delays and reordering only
  kLossy,      // drops, duplicates, long-tail delays
  kPartition,  // symmetric partitions come and go
  kOneWay,     // one-way partitions come and go
  kCrash,      // crash-restart, also in the middle of an effect list
  kByzantine,  // Byzantine replicas and a mildly lossy network
  kChaos,      // everything at once
  kFork,       // Byzantine leaders extend QCs older than the lock after a TC, with lossy links
  kCount,
};
const char* scenario_name(Scenario s);
std::optional<Scenario> parse_scenario(const std::string& name);
// The scenario a seed runs when none is forced: consecutive seeds cycle
// through every scenario, so K >= kCount seeds cover them all.
Scenario scenario_for_seed(uint64_t seed);

// The longest an honest replica may go without committing after the heal.
// Why 60 s: the pacemaker's timeout backs off to 16 × 1 s, a replica that was
// behind must fetch the blocks it missed, and a Byzantine leader may cost a
// timeout before reputation skips it; measured worst cases are in
// docs/simulator.md.
inline constexpr uint64_t kLivenessBoundMs = 60'000;
// Events one run may process before it is declared stuck (a simulator bound).
inline constexpr uint64_t kMaxEventsPerRun = 20'000'000;

struct RunConfig {
  uint64_t seed = 1;
  size_t validators = 4;
  size_t byzantine = 1;            // used by the Byzantine scenarios; clamped to f
  uint64_t target_heights = 200;   // every honest replica must commit this many
  std::optional<Scenario> scenario;  // default: scenario_for_seed(seed)
  bool wan = false;                // WAN latency model, no faults, latency stats
  uint64_t liveness_bound_ms = kLivenessBoundMs;
  size_t trace_lines = 0;          // keep the last N trace lines for a failure report
};

struct RunResult {
  uint64_t seed = 0;
  Scenario scenario = Scenario::kCalm;
  size_t byzantine = 0;
  std::optional<Failure> failure;
  uint64_t heights = 0;            // committed by every honest replica
  uint64_t sim_ms = 0;             // simulated time at the end
  uint64_t heal_ms = 0;            // when the fault window ended
  std::optional<uint64_t> recovery_ms;  // heal to the slowest honest replica's first commit
  uint64_t worst_gap_ms = 0;       // longest honest commit gap after the heal
  uint64_t events = 0;
  uint64_t delivered = 0;
  uint64_t rejected = 0;           // messages honest cores rejected (their stats)
  uint64_t undecodable = 0;        // deliveries that did not parse
  uint64_t txs_committed = 0;      // by replica 0's view of the common prefix
  FaultCounts faults;
  std::string trace_hash;          // hex SHA-256 of the trace
  std::vector<std::string> trace_tail;
  // WAN statistics (proposal broadcast to commit, per honest replica and block).
  double commits_per_s = 0;
  uint64_t latency_p50_ms = 0;
  uint64_t latency_p99_ms = 0;
};

RunResult run_simulation(const RunConfig& config);
// Turns protobuf's stderr logging off (once per process); run_simulation
// calls it, callers that start threads should call it first.
void silence_protobuf_logs();

}  // namespace prov::sim
