// provctl anchor: hash a file, sign an AnchorRecord transaction, submit it,
// wait for commit, and write and verify its receipt (docs/cli.md).
#include <google/protobuf/util/json_util.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <iostream>
#include <thread>

#include "crypto/encoding.h"
#include "crypto/keyfile.h"
#include "crypto/sha256.h"
#include "ledger/genesis.h"
#include "ledger/receipt.h"
#include "ledger/registry.h"
#include "ledger/tx.h"
#include "node/api/api.pb.h"
#include "tools/provctl/batch_cmd.h"
#include "tools/provctl/client.h"
#include "tools/provctl/common.h"
#include "tools/provctl/verified.h"
#include "tools/provctl/home.h"

namespace prov::provctl {
namespace {

// Files at least this large get a progress bar when stderr is a terminal;
// beyond kProgressAlwaysBytes a percentage line is printed even when not.
constexpr uint64_t kProgressTtyBytes = 8u << 20;
constexpr uint64_t kProgressAlwaysBytes = 64u << 20;
// How long to wait for commit, and then for a checkpoint covering the entry.
constexpr uint32_t kSubmitWaitMs = 30000;
constexpr uint32_t kReceiptPollMs = 30000;
constexpr uint32_t kReceiptPollIntervalMs = 250;

struct AnchorOptions {
  std::string file;
  std::string dataset;
  uint64_t version = 0;
  std::vector<std::string> derived_from;
  std::vector<std::string> meta;
  std::string media_type = "application/octet-stream";
  std::string receipt;
  bool no_wait = false;
  PassphraseOptions passphrase;
};

crypto::ProgressFn progress_for(uint64_t size) {
  const bool tty = isatty(STDERR_FILENO) == 1;
  if (!(tty && size >= kProgressTtyBytes) && size <= kProgressAlwaysBytes) return nullptr;
  auto last = std::make_shared<int>(-1);
  return [tty, last](uint64_t done, uint64_t total) {
    int pct = total ? static_cast<int>(done * 100 / total) : 100;
    if (tty) {
      if (pct == *last) return;
      int bar = pct / 4;
      std::fprintf(stderr, "\rhashing [%-25s] %3d%%%s", std::string(bar, '#').c_str(), pct, done == total ? "\n" : "");
    } else {
      if (pct / 10 == *last / 10 && done != total) return;
      std::fprintf(stderr, "hashing: %d%%\n", pct);
    }
    *last = pct;
  };
}

// "ns/name@V" -> DatasetRef.
Result<ledger::v1::DatasetRef> parse_ref(const std::string& s) {
  size_t at = s.rfind('@');
  ledger::v1::DatasetRef ref;
  uint64_t v = 0;
  if (at == std::string::npos || !ledger::dataset_id_valid(s.substr(0, at)) || at + 1 == s.size() ||
      s.substr(at + 1).find_first_not_of("0123456789") != std::string::npos ||
      (v = std::strtoull(s.c_str() + at + 1, nullptr, 10)) == 0)
    return Status::invalid_argument("--derived-from \"" + s + "\" must be NS/NAME@VERSION with VERSION >= 1");
  ref.set_dataset(s.substr(0, at));
  ref.set_version(v);
  return ref;
}

template <class M>
bool parse_json(const std::string& body, M* out) {
  google::protobuf::util::JsonParseOptions opts;
  opts.ignore_unknown_fields = true;  // newer nodes may add fields
  return google::protobuf::util::JsonStringToMessage(body, out, opts).ok();
}

// Fetches the receipt of `index` until a checkpoint covers it (bounded).
Result<std::string> fetch_receipt(NodeClient& client, uint64_t index) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(kReceiptPollMs);
  for (;;) {
    PROV_ASSIGN_OR_RETURN(HttpReply r, client.request("GET", "/v1/receipts/" + std::to_string(index), {}, {}, true));
    if (r.status == 200) {
      node::api::v1::ReceiptResponse rr;
      if (!parse_json(r.body, &rr)) return Status::corruption("node sent an unreadable receipt response");
      return rr.receipt();
    }
    if (r.status != 404 || std::chrono::steady_clock::now() > deadline)
      return Status(r.status == 404 ? StatusCode::kNotFound : StatusCode::kInvalidArgument,
                    "receipt for entry " + std::to_string(index) + ": " + api_error_message(r));
    std::this_thread::sleep_for(std::chrono::milliseconds(kReceiptPollIntervalMs));
  }
}

int run_anchor(const Context& ctx, const AnchorOptions& o) {
  if (!ledger::dataset_id_valid(o.dataset))
    return usage_error(ctx, "--dataset \"" + o.dataset + "\" must be NS/NAME (namespace [a-z0-9._-], name segments)");
  auto home = load_home(ctx.home);
  if (!home) return report(ctx, home.status());
  if (home->agency.empty())
    return report(ctx, Status::invalid_argument("provctl.conf names no agency (add `agency = <id>`)"));
  auto genesis = ledger::load_genesis_file(home->genesis_path);
  if (!genesis) return report(ctx, genesis.status());
  auto pass = read_passphrase(o.passphrase);
  if (!pass) return report(ctx, pass.status());
  auto key = crypto::load_key_file(home->key_path, *pass);
  if (!key) return report(ctx, key.status());

  ledger::v1::TransactionBody body = new_transaction_body(genesis->chain_id(), home->agency);
  ledger::v1::AnchorRecord* a = body.mutable_anchor();
  a->set_dataset(o.dataset);
  a->set_version(o.version);
  a->set_media_type(o.media_type);
  for (const auto& d : o.derived_from) {
    auto ref = parse_ref(d);
    if (!ref) return usage_error(ctx, ref.status().message());
    *a->add_derived_from() = *ref;
  }
  for (const auto& m : o.meta) {
    size_t eq = m.find('=');
    if (eq == std::string::npos || eq == 0) return usage_error(ctx, "--meta \"" + m + "\" must be KEY=VALUE");
    ledger::v1::MetaEntry* e = a->add_meta();
    e->set_key(m.substr(0, eq));
    e->set_value(m.substr(eq + 1));
  }
  struct stat st {};
  uint64_t size_hint = ::stat(o.file.c_str(), &st) == 0 ? static_cast<uint64_t>(st.st_size) : 0;
  auto digest = crypto::sha256_file(o.file, progress_for(size_hint));
  if (!digest) return report(ctx, digest.status());
  a->set_digest(to_string(digest->digest));
  a->set_size_bytes(digest->size_bytes);
  Bytes tx = ledger::sign_transaction(body, *key);
  const std::string tx_hash = crypto::hex_encode(crypto::sha256(tx));

  NodeClient client(home->nodes, genesis->chain_id(), *key);
  node::api::v1::SubmitRequest sr;
  sr.set_tx(to_string(tx));
  sr.set_wait(!o.no_wait);
  sr.set_timeout_ms(kSubmitWaitMs);
  std::string req_json;
  google::protobuf::util::JsonPrintOptions popts;
  popts.preserve_proto_field_names = true;
  (void)google::protobuf::util::MessageToJsonString(sr, &req_json, popts);
  auto reply = client.request("POST", "/v1/transactions", req_json, "application/json", false, kSubmitWaitMs + 10000);
  if (!reply) return report(ctx, reply.status());
  if (reply->status != 200 && reply->status != 202)
    return report(ctx, Status(StatusCode::kInvalidArgument, "the node refused the transaction: " + api_error_message(*reply)));
  node::api::v1::SubmitResponse res;
  if (!parse_json(reply->body, &res)) return report(ctx, Status::corruption("node sent an unreadable submit response"));

  if (o.no_wait || !res.committed()) {
    if (!o.no_wait) // Not 3: a script retrying on "unreachable" would anchor the file twice.
      return report(ctx, Status(StatusCode::kIOError, "accepted but not committed in time; look up tx " + tx_hash));
    if (ctx.json)
      std::cout << JsonObject().boolean("ok", true).str("state", res.state()).str("tx_hash", tx_hash)
                       .str("digest", crypto::hex_encode(digest->digest)).str("node", reply->node).dump() << "\n";
    else
      std::cout << "submitted " << o.dataset << " (" << res.state() << ")\ntx:      " << tx_hash << "\n";
    return static_cast<int>(Exit::kOk);
  }
  std::string receipt = res.receipt();
  if (receipt.empty()) {
    auto fetched = fetch_receipt(client, res.entry_index());
    if (!fetched) return report(ctx, fetched.status());
    receipt = *fetched;
  }
  // Nothing is reported as done on the node's word: check the receipt here.
  auto verified = ledger::verify_receipt(receipt, *genesis);
  if (!verified) return report(ctx, Status::verification_failed("receipt does not verify: " + verified.status().message()));
  if (verified->entry.tx() != to_string(tx) || verified->index != res.entry_index())
    return report(ctx, Status::verification_failed("the receipt is not for the submitted transaction"));
  uint64_t version = 0;
  for (const auto& l : verified->entry.links())
    if (l.dataset() == o.dataset) version = l.version();
  const std::string out = o.receipt.empty() ? o.file + ".tlog-proof" : o.receipt;
  Status w = crypto::write_file_atomic(out, as_bytes(receipt), 0644, true);
  if (!w.is_ok()) return report(ctx, w);
  const auto& cp = verified->checkpoint;
  if (ctx.json) {
    std::cout << JsonObject()
                     .boolean("ok", true)
                     .str("dataset", o.dataset)
                     .num("version", static_cast<int64_t>(version))
                     .str("digest", crypto::hex_encode(digest->digest))
                     .num("size_bytes", static_cast<int64_t>(digest->size_bytes))
                     .str("tx_hash", tx_hash)
                     .num("entry_index", static_cast<int64_t>(verified->index))
                     .num("height", static_cast<int64_t>(verified->entry.height()))
                     .num("checkpoint_size", static_cast<int64_t>(cp.checkpoint.size))
                     .num("signatures", static_cast<int64_t>(cp.signers.size()))
                     .str("receipt", out)
                     .str("node", reply->node)
                     .dump()
              << "\n";
  } else {
    std::cout << "anchored " << o.dataset << "@" << version << "\n"
              << "digest:  sha256:" << crypto::hex_encode(digest->digest) << " (" << digest->size_bytes << " bytes)\n"
              << "entry:   " << verified->index << " in block " << verified->entry.height() << "\n"
              << "receipt: " << out << " (verified: inclusion in checkpoint of size " << cp.checkpoint.size << ", "
              << cp.signers.size() << " of " << genesis->validators_size() << " validator signatures)\n";
  }
  return static_cast<int>(Exit::kOk);
}

}  // namespace

