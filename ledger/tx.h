// Transactions, entries and blocks on the wire: strict decoding under the
// bytes-envelope rule, typed rejections, and validation against the registry.
//
// Every decoder parses the bytes, re-serializes the message and requires the
// identical bytes back, so unknown fields, duplicate fields and non-canonical
// encodings (for example an over-long varint) are rejected; hashes and
// signatures are always computed over the bytes as received. Sizes are
// checked before anything is parsed.
//
// Rejections are typed (Rejection) so the node can tell a client what was
// wrong and count or ban misbehaving peers. Rejection::to_status maps each
// reason to a StatusCode; the Status message starts with rejection_name().
// Thread-safety: pure functions of their arguments.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

#include "crypto/bytes.h"
#include "crypto/ed25519.h"
#include "crypto/status.h"
#include "ledger/kv.h"
#include "ledger/proto/ledger.pb.h"

namespace prov::ledger {

enum class Rejection {
  kMalformed,           // not a canonical encoding of the message, or a required part missing
  kUnsupportedVersion,  // a version field other than 1
  kTooLarge,            // over max_tx_bytes (checked before parsing)
  kWrongChain,          // body.chain_id is not this chain
  kInvalidField,        // a field out of bounds or of the wrong syntax
  kUnknownAgency,       // body.agency is not registered
  kUnknownSigner,       // signer is not an active (registered, non-revoked) key of body.agency
  kBadSignature,        // the transaction or a governance approval signature does not verify
  kRoleNotAllowed,      // the agency lacks the role the transaction kind needs
  kNamespaceNotOwned,   // anchor outside the agency's namespace
  kDuplicate,           // the same transaction (or body, or governance action) was committed before
  kUnknownDataset,      // an access or derived_from names a dataset version that was never anchored
  kVersionConflict,     // an explicit anchor version not above the dataset's latest
  kQuorumNotMet,        // governance approvals from fewer than q distinct current validators
  kInvalidGovernance,   // a governance action that does not apply to the registry
  kStateUnavailable,    // the state could not be read (storage error): not the sender's fault
};

// Stable snake_case name, e.g. "bad_signature".
const char* rejection_name(Rejection r);
StatusCode rejection_code(Rejection r);

struct Rejected {
  Rejection reason;
  std::string message;
  // Status with rejection_code(reason) and message "<name>: <message>".
  Status to_status() const;
};

// Either a value or a typed rejection.
template <class T>
class [[nodiscard]] TxResult {
 public:
  TxResult(T value) : v_(std::move(value)) {}     // NOLINT: implicit by design
  TxResult(Rejected r) : v_(std::move(r)) {}      // NOLINT
  bool is_ok() const { return std::holds_alternative<T>(v_); }
  explicit operator bool() const { return is_ok(); }
  const T& value() const& { return std::get<T>(v_); }
  T&& value() && { return std::get<T>(std::move(v_)); }
  const T* operator->() const { return &value(); }
  const Rejected& rejected() const { return std::get<Rejected>(v_); }
  Rejection reason() const { return rejected().reason; }
  Status status() const { return is_ok() ? Status::ok() : rejected().to_status(); }

