#include "ledger/state.h"

#include <algorithm>
#include <span>

#include "crypto/merkle.h"
#include "crypto/sha256.h"
#include "ledger/merkle_log.h"
#include "ledger/registry.h"

namespace prov::ledger {

namespace {

constexpr size_t kMaxChainIdBytes = 255;  // signed as u8 len ‖ chain id

Rejected reject(Rejection r, std::string m) { return Rejected{r, std::move(m)}; }
Rejected state_failure(const Status& s) { return reject(Rejection::kStateUnavailable, s.to_string()); }

Bytes hash_key(const Hash256& h) { return Bytes(h.bytes.begin(), h.bytes.end()); }

// Where the transaction being executed lands.
struct EntryPlace {
  uint64_t index;
  uint64_t height;
  int64_t time_ms;
};

// Where a dataset stands: its latest anchored version and newest event. One
// point read per transaction (kDatasetHeads) instead of two reverse scans of
// the version and event indexes.
struct DatasetHead {
  uint64_t latest_version = 0;         // 0: never anchored
  std::optional<uint64_t> last_event;  // entry index of the newest anchor or access
};

Result<DatasetHead> read_dataset_head(const KvReader& state, std::string_view dataset) {
  PROV_ASSIGN_OR_RETURN(auto raw, state.get(Column::kDatasetHeads, as_bytes(dataset)));
  DatasetHead head;
  if (!raw) return head;
  if (raw->size() != 16) return Status::corruption("dataset head record size");
  head.latest_version = get_u64_be(raw->data());
  uint64_t next_event = get_u64_be(raw->data() + 8);
  if (next_event > 0) head.last_event = next_event - 1;
  return head;
}

void put_dataset_head(WriteSet& w, std::string_view dataset, uint64_t latest_version, uint64_t last_event) {
  Bytes v;
  v.reserve(16);
  put_u64_be(v, latest_version);
  put_u64_be(v, last_event + 1);
  w.put(Column::kDatasetHeads, as_bytes(dataset), v);
}

// The kDatasetVersions value (index ‖ digest) of dataset@version, if anchored.
Result<std::optional<Bytes>> version_record(const KvReader& state, std::string_view dataset, uint64_t version) {
  return state.get(Column::kDatasetVersions, string_key(dataset, version));
}

void put_event(WriteSet& w, std::string_view dataset, uint64_t index, uint8_t kind, uint64_t version) {
  Bytes v(9);
  v[0] = kind;
  for (int i = 0; i < 8; ++i) v[1 + static_cast<size_t>(i)] = static_cast<uint8_t>(version >> (56 - 8 * i));
  w.put(Column::kDatasetEvents, string_key(dataset, index), v);
}

v1::DatasetLink make_link(const DatasetHead& head, std::string_view dataset, uint64_t version) {
  v1::DatasetLink link;
  link.set_dataset(std::string(dataset));
  link.set_version(version);
  link.set_has_prev(head.last_event.has_value());
  link.set_prev_index(head.last_event.value_or(0));
  return link;
}

TxResult<std::monostate> check_parents(const KvReader& state, const v1::AnchorRecord& a) {
  for (const v1::DatasetRef& r : a.derived_from()) {
    auto rec = version_record(state, r.dataset(), r.version());
    if (!rec) return state_failure(rec.status());
    if (!*rec) {
      return reject(Rejection::kUnknownDataset,
                    "derived_from " + r.dataset() + "@" + std::to_string(r.version()) + " was never anchored");
    }
    if ((*rec)->size() != 40) return state_failure(Status::corruption("dataset version record size"));
    if (!r.digest().empty() && !std::equal(r.digest().begin(), r.digest().end(), (*rec)->begin() + 8)) {
      return reject(Rejection::kInvalidField, "derived_from digest differs from the anchored digest");
    }
  }
  return std::monostate{};
}

// With `entry` and `w` null only the checks run (admission).
TxResult<std::monostate> execute_anchor(const KvReader& state, const v1::AnchorRecord& a, uint64_t index,
                                        v1::Entry* entry, WriteSet* w) {
  auto head = read_dataset_head(state, a.dataset());
  if (!head) return state_failure(head.status());
  const uint64_t latest = head->latest_version;
  uint64_t version = a.version() ? a.version() : latest + 1;
  if (version <= latest) {
    return reject(Rejection::kVersionConflict,
                  "version " + std::to_string(version) + " not above latest " + std::to_string(latest));
  }
  auto parents = check_parents(state, a);
  if (!parents) return parents;
  if (!w) return std::monostate{};
  *entry->add_links() = make_link(*head, a.dataset(), version);
  put_dataset_head(*w, a.dataset(), version, index);

  Bytes rec;
  put_u64_be(rec, index);
  append(rec, a.digest());
  w->put(Column::kDatasetVersions, string_key(a.dataset(), version), rec);
  put_event(*w, a.dataset(), index, kEventAnchor, version);
  for (const v1::DatasetRef& r : a.derived_from()) {
    w->put(Column::kLineageUp, lineage_key(a.dataset(), version, r.dataset(), r.version()), {});
    w->put(Column::kLineageDown, lineage_key(r.dataset(), r.version(), a.dataset(), version), {});
  }
  Bytes digest_key = to_bytes(a.digest());
  put_u64_be(digest_key, index);
  w->put(Column::kDigest, digest_key, {});
  return std::monostate{};
}

TxResult<std::monostate> execute_access(const KvReader& state, const v1::AccessEvent& e, uint64_t index,
                                        v1::Entry* entry, WriteSet* w) {
  auto head = read_dataset_head(state, e.dataset());
  if (!head) return state_failure(head.status());
  if (e.version() == 0) {
    if (head->latest_version == 0) {
      return reject(Rejection::kUnknownDataset, "dataset " + e.dataset() + " was never anchored");
    }
  } else {
    auto rec = version_record(state, e.dataset(), e.version());
    if (!rec) return state_failure(rec.status());
    if (!*rec) {
      return reject(Rejection::kUnknownDataset, e.dataset() + "@" + std::to_string(e.version()) + " was never anchored");
    }
  }
  if (!w) return std::monostate{};
  *entry->add_links() = make_link(*head, e.dataset(), e.version());
  put_event(*w, e.dataset(), index, kEventAccess, e.version());
  put_dataset_head(*w, e.dataset(), head->latest_version, index);
  return std::monostate{};
}

// Validates and executes one decoded transaction on `state` (which already
// holds the block's earlier writes); on success adds its writes to `w` and
// returns the entry's leaf hash. With `w` null it only decides (admission):
// the same rejections, nothing built, a zero hash.
TxResult<Hash256> execute_tx(const KvReader& state, const DecodedTx& tx, const EntryPlace& at, WriteSet* w,
                             TxContext& ctx) {
  auto valid = validate_transaction(state, tx, &ctx);
  if (!valid) return valid.rejected();
  v1::Entry entry;
  if (w) {
    entry.set_version(1);
    entry.set_index(at.index);
    entry.set_height(at.height);
    entry.set_block_time_ms(at.time_ms);
    entry.set_tx(to_string(tx.bytes));
  }
  v1::Entry* built = w ? &entry : nullptr;
  TxResult<std::monostate> done = std::monostate{};
  if (tx.body.has_anchor()) {
    done = execute_anchor(state, tx.body.anchor(), at.index, built, w);
  } else if (tx.body.has_access()) {
    done = execute_access(state, tx.body.access(), at.index, built, w);
  } else {
    WriteSet scratch;  // governance writes go nowhere when only deciding
    Status s = apply_governance_action(state, tx.action, tx.action_hash, w ? *w : scratch);
    if (!s.is_ok()) done = state_failure(s);
  }
  if (!done) return done.rejected();
  if (!w) return Hash256{};
  Bytes index_key = u64_key(at.index);
  Bytes entry_bytes = serialize(entry);
  w->put(Column::kEntries, index_key, entry_bytes);
  // Both keys, always together: check_duplicate reads only the second.
  w->put(Column::kEntryByHash, hash_key(tx.tx_hash), index_key);
  w->put(Column::kEntryByHash, entry_body_hash_key(tx.body_hash), index_key);
  w->put(Column::kAgency, string_key(tx.body.agency(), at.index), {});
  return crypto::merkle::hash_leaf(entry_bytes);
}

// Decodes (or takes from `decoded`), validates and executes `tx_bytes` at
// `at` on state + w; on success its writes join `w`, on rejection `w` is
// unchanged. A governance transaction that executes changes the registry, so
// `ctx` starts afresh after it. `tx_hash` receives SHA-256(tx_bytes).
TxResult<Hash256> run_tx(const KvReader& state, ByteView tx_bytes, const EntryPlace& at, WriteSet& w, TxContext& ctx,
                         const DecodedLookup* decoded, Hash256* tx_hash) {
  Overlay view(state, w);
  if (Status st = ctx.load(view); !st.is_ok()) return state_failure(st);
  const uint32_t max_tx_bytes = ctx.params().max_tx_bytes();
  const DecodedTx* tx = nullptr;
  if (decoded && *decoded && tx_bytes.size() <= max_tx_bytes) {
    // Decoded at admission from these very bytes (compared, not only
    // hashed); the size bound is today's, not admission's.
    tx = (*decoded)(crypto::sha256(tx_bytes));
    if (tx && !std::equal(tx->bytes.begin(), tx->bytes.end(), tx_bytes.begin(), tx_bytes.end())) tx = nullptr;
  }
  TxResult<DecodedTx> fresh = Rejected{};
  if (!tx) {
    fresh = decode_transaction(tx_bytes, max_tx_bytes);
    if (!fresh) return fresh.rejected();
    tx = &fresh.value();
  }
  WriteSet own;
  auto leaf = execute_tx(view, *tx, at, &own, ctx);
  if (leaf) {
    w.merge(std::move(own));
    *tx_hash = tx->tx_hash;
    if (tx->body.has_governance()) ctx.reset();
  }
  return leaf;
}

Status tx_status(size_t i, const Rejected& r) {
  Status s = r.to_status();
  return Status(s.code(), "tx " + std::to_string(i) + ": " + s.message());
}

// Everything a block's header commits to, computed from the head and the
// block's contents.
struct Execution {
  Head head;
  v1::BlockHeader header;  // all fields but round, proposer and time filled in by the caller
  WriteSet writes;
  std::vector<size_t> included;  // positions of the transactions actually included
  std::vector<Hash256> tx_hashes;  // SHA-256 of each included transaction, in block order
};

// Installs the pending validator set if `epoch` starts a new epoch.
Status enter_epoch(const KvReader& state, const Head& head, uint64_t epoch, WriteSet& w) {
  if (epoch == head.epoch) return Status::ok();
  if (epoch != head.epoch + 1) return Status::invalid_argument("epoch must be the head's or the next");
  PROV_ASSIGN_OR_RETURN(auto pending, pending_validators(state));
  if (!pending) return Status::invalid_argument("no pending validator set: the epoch can not change");
  pending->set_epoch(epoch);
  w.put(Column::kRegistry, as_bytes(kRegistryValidatorSet), serialize(*pending));
  w.erase(Column::kRegistry, as_bytes(kRegistryNextValidatorSet));
  return Status::ok();
}

// Runs the block-level checks and every transaction. With `dropped` set,
// invalid transactions are skipped and reported; otherwise the first one
// fails the block.
Result<Execution> execute_block(const KvReader& base, const BlockTemplate& tmpl, std::span<const ByteView> txs,
                                std::vector<std::pair<size_t, Rejected>>* dropped, const DecodedLookup* decoded) {
  // `base` does not change while the block executes: every transaction's
  // reads of the head, parameters and registry come from one memo.
  CachingReader state(base);
  Execution ex;
  PROV_ASSIGN_OR_RETURN(ex.head, read_head(state));
  PROV_ASSIGN_OR_RETURN(v1::ConsensusParams params, consensus_params(state));
  if (txs.size() > params.max_block_txs()) return Status::resource_exhausted("too many transactions in block");
  size_t total_bytes = 0;
  for (ByteView tx : txs) total_bytes += tx.size();
  if (total_bytes > params.max_block_bytes()) return Status::resource_exhausted("block transactions too large");
  if (tmpl.time_ms < ex.head.time_ms) return Status::invalid_argument("block time before parent time");
  PROV_RETURN_IF_ERROR(enter_epoch(state, ex.head, tmpl.epoch, ex.writes));
  Overlay view(state, ex.writes);
  PROV_ASSIGN_OR_RETURN(v1::ValidatorSet vset, current_validators(view));
  if (!find_validator(vset, tmpl.proposer)) return Status::permission_denied("proposer is not a validator of the epoch");

  uint64_t height = ex.head.height + 1;
  std::vector<Hash256> leaves;
  leaves.reserve(txs.size());
  ex.included.reserve(txs.size());
  ex.tx_hashes.reserve(txs.size());
  crypto::merkle::MemoryTree payload;
  TxContext ctx;  // loaded by the first transaction, after the epoch's writes
  for (size_t i = 0; i < txs.size(); ++i) {
    EntryPlace at{ex.head.log_size + leaves.size(), height, tmpl.time_ms};
    Hash256 tx_hash;
    auto leaf = run_tx(state, txs[i], at, ex.writes, ctx, decoded, &tx_hash);
    if (!leaf) {
      if (!dropped) return tx_status(i, leaf.rejected());
      dropped->emplace_back(i, leaf.rejected());
      continue;
    }
    leaves.push_back(leaf.value());
    payload.append(txs[i]);
    ex.included.push_back(i);
    ex.tx_hashes.push_back(tx_hash);
  }
  PROV_RETURN_IF_ERROR(log_append(state, ex.head.log_size, leaves, ex.writes));
  uint64_t log_size = ex.head.log_size + leaves.size();
  PROV_ASSIGN_OR_RETURN(Hash256 log_root_after, log_root(Overlay(state, ex.writes), log_size));

  v1::BlockHeader& h = ex.header;
  h.set_version(1);
  h.set_chain_id(ex.head.chain_id);
  h.set_height(height);
  h.set_parent_hash(to_string(ex.head.block_hash));
  h.set_epoch(tmpl.epoch);
  h.set_round(tmpl.round);
  h.set_validator_set_hash(to_string(validator_set_hash(vset.validators())));
  h.set_log_size(log_size);
  h.set_log_root(to_string(log_root_after));
  h.set_time_ms(tmpl.time_ms);
  h.set_proposer(to_string(tmpl.proposer));
  h.set_payload_hash(to_string(payload.root()));
  return ex;
}

// Adds the block, its hash and the new head to the writes.
AppliedBlock finish_block(Execution ex, Bytes header_bytes, Bytes block_bytes) {
  AppliedBlock out;
  out.block_hash = crypto::sha256(header_bytes);
  out.header = ex.header;
  out.writes = std::move(ex.writes);
  out.tx_hashes = std::move(ex.tx_hashes);
  v1::StoredBlock stored;
  stored.set_header(to_string(header_bytes));
  stored.set_tx_count(out.tx_hashes.size());
  out.writes.put(Column::kBlocks, u64_key(ex.header.height()), serialize(stored));
  out.writes.put(Column::kBlockHashes, out.block_hash, u64_key(ex.header.height()));
  v1::ChainHead head;
  head.set_version(1);
  head.set_chain_id(ex.head.chain_id);
  head.set_height(ex.header.height());
  head.set_block_hash(to_string(out.block_hash));
  head.set_log_size(ex.header.log_size());
  head.set_log_root(ex.header.log_root());
  head.set_epoch(ex.header.epoch());
  head.set_validator_set_hash(ex.header.validator_set_hash());
  head.set_time_ms(ex.header.time_ms());
  out.writes.put(Column::kMeta, as_bytes(kMetaHead), serialize(head));
  out.header_bytes = std::move(header_bytes);
  out.block_bytes = std::move(block_bytes);
  return out;
}

Result<AppliedBlock> build(const KvReader& state, const BlockTemplate& tmpl, const std::vector<Bytes>& txs,
                           std::vector<std::pair<size_t, Rejected>>* dropped, const DecodedLookup* decoded) {
  std::vector<ByteView> views(txs.begin(), txs.end());
  PROV_ASSIGN_OR_RETURN(Execution ex, execute_block(state, tmpl, views, dropped, decoded));
  Bytes header_bytes = serialize(ex.header);
  v1::Block block;
  block.set_header(to_string(header_bytes));
  for (size_t i : ex.included) block.add_txs(to_string(txs[i]));
  Bytes block_bytes = serialize(block);
  return finish_block(std::move(ex), std::move(header_bytes), std::move(block_bytes));
}

// Header fields that must match what the replica computes itself.
Status compare_header(const v1::BlockHeader& got, const v1::BlockHeader& want) {
  if (got.chain_id() != want.chain_id()) return Status::invalid_argument("wrong chain id");
  if (got.height() != want.height()) return Status::invalid_argument("height is not head + 1");
  if (got.parent_hash() != want.parent_hash()) return Status::verification_failed("parent hash mismatch");
  if (got.validator_set_hash() != want.validator_set_hash()) {
    return Status::verification_failed("validator set hash mismatch");
  }
  if (got.payload_hash() != want.payload_hash()) return Status::verification_failed("payload hash mismatch");
  if (got.log_size() != want.log_size()) return Status::verification_failed("log size mismatch");
  if (got.log_root() != want.log_root()) return Status::verification_failed("log root mismatch");
  return Status::ok();
}

}  // namespace

size_t max_block_envelope_bytes(const v1::ConsensusParams& params) {
  // Each repeated bytes field costs at most 1 tag byte and 5 length bytes.
  constexpr size_t kFramingPerTxBytes = 6;
  return params.max_block_bytes() + kMaxHeaderBytes + kFramingPerTxBytes * (params.max_block_txs() + 1);
}

Bytes dataset_prefix(std::string_view dataset) {
  Bytes p = to_bytes(dataset);
  p.push_back(0x00);
  return p;
}

Bytes lineage_key(std::string_view from, uint64_t from_version, std::string_view to, uint64_t to_version) {
  Bytes k = string_key(from, from_version);
  append(k, string_key(to, to_version));
  return k;
}

bool parse_dataset_version(ByteView key, std::string* dataset, uint64_t* version) {
  if (key.size() < 10) return false;
  size_t name_len = key.size() - 9;
  if (key[name_len] != 0x00) return false;
  ByteView name = key.subspan(0, name_len);
  if (std::find(name.begin(), name.end(), 0x00) != name.end()) return false;
  *dataset = to_string(name);
  *version = get_u64_be(key.data() + name_len + 1);
  return true;
}

Result<Head> read_head(const KvReader& state) {
  PROV_ASSIGN_OR_RETURN(auto raw, state.get(Column::kMeta, as_bytes(kMetaHead)));
  if (!raw) return Status::not_found("no head: genesis was never applied");
  v1::ChainHead h;
  if (!h.ParseFromArray(raw->data(), static_cast<int>(raw->size()))) return Status::corruption("undecodable head");
  Head out;
  out.chain_id = h.chain_id();
  out.height = h.height();
  out.log_size = h.log_size();
  out.epoch = h.epoch();
  out.time_ms = h.time_ms();
  if (!out.block_hash.assign(as_bytes(h.block_hash())) || !out.log_root.assign(as_bytes(h.log_root())) ||
      !out.validator_set_hash.assign(as_bytes(h.validator_set_hash()))) {
    return Status::corruption("head hash of the wrong size");
  }
  return out;
}

Result<std::optional<StoredBlockInfo>> read_stored_block(const KvReader& state, uint64_t height) {
  PROV_ASSIGN_OR_RETURN(auto raw, state.get(Column::kBlocks, u64_key(height)));
  if (!raw) return std::optional<StoredBlockInfo>();
  v1::StoredBlock stored;
  if (!parse_canonical(*raw, stored)) return Status::corruption("stored block " + std::to_string(height));
  auto header = decode_header(as_bytes(stored.header()));
  if (!header) return Status::corruption("stored block " + std::to_string(height) + ": " + header.status().message());
  if (header->height() != height || header->log_size() < stored.tx_count()) {
    return Status::corruption("stored block " + std::to_string(height) + ": header disagrees");
  }
  StoredBlockInfo info;
  info.header_bytes = to_bytes(stored.header());
  info.header = std::move(header).value();
  info.tx_count = stored.tx_count();
  return std::optional<StoredBlockInfo>(std::move(info));
}

Result<std::optional<Bytes>> read_block(const KvReader& state, uint64_t height) {
  PROV_ASSIGN_OR_RETURN(auto info, read_stored_block(state, height));
  if (!info) return std::optional<Bytes>();
  const uint64_t first = info->header.log_size() - info->tx_count;
  v1::Block block;
  block.set_header(to_string(info->header_bytes));
  Status bad = Status::ok();
  uint64_t next = first;
  PROV_RETURN_IF_ERROR(state.scan(Column::kEntries, {}, u64_key(first), info->tx_count, [&](ByteView key, ByteView value) {
    auto entry = decode_entry(value);
    if (key.size() != 8 || get_u64_be(key.data()) != next || !entry || entry->index() != next) {
      bad = Status::corruption("entry " + std::to_string(next) + " of block " + std::to_string(height));
      return false;
    }
    block.add_txs(entry->tx());
    ++next;
    return true;
  }));
  PROV_RETURN_IF_ERROR(bad);
  if (next != first + info->tx_count) {
    return Status::corruption("block " + std::to_string(height) + " is missing entry " + std::to_string(next));
  }
  return std::optional<Bytes>(serialize(block));
}

void read_committed_blocks(const KvReader& state, uint64_t from, uint64_t last, size_t max_bytes,
                           const CommittedBlockVisitor& visit) {
  size_t bytes = 0;
  for (uint64_t h = from; h >= 1 && h <= last; ++h) {  // height 0 is genesis, not a block
    auto block = read_block(state, h);
    auto proof = state.get(Column::kCommitProofs, u64_key(h));
    if (!block || !*block || !proof || !*proof) return;
    size_t next = (*block)->size() + (*proof)->size();
    if (h > from && bytes + next > max_bytes) return;
    bytes += next;
    if (!visit(**block, **proof)) return;
  }
}

Status check_state_format(const KvReader& state) {
  PROV_ASSIGN_OR_RETURN(auto head, state.get(Column::kMeta, as_bytes(kMetaHead)));
  if (!head) return Status::ok();
  PROV_ASSIGN_OR_RETURN(auto format, state.get(Column::kMeta, as_bytes(kMetaStateFormat)));
  std::string got = format ? to_string(*format) : "1";
  if (got == kStateFormat) return Status::ok();
  return Status::invalid_argument("the store's state format is " + got + ", this build reads format " +
                                     std::string(kStateFormat) +
                                     ": it was written by another provd version; move the data dir aside and let "
                                     "the node sync from its peers");
}

Result<WriteSet> apply_genesis(const v1::Genesis& genesis) {
  if (genesis.chain_id().empty() || genesis.chain_id().size() > kMaxChainIdBytes) {
    return Status::invalid_argument("chain id must be 1..255 bytes");
  }
  WriteSet w;
  PROV_RETURN_IF_ERROR(write_genesis_registry(genesis, w));
  v1::ChainHead head;
  head.set_version(1);
  head.set_chain_id(genesis.chain_id());
  head.set_block_hash(std::string(32, '\0'));
  head.set_log_root(to_string(crypto::merkle::empty_root()));
  head.set_validator_set_hash(to_string(validator_set_hash(genesis.validators())));
  head.set_time_ms(genesis.genesis_time_ms());
  w.put(Column::kMeta, as_bytes(kMetaChainId), as_bytes(genesis.chain_id()));
  w.put(Column::kMeta, as_bytes(kMetaHead), serialize(head));
  w.put(Column::kMeta, as_bytes(kMetaGenesis), serialize(genesis));
  w.put(Column::kMeta, as_bytes(kMetaStateFormat), as_bytes(kStateFormat));
  return w;
}

Result<AppliedBlock> build_block(const KvReader& state, const BlockTemplate& tmpl, const std::vector<Bytes>& txs) {
  return build(state, tmpl, txs, nullptr, nullptr);
}

Result<AppliedBlock> build_block_filtered(const KvReader& state, const BlockTemplate& tmpl,
                                          const std::vector<Bytes>& txs,
                                          std::vector<std::pair<size_t, Rejected>>* dropped,
                                          const DecodedLookup* decoded) {
  std::vector<std::pair<size_t, Rejected>> ignored;
  return build(state, tmpl, txs, dropped ? dropped : &ignored, decoded);
}

Result<AppliedBlock> apply_block(const KvReader& state, ByteView block_bytes, const DecodedLookup* decoded) {
  PROV_ASSIGN_OR_RETURN(v1::ConsensusParams params, consensus_params(state));
  PROV_ASSIGN_OR_RETURN(v1::Block block, decode_block(block_bytes, max_block_envelope_bytes(params)));
  PROV_ASSIGN_OR_RETURN(v1::BlockHeader header, decode_header(as_bytes(block.header())));
  BlockTemplate tmpl;
  tmpl.epoch = header.epoch();
  tmpl.round = header.round();
  tmpl.time_ms = header.time_ms();
  if (!tmpl.proposer.assign(as_bytes(header.proposer()))) return Status::invalid_argument("proposer must be 32 bytes");
  std::vector<ByteView> txs;  // views into `block`, which outlives the execution
  txs.reserve(static_cast<size_t>(block.txs_size()));
  for (const std::string& tx : block.txs()) txs.push_back(as_bytes(tx));
  PROV_ASSIGN_OR_RETURN(Execution ex, execute_block(state, tmpl, txs, nullptr, decoded));
  PROV_RETURN_IF_ERROR(compare_header(header, ex.header));
  ex.header = header;
  return finish_block(std::move(ex), to_bytes(block.header()), Bytes(block_bytes.begin(), block_bytes.end()));
}

TxResult<DecodedTx> check_transaction(const KvReader& state, ByteView tx_bytes, TxContext* ctx) {
  TxContext own;
  if (!ctx) ctx = &own;
  if (Status st = ctx->load(state); !st.is_ok()) return state_failure(st);
  auto decoded = decode_transaction(tx_bytes, ctx->params().max_tx_bytes());
  if (!decoded) return decoded;
  DecodedTx tx = std::move(decoded).value();
  // Only deciding: no entry is built, so its place in the log (which needs
  // a read of the head per transaction) plays no part in the verdict.
  auto leaf = execute_tx(state, tx, EntryPlace{}, nullptr, *ctx);
  if (!leaf) return leaf.rejected();
  tx.signature_verified = true;  // validate_transaction verified it; decoding never sets the flag
  return tx;
}

}  // namespace prov::ledger
