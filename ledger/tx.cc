#include "ledger/tx.h"

#include <algorithm>
#include <array>
#include <cstring>
#include <set>

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>

#include "crypto/sha256.h"
#include "ledger/registry.h"
#include "ledger/sig_cache.h"

namespace prov::ledger {

namespace {

Rejected reject(Rejection r, std::string m) { return Rejected{r, std::move(m)}; }

// Storage failures are not the sender's fault, but they must still stop the
// transaction.
std::optional<Rejected> storage_failure(const Status& s) {
  return reject(Rejection::kStateUnavailable, s.to_string());
}

bool ns_char(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.'; }
bool name_char(char c) { return ns_char(c) || (c >= 'A' && c <= 'Z'); }

bool printable_ascii(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char c) { return c >= 0x20 && c < 0x7f; });
}

// Returns the body bytes' entry-by-hash key for duplicate detection: 'b' ‖
// SHA-256(body). Tx hashes are 32-byte keys in the same column, so the two
// can never collide.
Bytes body_hash_key(const Hash256& h) {
  Bytes k(1 + Hash256::kSize);
  k[0] = 'b';
  std::copy(h.bytes.begin(), h.bytes.end(), k.begin() + 1);
  return k;
}

std::optional<Rejected> check_dataset_ref(const v1::DatasetRef& r) {
  if (!dataset_id_valid(r.dataset())) return reject(Rejection::kInvalidField, "derived_from: bad dataset id");
  if (r.version() == 0) return reject(Rejection::kInvalidField, "derived_from: version must be >= 1");
  if (!r.digest().empty() && r.digest().size() != 32) {
    return reject(Rejection::kInvalidField, "derived_from: digest must be empty or 32 bytes");
  }
  return std::nullopt;
}

std::optional<Rejected> check_anchor_fields(const v1::AnchorRecord& a, const v1::ConsensusParams& p) {
  if (!dataset_id_valid(a.dataset())) return reject(Rejection::kInvalidField, "bad dataset id '" + a.dataset() + "'");
  if (a.digest().size() != 32) return reject(Rejection::kInvalidField, "digest must be 32 bytes");
  if (a.media_type().size() > kMaxMediaTypeBytes || !printable_ascii(a.media_type())) {
    return reject(Rejection::kInvalidField, "bad media_type");
  }
  if (static_cast<uint32_t>(a.derived_from_size()) > p.max_derived_from()) {
    return reject(Rejection::kInvalidField, "too many derived_from");
  }
  std::set<std::pair<std::string, uint64_t>> parents;
  for (const v1::DatasetRef& r : a.derived_from()) {
    if (auto bad = check_dataset_ref(r)) return bad;
    if (!parents.insert({r.dataset(), r.version()}).second) {
      return reject(Rejection::kInvalidField, "duplicate derived_from");
    }
  }
  if (static_cast<uint32_t>(a.meta_size()) > p.max_meta_entries()) {
    return reject(Rejection::kInvalidField, "too many meta entries");
  }
  std::set<std::string> keys;
  for (const v1::MetaEntry& m : a.meta()) {
    if (m.key().empty() || m.key().size() > kMaxMetaKeyBytes || m.value().size() > kMaxMetaValueBytes) {
      return reject(Rejection::kInvalidField, "meta entry out of bounds");
    }
    if (!keys.insert(m.key()).second) return reject(Rejection::kInvalidField, "duplicate meta key '" + m.key() + "'");
  }
  return std::nullopt;
}

std::optional<Rejected> check_access_fields(const v1::AccessEvent& e) {
  if (!dataset_id_valid(e.dataset())) return reject(Rejection::kInvalidField, "bad dataset id '" + e.dataset() + "'");
  if (e.actor().empty() || e.actor().size() > kMaxActorBytes) return reject(Rejection::kInvalidField, "bad actor");
  if (std::find(std::begin(kAccessActions), std::end(kAccessActions), e.action()) == std::end(kAccessActions)) {
    return reject(Rejection::kInvalidField, "unknown action '" + e.action() + "'");
  }
  if (e.purpose().size() > kMaxPurposeBytes) return reject(Rejection::kInvalidField, "purpose too long");
  if (e.legal_basis().size() > kMaxLegalBasisBytes) return reject(Rejection::kInvalidField, "legal_basis too long");
  if (!e.subject_hash().empty() && e.subject_hash().size() != 32) {
    return reject(Rejection::kInvalidField, "subject_hash must be empty or 32 bytes");
  }
  return std::nullopt;
}

std::optional<Rejected> check_fields(const v1::TransactionBody& b, const v1::ConsensusParams& p) {
  if (b.agency().empty() || b.agency().size() > kMaxAgencyIdBytes) return reject(Rejection::kInvalidField, "bad agency");
  switch (b.kind_case()) {
    case v1::TransactionBody::kAnchor: return check_anchor_fields(b.anchor(), p);
    case v1::TransactionBody::kAccess: return check_access_fields(b.access());
    default: return std::nullopt;  // governance is checked against the registry
  }
}

std::string_view required_role(const v1::TransactionBody& b) {
  switch (b.kind_case()) {
    case v1::TransactionBody::kAnchor: return kRoleWriter;
    case v1::TransactionBody::kAccess: return kRoleRecorder;
    default: return kRoleAdmin;
  }
}

std::optional<Rejected> check_approvals(const KvReader& state, const DecodedTx& tx, std::string_view chain_id) {
  auto set = current_validators(state);
  if (!set) return storage_failure(set.status());
  const auto& approvals = tx.body.governance().approvals();
  if (approvals.size() > set->validators_size()) return reject(Rejection::kInvalidField, "more approvals than validators");
  std::set<size_t> approvers;
  for (const v1::Approval& a : approvals) {
    PublicKey key;
    Signature sig;
    if (!key.assign(as_bytes(a.validator())) || !sig.assign(as_bytes(a.signature()))) {
      return reject(Rejection::kInvalidField, "approval key or signature of the wrong size");
    }
    auto i = find_validator(*set, key);
    if (!i) return reject(Rejection::kUnknownSigner, "approval from a non-validator");
    if (!approvers.insert(*i).second) return reject(Rejection::kInvalidField, "duplicate approval");
    if (!crypto::verify(key, crypto::purpose::kGovernanceApproval, chain_id,
                        as_bytes(tx.body.governance().action()), sig)) {
      return reject(Rejection::kBadSignature, "approval signature of " + set->validators(*i).name());
    }
  }
  size_t q = quorum_size(static_cast<size_t>(set->validators_size()));
  if (approvers.size() < q) {
    return reject(Rejection::kQuorumNotMet,
                  std::to_string(approvers.size()) + " approvals, quorum is " + std::to_string(q));
  }
  return std::nullopt;
}

std::optional<Rejected> check_governance(const KvReader& state, const DecodedTx& tx, std::string_view chain_id) {
  if (auto bad = check_approvals(state, tx, chain_id)) return bad;
  Status s = check_governance_action(state, tx.action, tx.action_hash);
  if (s.code() == StatusCode::kAlreadyExists) return reject(Rejection::kDuplicate, s.message());
  if (s.code() == StatusCode::kInvalidArgument) return reject(Rejection::kInvalidGovernance, s.message());
  if (!s.is_ok()) return storage_failure(s);
  return std::nullopt;
}

Result<bool> entry_hash_exists(const KvReader& state, ByteView key) {
  auto v = state.get(Column::kEntryByHash, key);
  if (!v) return v.status();
  return v->has_value();
}

// One point read: execution writes the body-hash key together with the
// transaction-hash key (state.cc), so a committed transaction always has
// both, and a different signature over a committed body (a replay) has only
// the former. Reading the transaction hash as well found nothing new.
std::optional<Rejected> check_duplicate(const KvReader& state, const DecodedTx& tx) {
  std::array<uint8_t, 1 + Hash256::kSize> body_key{'b'};  // body_hash_key, without an allocation
  std::copy(tx.body_hash.bytes.begin(), tx.body_hash.bytes.end(), body_key.begin() + 1);
  auto seen = entry_hash_exists(state, ByteView(body_key));
  if (!seen) return storage_failure(seen.status());
  if (*seen) return reject(Rejection::kDuplicate, "transaction already committed");
  return std::nullopt;
}

}  // namespace

