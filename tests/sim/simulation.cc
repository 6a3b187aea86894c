#include "tests/sim/simulation.h"

#include <algorithm>
#include <cassert>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <variant>

#include <google/protobuf/stubs/logging.h>

#include "consensus/core.h"
#include "consensus/quorum.h"
#include "crypto/sha256.h"
#include "ledger/state.h"
#include "tests/sim/byzantine.h"
#include "tests/sim/mempool.h"
#include "tests/sim/network.h"
#include "tests/sim/rng.h"
#include "tests/sim/sim_chain.h"

namespace prov::sim {
namespace {

using consensus::v1::ConsensusMessage;

// Sub-seed purposes: each concern draws from its own stream.
enum : uint64_t { kSeedPlan = 1, kSeedNetwork, kSeedWorkload, kSeedCrash, kSeedByzantine };

// Largest message the simulated transport accepts, checked before parsing.
constexpr size_t kMaxMessageBytes = size_t{16} << 20;
// The simulator's core configuration: small blocks keep Ed25519 costs low.
constexpr size_t kSimMaxBlockTxs = 16;

enum class EventKind : uint8_t { kDeliver, kTimer, kArrival, kFault, kHeal, kByzantineAct };

struct Event {
  uint64_t tick = 0;
  uint64_t seq = 0;  // insertion order: ties at one tick replay in the same order
  EventKind kind = EventKind::kDeliver;
  uint32_t to = 0;
  uint32_t from = 0;
  uint64_t arg = 0;  // send sequence (deliver), incarnation (timer), plan index (fault)
  std::shared_ptr<const Bytes> bytes;
};
struct EventLater {
  bool operator()(const Event& a, const Event& b) const { return a.tick != b.tick ? a.tick > b.tick : a.seq > b.seq; }
};

enum class FaultAction : uint8_t { kPartition, kOneWay, kHealNetwork, kCrash, kCrashMidEffects, kRestart };
struct PlannedFault {
  uint64_t tick = 0;
  FaultAction action = FaultAction::kHealNetwork;
  size_t a = 0;
  size_t b = 0;
  std::vector<bool> side;
};

struct Plan {
  NetworkConfig faulty;
  NetworkConfig good;
  uint64_t heal_at = 0;
  std::vector<PlannedFault> faults;
  std::vector<bool> byzantine;
  ByzantineConfig byz;
  uint64_t arrival_min_ms = 10;
  uint64_t arrival_max_ms = 60;
  bool submit_to_all = false;
};

const char* kScenarioNames[] = {"calm", "lossy", "partition", "one_way", "crash", "byzantine", "chaos", "fork"};
static_assert(sizeof(kScenarioNames) / sizeof(kScenarioNames[0]) == static_cast<size_t>(Scenario::kCount));

std::string hex(const Hash256& h) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string s;
  for (uint8_t b : h.bytes) {
    s += kHex[b >> 4];
    s += kHex[b & 15];
  }
  return s;
}

std::string message_kind(const ConsensusMessage& m) {
  if (m.has_proposal()) return "proposal";
  if (m.has_vote()) return "vote r" + std::to_string(m.vote().round());
  if (m.has_timeout()) return "timeout r" + std::to_string(m.timeout().round());
  if (m.has_sync()) return "sync";
  if (m.has_block_request()) return "block_request";
  if (m.has_block_response()) return "block_response";
  return "empty";
}

// --- Fault plans --------------------------------------------------------

NetworkConfig good_network() {
  NetworkConfig c;
  c.delay_min_ms = 1;
  c.delay_max_ms = 20;
  return c;
}

std::vector<bool> random_side(size_t n, Rng& rng) {
  std::vector<bool> side(n);
  for (size_t i = 0; i < n; ++i) side[i] = rng.below(2) == 1;
  if (std::all_of(side.begin(), side.end(), [&](bool s) { return s == side[0]; })) side[rng.index(n)] = !side[0];
  return side;
}

void plan_partitions(Plan& p, size_t n, Rng& rng, bool one_way) {
  bool installed = false;
  for (uint64_t t = rng.between(100, 1000); t < p.heal_at; t += rng.between(200, 2500)) {
    PlannedFault f;
    f.tick = t;
    if (installed) {
      f.action = FaultAction::kHealNetwork;
    } else if (one_way) {
      f.action = FaultAction::kOneWay;
      f.a = rng.index(n);
      f.b = (f.a + 1 + rng.index(n - 1)) % n;
    } else {
      f.action = FaultAction::kPartition;
      f.side = random_side(n, rng);
    }
    // One-way cuts pile up (several links at once) before a heal.
    installed = one_way ? rng.below(3) == 0 : !installed;
    p.faults.push_back(std::move(f));
  }
}

void plan_crashes(Plan& p, size_t n, Rng& rng) {
  for (uint64_t t = rng.between(100, 1000); t < p.heal_at; t += rng.between(300, 2500)) {
    size_t r = rng.index(n);
    if (p.byzantine[r]) continue;
    bool mid = rng.below(2) == 1;
    p.faults.push_back({t, mid ? FaultAction::kCrashMidEffects : FaultAction::kCrash, r, 0, {}});
    uint64_t back = t + rng.between(100, 3000);
    if (back < p.heal_at) p.faults.push_back({back, FaultAction::kRestart, r, 0, {}});
  }
}

Plan make_plan(const RunConfig& cfg, Scenario s, Rng& rng) {
  const size_t n = cfg.validators;
  Plan p;
  p.good = good_network();
  p.faulty = p.good;
  p.byzantine.assign(n, false);
  p.heal_at = rng.between(3000, 12000);
  size_t b = 0;
  if (s == Scenario::kByzantine || s == Scenario::kChaos || s == Scenario::kFork) {
    b = std::min(cfg.byzantine, consensus::max_faulty(n));
  }
  for (size_t placed = 0; placed < b;) {
    size_t r = rng.index(n);
    if (!p.byzantine[r]) {
      p.byzantine[r] = true;
      ++placed;
    }
  }
  NetworkConfig lossy = p.good;
  lossy.delay_max_ms = 50;
  lossy.drop_ppm = 100'000;
  lossy.duplicate_ppm = 100'000;
  lossy.tail_ppm = 50'000;
  lossy.tail_max_ms = 500;
  NetworkConfig mild = p.good;
  mild.delay_max_ms = 30;
  mild.drop_ppm = 20'000;
  mild.duplicate_ppm = 20'000;
  mild.tail_ppm = 20'000;
  mild.tail_max_ms = 300;
  switch (s) {
    case Scenario::kCalm:
      p.faulty.delay_max_ms = 30;
      p.faulty.tail_ppm = 20'000;
      p.faulty.tail_max_ms = 300;
      break;
    case Scenario::kLossy:
      p.faulty = lossy;
      break;
    case Scenario::kPartition:
      p.faulty = mild;
      plan_partitions(p, n, rng, false);
      break;
    case Scenario::kOneWay:
      p.faulty = mild;
      plan_partitions(p, n, rng, true);
      break;
    case Scenario::kCrash:
      p.faulty = mild;
      plan_crashes(p, n, rng);
      break;
    case Scenario::kByzantine:
      p.faulty = mild;
      break;
    case Scenario::kChaos:
      p.faulty = lossy;
      plan_partitions(p, n, rng, rng.below(2) == 1);
      plan_crashes(p, n, rng);
      break;
    case Scenario::kFork:
      // Lossy links make replicas commit at different times and make TCs
      // common; the Byzantine leader then extends a QC older than the lock.
      p.faulty = lossy;
      p.faulty.drop_ppm = 200'000;
      p.byz.fork_ppm = 1'000'000;
      p.byz.selective_ppm = 500'000;
      p.byz.equivocate_ppm = 200'000;
      plan_partitions(p, n, rng, false);
      break;
    case Scenario::kCount:
      assert(false);
  }
  std::stable_sort(p.faults.begin(), p.faults.end(),
                   [](const PlannedFault& a, const PlannedFault& b) { return a.tick < b.tick; });
  return p;
}

// --- The simulation -----------------------------------------------------

class Simulation final : public ByzantineHost {
 public:
  explicit Simulation(const RunConfig& cfg);
  RunResult run();

