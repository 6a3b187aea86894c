// A synthetic chain of block-shaped WriteSets for the store's crash tests.
//
// Each block h writes, in one WriteSet: its entries (kEntries, index ->
// u64 height ‖ u64 index ‖ incompressible filler), an index key per entry in
// kEntryByHash (SHA-256(entry) -> index) and kDigest (hash ‖ index -> ""),
// the block record (kBlocks, h -> u64 h ‖ u64 first index ‖ u32 count ‖
// SHA-256 over the entry hashes), kBlockHashes (SHA-256(record) -> h) and the
// head in kMeta. check_chain verifies every one of those relations from the
// stored bytes alone, so a block that landed half-way is caught however the
// process died. Header-only so the kill-test helper executable shares it.
// Thread-compatible: plain functions.
#pragma once

#include <cstdint>
#include <cstring>
#include <utility>
#include <random>
#include <string>

#include "crypto/bytes.h"
#include "crypto/sha256.h"
#include "crypto/status.h"
#include "ledger/kv.h"

namespace prov::ledger::store::testing {

inline constexpr std::string_view kHeadKey = "test_head";
inline constexpr uint32_t kBlockEntriesMax = 24;
inline constexpr size_t kEntryFillerBytesMax = 1500;

struct ChainState {
  uint64_t height = 0;    // last block present (0 = none)
  uint64_t log_size = 0;  // entries present
};

// The writes of block `height` on top of `state`; the block's contents are a
// pure function of (seed, height).
inline WriteSet make_block(const ChainState& state, uint64_t seed) {
  const uint64_t height = state.height + 1;
  std::mt19937_64 rng(seed * 0x9e3779b97f4a7c15ull + height);
  const uint32_t count = 1 + static_cast<uint32_t>(rng() % kBlockEntriesMax);
  WriteSet ws;
  Bytes hashes;
  for (uint32_t i = 0; i < count; ++i) {
    const uint64_t index = state.log_size + i;
    Bytes entry;
    put_u64_be(entry, height);
    put_u64_be(entry, index);
    size_t filler = 16 + rng() % kEntryFillerBytesMax;
    for (size_t j = 0; j < filler; ++j) entry.push_back(static_cast<uint8_t>(rng()));
    Hash256 h = crypto::sha256(entry);
    append(hashes, h.view());
    ws.put(Column::kEntries, u64_key(index), entry);
    ws.put(Column::kEntryByHash, h.view(), u64_key(index));
    Bytes digest_key(h.bytes.begin(), h.bytes.end());
    append(digest_key, u64_key(index));
    ws.put(Column::kDigest, digest_key, {});
  }
  Bytes record;
  put_u64_be(record, height);
  put_u64_be(record, state.log_size);
  put_u32_be(record, count);
  append(record, crypto::sha256(hashes).view());
  ws.put(Column::kBlocks, u64_key(height), record);
  ws.put(Column::kBlockHashes, crypto::sha256(record).view(), u64_key(height));
  Bytes head;
  put_u64_be(head, height);
  put_u64_be(head, state.log_size + count);
  ws.put(Column::kMeta, as_bytes(kHeadKey), head);
  return ws;
}

// The state after applying make_block(state, seed).
inline ChainState next_state(const ChainState& state, uint64_t seed) {
  std::mt19937_64 rng(seed * 0x9e3779b97f4a7c15ull + state.height + 1);
  return {state.height + 1, state.log_size + 1 + rng() % kBlockEntriesMax};
}

namespace detail {
inline Status fail(const std::string& what) { return Status::corruption("chain check: " + what); }

inline Status check_block(const KvReader& kv, uint64_t height, uint64_t first_index, uint64_t* count_out) {
  auto rec = kv.get(Column::kBlocks, u64_key(height));
  if (!rec.is_ok()) return rec.status();
  if (!*rec) return fail("block " + std::to_string(height) + " missing below the head");
  const Bytes& r = **rec;
  if (r.size() != 8 + 8 + 4 + 32) return fail("block record size");
  if (get_u64_be(r.data()) != height) return fail("block height field");
  if (get_u64_be(r.data() + 8) != first_index) return fail("block " + std::to_string(height) + " first index");
  const uint32_t count = get_u32_be(r.data() + 16);
  Bytes hashes;
  for (uint32_t i = 0; i < count; ++i) {
    const uint64_t index = first_index + i;
    auto e = kv.get(Column::kEntries, u64_key(index));
    if (!e.is_ok()) return e.status();
    if (!*e) return fail("entry " + std::to_string(index) + " of block " + std::to_string(height) + " missing");
    const Bytes& entry = **e;
    if (entry.size() < 16 || get_u64_be(entry.data()) != height || get_u64_be(entry.data() + 8) != index) {
      return fail("entry " + std::to_string(index) + " fields");
    }
    Hash256 h = crypto::sha256(entry);
    append(hashes, h.view());
    auto by_hash = kv.get(Column::kEntryByHash, h.view());
    if (!by_hash.is_ok()) return by_hash.status();
    if (!*by_hash || **by_hash != u64_key(index)) return fail("entry_by_hash of " + std::to_string(index));
    Bytes digest_key(h.bytes.begin(), h.bytes.end());
    append(digest_key, u64_key(index));
    auto d = kv.get(Column::kDigest, digest_key);
    if (!d.is_ok()) return d.status();
    if (!*d) return fail("digest index of " + std::to_string(index));
  }
  if (!std::equal(r.begin() + 20, r.end(), crypto::sha256(hashes).bytes.begin())) return fail("block entries hash");
  auto by_hash = kv.get(Column::kBlockHashes, crypto::sha256(r).view());
  if (!by_hash.is_ok()) return by_hash.status();
  if (!*by_hash || **by_hash != u64_key(height)) return fail("block_hashes of " + std::to_string(height));
  *count_out = count;
  return Status::ok();
}

// True iff column `c` holds any key >= `from` (8-byte big-endian keys).
inline Result<bool> any_at_or_after(const KvReader& kv, Column c, uint64_t from) {
  bool found = false;
  Status s = kv.scan(c, {}, u64_key(from), 1, [&](ByteView, ByteView) {
    found = true;
    return false;
  });
  if (!s.is_ok()) return s;
  return found;
}

// Number of keys in column `c`.
inline Result<uint64_t> count_keys(const KvReader& kv, Column c) {
  uint64_t n = 0;
  Status s = kv.scan(c, {}, {}, SIZE_MAX, [&](ByteView, ByteView) {
    ++n;
    return true;
  });
  if (!s.is_ok()) return s;
  return n;
}
}  // namespace detail

// Verifies the whole chain in `kv`: blocks 1..head each fully present and
// self-consistent, entries gap-free and exactly log_size of them, nothing
// beyond the head. Returns the state, or kCorruption naming the violation.
inline Result<ChainState> check_chain(const KvReader& kv) {
  auto head = kv.get(Column::kMeta, as_bytes(kHeadKey));
  if (!head.is_ok()) return head.status();
  ChainState claimed;
  if (*head) {
    if ((*head)->size() != 16) return detail::fail("head size");
    claimed = {get_u64_be((*head)->data()), get_u64_be((*head)->data() + 8)};
  }
  uint64_t log_size = 0;
  for (uint64_t h = 1; h <= claimed.height; ++h) {
    uint64_t count = 0;
    PROV_RETURN_IF_ERROR(detail::check_block(kv, h, log_size, &count));
    log_size += count;
  }
  if (log_size != claimed.log_size) return detail::fail("head log size disagrees with the blocks");
  auto extra_block = detail::any_at_or_after(kv, Column::kBlocks, claimed.height + 1);
  if (!extra_block.is_ok()) return extra_block.status();
  if (*extra_block) return detail::fail("a block above the head is present (torn block)");
  auto extra_entry = detail::any_at_or_after(kv, Column::kEntries, log_size);
  if (!extra_entry.is_ok()) return extra_entry.status();
  if (*extra_entry) return detail::fail("an entry beyond the log size is present (torn block)");
  // Index keys of a torn block would be orphans: count them all.
  for (auto [c, want] : {std::pair{Column::kEntryByHash, log_size}, std::pair{Column::kDigest, log_size},
                         std::pair{Column::kBlockHashes, claimed.height}}) {
    auto n = detail::count_keys(kv, c);
    if (!n.is_ok()) return n.status();
    if (*n != want) return detail::fail(std::string(column_name(c)) + " holds orphan keys (torn block)");
  }
  return claimed;
}

}  // namespace prov::ledger::store::testing
