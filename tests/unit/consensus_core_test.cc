// The consensus core on a tiny in-process cluster: real replicas, the real
// ledger on MemoryKv, a FIFO network and a tick clock. The seeded, hostile
// simulator is tests/sim; these tests pin down the basic behaviours.
#include <doctest/doctest.h>

#include <deque>
#include <memory>

#include "consensus/core.h"
#include "ledger_test_fixture.h"

using namespace prov;
using namespace prov::consensus;
using prov::ledger::testing::Chain;

namespace {

struct Queue final : PayloadSource {
  std::deque<Bytes> txs;
  std::vector<Bytes> pull(size_t max_txs, size_t) override {
    std::vector<Bytes> out;
    for (size_t i = 0; i < txs.size() && out.size() < max_txs; ++i) out.push_back(txs[i]);
    return out;
  }
  size_t waiting() const override { return txs.size(); }
};

struct Node {
  ledger::MemoryKv kv;
  Queue payload;
  SafetyState safety;
  v1::QuorumCert high_qc = genesis_qc();
  std::unique_ptr<Replica> replica;
  std::vector<Hash256> committed;
  std::vector<v1::CommitProof> proofs;
  uint64_t timer = 0;
  bool up = true;
  std::vector<Bytes> voted;  // every block it voted for (a restart hands them back)
};

struct Cluster {
  Chain chain;  // genesis and transaction signing
  ValidatorSet set;
  std::vector<std::unique_ptr<Node>> nodes;
  struct Msg {
    size_t from, to;
    std::string bytes;
  };
  std::deque<Msg> net;
  uint64_t now = 0;
  std::vector<uint64_t> proposal_ticks;  // when each proposal was broadcast

  static ValidatorSet make_set(const Chain& c) {
    std::vector<ValidatorSet::Member> members;
    for (size_t i = 0; i < c.validators.size(); ++i) {
      members.push_back({"validator-" + std::to_string(i + 1), c.validators[i].public_key()});
    }
    return *ValidatorSet::create(Chain::kChainId, 0, members);
  }

  CoreConfig config;

  explicit Cluster(CoreConfig base = {}) : set(make_set(chain)), config(base) {
    config.round_timeout_ticks = 200;
    config.idle_propose_ticks = 20;
    for (size_t i = 0; i < chain.validators.size(); ++i) {
      auto n = std::make_unique<Node>();
      auto g = ledger::apply_genesis(chain.genesis());
      REQUIRE(g.is_ok());
      n->kv.apply(*g);
      nodes.push_back(std::move(n));
      start(i);
    }
  }

  void start(size_t i) {
    Node& n = *nodes[i];
    n.replica = std::make_unique<Replica>(set, chain.validators[i], n.kv, n.payload, config);
    n.up = true;
    REQUIRE(n.replica->start(n.safety, n.high_qc, now).is_ok());
    drain(i);
  }

  void drain(size_t i) {
    Node& n = *nodes[i];
    for (Effect& e : n.replica->drain()) {
      if (auto* s = std::get_if<Send>(&e)) {
        net.push_back({i, s->to, s->msg.SerializeAsString()});
      } else if (auto* b = std::get_if<Broadcast>(&e)) {
        if (b->msg.has_proposal()) proposal_ticks.push_back(now);
        for (size_t j = 0; j < nodes.size(); ++j) {
          if (j != i) net.push_back({i, j, b->msg.SerializeAsString()});
        }
      } else if (auto* p = std::get_if<PersistSafety>(&e)) {
        n.safety = p->state;
        n.high_qc = p->high_qc;
        if (p->voted_block) n.voted.push_back(*p->voted_block);
      } else if (auto* c = std::get_if<Commit>(&e)) {
        n.kv.apply(*c->block_writes);
        n.kv.apply(c->writes);
        n.committed.push_back(c->block_id);
        n.proofs.push_back(c->proof);
        // Committed transactions leave the mempool.
        std::erase_if(n.payload.txs, [&](const Bytes& tx) {
          return n.kv.get(ledger::Column::kEntryByHash, crypto::sha256(tx).view())->has_value();
        });
      } else if (auto* t = std::get_if<SetTimer>(&e)) {
        n.timer = t->deadline_tick;
      }
    }
  }

