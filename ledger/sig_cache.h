// A process-wide memo of transaction signatures already verified.
//
// Ed25519 verification is a pure function of (key, purpose, chain id,
// message, signature), so remembering that a signature was valid is exactly
// as safe as checking it again. The node verifies a transaction once, at
// admission on a worker thread; executing the block that carries it on the
// consensus strand then finds it here instead of paying for the curve
// arithmetic a second time ("each transaction verified once per node").
// Bounded (oldest entries are forgotten first, per shard of 16); only valid
// results are kept. Two threads asking about the same signature at once
// verify it once: the second waits for the first one's verdict, unless it
// is in a hurry (prime_tx_signature, for a proposal's transactions): then it
// verifies the signature itself. Admission threads run at a low CPU
// priority, so waiting for one held the round up behind whatever else the
// machine was running (a priority inversion).
// Thread-safe.
#pragma once

#include <cstddef>
#include <string_view>

#include "crypto/bytes.h"

namespace prov::ledger {

inline constexpr size_t kSigCacheMaxEntries = 1u << 18;

// True iff the transaction signature verifies; consults and fills the memo.
// With `wait_for_others` false, a signature another thread is verifying
// right now is verified here as well instead of waiting for that thread.
bool verify_tx_signature_cached(const PublicKey& signer, std::string_view chain_id, ByteView body,
                                const Signature& signature, bool wait_for_others = true);

// Decodes a SignedTransaction and verifies its signature into the memo, so a
// later validation on another thread finds it there; never waits for
// another thread (see above). Invalid input is ignored: validation will
// reject it with a typed reason.
void prime_tx_signature(ByteView tx_bytes);

// Counters for tests and metrics.
struct SigCacheStats {
  size_t hits = 0;
  size_t misses = 0;   // verified here
  size_t waits = 0;    // answered by another thread's verification of the same signature
  size_t overtakes = 0;  // verified here while another thread was verifying it (not waited for)
  size_t entries = 0;
  // Every kVerifyTimingEvery-th verification (a miss) is timed in thread
  // CPU time: what one Ed25519 verification costs inside this process, under
  // whatever else the machine runs (tools/bench net compares it with the
  // ceiling it measures on an idle machine).
  size_t timed_verifications = 0;
  uint64_t timed_verify_cpu_ns = 0;
};
inline constexpr size_t kVerifyTimingEvery = 16;
SigCacheStats sig_cache_stats();

}  // namespace prov::ledger