bool dataset_id_valid(std::string_view id) {
  if (id.empty() || id.size() > kMaxDatasetIdBytes) return false;
  size_t slash = id.find('/');
  if (slash == std::string_view::npos || slash == 0 || slash > kMaxNamespaceBytes) return false;
  if (!std::all_of(id.begin(), id.begin() + static_cast<long>(slash), ns_char)) return false;
  // Name: one or more segments of [A-Za-z0-9._-]+ separated by single '/', none "." or "..".
  std::string_view name = id.substr(slash + 1);
  while (true) {
    size_t end = name.find('/');
    std::string_view seg = name.substr(0, end);
    if (seg.empty() || seg == "." || seg == ".." || !std::all_of(seg.begin(), seg.end(), name_char)) return false;
    if (end == std::string_view::npos) return true;
    name = name.substr(end + 1);
  }
}

std::string_view dataset_namespace(std::string_view id) { return id.substr(0, id.find('/')); }

const char* rejection_name(Rejection r) {
  switch (r) {
    case Rejection::kMalformed: return "malformed";
    case Rejection::kUnsupportedVersion: return "unsupported_version";
    case Rejection::kTooLarge: return "too_large";
    case Rejection::kWrongChain: return "wrong_chain";
    case Rejection::kInvalidField: return "invalid_field";
    case Rejection::kUnknownAgency: return "unknown_agency";
    case Rejection::kUnknownSigner: return "unknown_signer";
    case Rejection::kBadSignature: return "bad_signature";
    case Rejection::kRoleNotAllowed: return "role_not_allowed";
    case Rejection::kNamespaceNotOwned: return "namespace_not_owned";
    case Rejection::kDuplicate: return "duplicate";
    case Rejection::kUnknownDataset: return "unknown_dataset";
    case Rejection::kVersionConflict: return "version_conflict";
    case Rejection::kQuorumNotMet: return "quorum_not_met";
    case Rejection::kInvalidGovernance: return "invalid_governance";
    case Rejection::kStateUnavailable: return "state_unavailable";
  }
  return "unknown";
}

