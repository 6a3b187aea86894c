// provctl tx: transaction tools for benchmarks and integration tests
// (docs/cli.md, "tx").
//
//   tx anchor-batch  pre-signs N anchor transactions (one distinct dataset
//                    each) and writes their exact bytes as base64 lines, so
//                    a load generator can submit them without holding a key.
//   tx find          looks transactions up by hash on the home's nodes (or
//                    one --node), with signed reads, and says which exist.
//   tx get-signed    one signed GET of an API path, the body on stdout (for
//                    checks that need ledger reads, e.g. /v1/blocks/H).
#include <google/protobuf/util/json_util.h>

#include <fstream>
#include <iostream>
#include <memory>

#include "crypto/encoding.h"
#include "crypto/keyfile.h"
#include "crypto/sha256.h"
#include "ledger/genesis.h"
#include "ledger/registry.h"
#include "ledger/tx.h"
#include "node/api/api.pb.h"
#include "tools/provctl/client.h"
#include "tools/provctl/common.h"
#include "tools/provctl/home.h"

namespace prov::provctl {
namespace {

// A batch beyond this is a mistake, not a benchmark: it would take minutes to
// sign and gigabytes to hold.
constexpr uint64_t kAnchorBatchMax = 10'000'000;
constexpr size_t kFindHashesMax = 100'000;

struct AnchorBatchOptions {
  uint64_t count = 0;
  std::string dataset_prefix;
  std::string out;
  PassphraseOptions passphrase;
};

struct FindOptions {
  std::vector<std::string> hashes;
  std::string hashes_file;
  std::string node;
  PassphraseOptions passphrase;
};

// The home, its genesis and its client key, which every tx verb needs.
struct Signer {
  HomeConfig home;
  ledger::v1::Genesis genesis;
  crypto::KeyPair key;
};

Result<Signer> load_signer(const Context& ctx, const PassphraseOptions& po) {
  PROV_ASSIGN_OR_RETURN(HomeConfig home, load_home(ctx.home));
  if (home.agency.empty()) return Status::invalid_argument("provctl.conf names no agency (add `agency = <id>`)");
  PROV_ASSIGN_OR_RETURN(ledger::v1::Genesis genesis, ledger::load_genesis_file(home.genesis_path));
  PROV_ASSIGN_OR_RETURN(std::optional<std::string> pass, read_passphrase(po));
  PROV_ASSIGN_OR_RETURN(crypto::KeyPair key, crypto::load_key_file(home.key_path, pass));
  return Signer{std::move(home), std::move(genesis), std::move(key)};
}

int run_anchor_batch(const Context& ctx, const AnchorBatchOptions& o) {
  if (o.count == 0 || o.count > kAnchorBatchMax)
    return usage_error(ctx, "--count must be 1.." + std::to_string(kAnchorBatchMax));
  if (!ledger::dataset_id_valid(o.dataset_prefix + "0"))
    return usage_error(ctx, "--dataset-prefix \"" + o.dataset_prefix + "\" must make NS/NAME<i> a valid dataset id");
  auto signer = load_signer(ctx, o.passphrase);
  if (!signer) return report(ctx, signer.status());
  // Distinct random nonces per run: two runs against one network never
  // collide as duplicates even with the same prefix.
  uint64_t nonce_base = 0;
  crypto::random_bytes({reinterpret_cast<uint8_t*>(&nonce_base), sizeof nonce_base});
  const std::string tmp = o.out + ".tmp";
  std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
  if (!out) return report(ctx, Status::io_error("cannot write " + tmp));
  const int64_t t = now_ms();
  for (uint64_t i = 0; i < o.count; ++i) {
    ledger::v1::TransactionBody body;
    body.set_version(1);
    body.set_chain_id(signer->genesis.chain_id());
    body.set_agency(signer->home.agency);
    body.set_nonce(nonce_base + i);
    body.set_client_time_ms(t);
    ledger::v1::AnchorRecord* a = body.mutable_anchor();
    const std::string dataset = o.dataset_prefix + std::to_string(i);
    a->set_dataset(dataset);
    a->set_media_type("application/octet-stream");
    a->set_digest(to_string(crypto::sha256(as_bytes(dataset + "@" + std::to_string(nonce_base)))));
    a->set_size_bytes(i);
    Bytes tx = ledger::sign_transaction(body, signer->key);
    out << crypto::base64_encode(tx) << "\n";
  }
  out.close();
  if (!out || std::rename(tmp.c_str(), o.out.c_str()) != 0)
    return report(ctx, Status::io_error("cannot write " + o.out));
  if (ctx.json)
    std::cout << JsonObject().boolean("ok", true).num("count", static_cast<int64_t>(o.count)).str("out", o.out).dump()
              << "\n";
  else
    std::cout << "wrote " << o.count << " signed anchor transactions to " << o.out << "\n";
  return static_cast<int>(Exit::kOk);
}

int run_find(const Context& ctx, FindOptions o) {
  if (!o.hashes_file.empty()) {
    std::ifstream in(o.hashes_file);
    if (!in) return report(ctx, Status::io_error("cannot read " + o.hashes_file));
    for (std::string line; std::getline(in, line) && o.hashes.size() <= kFindHashesMax;)
      if (!line.empty()) o.hashes.push_back(line);
  }
  if (o.hashes.empty() || o.hashes.size() > kFindHashesMax)
    return usage_error(ctx, "give 1.." + std::to_string(kFindHashesMax) + " hashes");
  for (const auto& h : o.hashes)
    if (h.size() != 64 || h.find_first_not_of("0123456789abcdef") != std::string::npos)
      return usage_error(ctx, "\"" + h + "\" is not a lower-case hex SHA-256");
  auto signer = load_signer(ctx, o.passphrase);
  if (!signer) return report(ctx, signer.status());
  std::vector<std::string> nodes = o.node.empty() ? signer->home.nodes : std::vector<std::string>{o.node};
  NodeClient client(nodes, signer->genesis.chain_id(), signer->key);
  std::vector<std::string> found, missing;
  for (const auto& h : o.hashes) {
    auto r = client.request("GET", "/v1/entries/by-hash/" + h, {}, {}, true);
    if (!r) return report(ctx, r.status());
    if (r->status == 404) {
      missing.push_back(h);
      continue;
    }
    node::api::v1::EntryResponse er;
    google::protobuf::util::JsonParseOptions opts;
    opts.ignore_unknown_fields = true;
    if (r->status != 200 || !google::protobuf::util::JsonStringToMessage(r->body, &er, opts).ok())
      return report(ctx, Status(StatusCode::kInvalidArgument, "lookup of " + h + ": " + api_error_message(*r)));
    found.push_back(JsonObject().str("tx_hash", h).num("entry_index", static_cast<int64_t>(er.index())).dump());
  }
  if (ctx.json) {
    std::vector<std::string> quoted;
    for (const auto& m : missing) quoted.push_back(json_quote(m));
    std::cout << JsonObject()
                     .boolean("ok", missing.empty())
                     .raw("found", json_array(found))
                     .raw("missing", json_array(quoted))
                     .dump()
              << "\n";
  } else {
    std::cout << found.size() << " found, " << missing.size() << " missing\n";
    for (const auto& m : missing) std::cout << "missing: " << m << "\n";
  }
  if (!missing.empty()) std::cerr << "provctl: " << missing.size() << " transaction(s) not found\n";
  return static_cast<int>(missing.empty() ? Exit::kOk : Exit::kFailed);
}

int run_get_signed(const Context& ctx, const std::string& path, const std::string& node,
                   const PassphraseOptions& po) {
  if (path.empty() || path[0] != '/') return usage_error(ctx, "PATH must start with '/', e.g. /v1/blocks/3");
  auto signer = load_signer(ctx, po);
  if (!signer) return report(ctx, signer.status());
  std::vector<std::string> nodes = node.empty() ? signer->home.nodes : std::vector<std::string>{node};
  NodeClient client(nodes, signer->genesis.chain_id(), signer->key);
  auto r = client.request("GET", path, {}, {}, true);
  if (!r) return report(ctx, r.status());
  std::cout << r->body;
  if (!r->body.empty() && r->body.back() != '\n') std::cout << "\n";
  if (r->status != 200) {
    std::cerr << "provctl: HTTP " << r->status << " from " << r->node << "\n";
    return static_cast<int>(Exit::kFailed);
  }
  return static_cast<int>(Exit::kOk);
}

}  // namespace

void add_tx_commands(CLI::App& app, Context& ctx) {
  CLI::App* tx = app.add_subcommand("tx", "transaction tools for load generation and checks");
  tx->require_subcommand(1);

  auto b = std::make_shared<AnchorBatchOptions>();
  CLI::App* batch = tx->add_subcommand("anchor-batch", "pre-sign N anchor transactions as base64 lines");
  batch->add_option("--count", b->count, "number of transactions")->required();
  batch->add_option("--dataset-prefix", b->dataset_prefix, "dataset i is PREFIX<i>, e.g. demo/bench-")->required();
  batch->add_option("--out", b->out, "file to write (one base64 SignedTransaction per line)")->required();
  add_passphrase_options(batch, b->passphrase, "the client key");
  batch->footer(
      "Example:\n  PROV_HOME=./localnet provctl tx anchor-batch --count 10000 --dataset-prefix demo/b- --out txs.b64\n"
      "Submit a line's decoded bytes with POST /v1/transactions (application/octet-stream).");
  batch->callback([&ctx, b] { ctx.run = [&ctx, b] { return run_anchor_batch(ctx, *b); }; });

  auto f = std::make_shared<FindOptions>();
  CLI::App* find = tx->add_subcommand("find", "check that transactions are in the ledger, by hex SHA-256");
  find->add_option("hashes", f->hashes, "transaction hashes (hex SHA-256 of the exact bytes)");
  find->add_option("--hashes-file", f->hashes_file, "a file with one hash per line");
  find->add_option("--node", f->node, "ask only this node URL instead of the home's nodes");
  add_passphrase_options(find, f->passphrase, "the client key");
  find->footer("Example:\n  PROV_HOME=./localnet provctl tx find 3f2a... --node http://127.0.0.1:7002 --json\n"
               "Exit 0 if every hash is found, 1 if any is missing.");
  find->callback([&ctx, f] { ctx.run = [&ctx, f] { return run_find(ctx, *f); }; });

  struct GetOptions {
    std::string path;
    std::string node;
    PassphraseOptions passphrase;
  };
  auto g = std::make_shared<GetOptions>();
  CLI::App* get = tx->add_subcommand("get-signed", "one signed GET of an API path; prints the answer's body");
  get->add_option("path", g->path, "the request target, e.g. /v1/blocks/3")->required();
  get->add_option("--node", g->node, "ask only this node URL instead of the home's nodes");
  add_passphrase_options(get, g->passphrase, "the client key");
  get->footer("Example:\n  PROV_HOME=./localnet provctl tx get-signed /v1/blocks/3 --node http://127.0.0.1:7002\n"
              "Exit 0 on HTTP 200, 1 on any other answer, 3 if no node answered.");
  get->callback([&ctx, g] { ctx.run = [&ctx, g] { return run_get_signed(ctx, g->path, g->node, g->passphrase); }; });
}

}  // namespace prov::provctl