  void send_bytes(size_t from, size_t to, Bytes bytes, uint64_t now) override {
    route(from, to, std::make_shared<const Bytes>(std::move(bytes)), now);
  }
  void set_timer(size_t replica, uint64_t deadline) override;
  FaultCounts& faults() override { return faults_; }

 private:
  struct Node {
    bool byzantine = false;
    bool up = true;
    bool crash_mid_pending = false;
    uint64_t incarnation = 0;
    ledger::MemoryKv kv;             // durable
    consensus::SafetyState safety;   // durable: the last PersistSafety executed
    consensus::v1::QuorumCert high_qc = consensus::genesis_qc();  // durable, with `safety`
    std::optional<consensus::v1::TimeoutCert> last_tc;             // durable, with `safety`
    std::map<uint64_t, std::vector<Bytes>> voted_blocks;            // durable: height -> blocks voted for
    std::unique_ptr<Mempool> mempool;
    std::unique_ptr<consensus::Replica> core;
    std::unique_ptr<ByzantineReplica> byz;
    std::set<uint64_t> timers;       // deadlines queued for this incarnation
  };

  void push(Event e);
  void handle(Event& e);
  void deliver(const Event& e);
  void route(size_t from, size_t to, std::shared_ptr<const Bytes> bytes, uint64_t now);
  void send_message(size_t from, size_t to, const std::shared_ptr<const Bytes>& bytes);
  std::shared_ptr<const Bytes> encode(const ConsensusMessage& m);
  void execute(size_t i);
  void execute_commit(size_t i, const consensus::Commit& c);
  void after_input(size_t i);
  void crash(size_t i, bool mid_effects);
  void restart(size_t i);
  void apply_fault(const PlannedFault& f);
  void heal();
  void arrival();
  void note_proposal(const ConsensusMessage& m);
  void trace(const std::string& line);
  template <class F>
  void input(size_t i, F&& f);

