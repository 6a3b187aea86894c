#include "ledger/sig_cache.h"

#include <time.h>

#include <atomic>
#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <unordered_map>
#include <unordered_set>

#include "crypto/ed25519.h"
#include "crypto/sha256.h"
#include "crypto/short_hash.h"
#include "ledger/registry.h"
#include "ledger/tx.h"

namespace prov::ledger {
namespace {

// Sharded by the key's first byte so admission workers inserting and the
// consensus strand looking up rarely wait for one another.
constexpr size_t kShards = 16;
constexpr size_t kShardMaxEntries = kSigCacheMaxEntries / kShards;

struct Memo {
  std::mutex mu;
  std::unordered_set<Hash256, crypto::FixedBytesHash> known;  // O(1): a tree of 2^18 keys cost ~18 cache misses
  std::deque<Hash256> order;  // oldest first, for eviction
  // Keys being verified right now, with the verdict once known. A second
  // caller for one of them waits for that verdict instead of verifying the
  // same signature again: a transaction arriving by gossip and in a proposal
  // at once is checked by two threads at the same moment, and both missed.
  struct InFlight {
    bool done = false;
    bool valid = false;
  };
  std::unordered_map<Hash256, std::shared_ptr<InFlight>, crypto::FixedBytesHash> in_flight;
  std::condition_variable settled;  // notified when an in-flight verdict is known
  size_t hits = 0;
  size_t misses = 0;
  size_t waits = 0;
  size_t overtakes = 0;
};

Memo* shards() {
  // Never destroyed: usable from any thread until exit.
  static Memo* all = [] {
    Memo* m = new Memo[kShards];
    for (size_t i = 0; i < kShards; ++i) m[i].known.reserve(kShardMaxEntries + 1);
    return m;
  }();
  return all;
}

Memo& memo(const Hash256& key) { return shards()[key.bytes[0] % kShards]; }

std::atomic<size_t> verifications{0};
std::atomic<size_t> timed_verifications{0};
std::atomic<uint64_t> timed_verify_cpu_ns{0};

uint64_t thread_cpu_ns() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000000000u + static_cast<uint64_t>(ts.tv_nsec);
}

// Verifies, timing one call in kVerifyTimingEvery (two clock reads on a
// 50-70 us call; sampled so the clock is not read on every one).
bool timed_verify(const PublicKey& signer, std::string_view chain_id, ByteView body, const Signature& signature) {
  if (verifications.fetch_add(1, std::memory_order_relaxed) % kVerifyTimingEvery != 0) {
    return crypto::verify(signer, crypto::purpose::kTransaction, chain_id, body, signature);
  }
  uint64_t t0 = thread_cpu_ns();
  bool ok = crypto::verify(signer, crypto::purpose::kTransaction, chain_id, body, signature);
  timed_verify_cpu_ns.fetch_add(thread_cpu_ns() - t0, std::memory_order_relaxed);
  timed_verifications.fetch_add(1, std::memory_order_relaxed);
  return ok;
}

// Everything the verification depends on, hashed with unambiguous lengths.
Hash256 memo_key(const PublicKey& signer, std::string_view chain_id, ByteView body, const Signature& signature) {
  crypto::Sha256 h;
  h.update(signer.view());
  h.update(signature.view());
  Bytes len;
  put_u64_be(len, chain_id.size());
  h.update(len);
  h.update(as_bytes(chain_id));
  h.update(body);
  return h.finish();
}

}  // namespace

bool verify_tx_signature_cached(const PublicKey& signer, std::string_view chain_id, ByteView body,
                                const Signature& signature, bool wait_for_others) {
  Hash256 key = memo_key(signer, chain_id, body, signature);
  Memo& m = memo(key);
  std::shared_ptr<Memo::InFlight> mine;
  {
    std::unique_lock lock(m.mu);
    if (m.known.count(key)) {
      ++m.hits;
      return true;
    }
    if (auto it = m.in_flight.find(key); it != m.in_flight.end()) {
      if (wait_for_others) {
        // Another thread is verifying this very signature: its verdict is
        // this one's (a pure function of the key's inputs).
        std::shared_ptr<Memo::InFlight> theirs = it->second;
        ++m.waits;
        m.settled.wait(lock, [&] { return theirs->done; });
        return theirs->valid;
      }
      ++m.overtakes;  // verified below too; the other thread's entry stays its own
    } else {
      ++m.misses;
      mine = std::make_shared<Memo::InFlight>();
      m.in_flight.emplace(key, mine);
    }
  }
  bool valid = timed_verify(signer, chain_id, body, signature);
  {
    std::lock_guard lock(m.mu);
    if (mine) {
      mine->done = true;
      mine->valid = valid;
      m.in_flight.erase(key);
    }
    if (valid && m.known.insert(key).second) {
      m.order.push_back(key);
      if (m.order.size() > kShardMaxEntries) {
        m.known.erase(m.order.front());
        m.order.pop_front();
      }
    }
  }
  m.settled.notify_all();
  return valid;
}

void prime_tx_signature(ByteView tx_bytes) {
  auto tx = decode_transaction(tx_bytes, kCeilingMaxTxBytes);
  if (!tx) return;
  (void)verify_tx_signature_cached(tx->signer, tx->body.chain_id(), as_bytes(tx->envelope.body()), tx->signature,
                                   /*wait_for_others=*/false);
}

SigCacheStats sig_cache_stats() {
  SigCacheStats out;
  for (size_t i = 0; i < kShards; ++i) {
    Memo& m = shards()[i];
    std::lock_guard lock(m.mu);
    out.hits += m.hits;
    out.misses += m.misses;
    out.waits += m.waits;
    out.overtakes += m.overtakes;
    out.entries += m.known.size();
  }
  out.timed_verifications = timed_verifications.load(std::memory_order_relaxed);
  out.timed_verify_cpu_ns = timed_verify_cpu_ns.load(std::memory_order_relaxed);
  return out;
}

}  // namespace prov::ledger