StatusCode rejection_code(Rejection r) {
  switch (r) {
    case Rejection::kTooLarge: return StatusCode::kResourceExhausted;
    case Rejection::kUnknownSigner:
    case Rejection::kBadSignature: return StatusCode::kUnauthenticated;
    case Rejection::kRoleNotAllowed:
    case Rejection::kNamespaceNotOwned:
    case Rejection::kQuorumNotMet: return StatusCode::kPermissionDenied;
    case Rejection::kDuplicate:
    case Rejection::kVersionConflict: return StatusCode::kAlreadyExists;
    case Rejection::kUnknownAgency:
    case Rejection::kUnknownDataset: return StatusCode::kNotFound;
    case Rejection::kStateUnavailable: return StatusCode::kUnavailable;
    default: return StatusCode::kInvalidArgument;
  }
}

Status Rejected::to_status() const {
  return Status(rejection_code(reason), std::string(rejection_name(reason)) + ": " + message);
}

namespace {

// True if protobuf set aside anything while parsing `m` or a message inside
// it: a field number the schema lacks, or a known one with another wire
// type. Walks only the message-typed fields (DiscardUnknownFields, which
// this replaced, listed every set field through reflection and was 1.7 % of
// a loaded node's CPU).
bool has_unknown_fields(const google::protobuf::Message& m) {
  const google::protobuf::Reflection* r = m.GetReflection();
  if (r->GetUnknownFields(m).field_count() > 0) return true;
  const google::protobuf::Descriptor* d = m.GetDescriptor();
  for (int i = 0; i < d->field_count(); ++i) {
    const google::protobuf::FieldDescriptor* f = d->field(i);
    if (f->cpp_type() != google::protobuf::FieldDescriptor::CPPTYPE_MESSAGE) continue;
    if (f->is_repeated()) {
      for (int j = 0, n = r->FieldSize(m, f); j < n; ++j) {
        if (has_unknown_fields(r->GetRepeatedMessage(m, f, j))) return true;
      }
    } else if (r->HasField(m, f) && has_unknown_fields(r->GetMessage(m, f))) {
      return true;
    }
  }
  return false;
}

}  // namespace

