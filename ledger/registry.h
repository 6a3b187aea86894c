// The registry: who may do what on the ledger.
//
// Agencies (id, namespace, roles, active and revoked client keys), the
// validator set of the current epoch, the pending validator set of the next
// epoch, and the consensus parameters. All of it lives in Column::kRegistry;
// apply_genesis writes the first version and approved governance changes
// update it. Every function reads only the KvReader it is given and returns
// writes as a WriteSet, so the registry is part of the deterministic state.
//
// Governance semantics: register agency, rotate or revoke a key, set roles
// and set parameters apply immediately when the transaction commits (the next
// transaction of the same block already sees them). Adding or removing a
// validator only edits the *pending* set ("vset-next"); it becomes the
// current set when a block of the next epoch is applied (see state.h).
//
// Registry keys (kRegistry):
//   "agency/" id        -> AgencyRecord
//   "ns/" namespace     -> agency id
//   "key/" 32-byte key  -> agency id (every key ever registered, incl. revoked)
//   "vset"              -> ValidatorSet of the current epoch
//   "vset-next"         -> ValidatorSet of the next epoch (absent: no change)
//   "params"            -> ConsensusParams (defaults filled in)
//   "gov/" SHA-256(action bytes) -> "" (applied actions; replays are rejected)
// Thread-safety: pure functions of their arguments.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "crypto/bytes.h"
#include "crypto/status.h"
#include "ledger/kv.h"
#include "ledger/proto/ledger.pb.h"

namespace prov::ledger {

// Role names (Agency.roles).
inline constexpr std::string_view kRoleWriter = "writer";      // anchors in its own namespace
inline constexpr std::string_view kRoleRecorder = "recorder";  // records access events
inline constexpr std::string_view kRoleAuditor = "auditor";    // reads everything
inline constexpr std::string_view kRoleAdmin = "admin";        // proposes governance

// Defaults for zero ConsensusParams fields, and the hard ceilings a
// set_params change may not exceed.
inline constexpr uint32_t kDefaultMaxBlockTxs = 2000;
inline constexpr uint32_t kDefaultMaxBlockBytes = 8u << 20;     // 8 MiB of tx bytes
inline constexpr uint32_t kDefaultMaxTxBytes = 64u << 10;       // 64 KiB
inline constexpr uint32_t kDefaultBlockIntervalMs = 200;
inline constexpr uint32_t kDefaultRoundTimeoutMs = 1000;
inline constexpr uint32_t kDefaultMaxMetaEntries = 32;
inline constexpr uint32_t kDefaultMaxDerivedFrom = 64;
inline constexpr uint32_t kCeilingMaxBlockTxs = 100000;
inline constexpr uint32_t kCeilingMaxBlockBytes = 64u << 20;    // 64 MiB
inline constexpr uint32_t kCeilingMaxTxBytes = 1u << 20;        // 1 MiB
inline constexpr uint32_t kCeilingMaxMetaEntries = 256;
inline constexpr uint32_t kCeilingMaxDerivedFrom = 1024;
inline constexpr size_t kMaxValidators = 256;
inline constexpr size_t kMaxAgencyIdBytes = 64;
inline constexpr size_t kMaxNamespaceBytes = 64;
inline constexpr size_t kMaxNameBytes = 64;                     // validator and key names
inline constexpr size_t kMaxAgencyKeys = 64;

// q = ⌊2n/3⌋ + 1 (DESIGN.md). Duplicated from consensus/quorum.h because the
// ledger may not depend on consensus. Requires n >= 1.
size_t quorum_size(size_t n);

// SHA-256 over the canonical encoding of the ordered validator list:
//   "prov/validator-set/v1" ‖ u32 BE count ‖ per validator, in order:
//   u32 BE len(name) ‖ name ‖ 32-byte public key.
// Addresses are not covered: they are operational and may change without
// governance. Headers, commit records and checkpoints carry this hash.
Hash256 validator_set_hash(const google::protobuf::RepeatedPtrField<v1::Validator>& validators);

// `params` with every zero field replaced by its default.
v1::ConsensusParams effective_params(const v1::ConsensusParams& params);
// OK iff every field of effective `params` is within its ceiling.
Status check_params(const v1::ConsensusParams& params);

// True iff `role` is one of the four known roles.
bool is_known_role(std::string_view role);
bool has_role(const v1::Agency& agency, std::string_view role);
// True iff `key` is an active (registered, not revoked) key of `agency`.
bool key_active(const v1::AgencyRecord& agency, const PublicKey& key);

// Lookups. Absent records are std::nullopt; storage errors and undecodable
// records are errors (kCorruption).
Result<std::optional<v1::AgencyRecord>> find_agency(const KvReader& state, std::string_view id);
Result<std::optional<std::string>> namespace_owner(const KvReader& state, std::string_view ns);
Result<std::optional<std::string>> key_owner(const KvReader& state, const PublicKey& key);
Result<v1::ValidatorSet> current_validators(const KvReader& state);
Result<std::optional<v1::ValidatorSet>> pending_validators(const KvReader& state);
Result<v1::ConsensusParams> consensus_params(const KvReader& state);
// True iff the governance action with this hash was already applied.
Result<bool> governance_applied(const KvReader& state, const Hash256& action_hash);
// Index of `key` in `set`, or nullopt.
std::optional<size_t> find_validator(const v1::ValidatorSet& set, const PublicKey& key);

// Writes the registry for a validated genesis (epoch 0). Fails with
// kInvalidArgument on inconsistencies a validator would also catch
// (duplicate ids, namespaces, keys or validator names; bad key sizes).
Status write_genesis_registry(const v1::Genesis& genesis, WriteSet& writes);

// Checks `action` against `state`: kInvalidArgument naming the problem, or
// kAlreadyExists when the action (by `action_hash`) was applied before.
Status check_governance_action(const KvReader& state, const v1::GovernanceAction& action,
                               const Hash256& action_hash);
// Applies a checked action (see the header comment for when it takes effect).
Status apply_governance_action(const KvReader& state, const v1::GovernanceAction& action,
                               const Hash256& action_hash, WriteSet& writes);

// Registry keys, for stores and tools that inspect them.
Bytes registry_agency_key(std::string_view id);
inline constexpr std::string_view kRegistryValidatorSet = "vset";
inline constexpr std::string_view kRegistryNextValidatorSet = "vset-next";
inline constexpr std::string_view kRegistryParams = "params";

// Serializes `m` deterministically (no map-order surprises); every record the
// ledger writes goes through here.
Bytes serialize(const google::protobuf::MessageLite& m);

}  // namespace prov::ledger
