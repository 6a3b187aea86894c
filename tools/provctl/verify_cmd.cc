// provctl verify FILE: hash a file, ask the home's nodes which entries anchor
// that content, and verify each one locally (receipt inclusion and the
// checkpoint quorum against the genesis) before printing who anchored it and
// when (docs/cli.md).
#include <iostream>
#include <memory>

#include "crypto/encoding.h"
#include "crypto/sha256.h"
#include "ledger/registry.h"
#include "node/api/api.pb.h"
#include "tools/provctl/common.h"
#include "tools/provctl/verified.h"

namespace prov::provctl {
namespace {

// Anchors of one content verified per run; beyond this the answer says so.
constexpr size_t kVerifyMaxAnchors = 1000;
constexpr uint32_t kDigestPageLimit = 100;

struct VerifyOptions {
  std::string file;
  PassphraseOptions passphrase;
};

// Every entry index the nodes name for `digest`, bounded; `truncated` is
// set when more exist.
Result<std::vector<uint64_t>> anchors_of(NodeClient& client, const std::string& hex, bool* truncated) {
  std::vector<uint64_t> out;
  std::string cursor;
  for (;;) {
    std::string target = "/v1/digests/" + hex + "?limit=" + std::to_string(kDigestPageLimit);
    if (!cursor.empty()) target += "&cursor=" + cursor;
    PROV_ASSIGN_OR_RETURN(auto page, get_json<node::api::v1::DigestResponse>(client, target, true, "digest lookup"));
    for (uint64_t i : page.indexes()) {
      if (out.size() == kVerifyMaxAnchors) {
        *truncated = true;
        return out;
      }
      out.push_back(i);
    }
    if (page.next_cursor().empty() || page.indexes().empty()) return out;
    cursor = page.next_cursor();
  }
}

int run_verify(const Context& ctx, const VerifyOptions& o) {
  auto s = open_session(ctx, o.passphrase, true);
  if (!s) return report(ctx, s.status());
  auto d = crypto::sha256_file(o.file);
  if (!d) return report(ctx, d.status());
  const std::string hex = crypto::hex_encode(d->digest);
  bool truncated = false;
  auto indexes = anchors_of(*s->client, hex, &truncated);
  if (!indexes && indexes.status().code() != StatusCode::kNotFound) return report(ctx, indexes.status());
  if (!indexes || indexes->empty())
    return report(ctx, Status::not_found("no anchor of " + o.file + " (sha256:" + hex +
                                         ") found on the ledger; if it is a record of a batch, verify its batch "
                                         "record proof with `provctl receipt verify`"));
  std::vector<EntryFacts> verified;
  uint64_t max_cp = 0;
  size_t signers = 0;
  for (uint64_t index : *indexes) {
    auto r = fetch_verified_receipt(*s->client, s->genesis, index, nullptr);
    if (!r) return report(ctx, r.status());
    auto f = entry_facts(r->entry, s->genesis);
    if (!f) return report(ctx, f.status());
    // The node named this entry; only its verified bytes say what it anchors.
    if (!f->body.has_anchor() || f->body.anchor().digest() != to_string(d->digest) ||
        f->body.anchor().batch_records() != 0)
      return report(ctx, Status::verification_failed("the node named entry " + std::to_string(index) +
                                                     " as an anchor of sha256:" + hex + ", but it is not"));
    if (!f->signature_valid)
      return report(ctx, Status::verification_failed("entry " + std::to_string(index) +
                                                     " holds a transaction whose signature does not verify"));
    if (r->checkpoint.checkpoint.size > max_cp) {
      max_cp = r->checkpoint.checkpoint.size;
      signers = r->checkpoint.signers.size();
    }
    verified.push_back(std::move(*f));
  }
  if (ctx.json) {
    std::vector<std::string> items;
    for (const auto& f : verified) items.push_back(entry_json(f));
    std::cout << JsonObject()
                     .boolean("ok", true)
                     .boolean("verified", true)
                     .str("file", o.file)
                     .str("digest", hex)
                     .num("size_bytes", static_cast<int64_t>(d->size_bytes))
                     .raw("anchors", json_array(items))
                     .boolean("truncated", truncated)
                     .boolean("complete_proven", false)
                     .dump()
              << "\n";
    return static_cast<int>(Exit::kOk);
  }
  std::cout << o.file << ": sha256:" << hex << " (" << d->size_bytes << " bytes)\n"
            << "verified " << verified.size() << " anchor" << (verified.size() == 1 ? "" : "s")
            << " (inclusion under a checkpoint of size up to " << max_cp << ", " << signers << " of "
            << s->genesis.validators_size() << " validator signatures):\n";
  for (const auto& f : verified) std::cout << entry_text(f, "  ") << "\n";
  if (truncated) std::cout << "(only the first " << kVerifyMaxAnchors << " anchors were checked)\n";
  std::cout << kCompletenessNote << "\n";
  return static_cast<int>(Exit::kOk);
}

}  // namespace

void add_verify_command(CLI::App& app, Context& ctx) {
  auto o = std::make_shared<VerifyOptions>();
  CLI::App* cmd = app.add_subcommand("verify", "check a file against the ledger: who anchored this content, and when");
  cmd->add_option("file", o->file, "the file to check (hashed locally, never uploaded)")->required();
  add_passphrase_options(cmd, o->passphrase, "the client key");
  cmd->footer(
      "Example:\n"
      "  PROV_HOME=./localnet provctl verify sales-2024.csv\n"
      "Every anchor shown is verified locally (inclusion proof and a quorum of genesis validator\n"
      "signatures). Exit 0 verified, 1 not anchored or a proof failed, 3 no node reachable.");
  cmd->callback([&ctx, o] { ctx.run = [&ctx, o] { return run_verify(ctx, *o); }; });
}

}  // namespace prov::provctl
