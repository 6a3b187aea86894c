// provctl receipt verify: offline verification of a receipt (a C2SP
// tlog-proof) or a batch record proof against the genesis, optionally
// checking a file's SHA-256 against the anchored digest (docs/cli.md,
// docs/receipts.md). No network at all.
#include <iostream>
#include <memory>

#include "crypto/encoding.h"
#include "crypto/note.h"
#include "crypto/sha256.h"
#include "ledger/registry.h"
#include "tools/provctl/batch_proof.h"
#include "tools/provctl/common.h"
#include "tools/provctl/verified.h"

namespace prov::provctl {
namespace {

struct ReceiptVerifyOptions {
  std::string receipt;
  std::string genesis;
  std::string file;
};

// Whatever is longer than a batch proof can be is not one.
constexpr size_t kMaxProofFileBytes = crypto::note::kMaxTlogProofBytes + 64 * 1024;

// When no genesis validator signed: say whether the signers merely share
// names with ours (another network, e.g. another localnet) — the usual cause.
std::string foreign_hint(std::string_view proof_text, const ledger::v1::Genesis& genesis) {
  size_t blank = proof_text.find("\n\n");
  if (blank == std::string_view::npos) return "";
  auto note = crypto::note::parse_note(proof_text.substr(blank + 2));
  if (!note) return "";
  size_t same_name = 0;
  for (const auto& sig : note->signatures)
    for (const auto& v : genesis.validators())
      if (v.name() == sig.name) ++same_name;
  std::vector<crypto::note::NoteVerifier> known;
  for (const auto& v : genesis.validators()) {
    auto verifier = crypto::note::NoteVerifier::create(v.name(), PublicKey::from(as_bytes(v.pub_key())));
    if (verifier) known.push_back(std::move(*verifier));
  }
  auto valid = crypto::note::verify_note(*note, known);
  if (same_name > 0 && valid && valid->empty())
    return " (the checkpoint's signers have the genesis validators' names but other keys: this receipt is from "
           "another network, or --genesis names the wrong file)";
  return "";
}

int run_receipt_verify(const Context& ctx, const ReceiptVerifyOptions& o) {
  auto genesis = load_genesis_for_verify(ctx, o.genesis);
  if (!genesis) return report(ctx, genesis.status());
  auto text = read_text_file(o.receipt, kMaxProofFileBytes);
  if (!text) return report(ctx, text.status());

  std::optional<VerifiedBatchRecord> batch;
  ledger::VerifiedReceipt receipt;
  if (is_batch_proof(*text)) {
    auto b = verify_batch_proof(*text, *genesis);
    if (!b) {
      auto parsed = parse_batch_proof(*text);
      return report(ctx, Status::verification_failed(o.receipt + " does not verify: " + b.status().message() +
                                                     (parsed ? foreign_hint(parsed->receipt, *genesis) : "")));
    }
    receipt = b->receipt;
    batch = std::move(*b);
  } else {
    auto r = ledger::verify_receipt(*text, *genesis);
    if (!r)
      return report(ctx, Status::verification_failed(o.receipt + " does not verify: " + r.status().message() +
                                                     foreign_hint(*text, *genesis)));
    receipt = std::move(*r);
  }
  auto facts = entry_facts(receipt.entry, *genesis);
  if (!facts) return report(ctx, facts.status());
  if (!facts->signature_valid)
    return report(ctx, Status::verification_failed("the transaction in entry " + std::to_string(facts->index) +
                                                   " carries a signature that does not verify"));

  // The digest a --file must match: the record's for a batch proof, the
  // anchor's otherwise.
  std::string file_line;
  if (!o.file.empty()) {
    if (!facts->body.has_anchor())
      return report(ctx, Status::verification_failed("--file: entry " + std::to_string(facts->index) + " is an " +
                                                     facts->kind + ", not an anchor; it names no content digest"));
    if (!batch && facts->body.anchor().batch_records())
      return report(ctx, Status::verification_failed(
                             "--file: this receipt is for a whole batch; check a record with its batch record proof"));
    auto d = crypto::sha256_file(o.file);
    if (!d) return report(ctx, d.status());
    Hash256 want = batch ? batch->proof.record : Hash256::from(as_bytes(facts->body.anchor().digest()));
    if (d->digest != want)
      return report(ctx, Status::verification_failed("--file " + o.file + " has sha256:" +
                                                     crypto::hex_encode(d->digest) + ", the receipt proves sha256:" +
                                                     crypto::hex_encode(want) + ": not the anchored content"));
    file_line = o.file + " matches (sha256:" + crypto::hex_encode(d->digest) + ", " +
                std::to_string(d->size_bytes) + " bytes)";
  }

  const auto& cp = receipt.checkpoint;
  const size_t q = ledger::quorum_size(static_cast<size_t>(genesis->validators_size()));
  if (ctx.json) {
    JsonObject out;
    out.boolean("ok", true).boolean("verified", true).str("receipt", o.receipt);
    out.raw("entry", entry_json(*facts)).raw("checkpoint", checkpoint_json(cp, *genesis));
    if (batch)
      out.raw("batch_record", JsonObject()
                                  .str("record", crypto::hex_encode(batch->proof.record))
                                  .num("index", static_cast<int64_t>(batch->proof.index))
                                  .num("size", static_cast<int64_t>(batch->proof.size))
                                  .dump());
    if (!o.file.empty()) out.str("file", o.file).boolean("file_matches", true);
    std::cout << out.dump() << "\n";
    return static_cast<int>(Exit::kOk);
  }
  std::cout << "verified " << o.receipt << " against genesis of chain " << genesis->chain_id() << "\n";
  if (batch)
    std::cout << "  record:    sha256:" << crypto::hex_encode(batch->proof.record) << " is record "
              << batch->proof.index << " of " << batch->proof.size << " in the batch below\n";
  std::cout << entry_text(*facts, "  ");
  std::cout << "  checkpoint: size " << cp.checkpoint.size << ", signed by " << cp.signers.size() << " of "
            << genesis->validators_size() << " validators (quorum " << q << ")\n";
  if (!file_line.empty()) std::cout << "  file:      " << file_line << "\n";
  return static_cast<int>(Exit::kOk);
}

}  // namespace

void add_receipt_commands(CLI::App& app, Context& ctx) {
  CLI::App* receipt = app.add_subcommand("receipt", "work with receipts (C2SP tlog-proofs) offline");
  receipt->require_subcommand(1);
  receipt->footer("Example:\n  provctl receipt verify sales-2024.csv.tlog-proof --file sales-2024.csv");
  auto o = std::make_shared<ReceiptVerifyOptions>();
  CLI::App* cmd = receipt->add_subcommand(
      "verify", "verify a receipt or batch record proof offline against the genesis (no network)");
  cmd->add_option("receipt", o->receipt, "the .tlog-proof receipt or batch record proof")->required();
  cmd->add_option("--genesis", o->genesis, "genesis.json to verify against (default: the home's)");
  cmd->add_option("--file", o->file, "also check that this file's SHA-256 is the anchored digest");
  cmd->footer(
      "Example:\n"
      "  provctl receipt verify sales-2024.csv.tlog-proof --genesis genesis.json --file sales-2024.csv\n"
      "Exit 0 if the inclusion path leads to a checkpoint signed by a quorum of the genesis validators\n"
      "(and the file matches); 1 with the reason otherwise.");
  cmd->callback([&ctx, o] { ctx.run = [&ctx, o] { return run_receipt_verify(ctx, *o); }; });
}

}  // namespace prov::provctl
