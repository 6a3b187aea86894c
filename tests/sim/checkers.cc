#include "tests/sim/checkers.h"

#include <algorithm>

#include "crypto/sha256.h"
#include "ledger/state.h"
#include "ledger/tx.h"

namespace prov::sim {
namespace {

// Largest block the checker decodes: the simulator's blocks are small, this
// only bounds the parser.
constexpr size_t kMaxBlockBytes = size_t{16} << 20;

std::string short_hex(const Hash256& h) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string s;
  for (size_t i = 0; i < 6; ++i) {
    s += kHex[h.bytes[i] >> 4];
    s += kHex[h.bytes[i] & 15];
  }
  return s;
}

}  // namespace

Checkers::Checkers(const consensus::ValidatorSet& set, std::vector<bool> honest, uint64_t liveness_bound_ms)
    : set_(set), honest_(std::move(honest)), liveness_bound_ms_(liveness_bound_ms), replicas_(honest_.size()) {}

std::string Checkers::name(size_t i) const { return "replica " + std::to_string(i); }

void Checkers::fail(std::string checker, std::string detail, uint64_t now) {
  if (failure_) return;
  failure_ = Failure{std::move(checker), std::move(detail), now};
}

void Checkers::on_commit(size_t i, const consensus::Commit& c, uint64_t now) {
  if (failure_ || !honest_[i]) return;
  ReplicaView& r = replicas_[i];
  const std::string at = name(i) + " height " + std::to_string(c.height);
  if (c.height != r.height + 1) {
    return fail("no_revert", at + ": commit after height " + std::to_string(r.height) + " is not the next height", now);
  }
  auto block = ledger::decode_block(c.block, kMaxBlockBytes);
  if (!block) return fail("ledger_identity", at + ": committed block does not decode: " + block.status().to_string(), now);
  auto header = ledger::decode_header(as_bytes(block->header()));
  if (!header) return fail("ledger_identity", at + ": header does not decode", now);
  if (consensus::block_id(as_bytes(block->header())) != c.block_id || header->height() != c.height) {
    return fail("ledger_identity", at + ": block id or height does not match the block bytes", now);
  }
  if (Hash256::from(as_bytes(header->parent_hash())) != r.id) {
    return fail("no_revert", at + ": block " + short_hex(c.block_id) + " does not extend the previous commit " +
                                 short_hex(r.id), now);
  }
  // Every commit must carry a proof an auditor can check with the validator
  // set alone, and it must prove this very block.
  // Replicas usually hold the very same proof (the QC travels in the next
  // proposal), so a proof is verified once and remembered by its hash.
  if (c.proof.header() != block->header()) return fail("commit_proof", at + ": proof is for another header", now);
  Hash256 proof_hash = crypto::sha256(as_bytes(c.proof.SerializeAsString()));
  if (!verified_proofs_.count(proof_hash)) {
    auto proven = consensus::verify_commit_proof(set_, c.proof);
    if (!proven) return fail("commit_proof", at + ": " + proven.status().to_string(), now);
    if (verified_proofs_.size() >= kMaxVerifiedProofs) verified_proofs_.clear();
    verified_proofs_.insert(proof_hash);
  }

  if (canon_.size() < c.height) {
    canon_.push_back(Canon{c.block_id, c.block, i});
  } else {
    const Canon& want = canon_[c.height - 1];
    if (want.id != c.block_id) {
      return fail("agreement", at + ": committed " + short_hex(c.block_id) + " but " + name(want.first) +
                                   " committed " + short_hex(want.id), now);
    }
    if (want.block != c.block) {
      return fail("ledger_identity", at + ": block bytes differ from " + name(want.first) + "'s", now);
    }
  }
  if (heal_tick_) {
    worst_gap_ms_ = std::max(worst_gap_ms_, now - std::max(r.last_commit, *heal_tick_));
    if (!r.first_commit_after_heal) r.first_commit_after_heal = now;
  }
  r.height = c.height;
  r.id = c.block_id;
  r.last_commit = now;
}

void Checkers::on_restart(size_t i, uint64_t height, const Hash256& head_id, uint64_t now) {
  if (failure_ || !honest_[i]) return;
  const ReplicaView& r = replicas_[i];
  if (height != r.height || head_id != r.id) {
    fail("no_revert", name(i) + ": durable head after restart is height " + std::to_string(height) + " " +
                          short_hex(head_id) + ", committed was " + std::to_string(r.height) + " " + short_hex(r.id),
         now);
  }
}

