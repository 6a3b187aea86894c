#include <doctest/doctest.h>

#include "consensus/quorum.h"
#include "consensus/safety_rules.h"

using namespace prov::consensus;

TEST_CASE("quorum is floor(2n/3)+1 and tolerates floor((n-1)/3)") {
  CHECK(quorum_size(1) == 1);
  CHECK(quorum_size(4) == 3);
  CHECK(quorum_size(7) == 5);
  CHECK(quorum_size(10) == 7);
  CHECK(quorum_size(31) == 21);
  CHECK(max_faulty(4) == 1);
  CHECK(max_faulty(7) == 2);
  // Any two quorums overlap in more than f validators.
  for (size_t n = 1; n <= 100; ++n) CHECK(2 * quorum_size(n) - n > max_faulty(n));
}

TEST_CASE("votes only once per round and only on consecutive QCs") {
  SafetyRules rules({});
  CHECK(rules.try_vote(1, 0, std::nullopt));
  CHECK_FALSE(rules.try_vote(1, 0, std::nullopt));  // double vote in round 1
  CHECK_FALSE(rules.try_vote(3, 1, std::nullopt));  // gap without a TC
  CHECK(rules.try_vote(2, 1, std::nullopt));
  CHECK(rules.state().highest_vote_round == 2);
  CHECK(rules.state().highest_qc_round == 1);
  CHECK_FALSE(rules.try_vote(2, 1, std::nullopt));  // equivocating leader, same round
}

TEST_CASE("extending an old QC needs a TC that carries nothing newer") {
  SafetyRules rules({.epoch = 0, .highest_vote_round = 4, .highest_qc_round = 3});
  // Round 5 timed out; the TC's timeouts saw QCs up to round 4.
  CHECK_FALSE(rules.safe_to_vote(6, 3, TcSummary{5, 4}));
  CHECK(rules.safe_to_vote(6, 4, TcSummary{5, 4}));
  // A TC for the wrong round does not help.
  CHECK_FALSE(rules.safe_to_vote(6, 4, TcSummary{4, 4}));
}

TEST_CASE("timeouts never go below the locked QC round") {
  SafetyRules rules({});
  REQUIRE(rules.try_vote(5, 4, std::nullopt));
  CHECK(rules.state().highest_qc_round == 4);
  CHECK_FALSE(rules.safe_to_timeout(6, 3, TcSummary{5, 3}));  // stale high QC
  CHECK(rules.try_timeout(6, 5, std::nullopt));                // entered round 6 via QC(5)
  CHECK(rules.state().highest_vote_round == 6);
  // Having timed out round 6, no vote in round 6 any more.
  CHECK_FALSE(rules.safe_to_vote(6, 5, std::nullopt));
  CHECK(rules.safe_to_vote(7, 6, std::nullopt));
}

TEST_CASE("state survives a restart through its value") {
  SafetyRules a({});
  REQUIRE(a.try_vote(1, 0, std::nullopt));
  REQUIRE(a.try_vote(2, 1, std::nullopt));
  SafetyRules b(a.state());  // what a restarted replica loads
  CHECK(b.state() == a.state());
  CHECK_FALSE(b.try_vote(2, 1, std::nullopt));
}