bool parse_canonical(ByteView bytes, google::protobuf::Message& out) {
  if (bytes.size() > static_cast<size_t>(INT32_MAX)) return false;
  if (!out.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) return false;
  // Protobuf keeps unknown fields and would write them back, so the byte
  // comparison below would not see them: refuse them here.
  if (has_unknown_fields(out)) return false;
  // The canonical encoding has exactly the input's size; anything else is
  // refused before serializing. Serialized into a per-thread buffer: this
  // runs several times per transaction, and a fresh string each time was
  // two allocations and a copy.
  size_t size = out.ByteSizeLong();
  if (size != bytes.size()) return false;
  thread_local std::string again;
  again.resize(size);
  {
    google::protobuf::io::ArrayOutputStream aos(again.data(), static_cast<int>(size));
    google::protobuf::io::CodedOutputStream cos(&aos);
    cos.SetSerializationDeterministic(true);
    out.SerializeWithCachedSizes(&cos);
    if (cos.HadError() || static_cast<size_t>(cos.ByteCount()) != size) return false;
  }
  bool same = size == 0 || std::memcmp(again.data(), bytes.data(), size) == 0;
  // A buffer grown for one large block is not kept for the thread's life.
  if (again.capacity() > (1u << 20)) std::string().swap(again);
  return same;
}

TxResult<DecodedTx> decode_transaction(ByteView bytes, uint32_t max_tx_bytes) {
  if (bytes.size() > max_tx_bytes) {
    return reject(Rejection::kTooLarge, std::to_string(bytes.size()) + " bytes, limit " + std::to_string(max_tx_bytes));
  }
  DecodedTx tx;
  if (!parse_canonical(bytes, tx.envelope)) return reject(Rejection::kMalformed, "not a canonical SignedTransaction");
  if (tx.envelope.version() != 1) return reject(Rejection::kUnsupportedVersion, "transaction version");
  if (!tx.signer.assign(as_bytes(tx.envelope.signer()))) return reject(Rejection::kMalformed, "signer must be 32 bytes");
  if (!tx.signature.assign(as_bytes(tx.envelope.signature()))) {
    return reject(Rejection::kMalformed, "signature must be 64 bytes");
  }
  if (!parse_canonical(as_bytes(tx.envelope.body()), tx.body)) {
    return reject(Rejection::kMalformed, "not a canonical TransactionBody");
  }
  if (tx.body.version() != 1) return reject(Rejection::kUnsupportedVersion, "body version");
  if (tx.body.kind_case() == v1::TransactionBody::KIND_NOT_SET) return reject(Rejection::kMalformed, "no kind");
  if (tx.body.has_governance()) {
    if (!parse_canonical(as_bytes(tx.body.governance().action()), tx.action)) {
      return reject(Rejection::kMalformed, "not a canonical GovernanceAction");
    }
    if (tx.action.version() != 1) return reject(Rejection::kUnsupportedVersion, "governance action version");
    tx.action_hash = crypto::sha256(as_bytes(tx.body.governance().action()));
  }
  tx.bytes.assign(bytes.begin(), bytes.end());
  tx.tx_hash = crypto::sha256(bytes);
  tx.body_hash = crypto::sha256(as_bytes(tx.envelope.body()));
  return tx;
}

Status TxContext::load(const KvReader& state) {
  if (loaded_) return Status::ok();
  PROV_ASSIGN_OR_RETURN(params_, consensus_params(state));
  PROV_ASSIGN_OR_RETURN(auto chain, state.get(Column::kMeta, as_bytes(kMetaChainId)));
  if (!chain) return Status::not_found("no chain id (genesis not applied)");
  chain_id_ = to_string(*chain);
  loaded_ = true;
  return Status::ok();
}

