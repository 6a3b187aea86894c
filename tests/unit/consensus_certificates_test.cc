#include <doctest/doctest.h>

#include "consensus/certificates.h"
#include "crypto/sha256.h"

using namespace prov;
using namespace prov::consensus;

namespace {

struct Net {
  std::vector<crypto::KeyPair> keys;
  ValidatorSet set;
};

Net make_net(size_t n, uint64_t epoch = 0) {
  std::vector<crypto::KeyPair> keys;
  std::vector<ValidatorSet::Member> members;
  for (size_t i = 0; i < n; ++i) {
    Seed seed;
    seed.bytes.fill(static_cast<uint8_t>(i + 1));
    keys.push_back(crypto::KeyPair::from_seed(seed));
    members.push_back({"validator-" + std::to_string(i + 1), keys.back().public_key()});
  }
  auto set = ValidatorSet::create("test-chain", epoch, members);
  REQUIRE(set.is_ok());
  return {keys, *set};
}

std::vector<v1::Vote> votes_for(const Net& net, size_t count, uint64_t round, const Hash256& id) {
  std::vector<v1::Vote> votes;
  for (size_t i = 0; i < count; ++i) votes.push_back(make_vote(net.set, net.keys[i], round, id));
  return votes;
}

Bytes header_bytes(uint64_t height, uint64_t round, const Hash256& parent, const std::string& chain = "test-chain") {
  ledger::v1::BlockHeader h;
  h.set_version(1);
  h.set_chain_id(chain);
  h.set_height(height);
  h.set_round(round);
  h.set_parent_hash(to_string(parent.view()));
  h.set_log_size(height * 10);
  h.set_log_root(std::string(32, 'r'));
  std::string out;
  REQUIRE(h.SerializeToString(&out));
  return to_bytes(out);
}

}  // namespace

TEST_CASE("a QC needs a quorum of distinct valid votes") {
  Net net = make_net(4);
  Hash256 id = crypto::sha256(as_bytes("block"));
  CHECK_FALSE(assemble_qc(net.set, votes_for(net, 2, 5, id)).is_ok());
  auto qc = assemble_qc(net.set, votes_for(net, 3, 5, id));
  REQUIRE(qc.is_ok());
  CHECK(verify_qc(net.set, *qc).is_ok());

  // The same voter three times is one vote.
  std::vector<v1::Vote> dup(3, make_vote(net.set, net.keys[0], 5, id));
  CHECK_FALSE(assemble_qc(net.set, dup).is_ok());

  SUBCASE("forged, short and duplicated QCs are rejected") {
    v1::QuorumCert forged = *qc;
    forged.set_round(6);  // signatures were for round 5
    CHECK_FALSE(verify_qc(net.set, forged).is_ok());
    v1::QuorumCert short_qc = *qc;
    short_qc.mutable_signatures()->RemoveLast();
    CHECK_FALSE(verify_qc(net.set, short_qc).is_ok());
    v1::QuorumCert twice = *qc;
    *twice.mutable_signatures(1) = twice.signatures(0);
    CHECK_FALSE(verify_qc(net.set, twice).is_ok());
    v1::QuorumCert flipped = *qc;
    std::string sig = flipped.signatures(0).signature();
    sig[3] ^= 1;
    flipped.mutable_signatures(0)->set_signature(sig);
    CHECK_FALSE(verify_qc(net.set, flipped).is_ok());
  }
  SUBCASE("a key outside the set does not count") {
    Net other = make_net(5);
    std::vector<v1::Vote> votes = votes_for(net, 2, 5, id);
    votes.push_back(make_vote(net.set, other.keys[4], 5, id));  // signs for this chain, but is no member
    CHECK_FALSE(assemble_qc(net.set, votes).is_ok());
  }
  SUBCASE("a QC from another chain or epoch does not verify") {
    Net later = make_net(4, 1);
    CHECK_FALSE(verify_qc(later.set, *qc).is_ok());
    auto other_chain = ValidatorSet::create("other-chain", 0,
                                            {{"a", net.keys[0].public_key()},
                                             {"b", net.keys[1].public_key()},
                                             {"c", net.keys[2].public_key()},
                                             {"d", net.keys[3].public_key()}});
    REQUIRE(other_chain.is_ok());
    CHECK_FALSE(verify_qc(*other_chain, *qc).is_ok());
  }
}

