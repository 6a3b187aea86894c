// The deterministic state-transition function of the ledger.
//
// Given a consistent state (KvReader) and a block, apply_block computes every
// write the block causes — entries appended to the global Merkle log, dataset
// versions assigned, indexes and lineage edges updated — as one WriteSet. It
// performs no I/O of its own and reads nothing but `state`, so every replica
// that applies the same block to the same state gets byte-identical writes.
// Stores commit the WriteSet atomically (ledger_store: one RocksDB WriteBatch).
//
// Headers commit to the log *after* the block itself: header.log_size and
// header.log_root describe the log once this block's entries are appended.
// A proposer learns them with build_block; every other replica recomputes
// them in apply_block and rejects a block whose header disagrees.
// Thread-safety: pure functions of their arguments.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "crypto/bytes.h"
#include "crypto/status.h"
#include "ledger/kv.h"
#include "ledger/proto/ledger.pb.h"

namespace prov::ledger {

namespace v1 = ::prov::ledger::v1;

// Where the chain stands: read from kMeta.
struct Head {
  std::string chain_id;
  uint64_t height = 0;      // 0 = genesis applied, no block yet
  Hash256 block_hash;       // SHA-256 of the head header bytes (zeros at height 0)
  uint64_t log_size = 0;
  Hash256 log_root;         // RFC 9162 root of the log at log_size
  uint64_t epoch = 0;
  Hash256 validator_set_hash;
};

// Reads the head; kNotFound if genesis was never applied.
Result<Head> read_head(const KvReader& state);

// The writes that install `genesis` into an empty store (registry, params,
// head at height 0). The genesis must already be validated.
Result<WriteSet> apply_genesis(const v1::Genesis& genesis);

struct BlockTemplate {
  uint64_t epoch = 0;
  uint64_t round = 0;
  int64_t time_ms = 0;
  PublicKey proposer;
};

struct AppliedBlock {
  Bytes block_bytes;        // the Block exactly as it will be stored and sent
  Bytes header_bytes;
  Hash256 block_hash;       // SHA-256(header_bytes)
  v1::BlockHeader header;
  WriteSet writes;          // everything applying the block changes
};

// Builds the next block on top of the head of `state` from transactions the
// caller already admitted; computes the header (parent, log size and root,
// payload hash) and the writes. Fails if any transaction is invalid against
// `state` plus the transactions before it in the block.
Result<AppliedBlock> build_block(const KvReader& state, const BlockTemplate& tmpl, const std::vector<Bytes>& txs);

// Validates `block_bytes` as the next block on top of the head of `state`
// (parent hash, height, chain id, epoch, validator-set hash, payload hash,
// every transaction, and the header's log size and root) and returns its
// writes. Rejections name what was wrong.
Result<AppliedBlock> apply_block(const KvReader& state, ByteView block_bytes);

}  // namespace prov::ledger
