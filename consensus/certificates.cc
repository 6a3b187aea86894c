#include "consensus/certificates.h"

#include <algorithm>
#include <set>

#include "crypto/sha256.h"
#include "ledger/registry.h"
#include "ledger/tx.h"

namespace prov::consensus {
namespace {

// Bounds on certificates read from the network: a set has at most
// kMaxValidators members, so no valid certificate is larger.
constexpr size_t kMaxSignatures = ledger::kMaxValidators;

Result<PublicKey> key_from(const std::string& bytes) {
  PublicKey k;
  if (!k.assign(as_bytes(bytes))) return Status::invalid_argument("public key is not 32 bytes");
  return k;
}

Result<Signature> sig_from(const std::string& bytes) {
  Signature s;
  if (!s.assign(as_bytes(bytes))) return Status::invalid_argument("signature is not 64 bytes");
  return s;
}

Result<Hash256> hash_from(const std::string& bytes) {
  Hash256 h;
  if (!h.assign(as_bytes(bytes))) return Status::invalid_argument("block id is not 32 bytes");
  return h;
}

// What a member signature covers, as a memo key.
Hash256 signature_key(std::string_view purpose, std::string_view chain_id, const PublicKey& key, const Signature& sig,
                      ByteView payload) {
  crypto::Sha256 h;
  Bytes lengths;
  put_u64_be(lengths, purpose.size());
  put_u64_be(lengths, chain_id.size());
  put_u64_be(lengths, payload.size());
  h.update(lengths);
  h.update(as_bytes(purpose));
  h.update(as_bytes(chain_id));
  h.update(key.view());
  h.update(sig.view());
  h.update(payload);
  return h.finish();
}

// Checks one member signature over `payload` for `purpose`; returns the
// member's index. A signature in `memo` verified before.
Result<size_t> check_member_signature(const ValidatorSet& set, std::string_view purpose, const std::string& validator,
                                      const std::string& signature, ByteView payload, SignatureMemo* memo) {
  PROV_ASSIGN_OR_RETURN(PublicKey key, key_from(validator));
  PROV_ASSIGN_OR_RETURN(Signature sig, sig_from(signature));
  std::optional<size_t> index = set.index_of(key);
  if (!index) return Status::unauthenticated("signer is not a validator of epoch " + std::to_string(set.epoch()));
  std::optional<Hash256> memo_key;
  if (memo) {
    memo_key = signature_key(purpose, set.chain_id(), key, sig, payload);
    if (memo->recall(*memo_key)) return *index;
  }
  if (!crypto::verify(key, purpose, set.chain_id(), payload, sig)) {
    return Status::unauthenticated("bad signature from " + set.member(*index).name);
  }
  if (memo) memo->add(*memo_key);
  return *index;
}

}  // namespace

Result<ValidatorSet> ValidatorSet::create(std::string chain_id, uint64_t epoch, std::vector<Member> members) {
  if (members.empty()) return Status::invalid_argument("validator set is empty");
  if (members.size() > kMaxSignatures) return Status::invalid_argument("validator set too large");
  std::set<PublicKey> seen;
  for (const Member& m : members) {
    if (!seen.insert(m.key).second) return Status::invalid_argument("validator " + m.name + " listed twice");
  }
  ValidatorSet s;
  s.chain_id_ = std::move(chain_id);
  s.epoch_ = epoch;
  s.members_ = std::move(members);
  return s;
}

Result<ValidatorSet> ValidatorSet::from_ledger(std::string chain_id, const ledger::v1::ValidatorSet& set) {
  std::vector<Member> members;
  for (const auto& v : set.validators()) {
    PROV_ASSIGN_OR_RETURN(PublicKey key, key_from(v.pub_key()));
    members.push_back({v.name(), key});
  }
  return create(std::move(chain_id), set.epoch(), std::move(members));
}

size_t ValidatorSet::quorum() const { return ledger::quorum_size(members_.size()); }

std::optional<size_t> ValidatorSet::index_of(const PublicKey& key) const {
  for (size_t i = 0; i < members_.size(); ++i) {
    if (members_[i].key == key) return i;
  }
  return std::nullopt;
}

Bytes vote_payload(uint64_t epoch, uint64_t round, const Hash256& block_id) {
  Bytes b;
  put_u64_be(b, epoch);
  put_u64_be(b, round);
  append(b, block_id.view());
  return b;
}

Bytes timeout_payload(uint64_t epoch, uint64_t round, uint64_t high_qc_round) {
  Bytes b;
  put_u64_be(b, epoch);
  put_u64_be(b, round);
  put_u64_be(b, high_qc_round);
  return b;
}

v1::QuorumCert genesis_qc() {
  v1::QuorumCert qc;
  qc.set_block_id(std::string(32, '\0'));
  return qc;
}

bool is_genesis_qc(const v1::QuorumCert& qc) {
  return qc.round() == 0 && qc.signatures_size() == 0 && qc.block_id() == std::string(32, '\0');
}

v1::Vote make_vote(const ValidatorSet& set, const crypto::KeyPair& key, uint64_t round, const Hash256& block_id) {
  v1::Vote vote;
  vote.set_epoch(set.epoch());
  vote.set_round(round);
  vote.set_block_id(to_string(block_id.view()));
  Signature sig = key.sign(crypto::purpose::kVote, set.chain_id(), vote_payload(set.epoch(), round, block_id));
  vote.mutable_signature()->set_validator(to_string(key.public_key().view()));
  vote.mutable_signature()->set_signature(to_string(sig.view()));
  return vote;
}

bool SignatureMemo::recall(const Hash256& key) {
  if (!known_.count(key)) return false;
  ++hits_;
  return true;
}

void SignatureMemo::add(const Hash256& key) {
  if (!known_.insert(key).second) return;
  order_.push_back(key);
  if (order_.size() > max_entries_) {
    known_.erase(order_.front());
    order_.pop_front();
  }
}

void SignatureMemo::add_own_vote(const ValidatorSet& set, const v1::Vote& vote) {
  auto id = hash_from(vote.block_id());
  auto key = key_from(vote.signature().validator());
  auto sig = sig_from(vote.signature().signature());
  if (!id || !key || !sig) return;
  add(signature_key(crypto::purpose::kVote, set.chain_id(), *key, *sig, vote_payload(vote.epoch(), vote.round(), *id)));
}

Status verify_vote(const ValidatorSet& set, const v1::Vote& vote, SignatureMemo* memo) {
  if (vote.epoch() != set.epoch()) return Status::invalid_argument("vote for another epoch");
  if (vote.round() == 0) return Status::invalid_argument("vote for round 0");
  PROV_ASSIGN_OR_RETURN(Hash256 id, hash_from(vote.block_id()));
  auto r = check_member_signature(set, crypto::purpose::kVote, vote.signature().validator(),
                                  vote.signature().signature(), vote_payload(vote.epoch(), vote.round(), id), memo);
  return r.status();
}

Result<v1::QuorumCert> assemble_qc(const ValidatorSet& set, const std::vector<v1::Vote>& votes, SignatureMemo* memo) {
  if (votes.empty()) return Status::invalid_argument("no votes");
  v1::QuorumCert qc;
  qc.set_epoch(votes[0].epoch());
  qc.set_round(votes[0].round());
  qc.set_block_id(votes[0].block_id());
  std::set<std::string> signers;
  for (const v1::Vote& v : votes) {
    if (v.epoch() != qc.epoch() || v.round() != qc.round() || v.block_id() != qc.block_id()) {
      return Status::invalid_argument("votes are for different blocks");
    }
    if (!verify_vote(set, v, memo).is_ok() || !signers.insert(v.signature().validator()).second) continue;
    *qc.add_signatures() = v.signature();
  }
  if (signers.size() < set.quorum()) {
    return Status::verification_failed("only " + std::to_string(signers.size()) + " valid votes, quorum is " +
                                       std::to_string(set.quorum()));
  }
  return qc;
}

Status verify_qc(const ValidatorSet& set, const v1::QuorumCert& qc, SignatureMemo* memo) {
  if (is_genesis_qc(qc)) return Status::ok();
  if (qc.epoch() != set.epoch()) return Status::verification_failed("QC of another epoch");
  if (qc.round() == 0) return Status::verification_failed("QC for round 0 with signatures");
  if (static_cast<size_t>(qc.signatures_size()) > set.size()) {
    return Status::verification_failed("QC carries more signatures than there are validators");
  }
  auto id = hash_from(qc.block_id());
  if (!id) return Status::verification_failed(id.status().message());
  Bytes payload = vote_payload(qc.epoch(), qc.round(), *id);
  std::vector<bool> seen(set.size(), false);
  for (const auto& s : qc.signatures()) {
    auto index = check_member_signature(set, crypto::purpose::kVote, s.validator(), s.signature(), payload, memo);
    if (!index) return Status::verification_failed("QC: " + index.status().message());
    if (seen[*index]) return Status::verification_failed("QC: " + set.member(*index).name + " signed twice");
    seen[*index] = true;
  }
  if (static_cast<size_t>(qc.signatures_size()) < set.quorum()) {
    return Status::verification_failed("QC has " + std::to_string(qc.signatures_size()) + " signatures, quorum is " +
                                       std::to_string(set.quorum()));
  }
  return Status::ok();
}

v1::TimeoutVote make_timeout(const ValidatorSet& set, const crypto::KeyPair& key, uint64_t round,
                             const v1::QuorumCert& high_qc) {
  v1::TimeoutVote t;
  t.set_epoch(set.epoch());
  t.set_round(round);
  *t.mutable_high_qc() = high_qc;
  Signature sig =
      key.sign(crypto::purpose::kTimeout, set.chain_id(), timeout_payload(set.epoch(), round, high_qc.round()));
  t.mutable_signature()->set_validator(to_string(key.public_key().view()));
  t.mutable_signature()->set_signature(to_string(sig.view()));
  return t;
}

Status verify_timeout(const ValidatorSet& set, const v1::TimeoutVote& t, SignatureMemo* memo) {
  if (t.epoch() != set.epoch()) return Status::invalid_argument("timeout for another epoch");
  if (t.round() == 0 || t.high_qc().round() >= t.round()) {
    return Status::invalid_argument("timeout's high QC is not older than its round");
  }
  auto r = check_member_signature(set, crypto::purpose::kTimeout, t.signature().validator(),
                                  t.signature().signature(), timeout_payload(t.epoch(), t.round(), t.high_qc().round()),
                                  memo);
  PROV_RETURN_IF_ERROR(r.status());
  return verify_qc(set, t.high_qc(), memo);
}

Result<v1::TimeoutCert> assemble_tc(const ValidatorSet& set, const std::vector<v1::TimeoutVote>& timeouts,
                                    SignatureMemo* memo) {
  if (timeouts.empty()) return Status::invalid_argument("no timeouts");
  v1::TimeoutCert tc;
  tc.set_epoch(timeouts[0].epoch());
  tc.set_round(timeouts[0].round());
  std::set<std::string> signers;
  const v1::QuorumCert* high = nullptr;
  for (const v1::TimeoutVote& t : timeouts) {
    if (t.epoch() != tc.epoch() || t.round() != tc.round()) {
      return Status::invalid_argument("timeouts are for different rounds");
    }
    if (!verify_timeout(set, t, memo).is_ok() || !signers.insert(t.signature().validator()).second) continue;
    v1::TimeoutSignature* s = tc.add_signatures();
    s->set_validator(t.signature().validator());
    s->set_high_qc_round(t.high_qc().round());
    s->set_signature(t.signature().signature());
    if (!high || t.high_qc().round() > high->round()) high = &t.high_qc();
  }
  if (signers.size() < set.quorum()) {
    return Status::verification_failed("only " + std::to_string(signers.size()) + " valid timeouts, quorum is " +
                                       std::to_string(set.quorum()));
  }
  *tc.mutable_high_qc() = *high;
  return tc;
}

Status verify_tc(const ValidatorSet& set, const v1::TimeoutCert& tc, SignatureMemo* memo) {
  if (tc.epoch() != set.epoch()) return Status::verification_failed("TC of another epoch");
  if (static_cast<size_t>(tc.signatures_size()) > set.size()) {
    return Status::verification_failed("TC carries more signatures than there are validators");
  }
  std::vector<bool> seen(set.size(), false);
  uint64_t max_high = 0;
  for (const auto& s : tc.signatures()) {
    if (s.high_qc_round() >= tc.round()) return Status::verification_failed("TC: high QC round not below its round");
    auto index = check_member_signature(set, crypto::purpose::kTimeout, s.validator(), s.signature(),
                                        timeout_payload(tc.epoch(), tc.round(), s.high_qc_round()), memo);
    if (!index) return Status::verification_failed("TC: " + index.status().message());
    if (seen[*index]) return Status::verification_failed("TC: " + set.member(*index).name + " signed twice");
    seen[*index] = true;
    max_high = std::max(max_high, s.high_qc_round());
  }
  if (static_cast<size_t>(tc.signatures_size()) < set.quorum()) {
    return Status::verification_failed("TC has " + std::to_string(tc.signatures_size()) + " signatures, quorum is " +
                                       std::to_string(set.quorum()));
  }
  if (tc.high_qc().round() != max_high) return Status::verification_failed("TC: high QC is not the highest reported");
  return verify_qc(set, tc.high_qc(), memo);
}

Hash256 block_id(ByteView header_bytes) { return crypto::sha256(header_bytes); }

v1::CommitProof make_commit_proof(ByteView header, ByteView child_header, const v1::QuorumCert& child_qc) {
  v1::CommitProof p;
  p.set_version(1);
  p.set_header(to_string(header));
  p.set_child_header(to_string(child_header));
  *p.mutable_child_qc() = child_qc;
  return p;
}

namespace {

Result<ledger::v1::BlockHeader> parse_header(const std::string& bytes, const ValidatorSet& set) {
  ledger::v1::BlockHeader h;
  if (!ledger::parse_canonical(as_bytes(bytes), h)) {
    return Status::verification_failed("commit proof: header is not a canonical BlockHeader");
  }
  if (h.chain_id() != set.chain_id()) return Status::verification_failed("commit proof: header of another chain");
  if (h.epoch() != set.epoch()) return Status::verification_failed("commit proof: header of another epoch");
  return h;
}

}  // namespace

Result<ledger::v1::BlockHeader> verify_commit_proof(const ValidatorSet& set, const v1::CommitProof& proof) {
  if (proof.version() != 1) return Status::verification_failed("unknown commit proof version");
  if (static_cast<size_t>(proof.chain_size()) > kMaxCommitChainHeaders) {
    return Status::verification_failed("commit proof: chain too long");
  }
  PROV_ASSIGN_OR_RETURN(ledger::v1::BlockHeader header, parse_header(proof.header(), set));
  Hash256 id = block_id(as_bytes(proof.header()));
  if (proof.has_qc() && (proof.qc().block_id() != to_string(id.view()) || proof.qc().round() != header.round() ||
                         !verify_qc(set, proof.qc()).is_ok())) {
    return Status::verification_failed("commit proof: qc does not certify the block");
  }
  // Walk the hash links from A up to B, the directly committed block.
  ledger::v1::BlockHeader b = header;
  for (const std::string& link : proof.chain()) {
    PROV_ASSIGN_OR_RETURN(ledger::v1::BlockHeader next, parse_header(link, set));
    if (next.parent_hash() != to_string(id.view()) || next.height() != b.height() + 1 || next.round() <= b.round()) {
      return Status::verification_failed("commit proof: chain is not hash-linked");
    }
    id = block_id(as_bytes(link));
    b = std::move(next);
  }
  PROV_ASSIGN_OR_RETURN(ledger::v1::BlockHeader child, parse_header(proof.child_header(), set));
  Hash256 child_id = block_id(as_bytes(proof.child_header()));
  if (child.parent_hash() != to_string(id.view()) || child.height() != b.height() + 1) {
    return Status::verification_failed("commit proof: child does not extend the block");
  }
  if (child.round() != b.round() + 1) {
    return Status::verification_failed("commit proof: child is not in the next round, so certifying it commits nothing");
  }
  const v1::QuorumCert& qc = proof.child_qc();
  if (is_genesis_qc(qc) || qc.round() != child.round() || qc.block_id() != to_string(child_id.view())) {
    return Status::verification_failed("commit proof: QC does not certify the child");
  }
  PROV_RETURN_IF_ERROR(verify_qc(set, qc));
  return header;
}

}  // namespace prov::consensus