void Checkers::on_core_state(size_t i, uint64_t height, const Hash256& id, uint64_t now) {
  if (failure_ || !honest_[i]) return;
  const ReplicaView& r = replicas_[i];
  // The core may only report what its store holds: anything else is a commit
  // that did not reach the ledger, or one that was taken back.
  if (height != r.height || (height > 0 && id != r.id)) {
    fail("no_revert", name(i) + ": core reports committed height " + std::to_string(height) + " " + short_hex(id) +
                          ", its ledger holds " + std::to_string(r.height) + " " + short_hex(r.id),
         now);
  }
}

void Checkers::on_heal(uint64_t now) {
  heal_tick_ = now;
  for (ReplicaView& r : replicas_) r.first_commit_after_heal.reset();
}

void Checkers::check_liveness(uint64_t now) {
  if (failure_ || !heal_tick_) return;
  for (size_t i = 0; i < replicas_.size(); ++i) {
    if (!honest_[i]) continue;
    uint64_t since = std::max(replicas_[i].last_commit, *heal_tick_);
    if (now > since + liveness_bound_ms_) {
      return fail("liveness", name(i) + ": no commit for " + std::to_string(now - since) + " ms after the heal at " +
                                  std::to_string(*heal_tick_) + " ms (bound " + std::to_string(liveness_bound_ms_) +
                                  " ms), stuck at height " + std::to_string(replicas_[i].height),
                  now);
    }
  }
}

std::optional<uint64_t> Checkers::recovery_ms() const {
  if (!heal_tick_) return std::nullopt;
  uint64_t worst = 0;
  for (size_t i = 0; i < replicas_.size(); ++i) {
    if (!honest_[i]) continue;
    if (!replicas_[i].first_commit_after_heal) return std::nullopt;
    worst = std::max(worst, *replicas_[i].first_commit_after_heal - *heal_tick_);
  }
  return worst;
}

uint64_t Checkers::min_honest_height() const {
  uint64_t h = UINT64_MAX;
  for (size_t i = 0; i < replicas_.size(); ++i) {
    if (honest_[i]) h = std::min(h, replicas_[i].height);
  }
  return h == UINT64_MAX ? 0 : h;
}

uint64_t Checkers::max_honest_height() const {
  uint64_t h = 0;
  for (size_t i = 0; i < replicas_.size(); ++i) {
    if (honest_[i]) h = std::max(h, replicas_[i].height);
  }
  return h;
}

const Hash256* Checkers::committed_id(uint64_t height) const {
  if (height == 0 || height > canon_.size()) return nullptr;
  return &canon_[height - 1].id;
}

void Checkers::check_final(const std::vector<const ledger::KvReader*>& stores, uint64_t now) {
  if (failure_) return;
  std::vector<std::pair<size_t, ledger::Head>> heads;
  for (size_t i = 0; i < stores.size(); ++i) {
    if (!honest_[i]) continue;
    auto head = ledger::read_head(*stores[i]);
    if (!head) return fail("final_state", name(i) + ": no head: " + head.status().to_string(), now);
    if (head->height != replicas_[i].height) {
      return fail("final_state", name(i) + ": store head at " + std::to_string(head->height) + ", commits reached " +
                                     std::to_string(replicas_[i].height), now);
    }
    heads.emplace_back(i, *head);
  }
  if (heads.empty()) return;
  uint64_t common = UINT64_MAX;
  for (const auto& [i, h] : heads) common = std::min(common, h.height);
  if (common == 0) return;
  // At the common height every honest ledger holds the same block bytes, and
  // so the same log size and root; equal heights have equal heads.
  std::optional<Bytes> want;
  size_t want_from = 0;
  for (const auto& [i, h] : heads) {
    auto block = stores[i]->get(ledger::Column::kBlocks, ledger::u64_key(common));
    if (!block || !block->has_value()) return fail("final_state", name(i) + ": no block at common height", now);
    if (!want) {
      want = **block;
      want_from = i;
    } else if (**block != *want) {
      return fail("final_state", name(i) + " and " + name(want_from) + " hold different blocks at common height " +
                                     std::to_string(common), now);
    }
    for (const auto& [j, g] : heads) {
      if (g.height == h.height && (g.block_hash != h.block_hash || g.log_root != h.log_root || g.log_size != h.log_size)) {
        return fail("final_state", name(i) + " and " + name(j) + " have different heads at height " +
                                       std::to_string(h.height), now);
      }
    }
  }
}

}  // namespace prov::sim
