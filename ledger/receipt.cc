// Receipts; see receipt.h.
#include "ledger/receipt.h"

#include "crypto/encoding.h"
#include "crypto/merkle.h"
#include "ledger/query.h"
#include "ledger/registry.h"
#include "ledger/tx.h"

namespace prov::ledger {

std::string checkpoint_text(std::string_view chain_id, uint64_t size, const Hash256& root) {
  return std::string(chain_id) + "\n" + std::to_string(size) + "\n" + crypto::base64_encode(root) + "\n";
}

Result<std::string> build_receipt(const KvReader& state, uint64_t index, std::string_view signed_checkpoint) {
  PROV_ASSIGN_OR_RETURN(crypto::note::Note note, crypto::note::parse_note(signed_checkpoint));
  PROV_ASSIGN_OR_RETURN(crypto::note::Checkpoint cp, crypto::note::parse_checkpoint(note.text));
  if (index >= cp.size)
    return Status::not_found("entry " + std::to_string(index) + " is not covered by the checkpoint of size " +
                             std::to_string(cp.size));
  PROV_ASSIGN_OR_RETURN(InclusionProof proof, inclusion_proof(state, index, cp.size));
  if (proof.root != cp.root)
    return Status::verification_failed("the checkpoint's root differs from the log's root at size " +
                                       std::to_string(cp.size));
  crypto::note::TlogProof tp;
  tp.extra = std::move(proof.entry_bytes);
  tp.index = index;
  tp.path = std::move(proof.path);
  tp.signed_checkpoint = std::string(signed_checkpoint);
  return crypto::note::format_tlog_proof(tp);
}

Result<VerifiedCheckpoint> verify_checkpoint(std::string_view signed_note, const v1::Genesis& genesis) {
  PROV_ASSIGN_OR_RETURN(crypto::note::Note note, crypto::note::parse_note(signed_note));
  PROV_ASSIGN_OR_RETURN(crypto::note::Checkpoint cp, crypto::note::parse_checkpoint(note.text));
  if (cp.origin != genesis.chain_id())
    return Status::verification_failed("checkpoint origin \"" + cp.origin + "\" is not the chain id \"" +
                                       genesis.chain_id() + "\"");
  if (!cp.extensions.empty()) return Status::verification_failed("checkpoint has extension lines");
  std::vector<crypto::note::NoteVerifier> known;
  for (const auto& v : genesis.validators()) {
    PublicKey key;
    if (!key.assign(as_bytes(v.pub_key()))) return Status::invalid_argument("genesis validator key is not 32 bytes");
    PROV_ASSIGN_OR_RETURN(crypto::note::NoteVerifier verifier, crypto::note::NoteVerifier::create(v.name(), key));
    known.push_back(std::move(verifier));
  }
  auto valid = crypto::note::verify_note(note, known);
  if (!valid) return Status::verification_failed("checkpoint signature: " + valid.status().message());
  const size_t q = quorum_size(known.size());
  if (valid->size() < q)
    return Status::verification_failed("checkpoint has " + std::to_string(valid->size()) +
                                       " valid validator signatures, needs " + std::to_string(q) + " of " +
                                       std::to_string(known.size()));
  VerifiedCheckpoint out{std::move(cp), {}};
  for (size_t i : *valid) out.signers.push_back(known[i].name());
  return out;
}

Result<VerifiedReceipt> verify_receipt(std::string_view receipt, const v1::Genesis& genesis) {
  PROV_ASSIGN_OR_RETURN(crypto::note::TlogProof tp, crypto::note::parse_tlog_proof(receipt));
  if (!tp.extra) return Status::invalid_argument("receipt has no extra line (the entry bytes)");
  PROV_ASSIGN_OR_RETURN(v1::Entry entry, decode_entry(*tp.extra));
  if (entry.index() != tp.index)
    return Status::verification_failed("entry index " + std::to_string(entry.index()) + " differs from proof index " +
                                       std::to_string(tp.index));
  auto inclusion = crypto::note::verify_tlog_proof_inclusion(tp, crypto::merkle::hash_leaf(*tp.extra));
  if (!inclusion) return Status::verification_failed("inclusion proof: " + inclusion.status().message());
  PROV_ASSIGN_OR_RETURN(VerifiedCheckpoint cp, verify_checkpoint(tp.signed_checkpoint, genesis));
  return VerifiedReceipt{tp.index, std::move(*tp.extra), std::move(entry), std::move(cp)};
}

}  // namespace prov::ledger
