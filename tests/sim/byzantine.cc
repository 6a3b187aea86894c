#include "tests/sim/byzantine.h"

#include <cassert>
#include <variant>

#include "ledger/state.h"
#include "ledger/tx.h"
#include "tests/sim/sim_chain.h"

namespace prov::sim {
namespace {

using consensus::v1::ConsensusMessage;

constexpr size_t kMaxBlockBytes = size_t{16} << 20;  // parser bound
constexpr size_t kMaxGarbageBytes = 256;

Hash256 hash_of(const std::string& bytes) { return Hash256::from(as_bytes(bytes)); }

void flip_byte(std::string& s, Rng& rng) {
  if (s.empty()) s.assign(64, '\0');
  s[rng.index(s.size())] ^= static_cast<char>(1u << rng.below(8));
}

// Everything a Commit writes, as one WriteSet (the block's, then the proof's).
ledger::WriteSet merged_writes(const consensus::Commit& c) {
  ledger::WriteSet w = *c.block_writes;
  w.merge(c.writes);
  return w;
}

}  // namespace

consensus::v1::ValidatorSignature sign_proposal(const consensus::ValidatorSet& set, const crypto::KeyPair& key,
                                                uint64_t epoch, uint64_t round, const Hash256& block_id) {
  consensus::v1::ValidatorSignature sig;
  sig.set_validator(to_string(key.public_key()));
  Signature s = key.sign(crypto::purpose::kProposal, set.chain_id(), consensus::vote_payload(epoch, round, block_id));
  sig.set_signature(to_string(s));
  return sig;
}

ByzantineReplica::ByzantineReplica(size_t self, size_t n, const consensus::ValidatorSet& set,
                                   const ledger::WriteSet& genesis, consensus::CoreConfig core_config,
                                   ByzantineConfig config, uint64_t seed, ByzantineHost& host)
    : self_(self),
      n_(n),
      set_(set),
      key_(validator_key(self)),
      outsider_(outsider_key()),
      config_(config),
      rng_(seed),
      host_(host),
      mempool_(tx_pool()),
      core_config_(core_config) {
  kv_.apply(genesis);
  base_kv_.apply(genesis);
  qcs_.emplace(Hash256{}, consensus::genesis_qc());
}

Status ByzantineReplica::start(uint64_t now) {
  core_ = std::make_unique<consensus::Replica>(set_, key_, kv_, mempool_, core_config_);
  PROV_RETURN_IF_ERROR(core_->start(consensus::SafetyState{}, consensus::genesis_qc(), now));
  execute(now);
  return Status::ok();
}

void ByzantineReplica::on_message(size_t from, const ConsensusMessage& msg, ByteView raw, uint64_t now) {
  remember(raw);
  learn(msg);
  core_->on_message(from, msg, now);
  execute(now);
}

void ByzantineReplica::on_tick(uint64_t now) {
  core_->on_tick(now);
  execute(now);
}

void ByzantineReplica::on_payload_ready(uint64_t now) {
  core_->on_payload_ready(now);
  execute(now);
}

void ByzantineReplica::execute(uint64_t now) {
  for (consensus::Effect& e : core_->drain()) {
    if (auto* s = std::get_if<consensus::Send>(&e)) {
      emit(s->to, s->msg, now);
    } else if (auto* b = std::get_if<consensus::Broadcast>(&e)) {
      if (b->msg.has_proposal()) {
        broadcast_proposal(b->msg, now);
      } else {
        for (size_t j = 0; j < n_; ++j) {
          if (j != self_) emit(j, b->msg, now);
        }
      }
    } else if (auto* c = std::get_if<consensus::Commit>(&e)) {
      on_commit(*c);
    } else if (auto* t = std::get_if<consensus::SetTimer>(&e)) {
      host_.set_timer(self_, t->deadline_tick);
    }
    // PersistSafety: a Byzantine replica keeps nothing durable and need not.
  }
}

void ByzantineReplica::send(size_t to, const ConsensusMessage& msg, uint64_t now) {
  Bytes bytes(msg.ByteSizeLong());
  msg.SerializeToArray(bytes.data(), static_cast<int>(bytes.size()));
  remember(bytes);
  host_.send_bytes(self_, to, std::move(bytes), now);
}

void ByzantineReplica::emit(size_t to, const ConsensusMessage& msg, uint64_t now) {
  FaultCounts& faults = host_.faults();
  if (rng_.chance_ppm(config_.withhold_ppm)) {
    faults.add(Fault::kWithhold);
    return;
  }
  // Bad copies go first, so a core that remembered "already heard from this
  // sender" on a bad message would lose the good one.
  if (rng_.chance_ppm(config_.bad_signature_ppm)) {
    faults.add(Fault::kBadSignature);
    send(to, corrupt_signature(msg), now);
  }
  if (rng_.chance_ppm(config_.outsider_ppm)) {
    if (auto copy = outsider_copy(msg)) {
      faults.add(Fault::kOutsider);
      send(to, *copy, now);
    }
  }
  if (msg.has_vote()) {
    const consensus::v1::Vote& v = msg.vote();
    if (rng_.chance_ppm(config_.double_vote_ppm)) {
      for (const Hash256& other : by_round_[v.round()]) {
        if (other == hash_of(v.block_id())) continue;
        faults.add(Fault::kDoubleVote);
        ConsensusMessage m;
        *m.mutable_vote() = consensus::make_vote(set_, key_, v.round(), other);
        send(to, m, now);
        break;
      }
    }
    if (rng_.chance_ppm(config_.unknown_vote_ppm)) {
      Hash256 unknown;
      for (uint8_t& b : unknown.bytes) b = static_cast<uint8_t>(rng_.next());
      faults.add(Fault::kUnknownVote);
      ConsensusMessage m;
      *m.mutable_vote() = consensus::make_vote(set_, key_, v.round(), unknown);
      send(to, m, now);
    }
  }
  send(to, msg, now);
}

void ByzantineReplica::broadcast_proposal(const ConsensusMessage& msg, uint64_t now) {
  const consensus::v1::Proposal& p = msg.proposal();
  shadow_execute(p.block());
  if (config_.fork_ppm && p.has_last_round_tc() && rng_.chance_ppm(config_.fork_ppm)) {
    if (auto fork = fork_of(p)) {
      host_.faults().add(Fault::kForkProposal);
      ConsensusMessage m;
      *m.mutable_proposal() = std::move(*fork);
      for (size_t j = 0; j < n_; ++j) {
        if (j != self_) send(j, m, now);
      }
      return;
    }
  }
  if (config_.fork_ppm && rng_.chance_ppm(config_.selective_ppm)) {
    // Only one peer hears this proposal (and so learns the QC it carries, and
    // may commit with it); the others time out with an older high QC, which
    // sets up the TC a following Byzantine leader forks from.
    size_t lucky = rng_.index(n_ - 1);
    if (lucky >= self_) ++lucky;
    host_.faults().add(Fault::kWithhold);
    send(lucky, msg, now);
    return;
  }
  if (n_ > 2 && rng_.chance_ppm(config_.equivocate_ppm)) {
    auto block = ledger::decode_block(as_bytes(p.block()), kMaxBlockBytes);
    auto header = block ? ledger::decode_header(as_bytes(block->header())) : Result<ledger::v1::BlockHeader>(block.status());
    if (header) {
      // Same parent and QC, a different payload and time: both blocks are
      // valid, so honest replicas can only be saved by the safety rules.
      auto alt = build_proposal(p, hash_of(header->parent_hash()), p.justify(), header->time_ms() + 1,
                                block->txs_size() == 0 ? 1 : 0);
      if (alt) {
        host_.faults().add(Fault::kEquivocate);
        ConsensusMessage m;
        *m.mutable_proposal() = std::move(*alt);
        bool sent_original = false, sent_alt = false;
        for (size_t j = 0; j < n_; ++j) {
          if (j == self_) continue;
          bool use_alt = !sent_alt ? sent_original : (!sent_original ? false : rng_.below(2) == 1);
          send(j, use_alt ? m : msg, now);
          (use_alt ? sent_alt : sent_original) = true;
        }
        return;
      }
    }
  }
  for (size_t j = 0; j < n_; ++j) {
    if (j != self_) emit(j, msg, now);
  }
}

void ByzantineReplica::on_commit(const consensus::Commit& c) {
  kv_.apply(*c.block_writes);
  kv_.apply(c.writes);
  mempool_.remove_committed(c.block);
  if (!shadow_.count(c.block_id) && c.block_id != base_head_) {
    auto block = ledger::decode_block(c.block, kMaxBlockBytes);
    auto header = block ? ledger::decode_header(as_bytes(block->header())) : Result<ledger::v1::BlockHeader>(block.status());
    assert(header.is_ok());
    shadow_.emplace(c.block_id, ShadowBlock{hash_of(header->parent_hash()), header->height(), header->round(),
                                            header->time_ms(), merged_writes(c)});
  }
  if (c.proof.has_qc()) learn_qc(c.proof.qc());
  learn_qc(c.proof.child_qc());
  unapplied_.push_back(c.block_id);
  while (unapplied_.size() > kForkLagHeights) {
    Hash256 id = unapplied_.front();
    unapplied_.pop_front();
    auto it = shadow_.find(id);
    assert(it != shadow_.end());
    base_kv_.apply(it->second.writes);
    base_head_ = id;
    base_height_ = it->second.height;
    uint64_t base_round = it->second.round;
    // Everything at or below the lagging head is either in base_kv_ or on a
    // dead branch; keep only the head's QC (forks start there at the oldest).
    for (auto s = shadow_.begin(); s != shadow_.end();) {
      if (s->second.height <= base_height_) {
        if (s->first != base_head_) qcs_.erase(s->first);
        s = shadow_.erase(s);
      } else {
        ++s;
      }
    }
    by_round_.erase(by_round_.begin(), by_round_.lower_bound(base_round));
  }
}

void ByzantineReplica::learn(const ConsensusMessage& msg) {
  if (msg.has_proposal()) {
    learn_qc(msg.proposal().justify());
    if (msg.proposal().has_last_round_tc()) learn_qc(msg.proposal().last_round_tc().high_qc());
    shadow_execute(msg.proposal().block());
  } else if (msg.has_timeout()) {
    learn_qc(msg.timeout().high_qc());
  } else if (msg.has_sync()) {
    learn_qc(msg.sync().high_qc());
  } else if (msg.has_block_response()) {
    for (const auto& cb : msg.block_response().blocks()) {
      shadow_execute(cb.block());
      if (cb.has_qc()) learn_qc(cb.qc());
    }
  }
}

void ByzantineReplica::learn_qc(const consensus::v1::QuorumCert& qc) {
  if (qc.block_id().size() != Hash256::kSize) return;
  // Only certificates that verify are worth attaching to a proposal.
  Hash256 id = hash_of(qc.block_id());
  if (qcs_.count(id) || !consensus::verify_qc(set_, qc).is_ok()) return;
  qcs_.emplace(id, qc);
}

std::optional<Hash256> ByzantineReplica::shadow_execute(const std::string& block_bytes) {
  auto block = ledger::decode_block(as_bytes(block_bytes), kMaxBlockBytes);
  if (!block) return std::nullopt;
  auto header = ledger::decode_header(as_bytes(block->header()));
  if (!header) return std::nullopt;
  Hash256 id = consensus::block_id(as_bytes(block->header()));
  if (shadow_.count(id) || id == base_head_) return id;
  if (header->height() <= base_height_ || shadow_.size() >= kMaxShadowBlocks) return std::nullopt;
  ledger::WriteSet merged;
  if (!state_at(hash_of(header->parent_hash()), merged)) return std::nullopt;
  ledger::Overlay state(base_kv_, merged);
  auto applied = ledger::apply_block(state, as_bytes(block_bytes));
  if (!applied) return std::nullopt;
  shadow_.emplace(id, ShadowBlock{hash_of(header->parent_hash()), header->height(), header->round(), header->time_ms(),
                                  std::move(applied->writes)});
  by_round_[header->round()].insert(id);
  return id;
}

bool ByzantineReplica::state_at(const Hash256& parent, ledger::WriteSet& merged) const {
  std::vector<const ShadowBlock*> chain;
  Hash256 cur = parent;
  while (cur != base_head_) {
    auto it = shadow_.find(cur);
    if (it == shadow_.end() || chain.size() > shadow_.size()) return false;
    chain.push_back(&it->second);
    cur = it->second.parent;
  }
  for (auto it = chain.rbegin(); it != chain.rend(); ++it) merged.merge((*it)->writes);
  return true;
}

std::optional<consensus::v1::Proposal> ByzantineReplica::build_proposal(const consensus::v1::Proposal& original,
                                                                        const Hash256& parent,
                                                                        const consensus::v1::QuorumCert& justify,
                                                                        int64_t time_ms, size_t txs) {
  auto block = ledger::decode_block(as_bytes(original.block()), kMaxBlockBytes);
  if (!block) return std::nullopt;
  auto header = ledger::decode_header(as_bytes(block->header()));
  if (!header) return std::nullopt;
  ledger::WriteSet merged;
  if (!state_at(parent, merged)) return std::nullopt;
  ledger::Overlay state(base_kv_, merged);
  ledger::BlockTemplate tmpl;
  tmpl.epoch = header->epoch();
  tmpl.round = header->round();
  tmpl.time_ms = time_ms;
  tmpl.proposer = key_.public_key();
  std::vector<std::pair<size_t, ledger::Rejected>> dropped;
  auto built = ledger::build_block_filtered(state, tmpl, mempool_.pull(txs, size_t{1} << 20), &dropped);
  if (!built) return std::nullopt;
  if (!shadow_.count(built->block_hash)) {
    shadow_.emplace(built->block_hash,
                    ShadowBlock{parent, built->header.height(), tmpl.round, time_ms, std::move(built->writes)});
    by_round_[tmpl.round].insert(built->block_hash);
  }
  consensus::v1::Proposal out;
  out.set_block(to_string(built->block_bytes));
  *out.mutable_justify() = justify;
  if (original.has_last_round_tc()) *out.mutable_last_round_tc() = original.last_round_tc();
  *out.mutable_signature() = sign_proposal(set_, key_, tmpl.epoch, tmpl.round, built->block_hash);
  return out;
}

std::optional<consensus::v1::Proposal> ByzantineReplica::fork_of(const consensus::v1::Proposal& original) {
  auto block = ledger::decode_block(as_bytes(original.block()), kMaxBlockBytes);
  if (!block) return std::nullopt;
  auto header = ledger::decode_header(as_bytes(block->header()));
  if (!header) return std::nullopt;
  const uint64_t lock = original.last_round_tc().high_qc().round();
  // The newest strict ancestor of the honest parent whose QC is older than
  // the lock the TC proves: extending it conflicts with the parent, which a
  // replica ahead of the others may already have committed.
  Hash256 cur = hash_of(header->parent_hash());
  for (size_t steps = 0; steps <= shadow_.size() && cur != base_head_; ++steps) {
    auto it = shadow_.find(cur);
    if (it == shadow_.end()) return std::nullopt;
    cur = it->second.parent;
    auto qc = qcs_.find(cur);
    if (qc != qcs_.end() && qc->second.round() < lock) {
      return build_proposal(original, cur, qc->second, header->time_ms(), 1);
    }
  }
  return std::nullopt;
}

ConsensusMessage ByzantineReplica::corrupt_signature(ConsensusMessage msg) {
  if (msg.has_proposal()) {
    flip_byte(*msg.mutable_proposal()->mutable_signature()->mutable_signature(), rng_);
  } else if (msg.has_vote()) {
    flip_byte(*msg.mutable_vote()->mutable_signature()->mutable_signature(), rng_);
  } else if (msg.has_timeout()) {
    flip_byte(*msg.mutable_timeout()->mutable_signature()->mutable_signature(), rng_);
  } else if (msg.has_sync() && msg.sync().high_qc().signatures_size() > 0) {
    flip_byte(*msg.mutable_sync()->mutable_high_qc()->mutable_signatures(0)->mutable_signature(), rng_);
  } else if (msg.has_block_response() && msg.block_response().blocks_size() > 0 &&
             msg.block_response().blocks(0).qc().signatures_size() > 0) {
    flip_byte(*msg.mutable_block_response()->mutable_blocks(0)->mutable_qc()->mutable_signatures(0)->mutable_signature(),
              rng_);
  } else if (msg.has_block_request()) {
    flip_byte(*msg.mutable_block_request()->mutable_block_id(), rng_);
  }
  return msg;
}

std::optional<ConsensusMessage> ByzantineReplica::outsider_copy(const ConsensusMessage& msg) {
  ConsensusMessage m = msg;
  const std::string pub = to_string(outsider_.public_key());
  const std::string& chain = set_.chain_id();
  if (m.has_vote()) {
    auto* v = m.mutable_vote();
    v->mutable_signature()->set_validator(pub);
    v->mutable_signature()->set_signature(to_string(outsider_.sign(
        crypto::purpose::kVote, chain, consensus::vote_payload(v->epoch(), v->round(), hash_of(v->block_id())))));
  } else if (m.has_timeout()) {
    auto* t = m.mutable_timeout();
    t->mutable_signature()->set_validator(pub);
    t->mutable_signature()->set_signature(to_string(outsider_.sign(
        crypto::purpose::kTimeout, chain, consensus::timeout_payload(t->epoch(), t->round(), t->high_qc().round()))));
  } else if (m.has_proposal()) {
    auto block = ledger::decode_block(as_bytes(m.proposal().block()), kMaxBlockBytes);
    if (!block) return std::nullopt;
    auto header = ledger::decode_header(as_bytes(block->header()));
    if (!header) return std::nullopt;
    *m.mutable_proposal()->mutable_signature() = sign_proposal(
        set_, outsider_, header->epoch(), header->round(), consensus::block_id(as_bytes(block->header())));
  } else {
    return std::nullopt;
  }
  return m;
}

void ByzantineReplica::remember(ByteView raw) {
  replay_.emplace_back(raw.begin(), raw.end());
  if (replay_.size() > kReplayBufferMessages) replay_.pop_front();
}

uint64_t ByzantineReplica::act(uint64_t now) {
  size_t to = rng_.index(n_ - 1);
  if (to >= self_) ++to;
  switch (rng_.below(3)) {
    case 0:
      if (!replay_.empty()) {
        host_.faults().add(Fault::kReplay);
        host_.send_bytes(self_, to, replay_[rng_.index(replay_.size())], now);
      }
      break;
    case 1: {
      Bytes junk(rng_.between(1, kMaxGarbageBytes));
      for (uint8_t& b : junk) b = static_cast<uint8_t>(rng_.next());
      host_.faults().add(Fault::kGarbage);
      host_.send_bytes(self_, to, std::move(junk), now);
      break;
    }
    default:
      // A real message with a few bits flipped: mostly still parses, so it
      // reaches the core's own checks rather than the decoder's.
      if (!replay_.empty()) {
        Bytes m = replay_[rng_.index(replay_.size())];
        if (!m.empty()) {
          for (uint64_t k = rng_.between(1, 4); k > 0; --k) m[rng_.index(m.size())] ^= static_cast<uint8_t>(1u << rng_.below(8));
        }
        host_.faults().add(Fault::kGarbage);
        host_.send_bytes(self_, to, std::move(m), now);
      }
      break;
  }
  return now + rng_.between(config_.act_min_ms, config_.act_max_ms);
}

}  // namespace prov::sim
