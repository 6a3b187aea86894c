// Receipts: C2SP tlog-proofs (crypto/note.h) for ledger entries, and their
// offline verification against the genesis file.
//
// A receipt is `c2sp.org/tlog-proof@v1`, an `extra` line with the base64 of
// the exact entry bytes (the Merkle leaf input), `index N`, the RFC 9162
// inclusion path to the checkpoint's tree size, a blank line, and the signed
// checkpoint note exactly as the node served it. Verifying one needs only the
// genesis: the leaf hash comes from the entry bytes, the root from the path,
// and the checkpoint must carry signatures from at least q validators.
//
// Validator sets: until the governance work carries epoch-change
// certificates, checkpoints are verified against the genesis validators
// (epoch 0); a checkpoint signed only by a later set does not verify.
// Thread-safety: pure functions of their arguments.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "crypto/bytes.h"
#include "crypto/note.h"
#include "crypto/status.h"
#include "ledger/kv.h"
#include "ledger/proto/ledger.pb.h"

namespace prov::ledger {

// The checkpoint note text for (chain id, size, root): exactly
// "<chain_id>\n<size>\n<base64 root>\n".
std::string checkpoint_text(std::string_view chain_id, uint64_t size, const Hash256& root);

// Builds the receipt of entry `index` against `signed_checkpoint` (a signed
// checkpoint note of this chain whose size is > index and <= the log size of
// `state`). Fails with kVerificationFailed if the checkpoint's root is not
// the root `state` computes for its size (a node must never serve that).
Result<std::string> build_receipt(const KvReader& state, uint64_t index, std::string_view signed_checkpoint);

struct VerifiedCheckpoint {
  crypto::note::Checkpoint checkpoint;
  std::vector<std::string> signers;  // validator names with a valid signature
};
// Opens a signed checkpoint note against the genesis validators: syntax, the
// origin is the chain id, no extension lines, and at least q distinct
// validators signed it validly (kVerificationFailed otherwise, naming counts).
Result<VerifiedCheckpoint> verify_checkpoint(std::string_view signed_note, const v1::Genesis& genesis);

struct VerifiedReceipt {
  uint64_t index = 0;
  Bytes entry_bytes;  // the leaf input, exactly as in the receipt
  v1::Entry entry;
  VerifiedCheckpoint checkpoint;
};
// Verifies a receipt offline: parse, entry bytes decode and carry the stated
// index, inclusion of H(0x00 ‖ entry bytes) at that index against the
// checkpoint root, and the checkpoint as verify_checkpoint.
Result<VerifiedReceipt> verify_receipt(std::string_view receipt, const v1::Genesis& genesis);

}  // namespace prov::ledger