  // Delivers every queued message, then advances the clock to the next timer.
  void step() {
    while (!net.empty()) {
      Msg m = std::move(net.front());
      net.pop_front();
      if (!nodes[m.to]->up || !nodes[m.from]->up) continue;
      v1::ConsensusMessage msg;
      REQUIRE(msg.ParseFromString(m.bytes));
      nodes[m.to]->replica->on_message(m.from, msg, now);
      drain(m.to);
    }
    uint64_t next = UINT64_MAX;
    for (auto& n : nodes) {
      if (n->up && n->timer > now) next = std::min(next, n->timer);
    }
    if (next == UINT64_MAX) next = now + 1;
    now = next;
    for (size_t i = 0; i < nodes.size(); ++i) {
      // One timer per replica, as in provd: it fires once (0 = none set).
      if (nodes[i]->up && nodes[i]->timer != 0 && nodes[i]->timer <= now) {
        nodes[i]->timer = 0;
        nodes[i]->replica->on_tick(now);
        drain(i);
      }
    }
  }

  // Takes the next message in flight, parsed, for the caller to deliver or
  // not (the clock moves on to the next timer while none is in flight).
  std::pair<Msg, v1::ConsensusMessage> take_message() {
    for (int steps = 0; net.empty(); ++steps) {
      REQUIRE(steps < 10000);
      step();
    }
    Msg m = std::move(net.front());
    net.pop_front();
    v1::ConsensusMessage msg;
    REQUIRE(msg.ParseFromString(m.bytes));
    return {std::move(m), std::move(msg)};
  }

  void submit(const Bytes& tx) {
    for (size_t i = 0; i < nodes.size(); ++i) {
      nodes[i]->payload.txs.push_back(tx);
      if (nodes[i]->up) {
        nodes[i]->replica->on_payload_ready(now);
        drain(i);
      }
    }
  }

  size_t min_height(bool only_up = true) const {
    size_t h = SIZE_MAX;
    for (auto& n : nodes) {
      if (n->up || !only_up) h = std::min(h, n->committed.size());
    }
    return h;
  }

  bool run_until(size_t height, uint64_t max_ticks) {
    uint64_t deadline = now + max_ticks;
    while (min_height() < height && now < deadline) step();
    return min_height() >= height;
  }

  void check_agreement() const {
    for (auto& a : nodes) {
      for (auto& b : nodes) {
        size_t common = std::min(a->committed.size(), b->committed.size());
        for (size_t h = 0; h < common; ++h) REQUIRE(a->committed[h] == b->committed[h]);
      }
    }
  }
};

}  // namespace

TEST_CASE("four honest replicas commit the same blocks and every commit proof verifies") {
  Cluster c;
  for (int i = 0; i < 30; ++i) c.submit(c.chain.sign(c.chain.anchor("stats/d" + std::to_string(i), "v")));
  REQUIRE(c.run_until(20, 60000));
  c.check_agreement();
  for (auto& n : c.nodes) {
    for (const v1::CommitProof& p : n->proofs) REQUIRE(verify_commit_proof(c.set, p).is_ok());
  }
  // Every transaction made it into the ledger exactly once, on every replica.
  for (auto& n : c.nodes) {
    auto head = ledger::read_head(n->kv);
    REQUIRE(head.is_ok());
    CHECK(head->log_size == 30);
    CHECK(n->payload.txs.empty());
  }
  auto h0 = ledger::read_head(c.nodes[0]->kv);
  auto h1 = ledger::read_head(c.nodes[1]->kv);
  CHECK(h0->height == h1->height);
  CHECK(h0->log_root == h1->log_root);
}

TEST_CASE("with one replica down the others still commit, and the dead leader is skipped") {
  Cluster c;
  c.nodes[3]->up = false;
  // Past the young-chain phase (fewer blocks than the reputation window),
  // where leaders rotate over everyone.
  REQUIRE(c.run_until(25, 120000));
  uint64_t timeouts_before = 0;
  for (auto& n : c.nodes) timeouts_before += n->replica->stats().timeouts_sent;
  // Once the dead validator's blocks leave the reputation window, rounds stop
  // timing out on it: 40 more heights cost few further timeouts.
  REQUIRE(c.run_until(65, 600000));
  uint64_t timeouts_after = 0;
  for (auto& n : c.nodes) timeouts_after += n->replica->stats().timeouts_sent;
  c.check_agreement();
  // Without reputation a dead leader every 4th round would cost 3 replicas ×
  // 40 / 4 = 30 timeouts over 40 heights; with it only a probe round (every
  // 20th, the dead one's turn every 80th) can time out.
  CHECK(timeouts_after - timeouts_before <= 6);
}