void add_anchor_command(CLI::App& app, Context& ctx) {
  auto o = std::make_shared<AnchorOptions>();
  CLI::App* cmd = app.add_subcommand("anchor", "anchor a dataset version by its SHA-256 and get a verified receipt");
  cmd->add_option("file", o->file, "the file to anchor (streamed, never uploaded); not with --batch");
  auto batch = std::make_shared<BatchAnchorArgs>();
  cmd->add_option("--batch", batch->batch_file, "anchor the records of this NDJSON file as one batch (docs/receipts.md)");
  cmd->add_option("--proofs", batch->proofs_dir, "with --batch: directory for per-record proofs (default FILE.proofs)");
  cmd->add_option("--dataset", o->dataset, "dataset id NS/NAME in your agency's namespace")->required();
  cmd->add_option("--version", o->version, "explicit version (default: latest + 1)");
  cmd->add_option("--derived-from", o->derived_from, "a source dataset version NS/NAME@V (repeatable)");
  cmd->add_option("--meta", o->meta, "metadata KEY=VALUE (repeatable; never personal data)");
  cmd->add_option("--media-type", o->media_type, "media type of the content")->capture_default_str();
  cmd->add_option("--receipt", o->receipt, "where to write the receipt (default FILE.tlog-proof)");
  cmd->add_flag("--no-wait", o->no_wait, "return once the node admitted the transaction (no receipt)");
  add_passphrase_options(cmd, o->passphrase, "the client key");
  cmd->footer(
      "Example:\n"
      "  PROV_HOME=./localnet provctl anchor sales-2024.csv --dataset demo/sales --meta source=erp\n"
      "  provctl anchor model.parquet --dataset demo/model --derived-from demo/sales@3 --json\n"
      "  provctl anchor --batch records.ndjson --dataset demo/records\n"
      "Writes FILE.tlog-proof (a C2SP tlog-proof) after checking it against the home's genesis.json.");
  cmd->callback([&ctx, o, batch] {
    ctx.run = [&ctx, o, batch] {
      if (batch->batch_file.empty() == o->file.empty())
        return usage_error(ctx, "give either FILE or --batch FILE.ndjson");
      if (batch->batch_file.empty()) return run_anchor(ctx, *o);
      batch->dataset = o->dataset;
      batch->version = o->version;
      batch->derived_from = o->derived_from;
      batch->meta = o->meta;
      batch->media_type = o->media_type;
      batch->receipt = o->receipt;
      batch->passphrase = o->passphrase;
      return run_anchor_batch(ctx, *batch);
    };
  });
}

}  // namespace prov::provctl