TEST_CASE("the genesis QC is the only unsigned certificate") {
  Net net = make_net(4);
  CHECK(verify_qc(net.set, genesis_qc()).is_ok());
  v1::QuorumCert fake = genesis_qc();
  fake.set_round(3);
  CHECK_FALSE(verify_qc(net.set, fake).is_ok());
}

TEST_CASE("a TC carries the highest QC its timeouts reported") {
  Net net = make_net(4);
  Hash256 a = crypto::sha256(as_bytes("a")), b = crypto::sha256(as_bytes("b"));
  auto qc3 = assemble_qc(net.set, votes_for(net, 3, 3, a));
  auto qc4 = assemble_qc(net.set, votes_for(net, 3, 4, b));
  REQUIRE(qc3.is_ok());
  REQUIRE(qc4.is_ok());
  std::vector<v1::TimeoutVote> timeouts = {make_timeout(net.set, net.keys[0], 6, *qc3),
                                           make_timeout(net.set, net.keys[1], 6, *qc4),
                                           make_timeout(net.set, net.keys[2], 6, *qc3)};
  auto tc = assemble_tc(net.set, timeouts);
  REQUIRE(tc.is_ok());
  CHECK(tc->high_qc().round() == 4);
  CHECK(verify_tc(net.set, *tc).is_ok());

  v1::TimeoutCert lying = *tc;
  *lying.mutable_high_qc() = *qc3;  // hides the newer QC
  CHECK_FALSE(verify_tc(net.set, lying).is_ok());
  v1::TimeoutCert short_tc = *tc;
  short_tc.mutable_signatures()->RemoveLast();
  CHECK_FALSE(verify_tc(net.set, short_tc).is_ok());
  v1::TimeoutCert bumped = *tc;
  bumped.mutable_signatures(0)->set_high_qc_round(5);  // not what was signed
  CHECK_FALSE(verify_tc(net.set, bumped).is_ok());
  // A timeout whose high QC is not older than its round is meaningless.
  CHECK_FALSE(verify_timeout(net.set, make_timeout(net.set, net.keys[0], 4, *qc4)).is_ok());
}