TEST_CASE("a replica restarted from its store and safety state catches up") {
  Cluster c;
  REQUIRE(c.run_until(5, 60000));
  c.nodes[2]->up = false;
  c.nodes[2]->replica.reset();
  for (int i = 0; i < 10; ++i) c.submit(c.chain.sign(c.chain.anchor("stats/r" + std::to_string(i), "v")));
  // The others keep committing without it.
  size_t before = c.nodes[0]->committed.size();
  uint64_t deadline = c.now + 120000;
  while (c.nodes[0]->committed.size() < before + 10 && c.now < deadline) c.step();
  REQUIRE(c.nodes[0]->committed.size() >= before + 10);
  size_t target = c.nodes[0]->committed.size() + 2;
  c.start(2);
  REQUIRE(c.run_until(target, 120000));
  c.check_agreement();
  auto h0 = ledger::read_head(c.nodes[0]->kv);
  auto h2 = ledger::read_head(c.nodes[2]->kv);
  REQUIRE(h2.is_ok());
  if (h0->height == h2->height) CHECK(h0->log_root == h2->log_root);
}

TEST_CASE("forged and malformed messages are counted and dropped") {
  Cluster c;
  Replica& r = *c.nodes[0]->replica;
  uint64_t before = r.stats().rejected_messages;
  v1::ConsensusMessage empty;
  r.on_message(1, empty, c.now);
  v1::ConsensusMessage garbage_proposal;
  garbage_proposal.mutable_proposal()->set_block("not a block");
  r.on_message(1, garbage_proposal, c.now);
  v1::ConsensusMessage bad_vote;
  *bad_vote.mutable_vote() = make_vote(c.set, c.chain.validators[1], 1, crypto::sha256(as_bytes("x")));
  bad_vote.mutable_vote()->set_round(2);  // signature was for round 1
  r.on_message(1, bad_vote, c.now);
  r.on_message(99, empty, c.now);  // not a validator index
  CHECK(r.stats().rejected_messages == before + 4);
  CHECK(r.committed_height() == 0);
}

TEST_CASE("a vote for a block whose QC is formed is dropped unverified; one without a QC is checked") {
  Cluster c;
  Replica& r = *c.nodes[0]->replica;
  const Hash256 block = crypto::sha256(as_bytes("some block of round 1"));
  auto deliver = [&](size_t from, const v1::Vote& v) {
    v1::ConsensusMessage m;
    *m.mutable_vote() = v;
    r.on_message(from, m, c.now);
    c.drain(0);
  };
  // Three valid votes (the quorum of four) form the QC: the round moves on.
  for (size_t i = 1; i <= 3; ++i) deliver(i, make_vote(c.set, c.chain.validators[i], 1, block));
  CHECK(r.high_qc_round() == 1);
  CHECK(r.current_round() == 2);
  const uint64_t rejected = r.stats().rejected_messages;
  // A forged vote for that block adds nothing: not even checked.
  v1::Vote forged = make_vote(c.set, c.chain.validators[3], 1, block);
  forged.mutable_signature()->mutable_signature()->at(0) ^= 1;
  deliver(3, forged);
  CHECK(r.stats().rejected_messages == rejected);
  // The same forgery for a block without a QC is checked and refused.
  v1::Vote other = make_vote(c.set, c.chain.validators[3], 1, crypto::sha256(as_bytes("another block")));
  other.mutable_signature()->mutable_signature()->at(0) ^= 1;
  deliver(3, other);
  CHECK(r.stats().rejected_messages == rejected + 1);
}

