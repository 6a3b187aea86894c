#include "ledger/genesis.h"

#include <google/protobuf/util/json_util.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "crypto/sha256.h"
#include "ledger/registry.h"

namespace prov::ledger {
namespace {

bool id_chars(std::string_view s, size_t max_bytes) {
  if (s.empty() || s.size() > max_bytes) return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '-' || c == '_';
  });
}

// `what[index] "name"` for messages; the name is only shown if it is sane to
// print, so hostile input can not smuggle control characters into logs.
std::string entry(std::string_view what, int index, std::string_view name) {
  std::string out = std::string(what) + "[" + std::to_string(index) + "]";
  if (valid_key_name(name) || id_chars(name, kMaxNameBytes)) out += " \"" + std::string(name) + "\"";
  return out;
}

Status bad(const std::string& where, const std::string& why) { return Status::invalid_argument(where + ": " + why); }

Status check_key(const std::string& where, const std::string& key, const char* field) {
  if (key.size() != PublicKey::kSize)
    return bad(where, std::string(field) + " must be 32 bytes, got " + std::to_string(key.size()));
  return Status::ok();
}

// Names and keys seen so far across validators and observers.
struct Seen {
  std::map<std::string, std::string> names;  // name -> where first seen
  std::map<std::string, std::string> keys;   // key bytes -> where first seen
};

template <class Node>
Status check_node(const Node& n, const std::string& where, Seen& seen) {
  if (!valid_key_name(n.name()))
    return bad(where, "name must be 1..64 printable ASCII characters without '+' or space");
  PROV_RETURN_IF_ERROR(check_key(where, n.pub_key(), "pub_key"));
  if (!valid_address(n.address())) return bad(where, "address must be host:port, got \"" +
                                                         (valid_key_name(n.address()) ? n.address() : "?") + "\"");
  if (auto [it, fresh] = seen.names.emplace(n.name(), where); !fresh)
    return bad(where, "name is already used by " + it->second);
  if (auto [it, fresh] = seen.keys.emplace(n.pub_key(), where); !fresh)
    return bad(where, "pub_key is already used by " + it->second);
  return Status::ok();
}

Status check_nodes(const v1::Genesis& g, GenesisCheck check) {
  if (g.validators_size() == 0 && check == GenesisCheck::kComplete)
    return Status::invalid_argument("validators: at least one validator is required");
  if (static_cast<size_t>(g.validators_size()) > kMaxValidators)
    return Status::invalid_argument("validators: more than " + std::to_string(kMaxValidators));
  if (static_cast<size_t>(g.observers_size()) > kMaxObservers)
    return Status::invalid_argument("observers: more than " + std::to_string(kMaxObservers));
  Seen seen;
  for (int i = 0; i < g.validators_size(); ++i)
    PROV_RETURN_IF_ERROR(check_node(g.validators(i), entry("validators", i, g.validators(i).name()), seen));
  // Observers share the namespace of names and keys with validators: a key
  // is either a validator or an observer, never both.
  for (int i = 0; i < g.observers_size(); ++i)
    PROV_RETURN_IF_ERROR(check_node(g.observers(i), entry("observers", i, g.observers(i).name()), seen));
  return Status::ok();
}

Status check_roles(const v1::Agency& a, const std::string& where) {
  std::set<std::string> roles;
  for (const std::string& r : a.roles()) {
    if (!is_known_role(r))
      return bad(where, "unknown role \"" + (id_chars(r, 32) ? r : "?") + "\" (roles: writer, recorder, auditor, admin)");
    if (!roles.insert(r).second) return bad(where, "role \"" + r + "\" listed twice");
  }
  return Status::ok();
}

Status check_agency_keys(const v1::Agency& a, const std::string& where, std::map<std::string, std::string>& keys) {
  if (static_cast<size_t>(a.keys_size()) > kMaxAgencyKeys)
    return bad(where, "more than " + std::to_string(kMaxAgencyKeys) + " keys");
  std::set<std::string> names;
  for (int k = 0; k < a.keys_size(); ++k) {
    const v1::ClientKey& key = a.keys(k);
    std::string kw = where + " " + entry("keys", k, key.name());
    if (!valid_key_name(key.name()))
      return bad(kw, "name must be 1..64 printable ASCII characters without '+' or space");
    if (!names.insert(key.name()).second) return bad(kw, "name listed twice in this agency");
    PROV_RETURN_IF_ERROR(check_key(kw, key.pub_key(), "pub_key"));
    if (auto [it, fresh] = keys.emplace(key.pub_key(), kw); !fresh)
      return bad(kw, "pub_key is already used by " + it->second);
  }
  return Status::ok();
}

Status check_agencies(const v1::Genesis& g) {
  if (static_cast<size_t>(g.agencies_size()) > kMaxAgencies)
    return Status::invalid_argument("agencies: more than " + std::to_string(kMaxAgencies));
  std::map<std::string, std::string> ids, namespaces, keys;
  for (int i = 0; i < g.agencies_size(); ++i) {
    const v1::Agency& a = g.agencies(i);
    std::string where = entry("agencies", i, a.id());
    if (!valid_agency_id(a.id())) return bad(where, "id must be 1..64 characters of [a-z0-9._-]");
    if (!valid_namespace(a.namespace_())) return bad(where, "namespace must be 1..64 characters of [a-z0-9._-]");
    if (auto [it, fresh] = ids.emplace(a.id(), where); !fresh) return bad(where, "id is already used by " + it->second);
    if (auto [it, fresh] = namespaces.emplace(a.namespace_(), where); !fresh)
      return bad(where, "namespace \"" + a.namespace_() + "\" is already used by " + it->second);
    PROV_RETURN_IF_ERROR(check_roles(a, where));
    PROV_RETURN_IF_ERROR(check_agency_keys(a, where, keys));
  }
  return Status::ok();
}