TEST_CASE("commit proofs: header, child at round+1, QC of the child") {
  Net net = make_net(4);
  Bytes h = header_bytes(7, 10, crypto::sha256(as_bytes("parent")));
  Hash256 id = block_id(h);
  Bytes child = header_bytes(8, 11, id);
  auto qc = assemble_qc(net.set, votes_for(net, 3, 11, block_id(child)));
  REQUIRE(qc.is_ok());
  auto header = verify_commit_proof(net.set, make_commit_proof(h, child, *qc));
  REQUIRE(header.is_ok());
  CHECK(header->height() == 7);
  CHECK(header->log_size() == 70);

  SUBCASE("a child two rounds later proves certification, not commitment") {
    Bytes late = header_bytes(8, 12, id);
    auto late_qc = assemble_qc(net.set, votes_for(net, 3, 12, block_id(late)));
    REQUIRE(late_qc.is_ok());
    CHECK_FALSE(verify_commit_proof(net.set, make_commit_proof(h, late, *late_qc)).is_ok());
  }
  SUBCASE("mismatched QC, child or header") {
    auto other_qc = assemble_qc(net.set, votes_for(net, 3, 11, crypto::sha256(as_bytes("x"))));
    REQUIRE(other_qc.is_ok());
    CHECK_FALSE(verify_commit_proof(net.set, make_commit_proof(h, child, *other_qc)).is_ok());
    Bytes stranger = header_bytes(8, 11, crypto::sha256(as_bytes("elsewhere")));
    CHECK_FALSE(verify_commit_proof(net.set, make_commit_proof(h, stranger, *qc)).is_ok());
    Bytes tampered = h;
    tampered.back() ^= 1;
    CHECK_FALSE(verify_commit_proof(net.set, make_commit_proof(tampered, child, *qc)).is_ok());
  }
  SUBCASE("a short QC or one from other keys") {
    v1::QuorumCert short_qc = *qc;
    short_qc.mutable_signatures()->RemoveLast();
    CHECK_FALSE(verify_commit_proof(net.set, make_commit_proof(h, child, short_qc)).is_ok());
    Net strangers = make_net(7);
    auto foreign = ValidatorSet::create("test-chain", 0,
                                        {{"x", strangers.keys[4].public_key()},
                                         {"y", strangers.keys[5].public_key()},
                                         {"z", strangers.keys[6].public_key()},
                                         {"w", strangers.keys[3].public_key()}});
    REQUIRE(foreign.is_ok());
    CHECK_FALSE(verify_commit_proof(*foreign, make_commit_proof(h, child, *qc)).is_ok());
  }
  SUBCASE("a non-canonical header is rejected") {
    Bytes padded = h;
    padded.push_back(0x08);  // an extra varint field 1 appended: re-encodes differently
    padded.push_back(0x01);
    CHECK_FALSE(verify_commit_proof(net.set, make_commit_proof(padded, child, *qc)).is_ok());
  }
}

TEST_CASE("signature memo: a vote's signature is verified once, a forged one every time") {
  Net net = make_net(4);
  Hash256 id = crypto::sha256(as_bytes("block"));
  std::vector<v1::Vote> votes = votes_for(net, 3, 7, id);
  SignatureMemo memo;
  for (const v1::Vote& v : votes) REQUIRE(verify_vote(net.set, v, &memo).is_ok());
  CHECK(memo.hits() == 0);
  // The QC assembled from those votes and the same QC arriving in a
  // proposal are answered from the memo.
  auto qc = assemble_qc(net.set, votes, &memo);
  REQUIRE(qc.is_ok());
  CHECK(memo.hits() == 3);
  CHECK(verify_qc(net.set, *qc, &memo).is_ok());
  CHECK(memo.hits() == 6);

  // A forged signature misses the memo (its key covers the signature) and
  // fails, however often it comes, and is never remembered.
  v1::QuorumCert forged = *qc;
  std::string sig = forged.signatures(1).signature();
  sig[0] = static_cast<char>(sig[0] ^ 1);
  forged.mutable_signatures(1)->set_signature(sig);
  CHECK_FALSE(verify_qc(net.set, forged, &memo).is_ok());
  CHECK_FALSE(verify_qc(net.set, forged, &memo).is_ok());
  // The same signature over another round is another key.
  v1::Vote replayed = votes[0];
  replayed.set_round(8);
  CHECK_FALSE(verify_vote(net.set, replayed, &memo).is_ok());

  // A replica's own vote is remembered without a check; a fourth voter's
  // vote for the same block is verified when it comes.
  SignatureMemo own;
  v1::Vote mine = make_vote(net.set, net.keys[3], 7, id);
  own.add_own_vote(net.set, mine);
  CHECK(verify_vote(net.set, mine, &own).is_ok());
  CHECK(own.hits() == 1);

  // Bounded: the oldest keys are forgotten first.
  SignatureMemo small(2);
  for (const v1::Vote& v : votes) REQUIRE(verify_vote(net.set, v, &small).is_ok());
  CHECK(verify_vote(net.set, votes[0], &small).is_ok());
  CHECK(small.hits() == 0);
  CHECK(verify_vote(net.set, votes[2], &small).is_ok());
  CHECK(small.hits() == 1);
}