TEST_CASE("a proposal's QC is not checked again by a replica that formed it; otherwise it is") {
  Cluster c;
  for (int i = 0; i < 3; ++i) c.submit(c.chain.sign(c.chain.anchor("stats/justify-" + std::to_string(i), "v")));
  // Deliver one message at a time; tamper with the first proposal whose QC
  // the receiver holds already, and with the first whose QC it does not.
  bool tried_held = false, tried_unheld = false;
  for (int guard = 0; guard < 100000 && !(tried_held && tried_unheld); ++guard) {
    auto [m, msg] = c.take_message();
    // Validator 4 gets no votes: it learns every QC from the proposals.
    if (msg.has_vote() && m.to == 3) continue;
    Replica& r = *c.nodes[m.to]->replica;
    if (msg.has_proposal() && msg.proposal().justify().round() > 0 && msg.proposal().justify().signatures_size() > 0) {
      const bool held = r.high_qc_round() >= msg.proposal().justify().round();
      if ((held && !tried_held) || (!held && !tried_unheld)) {
        v1::ConsensusMessage forged = msg;
        forged.mutable_proposal()->mutable_justify()->mutable_signatures(0)->mutable_signature()->at(0) ^= 1;
        const uint64_t rejected = r.stats().rejected_messages;
        const uint64_t votes = r.stats().votes_sent;
        r.on_message(m.from, forged, c.now);
        c.drain(m.to);
        if (held) {
          // Its own QC certifies the parent: the proposal is voted for.
          CHECK(r.stats().rejected_messages == rejected);
          CHECK(r.stats().votes_sent == votes + 1);
          tried_held = true;
          continue;
        }
        CHECK(r.stats().rejected_messages == rejected + 1);
        CHECK(r.stats().votes_sent == votes);
        tried_unheld = true;
      }
    }
    r.on_message(m.from, msg, c.now);
    c.drain(m.to);
  }
  CHECK(tried_held);
  CHECK(tried_unheld);
  CHECK(c.run_until(4, 100000));
  c.check_agreement();
}

TEST_CASE("a minimum block interval paces proposals, unless a full block is waiting") {
  auto run = [](size_t max_block_txs, int txs) {
    CoreConfig config;
    config.min_block_interval_ticks = 50;
    config.max_block_txs = max_block_txs;
    Cluster c(config);
    for (int i = 0; i < txs; ++i) c.submit(c.chain.sign(c.chain.anchor("stats/paced-" + std::to_string(i), "v")));
    REQUIRE(c.run_until(8, 100000));
    c.check_agreement();
    // Gaps between consecutive proposals (the test's clock, in ticks).
    std::vector<int64_t> gaps;
    const auto& t = c.proposal_ticks;
    for (size_t i = 1; i < t.size(); ++i) gaps.push_back(static_cast<int64_t>(t[i] - t[i - 1]));
    REQUIRE(gaps.size() >= 7);
    return gaps;
  };
  // Light load: every block at least the interval after its parent.
  for (int64_t gap : run(2000, 3)) CHECK(gap >= 50);
  // Fifty transactions waiting with room for two a block: full blocks go at once.
  auto full = run(2, 50);
  CHECK(std::count_if(full.begin(), full.end(), [](int64_t g) { return g < 50; }) >= 3);
}

TEST_CASE("a pacing leader alone still times out: its round deadline outlives the pacing wake-up") {
  CoreConfig config;
  config.min_block_interval_ticks = 50;
  Cluster c(config);
  const size_t leader = *c.nodes[0]->replica->leader(1, c.nodes[0]->replica->committed_id());
  for (size_t i = 0; i < c.nodes.size(); ++i) c.nodes[i]->up = i == leader;
  c.submit(c.chain.sign(c.chain.anchor("stats/alone", "v")));
  // The environment keeps one timer (the latest SetTimer), as provd does.
  while (c.now < 1000) c.step();
  CHECK(c.nodes[leader]->replica->stats().proposals_sent >= 1);
  CHECK(c.nodes[leader]->replica->stats().timeouts_sent >= 1);
}

