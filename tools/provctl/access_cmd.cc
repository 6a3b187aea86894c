// provctl access: record an access event (read, export, share, delete, …)
// on a dataset, with the data subject only as a keyed BLAKE2b hash under the
// agency's secret (docs/cli.md). The raw subject id never leaves this process.
#include <iostream>
#include <memory>

#include "crypto/encoding.h"
#include "crypto/keyed_hash.h"
#include "crypto/keyfile.h"
#include "crypto/sha256.h"
#include "ledger/registry.h"
#include "ledger/tx.h"
#include "tools/provctl/common.h"
#include "tools/provctl/verified.h"

namespace prov::provctl {
namespace {

struct AccessOptions {
  std::string dataset;
  std::string action;
  std::string purpose;
  std::string legal_basis;
  std::string subject;
  std::string actor;
  std::string receipt;
  PassphraseOptions passphrase;
};

// The actor defaults to the name of the client key in the genesis.
std::string default_actor(const ReadSession& s) {
  for (const auto& a : s.genesis.agencies())
    for (const auto& k : a.keys())
      if (a.id() == s.home.agency && s.key && k.pub_key() == to_string(s.key->public_key())) return k.name();
  return "provctl";
}

int run_access(const Context& ctx, const AccessOptions& o) {
  std::string dataset = o.dataset;
  uint64_t version = 0;
  if (size_t at = o.dataset.rfind('@'); at != std::string::npos) {
    dataset = o.dataset.substr(0, at);
    const std::string v = o.dataset.substr(at + 1);
    if (v.empty() || v.size() > 19 || v.find_first_not_of("0123456789") != std::string::npos || std::stoull(v) == 0)
      return usage_error(ctx, "--dataset \"" + o.dataset + "\" must be NS/NAME or NS/NAME@VERSION (VERSION >= 1)");
    version = std::stoull(v);
  }
  if (!ledger::dataset_id_valid(dataset)) return usage_error(ctx, "--dataset \"" + dataset + "\" is not NS/NAME");
  if (o.purpose.empty() || o.purpose.size() > ledger::kMaxPurposeBytes)
    return usage_error(ctx, "--purpose must be 1.." + std::to_string(ledger::kMaxPurposeBytes) + " bytes");
  if (o.legal_basis.size() > ledger::kMaxLegalBasisBytes)
    return usage_error(ctx, "--legal-basis must be at most " + std::to_string(ledger::kMaxLegalBasisBytes) + " bytes");
  auto s = open_session(ctx, o.passphrase, true);
  if (!s) return report(ctx, s.status());
  if (s->home.agency.empty())
    return report(ctx, Status::invalid_argument("provctl.conf names no agency (add `agency = <id>`)"));
  const std::string actor = o.actor.empty() ? default_actor(*s) : o.actor;
  if (actor.size() > ledger::kMaxActorBytes) return usage_error(ctx, "--actor is too long");

  ledger::v1::TransactionBody body = new_transaction_body(s->genesis.chain_id(), s->home.agency);
  ledger::v1::AccessEvent* e = body.mutable_access();
  e->set_dataset(dataset);
  e->set_version(version);
  e->set_actor(actor);
  e->set_action(o.action);
  e->set_purpose(o.purpose);
  e->set_legal_basis(o.legal_basis);
  e->set_access_time_ms(body.client_time_ms());
  if (!o.subject.empty()) {
    if (s->home.agency_secret_path.empty())
      return report(ctx, Status::invalid_argument(
                             "--subject needs the agency's secret: add `agency_secret = FILE` to provctl.conf"));
    auto secret = crypto::read_private_file(s->home.agency_secret_path, crypto::kKeyedHashMaxKeyBytes);
    if (!secret) return report(ctx, Status(secret.status().code(), "agency secret " + s->home.agency_secret_path +
                                                                        ": " + secret.status().message()));
    auto h = crypto::keyed_hash(*secret, o.subject);
    std::fill(secret->begin(), secret->end(), 0);
    if (!h) return report(ctx, h.status());
    e->set_subject_hash(to_string(*h));
  }
  Bytes tx = ledger::sign_transaction(body, *s->key);
  std::string receipt_text;
  auto v = submit_and_verify(*s->client, s->genesis, tx, &receipt_text);
  if (!v) return report(ctx, v.status());
  if (!o.receipt.empty()) {
    Status w = crypto::write_file_atomic(o.receipt, as_bytes(receipt_text), 0644, true);
    if (!w.is_ok()) return report(ctx, w);
  }
  auto f = entry_facts(v->entry, s->genesis);
  if (!f) return report(ctx, f.status());
  if (ctx.json) {
    JsonObject out;
    out.boolean("ok", true).boolean("verified", true).raw("entry", entry_json(*f));
    out.num("checkpoint_size", static_cast<int64_t>(v->checkpoint.checkpoint.size))
        .num("signatures", static_cast<int64_t>(v->checkpoint.signers.size()));
    if (!o.receipt.empty()) out.str("receipt", o.receipt);
    std::cout << out.dump() << "\n";
    return static_cast<int>(Exit::kOk);
  }
  std::cout << "recorded " << o.action << " of " << entry_subject(*f) << "\n"
            << entry_text(*f, "  ") << "  receipt:   verified (checkpoint size " << v->checkpoint.checkpoint.size
            << ", " << v->checkpoint.signers.size() << " of " << s->genesis.validators_size()
            << " validator signatures)" << (o.receipt.empty() ? "" : "; written to " + o.receipt) << "\n";
  return static_cast<int>(Exit::kOk);
}

}  // namespace

void add_access_command(CLI::App& app, Context& ctx) {
  auto o = std::make_shared<AccessOptions>();
  CLI::App* cmd = app.add_subcommand("access", "record who accessed a dataset, how and why");
  cmd->add_option("--dataset", o->dataset, "NS/NAME (the dataset as a whole) or NS/NAME@VERSION")->required();
  std::vector<std::string> actions(std::begin(ledger::kAccessActions), std::end(ledger::kAccessActions));
  cmd->add_option("--action", o->action, "what was done: read, export, share, delete, query or copy")
      ->required()
      ->check(CLI::IsMember(actions));
  cmd->add_option("--purpose", o->purpose, "why (free text; never personal data)")->required();
  cmd->add_option("--legal-basis", o->legal_basis, "the legal basis, e.g. \"GDPR 6(1)(e)\"");
  cmd->add_option("--subject", o->subject,
                  "the data subject's id; only its keyed BLAKE2b hash under the agency secret is sent");
  cmd->add_option("--actor", o->actor, "pseudonymous actor id within your agency (default: the client key's name)");
  cmd->add_option("--receipt", o->receipt, "write the verified receipt here (default: write nothing)");
  add_passphrase_options(cmd, o->passphrase, "the client key");
  cmd->footer(
      "Example:\n"
      "  PROV_HOME=./localnet provctl access --dataset demo/sales@1 --action export \\\n"
      "      --purpose \"quarterly statistics\" --legal-basis \"Statistics Act §5\" --subject citizen-4711\n"
      "Waits for commit and verifies the receipt locally before reporting success.");
  cmd->callback([&ctx, o] { ctx.run = [&ctx, o] { return run_access(ctx, *o); }; });
}

}  // namespace prov::provctl
