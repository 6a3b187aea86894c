#include "ledger/registry.h"

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>

#include <algorithm>
#include <set>

#include "crypto/sha256.h"

namespace prov::ledger {

namespace {

constexpr std::string_view kAgencyPrefix = "agency/";
constexpr std::string_view kNamespacePrefix = "ns/";
constexpr std::string_view kKeyPrefix = "key/";
constexpr std::string_view kGovPrefix = "gov/";

Bytes prefixed(std::string_view prefix, ByteView rest) {
  Bytes k = to_bytes(prefix);
  append(k, rest);
  return k;
}

template <class M>
Result<std::optional<M>> get_record(const KvReader& state, ByteView key, const char* what) {
  auto v = state.get(Column::kRegistry, key);
  if (!v) return v.status();
  if (!v->has_value()) return std::optional<M>();
  M m;
  if (!m.ParseFromArray((*v)->data(), static_cast<int>((*v)->size()))) {
    return Status::corruption(std::string("undecodable registry record: ") + what);
  }
  return std::optional<M>(std::move(m));
}

Result<std::optional<std::string>> get_string(const KvReader& state, ByteView key) {
  auto v = state.get(Column::kRegistry, key);
  if (!v) return v.status();
  if (!v->has_value()) return std::optional<std::string>();
  return std::optional<std::string>(to_string(**v));
}

bool valid_id_chars(std::string_view s, size_t max_bytes) {
  if (s.empty() || s.size() > max_bytes) return false;
  return std::all_of(s.begin(), s.end(), [](char ch) {
    return (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '-' || ch == '_' || ch == '.';
  });
}

Status check_key_bytes(const std::string& b, const char* what) {
  if (b.size() != PublicKey::kSize) return Status::invalid_argument(std::string(what) + " must be 32 bytes");
  return Status::ok();
}

Status check_roles(const google::protobuf::RepeatedPtrField<std::string>& roles) {
  std::set<std::string> seen;
  for (const std::string& r : roles) {
    if (!is_known_role(r)) return Status::invalid_argument("unknown role '" + r + "'");
    if (!seen.insert(r).second) return Status::invalid_argument("duplicate role '" + r + "'");
  }
  return Status::ok();
}

// Checks a new agency against itself and the registry in `state`.
Status check_new_agency(const KvReader& state, const v1::Agency& a) {
  if (!valid_id_chars(a.id(), kMaxAgencyIdBytes)) return Status::invalid_argument("bad agency id");
  if (!valid_id_chars(a.namespace_(), kMaxNamespaceBytes)) return Status::invalid_argument("bad namespace");
  PROV_RETURN_IF_ERROR(check_roles(a.roles()));
  if (a.keys_size() > static_cast<int>(kMaxAgencyKeys)) return Status::invalid_argument("too many agency keys");
  PROV_ASSIGN_OR_RETURN(auto existing, find_agency(state, a.id()));
  if (existing) return Status::invalid_argument("agency '" + a.id() + "' already registered");
  PROV_ASSIGN_OR_RETURN(auto owner, namespace_owner(state, a.namespace_()));
  if (owner) return Status::invalid_argument("namespace '" + a.namespace_() + "' already owned");
  std::set<std::string> keys;
  for (const v1::ClientKey& k : a.keys()) {
    PROV_RETURN_IF_ERROR(check_key_bytes(k.pub_key(), "client key"));
    if (k.name().size() > kMaxNameBytes) return Status::invalid_argument("client key name too long");
    if (!keys.insert(k.pub_key()).second) return Status::invalid_argument("duplicate client key");
    PROV_ASSIGN_OR_RETURN(auto key_of, key_owner(state, PublicKey::from(as_bytes(k.pub_key()))));
    if (key_of) return Status::invalid_argument("client key already registered to '" + *key_of + "'");
  }
  return Status::ok();
}

void put_agency(const v1::AgencyRecord& rec, WriteSet& w) {
  w.put(Column::kRegistry, registry_agency_key(rec.agency().id()), serialize(rec));
}

void write_new_agency(const v1::Agency& a, WriteSet& w) {
  v1::AgencyRecord rec;
  rec.set_version(1);
  *rec.mutable_agency() = a;
  put_agency(rec, w);
  w.put(Column::kRegistry, prefixed(kNamespacePrefix, as_bytes(a.namespace_())), as_bytes(a.id()));
  for (const v1::ClientKey& k : a.keys()) {
    w.put(Column::kRegistry, prefixed(kKeyPrefix, as_bytes(k.pub_key())), as_bytes(a.id()));
  }
}

Status check_validator(const v1::ValidatorSet& set, const v1::Validator& v) {
  PROV_RETURN_IF_ERROR(check_key_bytes(v.pub_key(), "validator key"));
  if (v.name().empty() || v.name().size() > kMaxNameBytes) return Status::invalid_argument("bad validator name");
  for (const v1::Validator& o : set.validators()) {
    if (o.name() == v.name()) return Status::invalid_argument("duplicate validator name '" + v.name() + "'");
    if (o.pub_key() == v.pub_key()) return Status::invalid_argument("duplicate validator key");
  }
  if (set.validators_size() >= static_cast<int>(kMaxValidators)) return Status::invalid_argument("too many validators");
  return Status::ok();
}

// The set that validator changes edit: the pending one if any, else a copy of
// the current one for the next epoch.
Result<v1::ValidatorSet> next_set(const KvReader& state) {
  PROV_ASSIGN_OR_RETURN(auto pending, pending_validators(state));
  if (pending) return *pending;
  PROV_ASSIGN_OR_RETURN(v1::ValidatorSet cur, current_validators(state));
  cur.set_epoch(cur.epoch() + 1);
  return cur;
}

Result<v1::AgencyRecord> require_agency(const KvReader& state, const std::string& id) {
  PROV_ASSIGN_OR_RETURN(auto rec, find_agency(state, id));
  if (!rec) return Status::invalid_argument("unknown agency '" + id + "'");
  return *rec;
}

Status check_active_key(const v1::AgencyRecord& rec, const std::string& key) {
  PROV_RETURN_IF_ERROR(check_key_bytes(key, "key"));
  if (!key_active(rec, PublicKey::from(as_bytes(key)))) {
    return Status::invalid_argument("key is not an active key of '" + rec.agency().id() + "'");
  }
  return Status::ok();
}

Status check_change(const KvReader& state, const v1::GovernanceAction& a) {
  using A = v1::GovernanceAction;
  switch (a.change_case()) {
    case A::kAddValidator: {
      PROV_ASSIGN_OR_RETURN(v1::ValidatorSet next, next_set(state));
      return check_validator(next, a.add_validator());
    }
    case A::kRemoveValidator: {
      PROV_RETURN_IF_ERROR(check_key_bytes(a.remove_validator(), "validator key"));
      PROV_ASSIGN_OR_RETURN(v1::ValidatorSet next, next_set(state));
      if (!find_validator(next, PublicKey::from(as_bytes(a.remove_validator())))) {
        return Status::invalid_argument("not a validator of the next epoch");
      }
      if (next.validators_size() <= 1) return Status::invalid_argument("can not remove the last validator");
      return Status::ok();
    }
    case A::kRegisterAgency:
      return check_new_agency(state, a.register_agency());
    case A::kRotateAgencyKey: {
      const v1::RotateKey& r = a.rotate_agency_key();
      PROV_ASSIGN_OR_RETURN(v1::AgencyRecord rec, require_agency(state, r.agency()));
      PROV_RETURN_IF_ERROR(check_active_key(rec, r.old_key()));
      PROV_RETURN_IF_ERROR(check_key_bytes(r.new_key().pub_key(), "new key"));
      if (r.new_key().name().size() > kMaxNameBytes) return Status::invalid_argument("client key name too long");
      PROV_ASSIGN_OR_RETURN(auto owner, key_owner(state, PublicKey::from(as_bytes(r.new_key().pub_key()))));
      if (owner) return Status::invalid_argument("new key already registered to '" + *owner + "'");
      return Status::ok();
    }
    case A::kRevokeAgencyKey: {
      PROV_ASSIGN_OR_RETURN(v1::AgencyRecord rec, require_agency(state, a.revoke_agency_key().agency()));
      return check_active_key(rec, a.revoke_agency_key().key());
    }
    case A::kSetRoles: {
      PROV_RETURN_IF_ERROR(require_agency(state, a.set_roles().agency()).status());
      return check_roles(a.set_roles().roles());
    }
    case A::kSetParams:
      return check_params(a.set_params());
    case A::CHANGE_NOT_SET:
      break;
  }
  return Status::invalid_argument("governance action without a change");
}

// Moves `key` from rec's active keys to its revoked keys.
void revoke(v1::AgencyRecord& rec, const std::string& key) {
  auto* keys = rec.mutable_agency()->mutable_keys();
  for (int i = 0; i < keys->size(); ++i) {
    if (keys->Get(i).pub_key() != key) continue;
    *rec.add_revoked_keys() = keys->Get(i);
    keys->DeleteSubrange(i, 1);
    return;
  }
}

}  // namespace

Bytes serialize(const google::protobuf::MessageLite& m) {
  std::string out;
  {
    google::protobuf::io::StringOutputStream sos(&out);
    google::protobuf::io::CodedOutputStream cos(&sos);
    cos.SetSerializationDeterministic(true);
    m.SerializeToCodedStream(&cos);
  }
  return to_bytes(out);
}

size_t quorum_size(size_t n) { return 2 * n / 3 + 1; }

Hash256 validator_set_hash(const google::protobuf::RepeatedPtrField<v1::Validator>& validators) {
  Bytes enc = to_bytes("prov/validator-set/v1");
  put_u32_be(enc, static_cast<uint32_t>(validators.size()));
  for (const v1::Validator& v : validators) {
    put_u32_be(enc, static_cast<uint32_t>(v.name().size()));
    append(enc, v.name());
    append(enc, v.pub_key());
  }
  return crypto::sha256(enc);
}

v1::ConsensusParams effective_params(const v1::ConsensusParams& p) {
  v1::ConsensusParams e = p;
  auto dflt = [](uint32_t v, uint32_t d) { return v ? v : d; };
  e.set_max_block_txs(dflt(p.max_block_txs(), kDefaultMaxBlockTxs));
  e.set_max_block_bytes(dflt(p.max_block_bytes(), kDefaultMaxBlockBytes));
  e.set_max_tx_bytes(dflt(p.max_tx_bytes(), kDefaultMaxTxBytes));
  e.set_block_interval_ms(dflt(p.block_interval_ms(), kDefaultBlockIntervalMs));
  e.set_round_timeout_ms(dflt(p.round_timeout_ms(), kDefaultRoundTimeoutMs));
  e.set_max_meta_entries(dflt(p.max_meta_entries(), kDefaultMaxMetaEntries));
  e.set_max_derived_from(dflt(p.max_derived_from(), kDefaultMaxDerivedFrom));
  return e;
}

Status check_params(const v1::ConsensusParams& params) {
  v1::ConsensusParams p = effective_params(params);
  if (p.max_block_txs() > kCeilingMaxBlockTxs) return Status::invalid_argument("max_block_txs above ceiling");
  if (p.max_block_bytes() > kCeilingMaxBlockBytes) return Status::invalid_argument("max_block_bytes above ceiling");
  if (p.max_tx_bytes() > kCeilingMaxTxBytes) return Status::invalid_argument("max_tx_bytes above ceiling");
  if (p.max_tx_bytes() > p.max_block_bytes()) return Status::invalid_argument("max_tx_bytes above max_block_bytes");
  if (p.max_meta_entries() > kCeilingMaxMetaEntries) return Status::invalid_argument("max_meta_entries above ceiling");
  if (p.max_derived_from() > kCeilingMaxDerivedFrom) return Status::invalid_argument("max_derived_from above ceiling");
  return Status::ok();
}

bool is_known_role(std::string_view r) {
  return r == kRoleWriter || r == kRoleRecorder || r == kRoleAuditor || r == kRoleAdmin;
}

bool has_role(const v1::Agency& agency, std::string_view role) {
  return std::any_of(agency.roles().begin(), agency.roles().end(), [&](const std::string& r) { return r == role; });
}

bool key_active(const v1::AgencyRecord& rec, const PublicKey& key) {
  return std::any_of(rec.agency().keys().begin(), rec.agency().keys().end(),
                     [&](const v1::ClientKey& k) { return as_bytes(k.pub_key()).size() == 32 &&
                                                          PublicKey::from(as_bytes(k.pub_key())) == key; });
}

Bytes registry_agency_key(std::string_view id) { return prefixed(kAgencyPrefix, as_bytes(id)); }

Result<std::optional<v1::AgencyRecord>> find_agency(const KvReader& state, std::string_view id) {
  return get_record<v1::AgencyRecord>(state, registry_agency_key(id), "agency");
}

Result<std::optional<std::string>> namespace_owner(const KvReader& state, std::string_view ns) {
  return get_string(state, prefixed(kNamespacePrefix, as_bytes(ns)));
}

Result<std::optional<std::string>> key_owner(const KvReader& state, const PublicKey& key) {
  return get_string(state, prefixed(kKeyPrefix, key));
}

Result<v1::ValidatorSet> current_validators(const KvReader& state) {
  PROV_ASSIGN_OR_RETURN(auto set, get_record<v1::ValidatorSet>(state, as_bytes(kRegistryValidatorSet), "vset"));
  if (!set) return Status::not_found("no validator set (genesis not applied)");
  return *set;
}

Result<std::optional<v1::ValidatorSet>> pending_validators(const KvReader& state) {
  return get_record<v1::ValidatorSet>(state, as_bytes(kRegistryNextValidatorSet), "vset-next");
}

Result<v1::ConsensusParams> consensus_params(const KvReader& state) {
  PROV_ASSIGN_OR_RETURN(auto p, get_record<v1::ConsensusParams>(state, as_bytes(kRegistryParams), "params"));
  if (!p) return Status::not_found("no consensus params (genesis not applied)");
  return effective_params(*p);
}

Result<bool> governance_applied(const KvReader& state, const Hash256& action_hash) {
  auto v = state.get(Column::kRegistry, prefixed(kGovPrefix, action_hash));
  if (!v) return v.status();
  return v->has_value();
}

std::optional<size_t> find_validator(const v1::ValidatorSet& set, const PublicKey& key) {
  for (int i = 0; i < set.validators_size(); ++i) {
    if (as_bytes(set.validators(i).pub_key()).size() == 32 &&
        PublicKey::from(as_bytes(set.validators(i).pub_key())) == key) {
      return static_cast<size_t>(i);
    }
  }
  return std::nullopt;
}

Status write_genesis_registry(const v1::Genesis& genesis, WriteSet& writes) {
  if (genesis.validators_size() == 0) return Status::invalid_argument("genesis has no validators");
  PROV_RETURN_IF_ERROR(check_params(genesis.consensus()));
  v1::ValidatorSet set;
  set.set_version(1);
  set.set_epoch(0);
  for (const v1::Validator& v : genesis.validators()) {
    PROV_RETURN_IF_ERROR(check_validator(set, v));
    *set.add_validators() = v;
  }
  writes.put(Column::kRegistry, as_bytes(kRegistryValidatorSet), serialize(set));
  writes.put(Column::kRegistry, as_bytes(kRegistryParams), serialize(effective_params(genesis.consensus())));
  // Each agency is checked against the ones before it, seen through the writes.
  MemoryKv empty;
  for (const v1::Agency& a : genesis.agencies()) {
    Overlay view(empty, writes);
    PROV_RETURN_IF_ERROR(check_new_agency(view, a));
    write_new_agency(a, writes);
  }
  return Status::ok();
}

Status check_governance_action(const KvReader& state, const v1::GovernanceAction& action,
                               const Hash256& action_hash) {
  PROV_ASSIGN_OR_RETURN(bool applied, governance_applied(state, action_hash));
  if (applied) return Status::already_exists("governance action already applied");
  return check_change(state, action);
}

Status apply_governance_action(const KvReader& state, const v1::GovernanceAction& a, const Hash256& action_hash,
                               WriteSet& w) {
  using A = v1::GovernanceAction;
  w.put(Column::kRegistry, prefixed(kGovPrefix, action_hash), {});
  switch (a.change_case()) {
    case A::kAddValidator: {
      PROV_ASSIGN_OR_RETURN(v1::ValidatorSet next, next_set(state));
      *next.add_validators() = a.add_validator();
      w.put(Column::kRegistry, as_bytes(kRegistryNextValidatorSet), serialize(next));
      return Status::ok();
    }
    case A::kRemoveValidator: {
      PROV_ASSIGN_OR_RETURN(v1::ValidatorSet next, next_set(state));
      auto i = find_validator(next, PublicKey::from(as_bytes(a.remove_validator())));
      if (!i) return Status::internal("validator vanished between check and apply");
      next.mutable_validators()->DeleteSubrange(static_cast<int>(*i), 1);
      w.put(Column::kRegistry, as_bytes(kRegistryNextValidatorSet), serialize(next));
      return Status::ok();
    }
    case A::kRegisterAgency:
      write_new_agency(a.register_agency(), w);
      return Status::ok();
    case A::kRotateAgencyKey: {
      const v1::RotateKey& r = a.rotate_agency_key();
      PROV_ASSIGN_OR_RETURN(v1::AgencyRecord rec, require_agency(state, r.agency()));
      revoke(rec, r.old_key());
      *rec.mutable_agency()->add_keys() = r.new_key();
      put_agency(rec, w);
      w.put(Column::kRegistry, prefixed(kKeyPrefix, as_bytes(r.new_key().pub_key())), as_bytes(r.agency()));
      return Status::ok();
    }
    case A::kRevokeAgencyKey: {
      PROV_ASSIGN_OR_RETURN(v1::AgencyRecord rec, require_agency(state, a.revoke_agency_key().agency()));
      revoke(rec, a.revoke_agency_key().key());
      put_agency(rec, w);
      return Status::ok();
    }
    case A::kSetRoles: {
      PROV_ASSIGN_OR_RETURN(v1::AgencyRecord rec, require_agency(state, a.set_roles().agency()));
      *rec.mutable_agency()->mutable_roles() = a.set_roles().roles();
      put_agency(rec, w);
      return Status::ok();
    }
    case A::kSetParams:
      w.put(Column::kRegistry, as_bytes(kRegistryParams), serialize(effective_params(a.set_params())));
      return Status::ok();
    case A::CHANGE_NOT_SET:
      break;
  }
  return Status::invalid_argument("governance action without a change");
}

}  // namespace prov::ledger
