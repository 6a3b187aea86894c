#include "consensus/core.h"

#include <algorithm>
#include <cassert>

#include "consensus/quorum.h"
#include "ledger/tx.h"

namespace prov::consensus {
namespace {

// Bounds on what peers can make us hold.
constexpr size_t kMaxWaitingIds = 64;
constexpr size_t kMaxWaitingPerId = 16;
constexpr size_t kMaxRequested = 256;
constexpr size_t kMaxBlocksPerRound = 2;  // an equivocating leader gets two, not thousands

Hash256 to_hash(const std::string& s) {
  Hash256 h;
  if (!h.assign(as_bytes(s))) h.bytes.fill(0);
  return h;
}
std::string hstr(const Hash256& h) { return to_string(h.view()); }

struct ParsedBlock {
  ledger::v1::Block block;
  ledger::v1::BlockHeader header;
  Hash256 id;
  Hash256 parent;
};

Result<ParsedBlock> parse_block(ByteView bytes) {
  ParsedBlock p;
  if (!ledger::parse_canonical(bytes, p.block)) return Status::invalid_argument("block is not a canonical Block");
  if (!ledger::parse_canonical(as_bytes(p.block.header()), p.header)) {
    return Status::invalid_argument("header is not a canonical BlockHeader");
  }
  if (p.header.parent_hash().size() != 32) return Status::invalid_argument("parent hash is not 32 bytes");
  p.id = block_id(as_bytes(p.block.header()));
  p.parent = to_hash(p.header.parent_hash());
  return p;
}

std::optional<TcSummary> summarize(const v1::TimeoutCert& tc) {
  TcSummary s{tc.round(), 0};
  for (const auto& sig : tc.signatures()) s.max_high_qc_round = std::max(s.max_high_qc_round, sig.high_qc_round());
  return s;
}

}  // namespace

Replica::Replica(ValidatorSet validators, crypto::KeyPair key, const ledger::KvReader& committed,
                 PayloadSource& payload, CoreConfig config)
    : validators_(std::move(validators)),
      key_(std::move(key)),
      committed_(committed),
      payload_(payload),
      config_(config) {
  if (config_.reputation_window == 0) config_.reputation_window = 2 * validators_.size();
  high_qc_ = genesis_qc();
}

// ------------------------------------------------------------------ start

Status Replica::start(const SafetyState& safety, const v1::QuorumCert& high_qc, uint64_t now,
                      const v1::TimeoutCert* last_tc, const std::vector<Bytes>* voted_blocks) {
  std::optional<size_t> self = validators_.index_of(key_.public_key());
  if (!self) return Status::invalid_argument("this node's key is not in the validator set");
  self_ = *self;
  PROV_ASSIGN_OR_RETURN(ledger::Head head, ledger::read_head(committed_));
  if (head.chain_id != validators_.chain_id()) return Status::invalid_argument("store is for another chain");
  root_ = Root{};
  root_.id = head.block_hash;
  root_.height = head.height;
  root_.time_ms = head.time_ms;
  root_.qc = genesis_qc();
  committed_proposers_.clear();
  uint64_t first = head.height > config_.reputation_window ? head.height - config_.reputation_window + 1 : 1;
  for (uint64_t h = first; h <= head.height; ++h) {
    PROV_ASSIGN_OR_RETURN(auto stored, ledger::read_stored_block(committed_, h));
    if (!stored) return Status::corruption("committed block " + std::to_string(h) + " is missing");
    std::optional<size_t> proposer = validators_.index_of(PublicKey::from(as_bytes(stored->header.proposer())));
    committed_proposers_.push_back(proposer.value_or(0));
    if (h == head.height) {
      root_.round = stored->header.round();
      root_.header_bytes = std::move(stored->header_bytes);
      PROV_ASSIGN_OR_RETURN(auto proof_bytes, committed_.get(ledger::Column::kCommitProofs, ledger::u64_key(h)));
      v1::CommitProof proof;
      if (proof_bytes && proof.ParseFromArray(proof_bytes->data(), static_cast<int>(proof_bytes->size())) &&
          proof.has_qc()) {
        root_.qc = proof.qc();
      }
    }
  }
  safety_ = SafetyRules(safety);
  high_qc_ = root_.qc;
  if (high_qc.round() > high_qc_.round() && verify_qc(validators_, high_qc, &sig_memo_).is_ok()) high_qc_ = high_qc;
  tree_.clear();
  votes_.clear();
  timeouts_.clear();
  blocks_by_round_.clear();
  waiting_.clear();
  requested_.clear();
  unapplied_.clear();
  last_tc_.reset();
  my_timeout_.reset();
  consecutive_timeouts_ = 0;
  // A round this validator voted in before the restart gets no proposal
  // from it now: if it led that round it proposed already (a second, other
  // block would look like equivocation), and it could not vote for a new
  // one anyway (the safety rules need a higher round).
  proposed_round_ = safety.highest_vote_round;
  timed_out_round_ = 0;
  started_ = true;
  round_ = 0;
  if (voted_blocks) {
    // Blocks voted for before the restart, oldest first: each is executed
    // again on its parent; ones that no longer extend the root are dropped.
    std::vector<std::pair<uint64_t, const Bytes*>> order;
    for (const Bytes& b : *voted_blocks) {
      auto parsed = parse_block(b);
      if (parsed && parsed->header.height() > root_.height) order.emplace_back(parsed->header.height(), &b);
    }
    std::sort(order.begin(), order.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
    for (const auto& [height, bytes] : order) {
      auto parsed = parse_block(*bytes);
      if (!known(parsed->id) && known(parsed->parent)) (void)insert_block(*bytes, now);
    }
  }
  uint64_t resume = std::max(high_qc_.round() + 1, std::max<uint64_t>(safety.highest_vote_round, 1));
  if (last_tc && verify_tc(validators_, *last_tc, &sig_memo_).is_ok() && last_tc->round() + 1 >= resume) {
    if (last_tc->high_qc().round() > high_qc_.round()) high_qc_ = last_tc->high_qc();
    last_tc_ = *last_tc;
    resume = last_tc->round() + 1;
  }
  // Resume in the round after the newest certificate, or in the round this
  // replica last voted or timed out in, so it never signs twice in a round.
  advance_round(resume, last_tc_.has_value(), now);
  return Status::ok();
}

// ------------------------------------------------------------------ inputs

void Replica::on_message(size_t from, const v1::ConsensusMessage& msg, uint64_t now) {
  if (!started_ || from >= validators_.size() || from == self_) return reject();
  switch (msg.kind_case()) {
    case v1::ConsensusMessage::kProposal: return handle_proposal(from, msg.proposal(), now);
    case v1::ConsensusMessage::kVote: return handle_vote(from, msg.vote(), now);
    case v1::ConsensusMessage::kTimeout: return handle_timeout(from, msg.timeout(), now);
    case v1::ConsensusMessage::kSync: return handle_sync(from, msg.sync(), now);
    case v1::ConsensusMessage::kBlockRequest: return handle_block_request(from, msg.block_request());
    case v1::ConsensusMessage::kBlockResponse: return handle_block_response(from, msg.block_response(), now);
    case v1::ConsensusMessage::KIND_NOT_SET: return reject();
  }
}

void Replica::on_tick(uint64_t now) {
  if (!started_) return;
  armed_ = UINT64_MAX;  // a tick is the environment's timer firing: none is pending now
  if (now >= deadline_) local_timeout(now);
  try_propose(now);
  // An earlier wake-up (pacing, an idle heartbeat) stood in for the round's
  // deadline; ask for the deadline again now that it has passed.
  if (now < deadline_) set_timer(deadline_);
}

void Replica::on_payload_ready(uint64_t now) {
  if (started_) try_propose(now);
}

std::vector<Effect> Replica::drain() {
  std::vector<Effect> out;
  out.swap(effects_);
  return out;
}

// ------------------------------------------------------------------ leaders

std::optional<size_t> Replica::leader(uint64_t round, const Hash256& parent) const {
  if (!known(parent)) return std::nullopt;
  const size_t n = validators_.size();
  if (config_.probe_every_rounds > 0 && round % config_.probe_every_rounds == 0) {
    return static_cast<size_t>((round / config_.probe_every_rounds) % n);
  }
  // Proposers of the last reputation_window blocks of the chain ending at parent.
  std::vector<bool> active(n, false);
  size_t seen = 0;
  Hash256 at = parent;
  while (seen < config_.reputation_window && at != root_.id) {
    auto it = tree_.find(at);
    if (it == tree_.end()) break;
    active[it->second.proposer] = true;
    ++seen;
    at = it->second.parent;
  }
  for (auto it = committed_proposers_.rbegin(); seen < config_.reputation_window && it != committed_proposers_.rend();
       ++it) {
    active[*it] = true;
    ++seen;
  }
  if (seen < config_.reputation_window) return static_cast<size_t>(round % n);  // young chain: plain rotation
  std::vector<size_t> candidates;
  for (size_t i = 0; i < n; ++i) {
    if (active[i]) candidates.push_back(i);
  }
  return candidates[round % candidates.size()];
}

// ------------------------------------------------------------------ proposals

void Replica::handle_proposal(size_t from, const v1::Proposal& p, uint64_t now) {
  auto parsed = parse_block(as_bytes(p.block()));
  if (!parsed) return reject();
  const ledger::v1::BlockHeader& h = parsed->header;
  const uint64_t round = h.round();
  if (h.chain_id() != validators_.chain_id() || h.epoch() != validators_.epoch() || round == 0 ||
      round > round_ + config_.max_rounds_ahead) {
    return reject();
  }
  if (p.justify().block_id() != h.parent_hash() || p.justify().round() >= round ||
      (!holds_qc_for(p.justify()) && !verify_qc(validators_, p.justify(), &sig_memo_).is_ok())) {
    return reject();
  }
  const bool has_tc = p.has_last_round_tc();
  if (has_tc && (p.last_round_tc().round() + 1 != round || !verify_tc(validators_, p.last_round_tc(), &sig_memo_).is_ok())) {
    return reject();
  }
  if (p.signature().validator() != h.proposer()) return reject();
  std::optional<size_t> proposer = validators_.index_of(PublicKey::from(as_bytes(h.proposer())));
  if (!proposer || !crypto::verify(PublicKey::from(as_bytes(h.proposer())), crypto::purpose::kProposal,
                                   validators_.chain_id(), vote_payload(h.epoch(), round, parsed->id),
                                   Signature::from(as_bytes(p.signature().signature())))) {
    return reject();
  }
  process_qc(p.justify(), from, now);
  if (has_tc) process_tc(p.last_round_tc(), now);

  if (!known(parsed->parent)) {
    v1::ConsensusMessage msg;
    *msg.mutable_proposal() = p;
    wait_for(parsed->parent, from, msg);
    request_block(parsed->parent, from, now);
    return;
  }
  if (leader(round, parsed->parent) != proposer) return reject();
  const Node* node = nullptr;
  if (auto it = tree_.find(parsed->id); it != tree_.end()) {
    node = &it->second;
  } else {
    if (parsed->id == root_.id) return;
    auto& in_round = blocks_by_round_[round];
    if (in_round.size() >= kMaxBlocksPerRound) return reject();
    auto inserted = insert_block(as_bytes(p.block()), now);
    if (!inserted) return reject();
    node = *inserted;
    retry_waiting(node->id, now);
  }
  if (round == round_) vote_for(*node, p, now);
}

bool Replica::holds_qc_for(const v1::QuorumCert& qc) const {
  // With votes broadcast, a replica has usually formed (and verified) the QC
  // for a proposal's parent itself before the proposal arrives. A justify
  // for the same (epoch, round, block) then certifies nothing new and its
  // signatures are not checked again: the replica keeps using its own QC
  // (process_qc leaves a block's first QC and a high QC of the same round in
  // place), so nothing unchecked is stored or passed on.
  auto it = tree_.find(to_hash(qc.block_id()));
  if (it == tree_.end() || !it->second.qc) return false;
  const v1::QuorumCert& mine = *it->second.qc;
  return mine.epoch() == qc.epoch() && mine.round() == qc.round() && high_qc_.round() >= qc.round();
}

void Replica::vote_for(const Node& node, const v1::Proposal& p, uint64_t now) {
  std::optional<TcSummary> tc;
  if (p.has_last_round_tc()) tc = summarize(p.last_round_tc());
  if (!safety_.try_vote(node.round, p.justify().round(), tc)) return;
  persist_safety(&node);
  v1::ConsensusMessage msg;
  *msg.mutable_vote() = make_vote(validators_, key_, node.round, node.id);
  sig_memo_.add_own_vote(validators_, msg.vote());  // signed here: counting it needs no check
  ++stats_.votes_sent;
  // Votes go to every validator, not only the next leader: each replica then
  // forms the QC itself, so a dead or slow next leader costs only its own
  // round, and every replica learns the commit as early as the leader does.
  v1::Vote vote = msg.vote();
  broadcast(std::move(msg));
  count_vote(vote, self_, now);
}

void Replica::try_propose(uint64_t now) {
  if (proposed_round_ >= round_) return;
  const Hash256 parent = to_hash(high_qc_.block_id());
  if (!known(parent)) return request_block(parent, (self_ + 1) % validators_.size(), now);
  if (leader(round_, parent) != self_) return;
  // Entering round r through a QC for r-1 or through a TC for r-1 is what
  // makes the proposal valid; without either, wait for one.
  const bool consecutive = high_qc_.round() + 1 == round_;
  if (!consecutive && !(last_tc_ && last_tc_->round() + 1 == round_)) return;

  if (config_.min_block_interval_ticks > 0 && payload_.waiting() < config_.max_block_txs) {
    // The parent's time is its proposer's clock: a clock ahead of ours can
    // delay us no longer than the interval from entering the round.
    int64_t parent_time = parent == root_.id ? root_.time_ms : tree_.at(parent).header.time_ms();
    uint64_t since = std::min<uint64_t>(static_cast<uint64_t>(std::max<int64_t>(parent_time, 0)), round_start_);
    if (now < since + config_.min_block_interval_ticks) {
      set_timer(since + config_.min_block_interval_ticks);
      return;
    }
  }
  std::vector<Bytes> txs = payload_.pull(config_.max_block_txs, config_.max_block_bytes);
  if (txs.empty() && !chain_has_uncommitted_txs(parent) && now < round_start_ + config_.idle_propose_ticks) {
    set_timer(round_start_ + config_.idle_propose_ticks);
    return;
  }
  auto state = state_at(parent);
  if (!state) return;
  auto head = ledger::read_head(*state->top);
  if (!head) return;
  ledger::BlockTemplate tmpl{validators_.epoch(), round_, std::max<int64_t>(static_cast<int64_t>(now), head->time_ms),
                             key_.public_key()};
  auto built = ledger::build_block_filtered(*state->top, tmpl, txs, nullptr, &decoded_);
  if (!built) return;

  v1::Proposal p;
  p.set_block(to_string(built->block_bytes));
  *p.mutable_justify() = high_qc_;
  if (!consecutive) *p.mutable_last_round_tc() = *last_tc_;
  Signature sig = key_.sign(crypto::purpose::kProposal, validators_.chain_id(),
                            vote_payload(validators_.epoch(), round_, built->block_hash));
  p.mutable_signature()->set_validator(hstr(Hash256::from(key_.public_key().view())));
  p.mutable_signature()->set_signature(to_string(sig.view()));
  proposed_round_ = round_;
  ++stats_.proposals_sent;
  const Node& node = add_node(std::move(built).value());
  v1::ConsensusMessage msg;
  *msg.mutable_proposal() = p;
  broadcast(std::move(msg));
  vote_for(node, p, now);
}

bool Replica::chain_has_uncommitted_txs(const Hash256& tip) const {
  // The tip or its parent carrying transactions means a commit is still in
  // flight: keep proposing so the two-chain rule can complete it. The
  // committed root is done: a certified empty child of it needs no block
  // after it (every replica forms the QC that committed the root from the
  // broadcast votes; one that missed them learns it from the next proposal,
  // at the latest the idle leader's after idle_propose_ticks).
  Hash256 at = tip;
  for (int depth = 0; depth < 2; ++depth) {
    if (at == root_.id) return false;
    auto it = tree_.find(at);
    if (it == tree_.end()) return false;
    if (it->second.tx_count > 0) return true;
    at = it->second.parent;
  }
  return false;
}

// ------------------------------------------------------------------ votes

void Replica::handle_vote(size_t from, const v1::Vote& v, uint64_t now) {
  if (v.round() + 1 < round_ || v.round() > round_ + config_.max_rounds_ahead) return;
  count_vote(v, from, now);
}

void Replica::count_vote(const v1::Vote& v, size_t from, uint64_t now) {
  Hash256 id = to_hash(v.block_id());
  // A vote for a block whose QC this replica formed already can add nothing:
  // dropped before its signature is checked (with votes broadcast, the last
  // n - q votes of every round arrive after the QC; verifying them was a
  // third of the vote signatures checked). Looked up without inserting:
  // nothing about an unverified vote is stored.
  if (auto r = votes_.find(v.round()); r != votes_.end()) {
    if (auto b = r->second.find(id); b != r->second.end() && b->second.size() >= validators_.quorum()) return;
  }
  if (!verify_vote(validators_, v, &sig_memo_).is_ok()) return reject();
  std::optional<size_t> voter = validators_.index_of(PublicKey::from(as_bytes(v.signature().validator())));
  auto& by_voter = votes_[v.round()][id];
  by_voter[*voter] = v;
  if (by_voter.size() < validators_.quorum()) return;
  std::vector<v1::Vote> votes;
  for (auto& [_, vote] : by_voter) votes.push_back(vote);
  auto qc = assemble_qc(validators_, votes, &sig_memo_);
  if (!qc) return;
  ++stats_.qcs_formed;
  process_qc(*qc, from, now);
}

// ------------------------------------------------------------------ timeouts

void Replica::local_timeout(uint64_t now) {
  deadline_ = now + round_timeout();
  set_timer(deadline_);
  if (timed_out_round_ == round_ && my_timeout_) {
    // Still stuck: say it again in case the first one was lost, with what
    // brought us into this round, so a replica that restarted without it
    // can follow.
    broadcast_sync_info();
    v1::ConsensusMessage msg;
    *msg.mutable_timeout() = *my_timeout_;
    broadcast(std::move(msg));
    return;
  }
  std::optional<TcSummary> tc;
  if (last_tc_ && last_tc_->round() + 1 == round_) tc = summarize(*last_tc_);
  if (!safety_.try_timeout(round_, high_qc_.round(), tc)) return;
  persist_safety();
  timed_out_round_ = round_;
  ++consecutive_timeouts_;
  my_timeout_ = make_timeout(validators_, key_, round_, high_qc_);
  ++stats_.timeouts_sent;
  timeouts_[round_][self_] = *my_timeout_;
  broadcast_sync_info();
  v1::ConsensusMessage msg;
  *msg.mutable_timeout() = *my_timeout_;
  broadcast(std::move(msg));
  check_timeouts(round_, now);
}

void Replica::handle_timeout(size_t from, const v1::TimeoutVote& t, uint64_t now) {
  if (t.round() > round_ + config_.max_rounds_ahead) return reject();
  if (!verify_timeout(validators_, t, &sig_memo_).is_ok()) return reject();
  process_qc(t.high_qc(), from, now);
  if (t.round() < round_) {
    // The sender is behind: hand it what moved us on.
    v1::ConsensusMessage msg;
    *msg.mutable_sync()->mutable_high_qc() = high_qc_;
    if (last_tc_) *msg.mutable_sync()->mutable_last_tc() = *last_tc_;
    send(from, std::move(msg));
    return;
  }
  std::optional<size_t> voter = validators_.index_of(PublicKey::from(as_bytes(t.signature().validator())));
  timeouts_[t.round()][*voter] = t;
  check_timeouts(t.round(), now);
}

void Replica::check_timeouts(uint64_t round, uint64_t now) {
  auto it = timeouts_.find(round);
  if (it == timeouts_.end()) return;
  // f+1 timeouts mean at least one honest replica gave up on this round:
  // join it rather than wait out the full timer (Bracha-style amplification).
  if (round == round_ && timed_out_round_ < round_ && it->second.size() > max_faulty(validators_.size())) {
    local_timeout(now);
    it = timeouts_.find(round);
    if (it == timeouts_.end()) return;
  }
  if (it->second.size() < validators_.quorum() || round < round_) return;
  std::vector<v1::TimeoutVote> votes;
  for (auto& [_, t] : it->second) votes.push_back(t);
  auto tc = assemble_tc(validators_, votes, &sig_memo_);
  if (!tc) return;
  ++stats_.tcs_formed;
  process_tc(*tc, now);
}

void Replica::broadcast_sync_info() {
  if (!last_tc_ || last_tc_->round() + 1 != round_) return;
  v1::ConsensusMessage msg;
  *msg.mutable_sync()->mutable_high_qc() = high_qc_;
  *msg.mutable_sync()->mutable_last_tc() = *last_tc_;
  broadcast(std::move(msg));
}

void Replica::handle_sync(size_t from, const v1::SyncInfo& s, uint64_t now) {
  if (s.has_high_qc()) {
    if (!verify_qc(validators_, s.high_qc(), &sig_memo_).is_ok()) return reject();
    process_qc(s.high_qc(), from, now);
  }
  if (s.has_last_tc()) {
    if (!verify_tc(validators_, s.last_tc(), &sig_memo_).is_ok()) return reject();
    process_tc(s.last_tc(), now);
  }
}

// ------------------------------------------------------------------ certificates

void Replica::process_qc(const v1::QuorumCert& qc, size_t from, uint64_t now) {
  if (is_genesis_qc(qc)) return;
  const Hash256 id = to_hash(qc.block_id());
  if (!known(id)) {
    if (qc.round() > high_qc_.round()) {
      v1::ConsensusMessage msg;
      *msg.mutable_sync()->mutable_high_qc() = qc;
      wait_for(id, from, msg);
      request_block(id, from, now);
      // A verified QC moves the round on even before its block arrives:
      // round synchronization must not hang on one block's availability.
      high_qc_ = qc;
      advance_round(qc.round() + 1, false, now);
    }
    return;
  }
  auto it = tree_.find(id);
  if (it == tree_.end()) return;  // the committed root: nothing new
  Node& node = it->second;
  if (node.round != qc.round()) return reject();
  if (!node.qc) node.qc = qc;
  if (qc.round() > high_qc_.round()) high_qc_ = qc;
  try_commit(node);
  advance_round(qc.round() + 1, false, now);
}

void Replica::process_tc(const v1::TimeoutCert& tc, uint64_t now) {
  if (tc.round() < round_) return;
  process_qc(tc.high_qc(), self_, now);
  if (tc.round() < round_) return;  // the QC moved us past it
  last_tc_ = tc;
  advance_round(tc.round() + 1, true, now);
}

void Replica::advance_round(uint64_t round, bool via_tc, uint64_t now) {
  if (round <= round_) return;
  round_ = round;
  round_start_ = now;
  if (!via_tc) consecutive_timeouts_ = 0;
  if (last_tc_ && last_tc_->round() + 1 != round_) last_tc_.reset();
  my_timeout_.reset();
  votes_.erase(votes_.begin(), votes_.lower_bound(round_ > 1 ? round_ - 1 : 0));
  timeouts_.erase(timeouts_.begin(), timeouts_.lower_bound(round_));
  deadline_ = now + round_timeout();
  set_timer(deadline_);
  try_propose(now);
}

uint64_t Replica::round_timeout() const {
  uint32_t doublings = std::min(consecutive_timeouts_, config_.max_backoff_doublings);
  return config_.round_timeout_ticks << doublings;
}

// ------------------------------------------------------------------ commits

void Replica::try_commit(const Node& certified) {
#ifdef PROV_CONSENSUS_BROKEN_LOCK
  // The deliberately broken variant (consensus_broken, linked only by the
  // simulator's checker test) also commits on a single QC: a certified block
  // counts as committed, which the two-chain rule exists to prevent.
  if (certified.qc) {
    commit_chain(certified.id, certified);
    return;
  }
#endif
  if (certified.parent == root_.id) return;
  auto parent = tree_.find(certified.parent);
  if (parent == tree_.end()) return;
  // Two-chain rule: a certified block whose certified child is in the very
  // next round is committed, with all its ancestors.
  if (parent->second.round + 1 != certified.round) return;
  commit_chain(parent->first, certified);
}

void Replica::commit_chain(const Hash256& b_id, const Node& child) {
  std::vector<Node*> path;  // newest first
  for (Hash256 at = b_id; at != root_.id;) {
    auto it = tree_.find(at);
    assert(it != tree_.end() && "uncommitted ancestors are always in the tree");
    path.push_back(&it->second);
    at = it->second.parent;
  }
  std::reverse(path.begin(), path.end());
  for (size_t i = 0; i < path.size(); ++i) {
    Node& x = *path[i];
    v1::CommitProof proof = make_commit_proof(x.header_bytes, child.header_bytes, *child.qc);
    for (size_t j = i + 1; j < path.size(); ++j) proof.add_chain(to_string(path[j]->header_bytes));
    if (x.qc) *proof.mutable_qc() = *x.qc;
    commit_node(x, std::move(proof));
  }
  prune();
}

void Replica::commit_node(Node& node, v1::CommitProof proof) {
  Commit c;
  c.height = node.height;
  c.block_id = node.id;
  c.block = node.block;
  // The committed node leaves the tree in prune(), right after this: its
  // writes move, once, into what the caller applies and the layer that
  // stands in for them until it has.
  c.block_writes = std::make_shared<const ledger::WriteSet>(std::move(node.writes));
  c.header = node.header;
  c.tx_hashes = std::move(node.tx_hashes);
  c.writes.put(ledger::Column::kCommitProofs, ledger::u64_key(node.height), as_bytes(proof.SerializeAsString()));
  c.proof = std::move(proof);
  unapplied_.emplace_back(node.height, c.block_writes);
  root_.id = node.id;
  root_.height = node.height;
  root_.round = node.round;
  root_.time_ms = node.header.time_ms();
  root_.header_bytes = node.header_bytes;
  if (node.qc) root_.qc = *node.qc;
  committed_proposers_.push_back(node.proposer);
  while (committed_proposers_.size() > config_.reputation_window) committed_proposers_.pop_front();
  ++stats_.blocks_committed;
  emit(std::move(c));
}

void Replica::prune() {
  // Keep only blocks that descend from the new root; visiting by height
  // guarantees a parent is decided before its children.
  std::vector<std::pair<uint64_t, Hash256>> order;
  for (auto& [id, node] : tree_) order.emplace_back(node.height, id);
  std::sort(order.begin(), order.end());
  std::set<Hash256> keep;
  for (auto& [height, id] : order) {
    const Node& node = tree_.at(id);
    if (height > root_.height && (node.parent == root_.id || keep.count(node.parent))) keep.insert(id);
  }
  for (auto it = tree_.begin(); it != tree_.end();) {
    it = keep.count(it->first) ? std::next(it) : tree_.erase(it);
  }
  blocks_by_round_.erase(blocks_by_round_.begin(), blocks_by_round_.upper_bound(root_.round));
}

// ------------------------------------------------------------------ blocks

Result<Replica::StateView> Replica::state_at(const Hash256& tip) const {
  PROV_ASSIGN_OR_RETURN(ledger::Head head, ledger::read_head(committed_));
  std::vector<const ledger::WriteSet*> layers;
  for (const auto& [height, writes] : unapplied_) {
    if (height > head.height) layers.push_back(writes.get());
  }
  std::vector<const Node*> chain;
  for (Hash256 at = tip; at != root_.id;) {
    auto it = tree_.find(at);
    if (it == tree_.end()) return Status::not_found("block is not on the tree");
    chain.push_back(&it->second);
    at = it->second.parent;
  }
  for (auto it = chain.rbegin(); it != chain.rend(); ++it) layers.push_back(&(*it)->writes);
  // One overlay per pending block, stacked: nothing is copied, and a read
  // looks through a handful of layers before reaching the store.
  StateView view;
  const ledger::KvReader* below = &committed_;
  for (const ledger::WriteSet* w : layers) {
    view.layers.push_back(std::make_unique<ledger::Overlay>(*below, *w));
    below = view.layers.back().get();
  }
  view.top = below;
  return view;
}

Result<const Replica::Node*> Replica::insert_block(ByteView block, uint64_t now) {
  PROV_ASSIGN_OR_RETURN(ParsedBlock parsed, parse_block(block));
  if (!known(parsed.parent)) return Status::not_found("parent block unknown");
  if (tree_.size() >= config_.max_pending_blocks) return Status::resource_exhausted("block tree is full");
  if (parsed.header.time_ms() > static_cast<int64_t>(now + config_.max_clock_skew_ticks)) {
    return Status::invalid_argument("block time is too far in the future");
  }
  if (!validators_.index_of(PublicKey::from(as_bytes(parsed.header.proposer())))) {
    return Status::invalid_argument("proposer is not a validator");
  }
  // Unapplied commits are trimmed here, where the store's head is known.
  if (auto head = ledger::read_head(committed_); head.is_ok()) {
    while (!unapplied_.empty() && unapplied_.front().first <= head->height) unapplied_.pop_front();
  }
  PROV_ASSIGN_OR_RETURN(StateView state, state_at(parsed.parent));
  PROV_ASSIGN_OR_RETURN(ledger::AppliedBlock applied, ledger::apply_block(*state.top, block, &decoded_));
  const Node& node = add_node(std::move(applied));
  return &node;
}

const Replica::Node& Replica::add_node(ledger::AppliedBlock applied) {
  Node node;
  node.id = applied.block_hash;
  node.parent = to_hash(applied.header.parent_hash());
  node.height = applied.header.height();
  node.round = applied.header.round();
  node.block = std::move(applied.block_bytes);
  node.header_bytes = std::move(applied.header_bytes);
  node.header = std::move(applied.header);
  node.writes = std::move(applied.writes);
  node.tx_hashes = std::move(applied.tx_hashes);
  node.tx_count = node.tx_hashes.size();  // the transactions the block included
  node.proposer = validators_.index_of(PublicKey::from(as_bytes(node.header.proposer()))).value_or(0);
  blocks_by_round_[node.round].insert(node.id);
  auto [it, inserted] = tree_.emplace(node.id, std::move(node));
  return it->second;
}

void Replica::request_block(const Hash256& id, size_t from, uint64_t now) {
  if (from == self_ || from >= validators_.size()) from = (self_ + 1) % validators_.size();
  auto it = requested_.find(id);
  if (it != requested_.end() && now < it->second + config_.round_timeout_ticks) return;
  if (requested_.size() >= kMaxRequested) requested_.clear();
  requested_[id] = now;
  v1::ConsensusMessage msg;
  msg.mutable_block_request()->set_block_id(hstr(id));
  msg.mutable_block_request()->set_known_height(root_.height);
  ++stats_.block_requests_sent;
  send(from, std::move(msg));
}

void Replica::wait_for(const Hash256& id, size_t from, const v1::ConsensusMessage& msg) {
  if (waiting_.size() >= kMaxWaitingIds && !waiting_.count(id)) return;
  auto& list = waiting_[id];
  if (list.size() < kMaxWaitingPerId) list.emplace_back(from, msg);
}

void Replica::retry_waiting(const Hash256& id, uint64_t now) {
  auto it = waiting_.find(id);
  if (it == waiting_.end()) return;
  auto list = std::move(it->second);
  waiting_.erase(it);
  requested_.erase(id);
  for (auto& [from, msg] : list) on_message(from, msg, now);
}

void Replica::handle_block_request(size_t from, const v1::BlockRequest& r) {
  v1::ConsensusMessage msg;
  v1::BlockResponse* resp = msg.mutable_block_response();
  resp->set_block_id(r.block_id());
  if (r.known_height() < root_.height) {
    // The requester is behind our committed head: serve committed blocks with
    // their commit proofs, oldest first, from the store.
    uint64_t last = std::min(root_.height, r.known_height() + config_.max_blocks_per_response);
    ledger::read_committed_blocks(committed_, r.known_height() + 1, last, config_.max_response_bytes,
                                  [&](const Bytes& block, const Bytes& proof) {
                                    v1::CertifiedBlock* cb = resp->add_blocks();
                                    cb->set_block(to_string(block));
                                    return cb->mutable_commit_proof()->ParseFromArray(
                                        proof.data(), static_cast<int>(proof.size()));
                                  });
  } else {
    std::vector<const Node*> path;
    for (Hash256 at = to_hash(r.block_id()); path.size() < config_.max_blocks_per_response;) {
      auto it = tree_.find(at);
      if (it == tree_.end() || it->second.height <= r.known_height()) break;
      path.push_back(&it->second);
      at = it->second.parent;
    }
    // Not cut by bytes: the requester needs the whole path down to the block
    // it asked for, and pending blocks are few.
    for (auto it = path.rbegin(); it != path.rend(); ++it) {
      v1::CertifiedBlock* cb = resp->add_blocks();
      cb->set_block(to_string((*it)->block));
      if ((*it)->qc) *cb->mutable_qc() = *(*it)->qc;
    }
  }
  send(from, std::move(msg));
}

void Replica::handle_block_response(size_t from, const v1::BlockResponse& r, uint64_t now) {
  const Hash256 target = to_hash(r.block_id());
  if (!requested_.count(target)) return;  // unsolicited
  // A response whose blocks are hash-linked and end at the block we asked
  // for consists of that block's ancestors: nobody can forge such a chain,
  // so its blocks need no QC of their own (a responder that restarted may
  // hold them without one).
  bool chain_to_target = r.blocks_size() > 0;
  {
    std::optional<Hash256> prev;
    for (const v1::CertifiedBlock& cb : r.blocks()) {
      auto parsed = parse_block(as_bytes(cb.block()));
      if (!parsed || (prev && parsed->parent != *prev)) {
        chain_to_target = false;
        break;
      }
      prev = parsed->id;
    }
    if (chain_to_target && prev != target) chain_to_target = false;
  }
  bool progress = false;
  size_t count = 0;
  for (const v1::CertifiedBlock& cb : r.blocks()) {
    if (++count > config_.max_blocks_per_response) break;
    auto parsed = parse_block(as_bytes(cb.block()));
    if (!parsed) return reject();
    if (parsed->id == root_.id || parsed->header.height() <= root_.height) continue;  // already committed
    if (cb.has_commit_proof()) {
      // A committed block: its proof alone makes it final for us, whether or
      // not we already hold it uncommitted in the tree.
      if (cb.commit_proof().header() != parsed->block.header() ||
          !verify_commit_proof(validators_, cb.commit_proof()).is_ok() || parsed->parent != root_.id) {
        return reject();
      }
      const Node* node = nullptr;
      if (auto it = tree_.find(parsed->id); it != tree_.end()) {
        node = &it->second;
      } else {
        auto inserted = insert_block(as_bytes(cb.block()), now);
        if (!inserted) return reject();
        node = *inserted;
      }
      Hash256 id = node->id;
      commit_node(tree_.at(id), cb.commit_proof());
      prune();
      progress = true;
      retry_waiting(id, now);
      continue;
    }
    if (known(parsed->id)) {
      if (cb.has_qc() && cb.qc().block_id() == hstr(parsed->id) && verify_qc(validators_, cb.qc(), &sig_memo_).is_ok()) {
        process_qc(cb.qc(), from, now);
      }
      continue;
    }
    const bool certified = cb.has_qc() && cb.qc().block_id() == hstr(parsed->id) &&
                           verify_qc(validators_, cb.qc(), &sig_memo_).is_ok();
    if (!certified && !chain_to_target && parsed->id != target) return reject();
    if (!known(parsed->parent)) break;
    auto node = insert_block(as_bytes(cb.block()), now);
    if (!node) return reject();
    progress = true;
    Hash256 id = (*node)->id;
    if (certified) process_qc(cb.qc(), from, now);
    retry_waiting(id, now);
  }
  if (progress && !known(target)) {
    requested_.erase(target);
    request_block(target, from, now);
  }
}

// ------------------------------------------------------------------ effects

void Replica::persist_safety(const Node* voted) {
  PersistSafety p{safety_.state(), high_qc_, std::nullopt, std::nullopt, 0};
  if (last_tc_ && last_tc_->round() + 1 == round_) p.last_tc = last_tc_;
  if (voted) {
    p.voted_block = voted->block;
    p.voted_height = voted->height;
  }
  emit(std::move(p));
}

void Replica::set_timer(uint64_t deadline) {
  // The environment keeps one timer, the latest SetTimer: a later deadline
  // must not replace a sooner wake-up (on_tick asks for it again then).
  if (armed_ <= deadline) return;
  armed_ = deadline;
  emit(SetTimer{deadline});
}

void Replica::send(size_t to, v1::ConsensusMessage msg) { emit(Send{to, std::move(msg)}); }

void Replica::broadcast(v1::ConsensusMessage msg) { emit(Broadcast{std::move(msg)}); }

}  // namespace prov::consensus
