// The mempool: admitted transactions waiting for a block.
//
// Bounded in count and bytes; a full pool answers "busy" rather than grow.
// Transactions leave when committed. A transaction seen in a proposal is
// marked in flight for a while so the next leaders pull newer ones instead of
// re-proposing it while its block is still being committed; if that block is
// abandoned the mark expires and the transaction is offered again.
// Not thread-safe: owned by the consensus strand.
#pragma once

#include <cstdint>
#include <list>
#include <memory>
#include <unordered_map>
#include <vector>

#include "consensus/core.h"
#include "crypto/bytes.h"
#include "crypto/short_hash.h"
#include "ledger/tx.h"

namespace prov::node {

// How long a transaction seen in a proposal is not offered again.
inline constexpr uint64_t kInFlightMs = 3000;

class Mempool final : public consensus::PayloadSource {
 public:
  enum class Added { kAdded, kDuplicate, kFull };

  Mempool(size_t max_txs, size_t max_bytes, uint64_t in_flight_ms = kInFlightMs)
      : max_txs_(max_txs), max_bytes_(max_bytes), in_flight_ms_(in_flight_ms) {}

  // Adds an admitted transaction with hash SHA-256(tx).
  Added add(const Hash256& hash, Bytes tx);
  // Adds an admitted transaction as admission decoded it, so executing the
  // block that carries it need not decode it again (decoded()). Bytes are
  // counted as tx->bytes; the decoded form takes about three times that.
  Added add(std::unique_ptr<const ledger::DecodedTx> tx);
  const ledger::DecodedTx* decoded(const Hash256& hash) const override;
  bool contains(const Hash256& hash) const { return index_.count(hash) > 0; }
  // Forgets a committed transaction (no-op if absent) and hands back its
  // decoded form, if it had one, for the caller to free where it likes;
  // `added_ms`, if given and the transaction was here, receives when it
  // entered the pool (the set_now() clock).
  std::unique_ptr<const ledger::DecodedTx> remove(const Hash256& hash, uint64_t* added_ms = nullptr);
  // Marks a transaction seen in a proposal at time `now_ms`.
  void mark_in_flight(const Hash256& hash, uint64_t now_ms);
  // Sets the clock (milliseconds) that stamps added transactions and that
  // pull() expires in-flight marks by.
  void set_now(uint64_t now_ms) { now_ms_ = now_ms; }

  std::vector<Bytes> pull(size_t max_txs, size_t max_bytes) override;
  size_t waiting() const override { return index_.size(); }

  size_t size() const { return index_.size(); }
  size_t bytes() const { return bytes_; }

 private:
  struct Tx {
    Hash256 hash;
    Bytes raw;                                        // when added without its decoded form
    std::unique_ptr<const ledger::DecodedTx> decoded;  // holds the bytes otherwise
    uint64_t in_flight_until_ms = 0;
    uint64_t added_ms = 0;
    const Bytes& bytes() const { return decoded ? decoded->bytes : raw; }
  };
  Added insert(Tx tx);
  size_t max_txs_;
  size_t max_bytes_;
  uint64_t in_flight_ms_;
  uint64_t now_ms_ = 0;
  size_t bytes_ = 0;
  std::list<Tx> order_;  // oldest first
  std::unordered_map<Hash256, std::list<Tx>::iterator, crypto::FixedBytesHash> index_;
};

}  // namespace prov::node
