// Votes, quorum certificates (QCs), timeout certificates (TCs) and commit
// proofs: how validators sign, and how anyone holding only the validator set
// checks what they signed.
//
// Every signature covers purpose tag ‖ chain id ‖ a fixed binary payload:
//   vote:    u64 epoch ‖ u64 round ‖ 32-byte block id
//   timeout: u64 epoch ‖ u64 round ‖ u64 high-QC round
// (big-endian), never protobuf bytes. A QC is q distinct members' votes for
// one (epoch, round, block id); a TC is q distinct members' timeouts for one
// (epoch, round) plus the highest QC among them. Rounds start at 1; the
// genesis QC (round 0, block id of all zeros, no signatures) certifies the
// genesis state and is the only certificate accepted without signatures.
// Pure functions and immutable values; thread-safe.
#pragma once

#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <unordered_set>
#include <vector>

#include "consensus/proto/consensus.pb.h"
#include "crypto/bytes.h"
#include "crypto/ed25519.h"
#include "crypto/short_hash.h"
#include "crypto/status.h"
#include "ledger/proto/ledger.pb.h"

namespace prov::consensus {


// The validators of one epoch of one chain.
class ValidatorSet {
 public:
  struct Member {
    std::string name;
    PublicKey key;
  };
  // Fails on an empty set, a key that is not 32 bytes, or a duplicate key.
  static Result<ValidatorSet> create(std::string chain_id, uint64_t epoch, std::vector<Member> members);
  // From the ledger's registry record of the current set.
  static Result<ValidatorSet> from_ledger(std::string chain_id, const ledger::v1::ValidatorSet& set);

  const std::string& chain_id() const { return chain_id_; }
  uint64_t epoch() const { return epoch_; }
  size_t size() const { return members_.size(); }
  size_t quorum() const;
  const Member& member(size_t i) const { return members_[i]; }
  std::optional<size_t> index_of(const PublicKey& key) const;

 private:
  std::string chain_id_;
  uint64_t epoch_ = 0;
  std::vector<Member> members_;
};

Bytes vote_payload(uint64_t epoch, uint64_t round, const Hash256& block_id);
Bytes timeout_payload(uint64_t epoch, uint64_t round, uint64_t high_qc_round);

// The QC every chain starts from.
v1::QuorumCert genesis_qc();
bool is_genesis_qc(const v1::QuorumCert& qc);

// Vote signatures that verified, so one signature is checked once: a vote is
// verified when it arrives, and the same signature comes back inside the QC
// this replica assembles from it, inside the next proposal's QC and inside
// timeout votes' high QCs. Keys cover the purpose, chain, signer, payload and
// signature, so a memo hit is exactly as safe as verifying again. Bounded
// (the oldest are forgotten first). Not thread-safe: one per replica.
class SignatureMemo {
 public:
  explicit SignatureMemo(size_t max_entries = 4096) : max_entries_(max_entries) {}
  // True (and counted as a hit) if `key` verified before.
  bool recall(const Hash256& key);
  void add(const Hash256& key);
  // Remembers this replica's own vote, which it signed and need not check.
  void add_own_vote(const ValidatorSet& set, const v1::Vote& vote);
  size_t hits() const { return hits_; }

 private:
  size_t max_entries_;
  std::unordered_set<Hash256, crypto::FixedBytesHash> known_;
  std::deque<Hash256> order_;
  size_t hits_ = 0;
};

v1::Vote make_vote(const ValidatorSet& set, const crypto::KeyPair& key, uint64_t round, const Hash256& block_id);
// OK iff the voter is a member and the signature checks for this chain and
// epoch. With `memo`, a signature found there is not verified again and one
// that verifies is added (also for the QC and timeout functions below).
Status verify_vote(const ValidatorSet& set, const v1::Vote& vote, SignatureMemo* memo = nullptr);

// Assembles a QC from votes for one (epoch, round, block id); duplicates by
// the same voter count once. Fails with fewer than q distinct valid votes.
Result<v1::QuorumCert> assemble_qc(const ValidatorSet& set, const std::vector<v1::Vote>& votes,
                                   SignatureMemo* memo = nullptr);
// OK iff `qc` is the genesis QC or carries ≥ q valid signatures of distinct
// members for its (epoch, round, block id) and no signature from outside.
Status verify_qc(const ValidatorSet& set, const v1::QuorumCert& qc, SignatureMemo* memo = nullptr);

v1::TimeoutVote make_timeout(const ValidatorSet& set, const crypto::KeyPair& key, uint64_t round,
                             const v1::QuorumCert& high_qc);
// OK iff the signer is a member, the signature checks and high_qc verifies
// and is older than the round.
Status verify_timeout(const ValidatorSet& set, const v1::TimeoutVote& timeout, SignatureMemo* memo = nullptr);
// Assembles a TC from timeouts for one round; fails with fewer than q.
Result<v1::TimeoutCert> assemble_tc(const ValidatorSet& set, const std::vector<v1::TimeoutVote>& timeouts,
                                    SignatureMemo* memo = nullptr);
// OK iff q distinct members signed timeouts for (epoch, round) and high_qc
// verifies and is the highest of the rounds they reported.
Status verify_tc(const ValidatorSet& set, const v1::TimeoutCert& tc, SignatureMemo* memo = nullptr);

// Longest hash-linked chain a commit proof may carry.
inline constexpr size_t kMaxCommitChainHeaders = 4096;

// The commit proof of block B given its child's header and the child's QC.
v1::CommitProof make_commit_proof(ByteView header, ByteView child_header, const v1::QuorumCert& child_qc);
// Checks a commit proof with nothing but the validator set of its epoch and
// returns the committed header A: A, then `chain`, are hash-linked up to B;
// B' names B as parent, is in the same epoch and chain, has round
// B.round + 1, and child_qc certifies B' with a quorum. A `qc` in the proof,
// if present, must certify A.
Result<ledger::v1::BlockHeader> verify_commit_proof(const ValidatorSet& set, const v1::CommitProof& proof);

// SHA-256 of a header's exact bytes: a block's id.
Hash256 block_id(ByteView header_bytes);

}  // namespace prov::consensus
