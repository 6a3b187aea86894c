// What provctl's reading and verifying verbs share (receipt, checkpoint,
// consistency, verify, history, lineage, access, audit, anchor --batch):
// loading the home for reads, typed JSON reads from the node, fetching and
// verifying checkpoints and receipts against the genesis, and describing a
// verified entry (who, what, when) in text and JSON.
//
// The rule these helpers keep: nothing is reported as verified on a node's
// word. A node's answer is only a hint of where to look; a fact is verified
// when its entry bytes are proven included under a checkpoint that at least
// q validators of the genesis signed, all checked here.
// Single-threaded: one command per process.
#pragma once

#include <google/protobuf/util/json_util.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "crypto/bytes.h"
#include "crypto/ed25519.h"
#include "crypto/status.h"
#include "ledger/proto/ledger.pb.h"
#include "ledger/receipt.h"
#include "tools/provctl/client.h"
#include "tools/provctl/common.h"
#include "tools/provctl/home.h"

namespace prov::provctl {

// The home, its genesis, the client key (when it loads) and a client for its
// nodes. Reads of public endpoints work without a key.
struct ReadSession {
  HomeConfig home;
  ledger::v1::Genesis genesis;
  std::optional<crypto::KeyPair> key;
  std::optional<NodeClient> client;
};

// Loads the home (--home / PROV_HOME). With `need_key` the client key must
// load (signed reads, submissions); otherwise a missing key is tolerated.
Result<ReadSession> open_session(const Context& ctx, const PassphraseOptions& pass, bool need_key);

// A fresh transaction body for `agency` on `chain_id`: version 1, a random
// nonce (so identical records are still distinct transactions) and the
// client's clock. The caller sets the kind (anchor, access, ...).
ledger::v1::TransactionBody new_transaction_body(const std::string& chain_id, const std::string& agency);

// Loads a genesis file for offline verification: `path` if given, otherwise
// the home's genesis.json. Errors say which file and how to pass one.
Result<ledger::v1::Genesis> load_genesis_for_verify(const Context& ctx, const std::string& path);

// Reads a whole (small) file; kNotFound / kIOError naming the path; bounded.
Result<std::string> read_text_file(const std::string& path, size_t max_bytes);

// Parses an API JSON answer into `out`, ignoring unknown fields.
template <class M>
bool parse_api_json(const std::string& body, M* out) {
  google::protobuf::util::JsonParseOptions opts;
  opts.ignore_unknown_fields = true;
  return google::protobuf::util::JsonStringToMessage(body, out, opts).ok();
}

// The Status for a non-200 API reply: 404 kNotFound, 401/403
// kPermissionDenied (with what to do), others kInvalidArgument.
Status api_failure(const HttpReply& reply, const std::string& what);

// GET `target` and parse a 200 answer into M.
template <class M>
Result<M> get_json(NodeClient& client, const std::string& target, bool sign, const std::string& what) {
  PROV_ASSIGN_OR_RETURN(HttpReply r, client.request("GET", target, {}, {}, sign));
  if (r.status != 200) return api_failure(r, what);
  M m;
  if (!parse_api_json(r.body, &m)) return Status::corruption(r.node + " sent an unreadable answer for " + what);
  return m;
}

// The latest checkpoint from the home's nodes, verified against the genesis
// (≥ q validator signatures); `raw` receives the note byte for byte.
Result<ledger::VerifiedCheckpoint> fetch_checkpoint(NodeClient& client, const ledger::v1::Genesis& genesis,
                                                   std::string* raw);

// The receipt of entry `index` from the node (signed read), verified
// offline-style against the genesis; `raw` receives the receipt text.
Result<ledger::VerifiedReceipt> fetch_verified_receipt(NodeClient& client, const ledger::v1::Genesis& genesis,
                                                       uint64_t index, std::string* raw);

// An entry's meaning, decoded from its verified bytes.
struct EntryFacts {
  uint64_t index = 0;
  uint64_t height = 0;
  int64_t block_time_ms = 0;
  std::string tx_hash;          // hex SHA-256 of the transaction bytes
  std::string agency;
  std::string signer_b64;       // the signing key
  std::string signer_name;      // "<agency>/<key name>" from the genesis, or "" if not a genesis key
  bool signature_valid = false; // the transaction signature checks for this chain
  std::string kind;             // anchor | access | governance
  ledger::v1::TransactionBody body;
  std::vector<ledger::v1::DatasetLink> links;
};

// Decodes the transaction inside a verified entry and checks its signature.
Result<EntryFacts> entry_facts(const ledger::v1::Entry& entry, const ledger::v1::Genesis& genesis);

// ISO 8601 UTC with milliseconds, e.g. 2024-05-01T12:00:00.123Z.
std::string iso_time(int64_t ms);

// "ns/name@V" for the entry's link to `dataset`, or of its first link.
std::string entry_subject(const EntryFacts& f);

// Human-readable lines about an entry (indent each by `indent`).
std::string entry_text(const EntryFacts& f, const std::string& indent);
// The same as a JSON object.
std::string entry_json(const EntryFacts& f);
// A checkpoint as a JSON object: origin, size, root (hex), signers, quorum.
std::string checkpoint_json(const ledger::VerifiedCheckpoint& cp, const ledger::v1::Genesis& genesis);

// Submits signed transaction bytes to the home's nodes, waits for commit and
// a covering checkpoint, and verifies the receipt locally: it must be for
// exactly `tx`. `receipt_text` receives the receipt.
Result<ledger::VerifiedReceipt> submit_and_verify(NodeClient& client, const ledger::v1::Genesis& genesis,
                                                  const Bytes& tx, std::string* receipt_text);

// The line every query verb prints about completeness (DESIGN.md: entries
// are proven present, not yet proven complete).
inline constexpr const char* kCompletenessNote =
    "note: every entry shown is proven present (inclusion under a checkpoint signed by a quorum);\n"
    "      completeness is NOT yet proven: a node could omit entries from this answer.";

}  // namespace prov::provctl