TEST_CASE("a leader restarted in a round it voted in does not propose a second block for it") {
  Cluster c;
  for (int i = 0; i < 3; ++i) c.submit(c.chain.sign(c.chain.anchor("stats/restart-" + std::to_string(i), "v")));
  // Deliver messages one at a time until some validator has made durable its
  // vote for its own proposal (voted in round r = its high QC's round + 1,
  // as that round's leader), then restart it from what it made durable.
  std::optional<size_t> restarted;
  for (int guard = 0; guard < 100000 && !restarted; ++guard) {
    auto [m, msg] = c.take_message();
    c.nodes[m.to]->replica->on_message(m.from, msg, c.now);
    c.drain(m.to);
    for (size_t i = 0; i < c.nodes.size() && !restarted; ++i) {
      Node& n = *c.nodes[i];
      const uint64_t r = n.safety.highest_vote_round;
      if (r == 0 || r != n.high_qc.round() + 1) continue;
      auto leader = n.replica->leader(r, Hash256::from(as_bytes(n.high_qc.block_id())));
      if (leader != i || n.replica->current_round() != r) continue;
      // Crash: whatever it had not sent yet is lost with it.
      std::erase_if(c.net, [&](const Cluster::Msg& x) { return x.from == i; });
      CoreConfig config;
      config.round_timeout_ticks = 200;
      config.idle_propose_ticks = 20;
      n.replica = std::make_unique<Replica>(c.set, c.chain.validators[i], n.kv, n.payload, config);
      REQUIRE(n.replica->start(n.safety, n.high_qc, c.now, nullptr, &n.voted).is_ok());
      CHECK(n.replica->current_round() == r);
      n.replica->on_payload_ready(c.now);
      c.drain(i);
      for (const Cluster::Msg& x : c.net) {
        v1::ConsensusMessage out;
        REQUIRE(out.ParseFromString(x.bytes));
        CHECK_FALSE((x.from == i && out.has_proposal()));
      }
      restarted = i;
    }
  }
  REQUIRE(restarted.has_value());
  // The network goes on and agrees.
  CHECK(c.run_until(c.min_height() + 2, 20000));
  c.check_agreement();
}

TEST_CASE("committed blocks are served rebuilt from the store, byte-bounded, at least one per answer") {
  Cluster c;
  for (int i = 0; i < 40; ++i) c.submit(c.chain.sign(c.chain.anchor("stats/s" + std::to_string(i), "v")));
  REQUIRE(c.run_until(12, 120000));
  Node& n = *c.nodes[0];
  auto head = ledger::read_head(n.kv);
  REQUIRE(head.is_ok());
  REQUIRE(head->log_size == 40);

  // A replica over node 0's store answers a request from height 0.
  auto answer = [&](size_t max_bytes) {
    CoreConfig config;
    config.max_response_bytes = max_bytes;
    Replica r(c.set, c.chain.validators[0], n.kv, n.payload, config);
    REQUIRE(r.start(n.safety, n.high_qc, c.now).is_ok());
    (void)r.drain();
    v1::ConsensusMessage req;
    req.mutable_block_request()->set_block_id(std::string(64, '0'));
    req.mutable_block_request()->set_known_height(0);
    r.on_message(1, req, c.now);
    for (Effect& e : r.drain()) {
      if (auto* s = std::get_if<Send>(&e); s && s->msg.has_block_response()) return s->msg.block_response();
    }
    FAIL("no block response");
    return v1::BlockResponse();
  };

  v1::BlockResponse all = answer(size_t{64} << 20);
  REQUIRE(static_cast<size_t>(all.blocks_size()) == std::min<size_t>(head->height, CoreConfig{}.max_blocks_per_response));
  uint64_t txs = 0;
  size_t bytes = 0;
  for (int i = 0; i < all.blocks_size(); ++i) {
    // Each block is the committed one, rebuilt byte for byte from the store.
    auto parsed = ledger::decode_block(as_bytes(all.blocks(i).block()), 1u << 24);
    REQUIRE(parsed.is_ok());
    CHECK(crypto::sha256(as_bytes(parsed->header())) == n.committed[static_cast<size_t>(i)]);
    CHECK(verify_commit_proof(c.set, all.blocks(i).commit_proof()).is_ok());
    txs += static_cast<uint64_t>(parsed->txs_size());
    bytes += all.blocks(i).block().size();
  }
  CHECK(txs == 40);

  // A small budget: fewer blocks, oldest first, never none.
  v1::BlockResponse some = answer(bytes / 3);
  CHECK(some.blocks_size() >= 1);
  CHECK(some.blocks_size() < all.blocks_size());
  for (int i = 0; i < some.blocks_size(); ++i) CHECK(some.blocks(i).block() == all.blocks(i).block());
  v1::BlockResponse one = answer(1);
  CHECK(one.blocks_size() == 1);
}
