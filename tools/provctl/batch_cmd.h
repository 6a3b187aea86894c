// provctl anchor --batch: many records in one AnchorRecord transaction,
// with a proof file per record (batch_proof.h, docs/receipts.md).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "tools/provctl/common.h"

namespace prov::provctl {

// Records per batch: the in-memory tree holds 2N hashes (64 MiB per million).
inline constexpr uint64_t kMaxBatchRecords = 4'000'000;

struct BatchAnchorArgs {
  std::string batch_file;                 // FILE.ndjson
  std::string dataset;                    // may be empty if every line names it
  uint64_t version = 0;
  std::vector<std::string> derived_from;  // NS/NAME@V
  std::vector<std::string> meta;          // K=V
  std::string media_type;
  std::string receipt;                    // default FILE.ndjson.tlog-proof
  std::string proofs_dir;                 // default FILE.ndjson.proofs
  PassphraseOptions passphrase;
};

// Anchors the batch and writes the receipt and per-record proofs; an exit code.
int run_anchor_batch(const Context& ctx, const BatchAnchorArgs& args);

}  // namespace prov::provctl