Status check_consensus(const v1::Genesis& g) {
  if (!g.has_consensus()) return Status::invalid_argument("consensus: missing (provctl genesis init writes the defaults)");
  Status st = check_params(g.consensus());
  if (!st.is_ok()) return Status::invalid_argument("consensus: " + st.message());
  const v1::ConsensusParams p = effective_params(g.consensus());
  if (p.round_timeout_ms() < kMinRoundTimeoutMs || p.round_timeout_ms() > kMaxRoundTimeoutMs)
    return Status::invalid_argument("consensus: round_timeout_ms must be in [" + std::to_string(kMinRoundTimeoutMs) +
                                    ", " + std::to_string(kMaxRoundTimeoutMs) + "]");
  if (p.block_interval_ms() > kMaxBlockIntervalMs)
    return Status::invalid_argument("consensus: block_interval_ms must be at most " +
                                    std::to_string(kMaxBlockIntervalMs));
  if (p.block_interval_ms() >= p.round_timeout_ms())
    return Status::invalid_argument("consensus: block_interval_ms must be below round_timeout_ms");
  return Status::ok();
}

bool valid_port(std::string_view s) {
  if (s.empty() || s.size() > 5 || s[0] == '0') return false;
  unsigned v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + static_cast<unsigned>(c - '0');
  }
  return v >= 1 && v <= 65535;
}

}  // namespace

bool valid_chain_id(std::string_view s) { return id_chars(s, kChainIdMaxBytes); }
bool valid_agency_id(std::string_view s) { return id_chars(s, kMaxAgencyIdBytes); }
bool valid_namespace(std::string_view s) { return id_chars(s, kMaxNamespaceBytes); }

bool valid_key_name(std::string_view s) {
  if (s.empty() || s.size() > kMaxNameBytes) return false;
  return std::all_of(s.begin(), s.end(), [](char c) { return c > 0x20 && c < 0x7f && c != '+'; });
}

bool valid_address(std::string_view s) {
  if (s.empty() || s.size() > kAddressMaxBytes) return false;
  size_t colon = s.rfind(':');
  if (colon == std::string_view::npos || !valid_port(s.substr(colon + 1))) return false;
  std::string_view host = s.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    std::string_view v6 = host.substr(1, host.size() - 2);
    return !v6.empty() && std::all_of(v6.begin(), v6.end(), [](char c) {
      return std::isxdigit(static_cast<unsigned char>(c)) || c == ':' || c == '.';
    });
  }
  return !host.empty() && std::all_of(host.begin(), host.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-' || c == '_';
  });
}

Result<v1::Genesis> parse_genesis_json(std::string_view json) {
  if (json.size() > kGenesisMaxBytes)
    return Status::resource_exhausted("genesis is larger than " + std::to_string(kGenesisMaxBytes) + " bytes");
  v1::Genesis g;
  google::protobuf::util::JsonParseOptions options;
  options.ignore_unknown_fields = false;
  auto st = google::protobuf::util::JsonStringToMessage(google::protobuf::StringPiece(json.data(), json.size()), &g,
                                                        options);
  if (!st.ok()) return Status::invalid_argument("genesis JSON: " + std::string(st.message()));
  return g;
}

void normalize_genesis(v1::Genesis& genesis) {
  if (genesis.has_consensus()) *genesis.mutable_consensus() = effective_params(genesis.consensus());
}

Status validate_genesis(const v1::Genesis& g, GenesisCheck check) {
  if (g.version() != kGenesisVersion)
    return Status::invalid_argument("version: must be " + std::to_string(kGenesisVersion) + ", got " +
                                    std::to_string(g.version()));
  if (!valid_chain_id(g.chain_id()))
    return Status::invalid_argument("chain_id: must be 1..64 characters of [a-z0-9._-]");
  if (g.genesis_time_ms() < 0) return Status::invalid_argument("genesis_time_ms: must not be negative");
  PROV_RETURN_IF_ERROR(check_nodes(g, check));
  PROV_RETURN_IF_ERROR(check_agencies(g));
  return check_consensus(g);
}

Result<v1::Genesis> load_genesis_json(std::string_view json, GenesisCheck check) {
  PROV_ASSIGN_OR_RETURN(v1::Genesis g, parse_genesis_json(json));
  normalize_genesis(g);
  PROV_RETURN_IF_ERROR(validate_genesis(g, check));
  return g;
}

Result<v1::Genesis> load_genesis_file(const std::string& path, GenesisCheck check) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) return Status::not_found("no such genesis file: " + path);
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::io_error("genesis file " + path + " can not be opened");
  std::string data;
  data.resize(kGenesisMaxBytes + 1);
  in.read(data.data(), static_cast<std::streamsize>(data.size()));
  if (in.bad()) return Status::io_error("reading genesis file " + path);
  data.resize(static_cast<size_t>(in.gcount()));
  auto g = load_genesis_json(data, check);
  if (!g) return Status(g.status().code(), path + ": " + g.status().message());
  return g;
}

Result<std::string> genesis_to_json(const v1::Genesis& genesis) {
  google::protobuf::util::JsonPrintOptions options;
  options.add_whitespace = true;
  options.always_print_primitive_fields = true;
  options.preserve_proto_field_names = true;
  std::string out;
  auto st = google::protobuf::util::MessageToJsonString(genesis, &out, options);
  if (!st.ok()) return Status::internal("printing genesis JSON: " + std::string(st.message()));
  if (out.empty() || out.back() != '\n') out += '\n';
  return out;
}

Hash256 genesis_hash(const v1::Genesis& genesis) { return crypto::sha256(serialize(genesis)); }

}  // namespace prov::ledger