  RunConfig cfg_;
  Scenario scenario_;
  Plan plan_;
  size_t n_;
  consensus::ValidatorSet set_;
  consensus::CoreConfig core_config_;
  ledger::WriteSet genesis_;
  Network network_;
  Rng workload_rng_;
  Rng crash_rng_;
  std::vector<std::unique_ptr<Node>> nodes_;
  Checkers checkers_;
  FaultCounts faults_;

  std::vector<Event> queue_;  // a binary heap under EventLater
  uint64_t seq_ = 0;
  uint64_t now_ = 0;
  uint64_t send_seq_ = 0;
  std::vector<uint64_t> link_last_delivered_;  // n × n, send sequence
  size_t pool_cursor_ = 0;
  bool healed_ = false;

  crypto::Sha256 trace_hash_;
  std::deque<std::string> trace_tail_;
  uint64_t events_ = 0;
  uint64_t delivered_ = 0;
  uint64_t undecodable_ = 0;
  uint64_t txs_committed_ = 0;
  size_t first_honest_ = 0;
  std::map<Hash256, uint64_t> proposed_at_;  // WAN: block id -> first broadcast tick
  std::vector<uint64_t> latencies_ms_;
};

Simulation::Simulation(const RunConfig& cfg)
    : cfg_(cfg),
      scenario_(cfg.scenario.value_or(scenario_for_seed(cfg.seed))),
      plan_([&] {
        Rng rng(derive_seed(cfg.seed, kSeedPlan));
        return make_plan(cfg, scenario_, rng);
      }()),
      n_(cfg.validators),
      set_(make_validator_set(cfg.validators)),
      network_(cfg.validators, plan_.faulty, derive_seed(cfg.seed, kSeedNetwork)),
      workload_rng_(derive_seed(cfg.seed, kSeedWorkload)),
      crash_rng_(derive_seed(cfg.seed, kSeedCrash)),
      checkers_(set_, [&] {
        std::vector<bool> honest(plan_.byzantine.size());
        for (size_t i = 0; i < honest.size(); ++i) honest[i] = !plan_.byzantine[i];
        return honest;
      }(), cfg.liveness_bound_ms),
      link_last_delivered_(cfg.validators * cfg.validators, 0) {
  core_config_.max_block_txs = kSimMaxBlockTxs;
  if (cfg_.wan) {
    plan_.faulty = NetworkConfig{};
    plan_.faulty.wan = true;
    plan_.good = plan_.faulty;
    plan_.faults.clear();
    plan_.heal_at = 0;
    plan_.submit_to_all = true;
    plan_.arrival_min_ms = 10;
    plan_.arrival_max_ms = 30;
    network_.set_config(plan_.faulty);
  }
  auto genesis = ledger::apply_genesis(make_genesis(n_));
  assert(genesis.is_ok());
  genesis_ = std::move(genesis).value();
  const TxPool& pool = tx_pool();
  for (size_t i = 0; i < n_; ++i) {
    auto node = std::make_unique<Node>();
    node->byzantine = plan_.byzantine[i];
    node->kv.apply(genesis_);
    node->mempool = std::make_unique<Mempool>(pool);
    nodes_.push_back(std::move(node));
  }
  while (first_honest_ < n_ && plan_.byzantine[first_honest_]) ++first_honest_;
}

void Simulation::push(Event e) {
  e.seq = seq_++;
  queue_.push_back(std::move(e));
  std::push_heap(queue_.begin(), queue_.end(), EventLater{});
}

void Simulation::trace(const std::string& line) {
  if (cfg_.trace_lines == 0) return;
  trace_tail_.push_back("t=" + std::to_string(now_) + " " + line);
  if (trace_tail_.size() > cfg_.trace_lines) trace_tail_.pop_front();
}

std::shared_ptr<const Bytes> Simulation::encode(const ConsensusMessage& m) {
  auto bytes = std::make_shared<Bytes>(m.ByteSizeLong());
  m.SerializeToArray(bytes->data(), static_cast<int>(bytes->size()));
  return bytes;
}

void Simulation::route(size_t from, size_t to, std::shared_ptr<const Bytes> bytes, uint64_t now) {
  uint64_t ticks[Network::kMaxCopies];
  size_t copies = network_.route(from, to, now, ticks, faults_);
  uint64_t seq = ++send_seq_;
  for (size_t c = 0; c < copies; ++c) {
    Event e;
    e.tick = ticks[c];
    e.kind = EventKind::kDeliver;
    e.to = static_cast<uint32_t>(to);
    e.from = static_cast<uint32_t>(from);
    e.arg = seq;
    e.bytes = bytes;
    push(std::move(e));
  }
}

void Simulation::send_message(size_t from, size_t to, const std::shared_ptr<const Bytes>& bytes) {
  route(from, to, bytes, now_);
}

void Simulation::set_timer(size_t replica, uint64_t deadline) {
  Node& node = *nodes_[replica];
  deadline = std::max(deadline, now_);
  if (!node.timers.insert(deadline).second) return;
  Event e;
  e.tick = deadline;
  e.kind = EventKind::kTimer;
  e.to = static_cast<uint32_t>(replica);
  e.arg = node.incarnation;
  push(std::move(e));
}

template <class F>
void Simulation::input(size_t i, F&& f) {
  Node& node = *nodes_[i];
  if (node.byzantine) {
    f(node);
    return;
  }
  if (!node.up) return;
  f(node);
  execute(i);
  after_input(i);
}

void Simulation::note_proposal(const ConsensusMessage& m) {
  auto block = ledger::decode_block(as_bytes(m.proposal().block()), kMaxMessageBytes);
  if (!block) return;
  proposed_at_.emplace(consensus::block_id(as_bytes(block->header())), now_);
}

void Simulation::execute(size_t i) {
  Node& node = *nodes_[i];
  std::vector<consensus::Effect> effects = node.core->drain();
  // A crash in the middle of an effect list loses every effect after the cut.
  size_t cut = effects.size();
  if (node.crash_mid_pending) cut = crash_rng_.between(0, effects.size());
  for (size_t k = 0; k < cut; ++k) {
    consensus::Effect& e = effects[k];
    if (auto* s = std::get_if<consensus::Send>(&e)) {
      send_message(i, s->to, encode(s->msg));
    } else if (auto* b = std::get_if<consensus::Broadcast>(&e)) {
      if (cfg_.wan && b->msg.has_proposal()) note_proposal(b->msg);
      auto bytes = encode(b->msg);
      for (size_t j = 0; j < n_; ++j) {
        if (j != i) send_message(i, j, bytes);
      }
    } else if (auto* p = std::get_if<consensus::PersistSafety>(&e)) {
      node.safety = p->state;
      node.high_qc = p->high_qc;
      node.last_tc = p->last_tc;
      if (p->voted_block) node.voted_blocks[p->voted_height].push_back(*p->voted_block);
    } else if (auto* c = std::get_if<consensus::Commit>(&e)) {
      execute_commit(i, *c);
      node.voted_blocks.erase(node.voted_blocks.begin(), node.voted_blocks.upper_bound(c->height));
    } else if (auto* t = std::get_if<consensus::SetTimer>(&e)) {
      set_timer(i, t->deadline_tick);
    }
  }
  if (node.crash_mid_pending) crash(i, true);
}

void Simulation::execute_commit(size_t i, const consensus::Commit& c) {
  Node& node = *nodes_[i];
  checkers_.on_commit(i, c, now_);
  node.kv.apply(*c.block_writes);
  node.kv.apply(c.writes);
  node.mempool->remove_committed(c.block);
  Bytes rec;
  rec.push_back('C');
  put_u32_be(rec, static_cast<uint32_t>(i));
  put_u64_be(rec, c.height);
  append(rec, c.block_id.view());
  trace_hash_.update(rec);
  trace("commit replica " + std::to_string(i) + " height " + std::to_string(c.height) + " " +
        hex(c.block_id).substr(0, 12) + " txs " + std::to_string(c.tx_hashes.size()));
  if (i == first_honest_) txs_committed_ += c.tx_hashes.size();
  if (cfg_.wan) {
    auto it = proposed_at_.find(c.block_id);
    if (it != proposed_at_.end()) latencies_ms_.push_back(now_ - it->second);
  }
}

void Simulation::after_input(size_t i) {
  Node& node = *nodes_[i];
  if (node.up && node.core) checkers_.on_core_state(i, node.core->committed_height(), node.core->committed_id(), now_);
}

void Simulation::crash(size_t i, bool mid_effects) {
  Node& node = *nodes_[i];
  if (!node.up) return;
  faults_.add(mid_effects ? Fault::kCrashMidEffects : Fault::kCrash);
  trace(std::string(mid_effects ? "crash mid-effects" : "crash") + " replica " + std::to_string(i));
  node.core.reset();
  node.mempool->clear();
  node.timers.clear();
  ++node.incarnation;
  node.up = false;
  node.crash_mid_pending = false;
}

void Simulation::restart(size_t i) {
  Node& node = *nodes_[i];
  if (node.up) return;
  faults_.add(Fault::kRestart);
  trace("restart replica " + std::to_string(i));
  node.up = true;
  auto head = ledger::read_head(node.kv);
  if (!head) return checkers_.fail("restart", "replica " + std::to_string(i) + ": " + head.status().to_string(), now_);
  checkers_.on_restart(i, head->height, head->block_hash, now_);
  node.core = std::make_unique<consensus::Replica>(set_, validator_key(i), node.kv, *node.mempool, core_config_);
  std::vector<Bytes> voted;
  for (const auto& [height, blocks] : node.voted_blocks) voted.insert(voted.end(), blocks.begin(), blocks.end());
  Status st = node.core->start(node.safety, node.high_qc, now_, node.last_tc ? &*node.last_tc : nullptr, &voted);
  if (!st.is_ok()) {
    return checkers_.fail("restart", "replica " + std::to_string(i) + ": start: " + st.to_string(), now_);
  }
  execute(i);
  after_input(i);
}

void Simulation::apply_fault(const PlannedFault& f) {
  switch (f.action) {
    case FaultAction::kPartition:
      faults_.add(Fault::kPartition);
      network_.partition(f.side);
      trace("partition");
      break;
    case FaultAction::kOneWay:
      faults_.add(Fault::kOneWay);
      network_.block_one_way(f.a, f.b);
      trace("one-way cut " + std::to_string(f.a) + "->" + std::to_string(f.b));
      break;
    case FaultAction::kHealNetwork:
      network_.heal();
      trace("partitions healed");
      break;
    case FaultAction::kCrash:
      crash(f.a, false);
      break;
    case FaultAction::kCrashMidEffects:
      // Strikes during the replica's next effect list.
      if (nodes_[f.a]->up) nodes_[f.a]->crash_mid_pending = true;
      break;
    case FaultAction::kRestart:
      restart(f.a);
      break;
  }
}

void Simulation::heal() {
  faults_.add(Fault::kHeal);
  trace("heal");
  network_.heal();
  network_.set_config(plan_.good);
  healed_ = true;
  for (size_t i = 0; i < n_; ++i) {
    Node& node = *nodes_[i];
    if (node.byzantine) continue;
    node.crash_mid_pending = false;
    restart(i);
  }
  checkers_.on_heal(now_);
}

void Simulation::arrival() {
  const TxPool& pool = tx_pool();
  if (pool_cursor_ >= pool.txs.size()) return;  // the pool is spent: blocks go empty
  uint32_t index = static_cast<uint32_t>(pool_cursor_++);
  // A client hands the transaction to some replicas (all of them in the WAN
  // runs); a real node would gossip it, which the mempool here does not model.
  size_t lucky = workload_rng_.index(n_);
  for (size_t i = 0; i < n_; ++i) {
    if (!plan_.submit_to_all && i != lucky && workload_rng_.below(2) == 0) continue;
    Node& node = *nodes_[i];
    if (node.byzantine) {
      node.byz->mempool().add(index);
      node.byz->on_payload_ready(now_);
    } else if (node.up && node.mempool->add(index)) {
      input(i, [&](Node& nd) { nd.core->on_payload_ready(now_); });
    }
  }
  Event e;
  e.tick = now_ + workload_rng_.between(plan_.arrival_min_ms, plan_.arrival_max_ms);
  e.kind = EventKind::kArrival;
  push(std::move(e));
}

void Simulation::deliver(const Event& e) {
  Node& node = *nodes_[e.to];
  if (!node.byzantine && !node.up) return;  // lost with the crashed replica's sockets
  ++delivered_;
  Bytes rec;
  rec.push_back('D');
  put_u64_be(rec, now_);
  put_u32_be(rec, e.from);
  put_u32_be(rec, e.to);
  put_u32_be(rec, static_cast<uint32_t>(e.bytes->size()));
  trace_hash_.update(rec);
  trace_hash_.update(*e.bytes);
  uint64_t& last = link_last_delivered_[e.from * n_ + e.to];
  if (e.arg < last) {
    faults_.add(Fault::kReorder);
  } else {
    last = e.arg;
  }
  ConsensusMessage m;
  if (e.bytes->size() > kMaxMessageBytes || !m.ParseFromArray(e.bytes->data(), static_cast<int>(e.bytes->size()))) {
    ++undecodable_;
    trace("undecodable " + std::to_string(e.from) + "->" + std::to_string(e.to));
    return;
  }
  if (cfg_.trace_lines) trace("deliver " + std::to_string(e.from) + "->" + std::to_string(e.to) + " " + message_kind(m));
  if (node.byzantine) {
    node.byz->on_message(e.from, m, *e.bytes, now_);
    return;
  }
  input(e.to, [&](Node& nd) { nd.core->on_message(e.from, m, now_); });
}

void Simulation::handle(Event& e) {
  switch (e.kind) {
    case EventKind::kDeliver:
      deliver(e);
      break;
    case EventKind::kTimer: {
      Node& node = *nodes_[e.to];
      if (e.arg != node.incarnation) break;
      node.timers.erase(e.tick);
      if (node.byzantine) {
        node.byz->on_tick(now_);
      } else {
        input(e.to, [&](Node& nd) { nd.core->on_tick(now_); });
      }
      break;
    }
    case EventKind::kArrival:
      arrival();
      break;
    case EventKind::kFault:
      apply_fault(plan_.faults[e.arg]);
      break;
    case EventKind::kHeal:
      heal();
      break;
    case EventKind::kByzantineAct: {
      Event next;
      next.tick = nodes_[e.to]->byz->act(now_);
      next.kind = EventKind::kByzantineAct;
      next.to = e.to;
      push(std::move(next));
      break;
    }
  }
}

RunResult Simulation::run() {
  Rng byz_seeds(derive_seed(cfg_.seed, kSeedByzantine));
  for (size_t i = 0; i < n_; ++i) {
    Node& node = *nodes_[i];
    if (node.byzantine) {
      node.byz = std::make_unique<ByzantineReplica>(i, n_, set_, genesis_, core_config_, plan_.byz, byz_seeds.next(),
                                                    *this);
      Status st = node.byz->start(0);
      if (!st.is_ok()) checkers_.fail("restart", "byzantine replica " + std::to_string(i) + ": " + st.to_string(), 0);
      Event act;
      act.tick = plan_.byz.act_min_ms;
      act.kind = EventKind::kByzantineAct;
      act.to = static_cast<uint32_t>(i);
      push(std::move(act));
    } else {
      node.core = std::make_unique<consensus::Replica>(set_, validator_key(i), node.kv, *node.mempool, core_config_);
      Status st = node.core->start(node.safety, node.high_qc, 0, node.last_tc ? &*node.last_tc : nullptr);
      if (!st.is_ok()) checkers_.fail("restart", "replica " + std::to_string(i) + ": start: " + st.to_string(), 0);
      execute(i);
      after_input(i);
    }
  }
  for (size_t k = 0; k < plan_.faults.size(); ++k) {
    Event e;
    e.tick = plan_.faults[k].tick;
    e.kind = EventKind::kFault;
    e.arg = k;
    push(std::move(e));
  }
  Event heal_event;
  heal_event.tick = plan_.heal_at;
  heal_event.kind = EventKind::kHeal;
  push(std::move(heal_event));
  Event first_arrival;
  first_arrival.tick = workload_rng_.between(plan_.arrival_min_ms, plan_.arrival_max_ms);
  first_arrival.kind = EventKind::kArrival;
  push(std::move(first_arrival));

  while (!checkers_.failed()) {
    if (queue_.empty()) {
      checkers_.fail("sim_bound", "the event queue ran dry", now_);
      break;
    }
    std::pop_heap(queue_.begin(), queue_.end(), EventLater{});
    Event e = std::move(queue_.back());
    queue_.pop_back();
    assert(e.tick >= now_);
    now_ = e.tick;
    if (++events_ > kMaxEventsPerRun) {
      checkers_.fail("sim_bound", "more than " + std::to_string(kMaxEventsPerRun) + " events", now_);
      break;
    }
    handle(e);
    checkers_.check_liveness(now_);
    if (healed_ && checkers_.min_honest_height() >= cfg_.target_heights && checkers_.recovery_ms()) break;
  }
  std::vector<const ledger::KvReader*> stores;
  for (const auto& node : nodes_) stores.push_back(&node->kv);
  checkers_.check_final(stores, now_);

  RunResult r;
  r.seed = cfg_.seed;
  r.scenario = scenario_;
  r.byzantine = static_cast<size_t>(std::count(plan_.byzantine.begin(), plan_.byzantine.end(), true));
  r.failure = checkers_.failure();
  r.heights = checkers_.min_honest_height();
  r.sim_ms = now_;
  r.heal_ms = plan_.heal_at;
  r.recovery_ms = checkers_.recovery_ms();
  r.worst_gap_ms = checkers_.worst_gap_after_heal_ms();
  r.events = events_;
  r.delivered = delivered_;
  r.undecodable = undecodable_;
  r.txs_committed = txs_committed_;
  for (const auto& node : nodes_) {
    if (node->core && !node->byzantine) r.rejected += node->core->stats().rejected_messages;
  }
  r.faults = faults_;
  r.trace_hash = hex(trace_hash_.finish());
  r.trace_tail.assign(trace_tail_.begin(), trace_tail_.end());
  if (r.failure) {
    // Where every replica stood, for the failure report.
    for (size_t i = 0; i < n_; ++i) {
      const Node& node = *nodes_[i];
      std::string s = "replica " + std::to_string(i) + (node.byzantine ? " byzantine" : "") +
                      (node.up ? "" : " down") + " committed " + std::to_string(checkers_.height(i));
      if (node.core) {
        const consensus::CoreStats& st = node.core->stats();
        s += " round " + std::to_string(node.core->current_round()) + " high_qc " +
             std::to_string(node.core->high_qc_round()) + " voted " +
             std::to_string(node.core->safety_state().highest_vote_round) + " proposals " +
             std::to_string(st.proposals_sent) + " votes " + std::to_string(st.votes_sent) + " timeouts " +
             std::to_string(st.timeouts_sent) + " qcs " + std::to_string(st.qcs_formed) + " tcs " +
             std::to_string(st.tcs_formed) + " requests " + std::to_string(st.block_requests_sent) + " rejected " +
             std::to_string(st.rejected_messages);
      }
      r.trace_tail.push_back(s);
    }
  }
  if (cfg_.wan && now_ > 0) {
    r.commits_per_s = static_cast<double>(r.heights) * 1000.0 / static_cast<double>(now_);
    if (!latencies_ms_.empty()) {
      std::sort(latencies_ms_.begin(), latencies_ms_.end());
      r.latency_p50_ms = latencies_ms_[latencies_ms_.size() / 2];
      r.latency_p99_ms = latencies_ms_[std::min(latencies_ms_.size() - 1, latencies_ms_.size() * 99 / 100)];
    }
  }
  return r;
}

}  // namespace

const char* scenario_name(Scenario s) { return kScenarioNames[static_cast<size_t>(s)]; }

std::optional<Scenario> parse_scenario(const std::string& name) {
  for (size_t i = 0; i < static_cast<size_t>(Scenario::kCount); ++i) {
    if (name == kScenarioNames[i]) return static_cast<Scenario>(i);
  }
  return std::nullopt;
}

Scenario scenario_for_seed(uint64_t seed) {
  return static_cast<Scenario>(seed % static_cast<uint64_t>(Scenario::kCount));
}

void silence_protobuf_logs() {
  // Byzantine garbage makes protobuf log every invalid UTF-8 string it
  // parses; the simulator counts those messages instead. SetLogHandler is
  // not thread-safe, so it runs once, before any worker thread parses.
  static std::once_flag once;
  std::call_once(once, [] { google::protobuf::SetLogHandler(nullptr); });
}

RunResult run_simulation(const RunConfig& config) {
  silence_protobuf_logs();
  Simulation sim(config);
  return sim.run();
}

}  // namespace prov::sim
