// Batch record proofs (docs/receipts.md, "Batch record proofs"): the proof
// that one record of a batch anchor is in the ledger.
//
// A batch anchor is one AnchorRecord whose `digest` is the RFC 9162 root of
// a Merkle tree whose leaf inputs are the records' 32-byte SHA-256 digests,
// in the order of the batch file, and whose `batch_records` is the number of
// leaves. A record's proof is text:
//
//   provledger.org/batch-record-proof@v1\n
//   record <64 lower-case hex: the record's SHA-256>\n
//   index <i>\n                      leaf index in the batch, from 0
//   size <N>\n                       = batch_records
//   <base64 hash>\n ...              RFC 9162 inclusion path, leaf's sibling first
//   \n
//   <the batch transaction's receipt (c2sp.org/tlog-proof@v1) byte for byte>
//
// Everything after the first blank line is the receipt exactly as provctl
// anchor wrote it, so it verifies on its own with any tlog-proof verifier.
// Pure functions; thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "crypto/bytes.h"
#include "crypto/status.h"
#include "ledger/receipt.h"

namespace prov::provctl {

inline constexpr std::string_view kBatchProofHeader = "provledger.org/batch-record-proof@v1";
inline constexpr size_t kMaxBatchProofHashes = 64;

struct BatchProof {
  Hash256 record;                 // the record's SHA-256 (the leaf input)
  uint64_t index = 0;
  uint64_t size = 0;
  std::vector<Hash256> path;
  std::string receipt;            // the batch transaction's tlog-proof
};

// True iff `text` starts with the batch proof header line.
bool is_batch_proof(std::string_view text);
std::string format_batch_proof(const BatchProof& p);
// Strict parse; kInvalidArgument naming what is wrong.
Result<BatchProof> parse_batch_proof(std::string_view text);

struct VerifiedBatchRecord {
  BatchProof proof;
  ledger::VerifiedReceipt receipt;  // of the batch anchor entry
};
// Verifies offline against the genesis: the receipt as verify_receipt, its
// entry is an anchor with batch_records == size, and the path leads from
// H(0x00 ‖ record) at index to that anchor's digest. kVerificationFailed
// saying which step failed.
Result<VerifiedBatchRecord> verify_batch_proof(std::string_view text, const ledger::v1::Genesis& genesis);

}  // namespace prov::provctl
