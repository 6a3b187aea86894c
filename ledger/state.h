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
//
// Rules (docs/ledger.md has the full list):
// - An anchor with version 0 gets the dataset's latest version + 1 (1 for a
//   new dataset); an explicit version must be greater than the latest (gaps
//   allowed, so an agency can mirror its own numbering); anything else is
//   kVersionConflict.
// - derived_from must name dataset versions already anchored (earlier in the
//   log or earlier in the same block); a given digest must match the anchored
//   one. Lineage is therefore acyclic by construction.
// - An access event must name an anchored dataset (version 0) or an anchored
//   version; any agency with the recorder role may record access to any
//   dataset, because the accessor is the one who records.
// - Epochs: a block's epoch is the head's epoch, or head epoch + 1 if and only
//   if governance left a pending validator set; applying that block installs
//   the pending set. Header validator_set_hash is the hash of the block's epoch
//   set, and the proposer must belong to it.
//
// Index layout (all integers u64 big-endian; ‖ is concatenation):
//   kMeta         "chain_id" -> chain id; "head" -> ChainHead; "genesis" -> Genesis;
//                 "state_format" -> kStateFormat (the layout version of this list)
//   kBlocks       height -> StoredBlock (header, transaction count: the Block's
//                 transactions are its entries', see read_block);
//                 kBlockHashes header hash -> height
//   kEntries      index -> Entry bytes
//   kEntryByHash  SHA-256(tx bytes) -> index;  'b' ‖ SHA-256(body) -> index
//   kDatasetVersions  dataset ‖ 0x00 ‖ version -> index ‖ 32-byte digest
//   kDatasetEvents    dataset ‖ 0x00 ‖ index -> u8 kind (1 anchor, 2 access) ‖ version
//   kDatasetHeads dataset -> latest version ‖ (newest event index + 1, 0 = none):
//                 one point read per transaction instead of two reverse scans
//   kLineageUp    child ‖ 0x00 ‖ cver ‖ parent ‖ 0x00 ‖ pver -> ""
//   kLineageDown  parent ‖ 0x00 ‖ pver ‖ child ‖ 0x00 ‖ cver -> ""
//   kDigest       digest ‖ index -> "";   kAgency agency ‖ 0x00 ‖ index -> ""
//   kMerkle       see merkle_log.h;  kRegistry see registry.h
// Thread-safety: pure functions of their arguments.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "crypto/bytes.h"
#include "crypto/status.h"
#include "ledger/kv.h"
#include "ledger/proto/ledger.pb.h"
#include "ledger/tx.h"

namespace prov::ledger {

// Where the chain stands: read from kMeta.
struct Head {
  std::string chain_id;
  uint64_t height = 0;      // 0 = genesis applied, no block yet
  Hash256 block_hash;       // SHA-256 of the head header bytes (zeros at height 0)
  uint64_t log_size = 0;
  Hash256 log_root;         // RFC 9162 root of the log at log_size
  uint64_t epoch = 0;
  Hash256 validator_set_hash;
  int64_t time_ms = 0;      // head block time (genesis_time_ms at height 0)
};

// Reads the head; kNotFound if genesis was never applied.
Result<Head> read_head(const KvReader& state);

// A committed block as kBlocks keeps it: the header and its transaction count.
struct StoredBlockInfo {
  Bytes header_bytes;
  v1::BlockHeader header;
  uint64_t tx_count = 0;
};
// nullopt if there is no block at `height`; corruption if the record or its
// header does not decode.
Result<std::optional<StoredBlockInfo>> read_stored_block(const KvReader& state, uint64_t height);
// The exact Block bytes committed at `height` (as proposed and sent), rebuilt
// from the stored header and the transactions of the block's entries;
// nullopt if there is no block at `height`.
Result<std::optional<Bytes>> read_block(const KvReader& state, uint64_t height);
// What block sync and block retrieval answer with: the committed blocks
// `from`..`last` (read_block) and their stored commit proofs, oldest first,
// handed to `visit` until it returns false, a height lacks either, or the
// next block and proof would take the answer past `max_bytes` (the first one
// always goes: one block and its proof fit a peer frame).
using CommittedBlockVisitor = std::function<bool(const Bytes& block, const Bytes& commit_proof)>;
void read_committed_blocks(const KvReader& state, uint64_t from, uint64_t last, size_t max_bytes,
                           const CommittedBlockVisitor& visit);

// The index layout version apply_genesis records. A store written with
// another layout is refused by check_state_format, never silently misread.
inline constexpr std::string_view kStateFormat = "4";
// OK for a store without genesis or with this build's layout; otherwise
// kInvalidArgument naming the store's format.
Status check_state_format(const KvReader& state);

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
  std::vector<Hash256> tx_hashes;  // SHA-256 of each transaction's bytes, in block order
};

// Builds the next block on top of the head of `state` from transactions the
// caller already admitted; computes the header (parent, log size and root,
// payload hash) and the writes. Fails if any transaction is invalid against
// `state` plus the transactions before it in the block.
Result<AppliedBlock> build_block(const KvReader& state, const BlockTemplate& tmpl, const std::vector<Bytes>& txs);

// As build_block, but transactions that are invalid at their position are
// left out and reported in `dropped` (position in `txs`, reason) instead of
// failing the block: what a proposer uses on its mempool.
//
// `decoded`, if given, answers with transactions this node decoded already
// (at admission), by SHA-256 of their bytes: execution takes them instead
// of decoding again, once their bytes compare equal (apply_block too).
using DecodedLookup = std::function<const DecodedTx*(const Hash256& tx_hash)>;
Result<AppliedBlock> build_block_filtered(const KvReader& state, const BlockTemplate& tmpl,
                                          const std::vector<Bytes>& txs,
                                          std::vector<std::pair<size_t, Rejected>>* dropped,
                                          const DecodedLookup* decoded = nullptr);

// Validates `block_bytes` as the next block on top of the head of `state`
// (parent hash, height, chain id, epoch, validator-set hash, payload hash,
// every transaction, and the header's log size and root) and returns its
// writes. Rejections name what was wrong.
Result<AppliedBlock> apply_block(const KvReader& state, ByteView block_bytes, const DecodedLookup* decoded = nullptr);

// Full admission check of one transaction against the head of `state` as if
// it were the first transaction of the next block (mempool admission).
// Checks of many transactions against one unchanging state may share `ctx`.
TxResult<DecodedTx> check_transaction(const KvReader& state, ByteView tx_bytes, TxContext* ctx = nullptr);

// Largest Block envelope accepted for `params` (header, framing and
// max_block_bytes of transactions), checked before parsing.
size_t max_block_envelope_bytes(const v1::ConsensusParams& params);

// Index keys and values (see the layout above), shared with queries.
inline constexpr uint8_t kEventAnchor = 1;
inline constexpr uint8_t kEventAccess = 2;
inline constexpr std::string_view kMetaHead = "head";
inline constexpr std::string_view kMetaGenesis = "genesis";
inline constexpr std::string_view kMetaStateFormat = "state_format";
Bytes dataset_prefix(std::string_view dataset);  // dataset ‖ 0x00
Bytes lineage_key(std::string_view from, uint64_t from_version, std::string_view to, uint64_t to_version);
// Splits the `to` half of a lineage key after its `from` prefix.
bool parse_dataset_version(ByteView key, std::string* dataset, uint64_t* version);

}  // namespace prov::ledger
