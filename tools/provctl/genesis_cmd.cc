// provctl genesis: the one generator of keys and genesis (localnet), and the
// tools an operator uses to assemble a real network's genesis by hand
// (init, add-validator, add-observer, add-agency, validate).
// Every command that writes re-validates the whole genesis first and writes
// it atomically, so a genesis file on disk is always one that loads.
#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <memory>
#include <sstream>

#include "crypto/encoding.h"
#include "crypto/keyfile.h"
#include "crypto/note.h"
#include "ledger/genesis.h"
#include "ledger/registry.h"
#include "tools/provctl/common.h"

namespace prov::provctl {
namespace {

namespace v1 = ::prov::ledger::v1;
using ledger::GenesisCheck;

constexpr mode_t kPublicFileMode = 0644;
// API ports are base+i and peer ports base+100+i, so more than 99 nodes
// would collide; 64 is plenty on one machine.
constexpr int kLocalnetMaxValidators = 64;
constexpr int kDefaultBasePort = 7000;
constexpr size_t kAgencySecretBytes = 32;

std::string hex(const Hash256& h) { return crypto::hex_encode(h); }

std::string vkey_of(const std::string& name, const std::string& pub_key) {
  auto v = crypto::note::NoteVerifier::create(name, PublicKey::from(as_bytes(pub_key)));
  return v ? v->vkey() : std::string();
}

// Normalizes, validates at `check` and writes `g` to `path` atomically.
Status save_genesis(const std::string& path, v1::Genesis& g, GenesisCheck check, bool overwrite) {
  ledger::normalize_genesis(g);
  Status st = ledger::validate_genesis(g, check);
  if (!st.is_ok()) return Status::invalid_argument("refusing to write an invalid genesis: " + st.message());
  PROV_ASSIGN_OR_RETURN(std::string json, ledger::genesis_to_json(g));
  return crypto::write_file_atomic(path, as_bytes(json), kPublicFileMode, overwrite);
}

// Prints the result of a command that changed a genesis file.
int report_saved(const Context& ctx, const std::string& path, const v1::Genesis& g, const std::string& what) {
  if (ctx.json) {
    std::cout << JsonObject()
                     .boolean("ok", true)
                     .str("genesis", path)
                     .str("chain_id", g.chain_id())
                     .num("validators", g.validators_size())
                     .num("observers", g.observers_size())
                     .num("agencies", g.agencies_size())
                     .str("genesis_hash", hex(ledger::genesis_hash(g)))
                     .dump()
              << "\n";
  } else {
    std::cout << path << ": " << what << " (" << g.validators_size() << " validators, " << g.observers_size()
              << " observers, " << g.agencies_size() << " agencies)\n";
  }
  return static_cast<int>(Exit::kOk);
}

// A public key from --pub-key (base64) or --key-file (public part only).
Result<std::string> public_key_arg(const std::string& b64, const std::string& key_file) {
  if (!key_file.empty()) {
    PROV_ASSIGN_OR_RETURN(crypto::KeyFileInfo info, crypto::read_key_file_info(key_file));
    return to_string(info.public_key);
  }
  auto key = crypto::base64_decode_fixed<PublicKey>(b64);
  if (!key) return Status::invalid_argument("--pub-key must be the base64 of 32 bytes: " + key.status().message());
  return to_string(*key);
}

// ------------------------------------------------------------------ init

struct InitOptions {
  std::string chain_id;
  std::string out;
  int64_t genesis_time_ms = -1;
  bool force = false;
};

int run_init(const Context& ctx, const InitOptions& o) {
  if (!ledger::valid_chain_id(o.chain_id)) return usage_error(ctx, "--chain-id must be 1..64 characters of [a-z0-9._-]");
  v1::Genesis g;
  g.set_version(ledger::kGenesisVersion);
  g.set_chain_id(o.chain_id);
  g.set_genesis_time_ms(o.genesis_time_ms >= 0 ? o.genesis_time_ms : now_ms());
  g.mutable_consensus();
  Status st = save_genesis(o.out, g, GenesisCheck::kDraft, o.force);
  if (st.code() == StatusCode::kAlreadyExists) return report(ctx, Status::already_exists(st.message() + " (use --force)"));
  if (!st.is_ok()) return report(ctx, st);
  return report_saved(ctx, o.out, g, "created");
}

// ------------------------------------------------------------------ add-validator / add-observer

struct AddNodeOptions {
  bool observer = false;
  std::string genesis;
  std::string name;
  std::string pub_key;
  std::string key_file;
  std::string address;
};

int run_add_node(const Context& ctx, const AddNodeOptions& o) {
  if (o.pub_key.empty() == o.key_file.empty()) return usage_error(ctx, "give exactly one of --pub-key and --key-file");
  if (!ledger::valid_key_name(o.name))
    return usage_error(ctx, "--name must be 1..64 printable ASCII characters without '+' or space");
  if (!ledger::valid_address(o.address)) return usage_error(ctx, "--address must be host:port");
  auto key = public_key_arg(o.pub_key, o.key_file);
  if (!key) {
    if (key.status().code() == StatusCode::kInvalidArgument) return usage_error(ctx, key.status().message());
    return report(ctx, key.status());
  }
  auto g = ledger::load_genesis_file(o.genesis, GenesisCheck::kDraft);
  if (!g) return report(ctx, g.status());
  if (o.observer) {
    v1::Observer* n = g->add_observers();
    n->set_name(o.name);
    n->set_pub_key(*key);
    n->set_address(o.address);
  } else {
    v1::Validator* n = g->add_validators();
    n->set_name(o.name);
    n->set_pub_key(*key);
    n->set_address(o.address);
  }
  Status st = save_genesis(o.genesis, *g, GenesisCheck::kDraft, true);
  if (!st.is_ok()) return report(ctx, st);
  return report_saved(ctx, o.genesis, *g, std::string("added ") + (o.observer ? "observer " : "validator ") + o.name);
}

// ------------------------------------------------------------------ add-agency

struct AddAgencyOptions {
  std::string genesis;
  std::string id;
  std::string ns;
  std::vector<std::string> roles;
  std::vector<std::string> keys;  // [NAME:]BASE64
};

// Parses "[NAME:]BASE64" (base64 never contains ':'); unnamed keys are
// called key-<n>, n counting from 1 within the agency.
Result<v1::ClientKey> parse_client_key(const std::string& arg, int index) {
  v1::ClientKey k;
  auto colon = arg.find(':');
  std::string b64 = colon == std::string::npos ? arg : arg.substr(colon + 1);
  k.set_name(colon == std::string::npos ? "key-" + std::to_string(index + 1) : arg.substr(0, colon));
  if (!ledger::valid_key_name(k.name())) return Status::invalid_argument("--key name \"" + k.name() + "\" is not a valid key name");
  auto key = crypto::base64_decode_fixed<PublicKey>(b64);
  if (!key) return Status::invalid_argument("--key must be [NAME:]BASE64 of a 32-byte public key");
  k.set_pub_key(to_string(*key));
  return k;
}

int run_add_agency(const Context& ctx, const AddAgencyOptions& o) {
  if (!ledger::valid_agency_id(o.id)) return usage_error(ctx, "--id must be 1..64 characters of [a-z0-9._-]");
  if (!ledger::valid_namespace(o.ns)) return usage_error(ctx, "--namespace must be 1..64 characters of [a-z0-9._-]");
  v1::Agency a;
  a.set_id(o.id);
  a.set_namespace_(o.ns);
  for (const std::string& r : o.roles) {
    if (!ledger::is_known_role(r)) return usage_error(ctx, "unknown role \"" + r + "\" (writer, recorder, auditor, admin)");
    a.add_roles(r);
  }
  for (size_t i = 0; i < o.keys.size(); ++i) {
    auto k = parse_client_key(o.keys[i], static_cast<int>(i));
    if (!k) return usage_error(ctx, k.status().message());
    *a.add_keys() = *k;
  }
  auto g = ledger::load_genesis_file(o.genesis, GenesisCheck::kDraft);
  if (!g) return report(ctx, g.status());
  *g->add_agencies() = a;
  Status st = save_genesis(o.genesis, *g, GenesisCheck::kDraft, true);
  if (!st.is_ok()) return report(ctx, st);
  return report_saved(ctx, o.genesis, *g, "added agency " + o.id);
}

// ------------------------------------------------------------------ validate

std::string node_json(const std::string& name, const std::string& key, const std::string& address) {
  return JsonObject()
      .str("name", name)
      .str("pub_key", crypto::base64_encode(as_bytes(key)))
      .str("address", address)
      .str("vkey", vkey_of(name, key))
      .dump();
}

int run_validate(const Context& ctx, const std::string& path) {
  auto g = ledger::load_genesis_file(path, GenesisCheck::kComplete);
  if (!g) return report(ctx, g.status());
  const std::string gh = hex(ledger::genesis_hash(*g));
  const std::string vh = hex(ledger::validator_set_hash(g->validators()));
  const size_t q = ledger::quorum_size(static_cast<size_t>(g->validators_size()));
  if (ctx.json) {
    std::vector<std::string> validators;
    for (const auto& v : g->validators()) validators.push_back(node_json(v.name(), v.pub_key(), v.address()));
    std::cout << JsonObject()
                     .boolean("ok", true)
                     .str("genesis", path)
                     .str("chain_id", g->chain_id())
                     .num("quorum", static_cast<int64_t>(q))
                     .num("observers", g->observers_size())
                     .num("agencies", g->agencies_size())
                     .str("genesis_hash", gh)
                     .str("validator_set_hash", vh)
                     .raw("validators", json_array(validators))
                     .dump()
              << "\n";
    return static_cast<int>(Exit::kOk);
  }
  std::cout << path << ": valid\n"
            << "chain_id:           " << g->chain_id() << "\n"
            << "validators:         " << g->validators_size() << " (quorum " << q << ")\n"
            << "observers:          " << g->observers_size() << "\n"
            << "agencies:           " << g->agencies_size() << "\n"
            << "genesis hash:       " << gh << "\n"
            << "validator-set hash: " << vh << "\n";
  for (const auto& v : g->validators()) std::cout << "  " << vkey_of(v.name(), v.pub_key()) << "  " << v.address() << "\n";
  return static_cast<int>(Exit::kOk);
}

// ------------------------------------------------------------------ localnet

struct LocalnetOptions {
  int validators = 4;
  std::string out;
  std::string chain_id = "localnet";
  int base_port = kDefaultBasePort;
  bool force = false;
};

struct LocalnetFile {
  std::string path;
  Bytes data;
  mode_t mode;
};

std::string join(const std::string& dir, const std::string& name) { return (std::filesystem::path(dir) / name).string(); }

// The provctl home config: see docs/cli.md ("Home directory").
std::string localnet_config(const LocalnetOptions& o) {
  std::ostringstream c;
  c << "# provctl home configuration, written by `provctl genesis localnet` (docs/cli.md).\n"
    << "# One `key = value` per line; '#' starts a comment. Paths are relative to this\n"
    << "# directory. `node` repeats: provctl tries the nodes in order and fails over.\n"
    << "chain_id = " << o.chain_id << "\n"
    << "genesis = genesis.json\n"
    << "key = client.key\n"
    << "agency = demo\n"
    << "agency_secret = agency.secret\n";
  for (int i = 1; i <= o.validators; ++i) c << "node = http://127.0.0.1:" << o.base_port + i << "\n";
  return c.str();
}

Status make_dir(const std::string& path, mode_t mode) {
  if (::mkdir(path.c_str(), mode) != 0 && errno != EEXIST)
    return Status::io_error("creating directory " + path + ": " + std::strerror(errno));
  return Status::ok();
}

int run_localnet(const Context& ctx, const LocalnetOptions& o) {
  if (!ledger::valid_chain_id(o.chain_id)) return usage_error(ctx, "--chain-id must be 1..64 characters of [a-z0-9._-]");
  if (o.base_port + 100 + o.validators > 65535)
    return usage_error(ctx, "--base-port too high: peer ports are base+100+i and must stay below 65536");

  // Build everything in memory first, so a refusal writes nothing.
  v1::Genesis g;
  g.set_version(ledger::kGenesisVersion);
  g.set_chain_id(o.chain_id);
  g.set_genesis_time_ms(now_ms());
  g.mutable_consensus();
  std::vector<LocalnetFile> files;
  crypto::KeyFileWriteOptions plain;
  plain.overwrite = o.force;
  std::vector<crypto::KeyPair> keys;
  for (int i = 1; i <= o.validators; ++i) {
    keys.push_back(crypto::KeyPair::generate());
    v1::Validator* v = g.add_validators();
    v->set_name("validator-" + std::to_string(i));
    v->set_pub_key(to_string(keys.back().public_key()));
    v->set_address("127.0.0.1:" + std::to_string(o.base_port + 100 + i));
  }
  crypto::KeyPair client = crypto::KeyPair::generate();
  v1::Agency* demo = g.add_agencies();
  demo->set_id("demo");
  demo->set_namespace_("demo");
  for (std::string_view r : {ledger::kRoleWriter, ledger::kRoleRecorder, ledger::kRoleAuditor, ledger::kRoleAdmin})
    demo->add_roles(std::string(r));
  v1::ClientKey* ck = demo->add_keys();
  ck->set_name("client");
  ck->set_pub_key(to_string(client.public_key()));
  ledger::normalize_genesis(g);
  Status valid = ledger::validate_genesis(g);
  if (!valid.is_ok()) return report(ctx, Status::internal("generated genesis is invalid: " + valid.message()));
  auto json = ledger::genesis_to_json(g);
  if (!json) return report(ctx, json.status());

  Bytes secret(kAgencySecretBytes);
  crypto::random_bytes(secret);
  const std::string conf = localnet_config(o);
  files.push_back({join(o.out, "genesis.json"), to_bytes(*json), kPublicFileMode});
  files.push_back({join(o.out, "provctl.conf"), to_bytes(conf), kPublicFileMode});
  files.push_back({join(o.out, "agency.secret"), secret, 0600});

  std::vector<std::string> key_paths = {join(o.out, "client.key")};
  for (int i = 1; i <= o.validators; ++i) key_paths.push_back(join(join(o.out, "node" + std::to_string(i)), "node.key"));
  if (!o.force) {
    for (const auto& f : files)
      if (std::filesystem::exists(f.path)) return report(ctx, Status::already_exists(f.path + " already exists (use --force)"));
    for (const auto& p : key_paths)
      if (std::filesystem::exists(p)) return report(ctx, Status::already_exists(p + " already exists (use --force)"));
  }

  std::error_code ec;
  std::filesystem::create_directories(o.out, ec);
  if (ec) return report(ctx, Status::io_error("creating directory " + o.out + ": " + ec.message()));
  for (int i = 1; i <= o.validators; ++i) {
    Status st = make_dir(join(o.out, "node" + std::to_string(i)), 0700);
    if (!st.is_ok()) return report(ctx, st);
  }
  Status st = crypto::write_key_file(key_paths[0], client, plain);
  for (int i = 0; st.is_ok() && i < o.validators; ++i) st = crypto::write_key_file(key_paths[i + 1], keys[i], plain);
  for (size_t i = 0; st.is_ok() && i < files.size(); ++i)
    st = crypto::write_file_atomic(files[i].path, files[i].data, files[i].mode, o.force);
  std::fill(secret.begin(), secret.end(), 0);
  if (!st.is_ok()) return report(ctx, st);

  const std::string gh = hex(ledger::genesis_hash(g));
  if (ctx.json) {
    std::vector<std::string> nodes;
    for (int i = 1; i <= o.validators; ++i) {
      const v1::Validator& v = g.validators(i - 1);
      nodes.push_back(JsonObject()
                          .str("name", v.name())
                          .str("pub_key", crypto::base64_encode(as_bytes(v.pub_key())))
                          .str("vkey", vkey_of(v.name(), v.pub_key()))
                          .str("peer_address", v.address())
                          .str("api_url", "http://127.0.0.1:" + std::to_string(o.base_port + i))
                          .str("key_file", key_paths[static_cast<size_t>(i)])
                          .dump());
    }
    std::cout << JsonObject()
                     .boolean("ok", true)
                     .str("dir", o.out)
                     .str("chain_id", o.chain_id)
                     .str("genesis", files[0].path)
                     .str("genesis_hash", gh)
                     .str("client_key", key_paths[0])
                     .str("client_public_key", crypto::base64_encode(client.public_key()))
                     .str("config", files[1].path)
                     .raw("validators", json_array(nodes))
                     .dump()
              << "\n";
    return static_cast<int>(Exit::kOk);
  }
  std::cout << "localnet \"" << o.chain_id << "\" with " << o.validators << " validators in " << o.out << "\n"
            << "  genesis.json   genesis hash " << gh << "\n"
            << "  provctl.conf   node API URLs http://127.0.0.1:" << o.base_port + 1 << " .. :"
            << o.base_port + o.validators << "\n"
            << "  client.key     agency \"demo\" (namespace demo, every role)\n"
            << "  agency.secret  key for hashing data-subject ids (keep it off the ledger)\n"
            << "  node<i>/node.key  validator-<i>, peers on 127.0.0.1:" << o.base_port + 101 << " .. :"
            << o.base_port + 100 + o.validators << "\n";
  return static_cast<int>(Exit::kOk);
}

// ------------------------------------------------------------------ registration

void add_init(CLI::App* genesis, Context& ctx) {
  auto o = std::make_shared<InitOptions>();
  CLI::App* cmd = genesis->add_subcommand("init", "start a draft genesis with a chain id and default parameters");
  cmd->add_option("--chain-id", o->chain_id, "chain id: 1..64 characters of [a-z0-9._-]")->required();
  cmd->add_option("--out", o->out, "genesis file to write")->required();
  cmd->add_option("--genesis-time-ms", o->genesis_time_ms, "genesis time, ms since the Unix epoch (default: now)")
      ->check(CLI::NonNegativeNumber);
  cmd->add_flag("--force", o->force, "overwrite an existing file");
  cmd->footer("Example:\n  provctl genesis init --chain-id nation-prov-1 --out genesis.json");
  cmd->callback([&ctx, o] { ctx.run = [&ctx, o] { return run_init(ctx, *o); }; });
}

void add_node_command(CLI::App* genesis, Context& ctx, bool observer) {
  auto o = std::make_shared<AddNodeOptions>();
  o->observer = observer;
  const std::string kind = observer ? "observer" : "validator";
  CLI::App* cmd = genesis->add_subcommand("add-" + kind, "add a" + std::string(observer ? "n " : " ") + kind +
                                                             " to a genesis file (re-validated, written atomically)");
  cmd->add_option("--genesis", o->genesis, "genesis file to update")->required();
  cmd->add_option("--name", o->name, "unique name; also its signed-note key name")->required();
  auto* pk = cmd->add_option("--pub-key", o->pub_key, "base64 Ed25519 public key (from `provctl keygen`)");
  auto* kf = cmd->add_option("--key-file", o->key_file, "take the public key from this key file instead");
  pk->excludes(kf);
  cmd->add_option("--address", o->address, "host:port of its peer endpoint")->required();
  cmd->footer("Example:\n  provctl genesis add-" + kind + " --genesis genesis.json --name " +
              (observer ? "mirror-1" : "validator-1") +
              " --pub-key 11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo= --address node1.example.org:7101");
  cmd->callback([&ctx, o] { ctx.run = [&ctx, o] { return run_add_node(ctx, *o); }; });
}

void add_agency_command(CLI::App* genesis, Context& ctx) {
  auto o = std::make_shared<AddAgencyOptions>();
  CLI::App* cmd = genesis->add_subcommand("add-agency", "add an agency with its namespace, roles and client keys");
  cmd->add_option("--genesis", o->genesis, "genesis file to update")->required();
  cmd->add_option("--id", o->id, "agency id: 1..64 characters of [a-z0-9._-]")->required();
  cmd->add_option("--namespace", o->ns, "dataset namespace the agency owns")->required();
  cmd->add_option("--roles", o->roles, "comma-separated subset of writer,recorder,auditor,admin")->delimiter(',');
  cmd->add_option("--key", o->keys, "client key as [NAME:]BASE64; repeat for several")->required();
  cmd->footer(
      "Example:\n  provctl genesis add-agency --genesis genesis.json --id stats --namespace stats "
      "--roles writer,recorder --key pipeline:11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=");
  cmd->callback([&ctx, o] { ctx.run = [&ctx, o] { return run_add_agency(ctx, *o); }; });
}

void add_validate(CLI::App* genesis, Context& ctx) {
  auto path = std::make_shared<std::string>();
  CLI::App* cmd = genesis->add_subcommand("validate", "check a genesis file; print its hashes and validators");
  cmd->add_option("FILE", *path, "genesis file")->required();
  cmd->footer("Example:\n  provctl genesis validate genesis.json --json");
  cmd->callback([&ctx, path] { ctx.run = [&ctx, path] { return run_validate(ctx, *path); }; });
}

void add_localnet(CLI::App* genesis, Context& ctx) {
  auto o = std::make_shared<LocalnetOptions>();
  CLI::App* cmd = genesis->add_subcommand(
      "localnet", "generate keys, genesis and a provctl home for N validators on 127.0.0.1");
  cmd->add_option("--validators", o->validators, "number of validators")
      ->check(CLI::Range(1, kLocalnetMaxValidators))
      ->capture_default_str();
  cmd->add_option("--out", o->out, "directory to write (created if missing)")->required();
  cmd->add_option("--chain-id", o->chain_id, "chain id")->capture_default_str();
  cmd->add_option("--base-port", o->base_port, "node i serves its API on base+i and peers on base+100+i")
      ->check(CLI::Range(1024, 65000))
      ->capture_default_str();
  cmd->add_flag("--force", o->force, "overwrite existing files in the directory");
  cmd->footer(
      "Writes DIR/genesis.json, DIR/provctl.conf, DIR/client.key, DIR/agency.secret and DIR/node<i>/node.key.\n"
      "Example:\n  provctl genesis localnet --validators 4 --out ./localnet --base-port 7000");
  cmd->callback([&ctx, o] { ctx.run = [&ctx, o] { return run_localnet(ctx, *o); }; });
}

}  // namespace

void add_genesis_commands(CLI::App& app, Context& ctx) {
  CLI::App* genesis = app.add_subcommand("genesis", "create, edit and check genesis files");
  genesis->require_subcommand(1);
  genesis->fallthrough();
  genesis->footer(
      "Examples:\n"
      "  provctl genesis localnet --validators 4 --out ./localnet\n"
      "  provctl genesis init --chain-id nation-prov-1 --out genesis.json\n"
      "  provctl genesis validate genesis.json");
  add_localnet(genesis, ctx);
  add_init(genesis, ctx);
  add_node_command(genesis, ctx, false);
  add_node_command(genesis, ctx, true);
  add_agency_command(genesis, ctx);
  add_validate(genesis, ctx);
}

}  // namespace prov::provctl
