// Batch record proofs; see batch_proof.h.
#include "tools/provctl/batch_proof.h"

#include "crypto/encoding.h"
#include "crypto/merkle.h"
#include "ledger/tx.h"

namespace prov::provctl {
namespace {

// Takes the next '\n'-terminated line off `rest`; false if there is none.
bool next_line(std::string_view& rest, std::string_view* line) {
  size_t nl = rest.find('\n');
  if (nl == std::string_view::npos) return false;
  *line = rest.substr(0, nl);
  rest.remove_prefix(nl + 1);
  return true;
}

Status bad(const std::string& why) { return Status::invalid_argument("batch record proof: " + why); }

}  // namespace

bool is_batch_proof(std::string_view text) {
  return text.substr(0, kBatchProofHeader.size() + 1) == std::string(kBatchProofHeader) + "\n";
}

std::string format_batch_proof(const BatchProof& p) {
  std::string out = std::string(kBatchProofHeader) + "\n";
  out += "record " + crypto::hex_encode(p.record) + "\n";
  out += "index " + std::to_string(p.index) + "\n";
  out += "size " + std::to_string(p.size) + "\n";
  for (const auto& h : p.path) out += crypto::base64_encode(h) + "\n";
  return out + "\n" + p.receipt;
}

Result<BatchProof> parse_batch_proof(std::string_view text) {
  std::string_view rest = text, line;
  if (!next_line(rest, &line) || line != kBatchProofHeader) return bad("missing header line");
  BatchProof p;
  if (!next_line(rest, &line) || line.substr(0, 7) != "record " || line.size() != 7 + 64 ||
      line.find_first_not_of("0123456789abcdef", 7) != std::string_view::npos)
    return bad("line 2 must be `record <64 lower-case hex>`");
  auto rec = crypto::hex_decode_fixed<Hash256>(line.substr(7));
  if (!rec) return bad("bad record digest");
  p.record = *rec;
  if (!next_line(rest, &line) || line.substr(0, 6) != "index " || !crypto::parse_decimal_u64(line.substr(6), &p.index))
    return bad("line 3 must be `index <decimal>`");
  if (!next_line(rest, &line) || line.substr(0, 5) != "size " || !crypto::parse_decimal_u64(line.substr(5), &p.size))
    return bad("line 4 must be `size <decimal>`");
  if (p.index >= p.size) return bad("index " + std::to_string(p.index) + " is not below size " + std::to_string(p.size));
  for (;;) {
    if (!next_line(rest, &line)) return bad("no blank line before the receipt");
    if (line.empty()) break;
    if (p.path.size() == kMaxBatchProofHashes) return bad("too many path hashes");
    auto h = crypto::base64_decode_fixed<Hash256>(line);
    if (!h) return bad("path line " + std::to_string(p.path.size() + 1) + " is not a base64 SHA-256 hash");
    p.path.push_back(*h);
  }
  if (rest.empty()) return bad("no receipt after the blank line");
  p.receipt = std::string(rest);
  return p;
}

Result<VerifiedBatchRecord> verify_batch_proof(std::string_view text, const ledger::v1::Genesis& genesis) {
  PROV_ASSIGN_OR_RETURN(BatchProof p, parse_batch_proof(text));
  auto r = ledger::verify_receipt(p.receipt, genesis);
  if (!r) return Status(r.status().code(), "the batch transaction's receipt: " + r.status().message());
  ledger::v1::SignedTransaction st;
  ledger::v1::TransactionBody body;
  if (!ledger::parse_canonical(as_bytes(r->entry.tx()), st) || !ledger::parse_canonical(as_bytes(st.body()), body))
    return Status::verification_failed("the batch entry holds an undecodable transaction");
  if (!body.has_anchor() || body.anchor().batch_records() == 0)
    return Status::verification_failed("entry " + std::to_string(r->index) + " is not a batch anchor");
  if (body.anchor().batch_records() != p.size)
    return Status::verification_failed("the proof says the batch has " + std::to_string(p.size) +
                                       " records, the anchored batch has " +
                                       std::to_string(body.anchor().batch_records()));
  Hash256 root;
  if (!root.assign(as_bytes(body.anchor().digest())))
    return Status::verification_failed("the batch anchor's digest is not 32 bytes");
  Status inc = crypto::merkle::verify_inclusion(crypto::merkle::hash_leaf(p.record), p.index, p.size, p.path, root);
  if (!inc.is_ok())
    return Status::verification_failed("record " + crypto::hex_encode(p.record) + " is not leaf " +
                                       std::to_string(p.index) + " of the anchored batch: " + inc.message());
  return VerifiedBatchRecord{std::move(p), std::move(*r)};
}

}  // namespace prov::provctl