 private:
  std::variant<T, Rejected> v_;
};

// Field bounds (bytes unless named otherwise). Counts of meta entries and
// derived_from come from ConsensusParams.
inline constexpr size_t kMaxDatasetIdBytes = 256;
inline constexpr size_t kMaxMediaTypeBytes = 128;
inline constexpr size_t kMaxMetaKeyBytes = 64;
inline constexpr size_t kMaxMetaValueBytes = 1024;
inline constexpr size_t kMaxActorBytes = 128;
inline constexpr size_t kMaxPurposeBytes = 256;
inline constexpr size_t kMaxLegalBasisBytes = 256;
// Access actions the ledger accepts.
inline constexpr std::string_view kAccessActions[] = {"read", "export", "share", "delete", "query", "copy"};

// True iff `id` is "namespace/name": namespace [a-z0-9._-]{1,64}, name one or
// more '/'-separated segments of [A-Za-z0-9._-] (not "." or ".."), at most
// kMaxDatasetIdBytes in all.
bool dataset_id_valid(std::string_view id);
// The namespace part of a valid dataset id.
std::string_view dataset_namespace(std::string_view id);

// kMeta key holding the chain id.
inline constexpr std::string_view kMetaChainId = "chain_id";
// kEntryByHash key of a body hash: 'b' ‖ SHA-256(body). Transaction hashes
// are the 32-byte keys of the same column; both map to the entry index.
Bytes entry_body_hash_key(const Hash256& body_hash);

// A transaction that passed decode_transaction.
struct DecodedTx {
  Bytes bytes;                 // the SignedTransaction exactly as received
  Hash256 tx_hash;             // SHA-256(bytes): entry-by-hash key
  Hash256 body_hash;           // SHA-256(body bytes): duplicate detection
  PublicKey signer;
  Signature signature;
  v1::SignedTransaction envelope;
  v1::TransactionBody body;
  v1::GovernanceAction action;  // set iff body is governance
  Hash256 action_hash;          // SHA-256(governance action bytes)
  // Set only by check_transaction once the signature over the body (and so
  // over body.chain_id) verified: a property of these bytes alone, so
  // executing them later skips the signature cache's lookup. Whether the
  // signer is an active key is still checked against the state every time.
  bool signature_verified = false;
};

// Parses `bytes` into `out` under the bytes-envelope rule: false unless `out`
// re-serializes to exactly `bytes`.
bool parse_canonical(ByteView bytes, google::protobuf::Message& out);

// Stateless checks: size (before parsing), envelope, versions, key and
// signature sizes, a transaction kind set, governance action envelope.
TxResult<DecodedTx> decode_transaction(ByteView bytes, uint32_t max_tx_bytes);

// Stateful checks of a decoded transaction against `state` (registry and
// committed entries): chain, field bounds, signer, signature, role,
// namespace, duplicates, governance approvals and applicability. Dataset
// rules (versions, derived_from, access targets) are checked on execution
// (state.h), because they depend on the transactions before it in a block.
//
// `ctx`, if given, holds what the registry said when it was first used (see
// TxContext); without it every call reads and parses those facts again.
class TxContext;
TxResult<std::monostate> validate_transaction(const KvReader& state, const DecodedTx& tx, TxContext* ctx = nullptr);

// Registry facts every transaction reads: the consensus parameters, the
// chain id and the records of the agencies that sign. A block of 1 500
// transactions from one agency read and parsed them 1 500 times; a context
// reads each once, from the state of its first use. It stays valid while
// that state's registry does not change: for one snapshot (an admission
// batch), or for a block's state until a governance transaction executes
// (execution then starts a fresh context). Not thread-safe.
class TxContext {
 public:
  // Reads the parameters and the chain id from `state` on the first call.
  Status load(const KvReader& state);
  bool loaded() const { return loaded_; }
  const v1::ConsensusParams& params() const { return params_; }
  const std::string& chain_id() const { return chain_id_; }
  // The agency's record (nullptr if unregistered), read from `state` the
  // first time each agency is asked for.
  Result<const v1::AgencyRecord*> agency(const KvReader& state, std::string_view id);
  // Forgets everything: the registry changed.
  void reset() { *this = TxContext(); }

 private:
  bool loaded_ = false;
  v1::ConsensusParams params_;
  std::string chain_id_;
  std::map<std::string, std::optional<v1::AgencyRecord>, std::less<>> agencies_;
};

// Signs `body` (serialized deterministically) with `key` for body.chain_id
// and returns the SignedTransaction bytes. For clients, tests and benchmarks.
Bytes sign_transaction(const v1::TransactionBody& body, const crypto::KeyPair& key);
// A validator's approval of the governance action bytes `action`.
v1::Approval approve_governance(ByteView action, std::string_view chain_id, const crypto::KeyPair& validator);

// Strict decoders for stored and received records (bytes-envelope rule,
// version 1). `max_bytes` bounds the input before parsing.
Result<v1::Entry> decode_entry(ByteView bytes);
Result<v1::Block> decode_block(ByteView bytes, size_t max_bytes);
Result<v1::BlockHeader> decode_header(ByteView bytes);
inline constexpr size_t kMaxHeaderBytes = 4096;
inline constexpr size_t kMaxEntryBytes = (1u << 20) + 4096;  // a max-size tx plus entry fields

}  // namespace prov::ledger