Result<const v1::AgencyRecord*> TxContext::agency(const KvReader& state, std::string_view id) {
  auto it = agencies_.find(id);
  if (it == agencies_.end()) {
    PROV_ASSIGN_OR_RETURN(auto rec, find_agency(state, id));
    it = agencies_.emplace(std::string(id), std::move(rec)).first;
  }
  return it->second ? &*it->second : nullptr;
}

TxResult<std::monostate> validate_transaction(const KvReader& state, const DecodedTx& tx, TxContext* ctx) {
  TxContext own;
  if (!ctx) ctx = &own;
  if (Status st = ctx->load(state); !st.is_ok()) return *storage_failure(st);
  const std::string& chain_id = ctx->chain_id();
  if (tx.body.chain_id() != chain_id) return reject(Rejection::kWrongChain, "chain id '" + tx.body.chain_id() + "'");
  if (auto bad = check_fields(tx.body, ctx->params())) return *bad;

  auto agency = ctx->agency(state, tx.body.agency());
  if (!agency) return *storage_failure(agency.status());
  if (!*agency) return reject(Rejection::kUnknownAgency, "agency '" + tx.body.agency() + "'");
  const v1::AgencyRecord& rec = **agency;
  if (!key_active(rec, tx.signer)) return reject(Rejection::kUnknownSigner, "signer is not an active key of the agency");
  if (!tx.signature_verified &&
      !verify_tx_signature_cached(tx.signer, chain_id, as_bytes(tx.envelope.body()), tx.signature)) {
    return reject(Rejection::kBadSignature, "transaction signature");
  }
  std::string_view role = required_role(tx.body);
  if (!has_role(rec.agency(), role)) return reject(Rejection::kRoleNotAllowed, "needs role " + std::string(role));
  if (tx.body.has_anchor() && dataset_namespace(tx.body.anchor().dataset()) != rec.agency().namespace_()) {
    return reject(Rejection::kNamespaceNotOwned, "dataset outside namespace '" + rec.agency().namespace_() + "'");
  }
  if (auto dup = check_duplicate(state, tx)) return *dup;
  if (tx.body.has_governance()) {
    if (auto bad = check_governance(state, tx, chain_id)) return *bad;
  }
  return std::monostate{};
}

Bytes sign_transaction(const v1::TransactionBody& body, const crypto::KeyPair& key) {
  Bytes body_bytes = serialize(body);
  Signature sig = key.sign(crypto::purpose::kTransaction, body.chain_id(), body_bytes);
  v1::SignedTransaction st;
  st.set_version(1);
  st.set_body(to_string(body_bytes));
  st.set_signer(to_string(key.public_key()));
  st.set_signature(to_string(sig));
  return serialize(st);
}

v1::Approval approve_governance(ByteView action, std::string_view chain_id, const crypto::KeyPair& validator) {
  v1::Approval a;
  a.set_validator(to_string(validator.public_key()));
  a.set_signature(to_string(validator.sign(crypto::purpose::kGovernanceApproval, chain_id, action)));
  return a;
}

Bytes entry_body_hash_key(const Hash256& body_hash) { return body_hash_key(body_hash); }

Result<v1::Entry> decode_entry(ByteView bytes) {
  if (bytes.size() > kMaxEntryBytes) return Status::resource_exhausted("entry too large");
  v1::Entry e;
  if (!parse_canonical(bytes, e)) return Status::invalid_argument("not a canonical Entry");
  if (e.version() != 1) return Status::invalid_argument("unsupported entry version");
  return e;
}

Result<v1::Block> decode_block(ByteView bytes, size_t max_bytes) {
  if (bytes.size() > max_bytes) return Status::resource_exhausted("block too large");
  v1::Block b;
  if (!parse_canonical(bytes, b)) return Status::invalid_argument("not a canonical Block");
  return b;
}

Result<v1::BlockHeader> decode_header(ByteView bytes) {
  if (bytes.size() > kMaxHeaderBytes) return Status::resource_exhausted("header too large");
  v1::BlockHeader h;
  if (!parse_canonical(bytes, h)) return Status::invalid_argument("not a canonical BlockHeader");
  if (h.version() != 1) return Status::invalid_argument("unsupported header version");
  return h;
}

}  // namespace prov::ledger
