// provctl checkpoint and provctl consistency: fetch and verify the network's
// signed checkpoint, and prove that the log only grew between two saved
// checkpoints (RFC 9162 consistency proofs). docs/cli.md, docs/receipts.md.
#include <iostream>
#include <memory>

#include "crypto/encoding.h"
#include "crypto/keyfile.h"
#include "crypto/merkle.h"
#include "crypto/note.h"
#include "ledger/registry.h"
#include "node/api/api.pb.h"
#include "tools/provctl/common.h"
#include "tools/provctl/verified.h"

namespace prov::provctl {
namespace {

struct CheckpointOptions {
  std::string save;
  bool force = false;
};

struct ConsistencyOptions {
  std::string old_path;
  std::string new_path;
  PassphraseOptions passphrase;
};

int run_checkpoint(const Context& ctx, const CheckpointOptions& o) {
  auto s = open_session(ctx, {}, false);
  if (!s) return report(ctx, s.status());
  std::string raw;
  auto cp = fetch_checkpoint(*s->client, s->genesis, &raw);
  if (!cp) return report(ctx, cp.status());
  if (!o.save.empty()) {
    Status w = crypto::write_file_atomic(o.save, as_bytes(raw), 0644, o.force);
    if (!w.is_ok()) {
      if (w.code() == StatusCode::kAlreadyExists)
        return report(ctx, Status::already_exists(o.save + " exists; choose another name or pass --force"));
      return report(ctx, w);
    }
  }
  if (ctx.json) {
    JsonObject out;
    out.boolean("ok", true).boolean("verified", true).raw("checkpoint", checkpoint_json(*cp, s->genesis));
    if (!o.save.empty()) out.str("saved", o.save);
    std::cout << out.dump() << "\n";
    return static_cast<int>(Exit::kOk);
  }
  std::cout << "checkpoint of " << cp->checkpoint.origin << " verified against the genesis\n"
            << "  size:    " << cp->checkpoint.size << " entries\n"
            << "  root:    " << crypto::hex_encode(cp->checkpoint.root) << "\n"
            << "  signed:  " << cp->signers.size() << " of " << s->genesis.validators_size() << " validators (quorum "
            << ledger::quorum_size(static_cast<size_t>(s->genesis.validators_size())) << "):";
  for (const auto& n : cp->signers) std::cout << " " << n;
  std::cout << "\n";
  if (!o.save.empty()) std::cout << "  saved:   " << o.save << " (the signed note, byte for byte)\n";
  return static_cast<int>(Exit::kOk);
}

Result<ledger::VerifiedCheckpoint> load_checkpoint_file(const std::string& path, const ledger::v1::Genesis& genesis) {
  PROV_ASSIGN_OR_RETURN(std::string text, read_text_file(path, crypto::note::kMaxNoteBytes));
  auto cp = ledger::verify_checkpoint(text, genesis);
  if (!cp) return Status::verification_failed(path + " is not a valid checkpoint of this chain: " + cp.status().message());
  return cp;
}

Result<std::vector<Hash256>> hex_hashes(const google::protobuf::RepeatedPtrField<std::string>& in) {
  std::vector<Hash256> out;
  if (static_cast<size_t>(in.size()) > crypto::note::kMaxProofHashes)
    return Status::verification_failed("the node's proof has too many hashes");
  for (const auto& h : in) {
    auto d = crypto::hex_decode_fixed<Hash256>(h);
    if (!d) return Status::verification_failed("the node's proof holds a malformed hash");
    out.push_back(*d);
  }
  return out;
}

// Checks that `old_cp` is a prefix of `new_cp`; fetches the proof if needed.
Status check_consistency(NodeClient* client, const ledger::VerifiedCheckpoint& old_cp,
                         const ledger::VerifiedCheckpoint& new_cp, size_t* proof_len) {
  const auto& a = old_cp.checkpoint;
  const auto& b = new_cp.checkpoint;
  if (a.size > b.size)
    return Status::verification_failed("the log shrank: NEW has " + std::to_string(b.size) + " entries, OLD had " +
                                       std::to_string(a.size) +
                                       " (if the files are in the wrong order, swap them: OLD first)");
  if (a.size == b.size) {
    if (a.root != b.root)
      return Status::verification_failed("forked log: both checkpoints have size " + std::to_string(a.size) +
                                         " but different roots, each signed by a quorum; keep both files as evidence");
    return Status::ok();
  }
  if (a.size == 0) return Status::ok();  // the empty log is a prefix of every log
  node::api::v1::ConsistencyProofResponse r;
  {
    auto got = get_json<node::api::v1::ConsistencyProofResponse>(
        *client, "/v1/proofs/consistency?from=" + std::to_string(a.size) + "&to=" + std::to_string(b.size), true,
        "consistency proof");
    if (!got) return got.status();
    r = std::move(*got);
  }
  auto path = hex_hashes(r.path());
  if (!path) return path.status();
  *proof_len = path->size();
  Status v = crypto::merkle::verify_consistency(a.size, b.size, a.root, b.root, *path);
  if (!v.is_ok()) {
    // The proof ties the node's own roots; say whose history differs.
    std::string why = "the log of OLD (size " + std::to_string(a.size) + ") is not proven a prefix of NEW (size " +
                      std::to_string(b.size) + "): " + v.message();
    if (r.new_root() != crypto::hex_encode(b.root) || r.old_root() != crypto::hex_encode(a.root))
      why += "; the node's log has different roots than these checkpoints (a forked log, or a node lying)";
    else
      why += "; the node sent a bad proof";
    return Status::verification_failed(why);
  }
  return Status::ok();
}

int run_consistency(const Context& ctx, const ConsistencyOptions& o) {
  auto s = open_session(ctx, o.passphrase, false);
  if (!s) return report(ctx, s.status());
  auto old_cp = load_checkpoint_file(o.old_path, s->genesis);
  if (!old_cp) return report(ctx, old_cp.status());
  std::string new_name = o.new_path;
  Result<ledger::VerifiedCheckpoint> new_cp = Status::internal("unset");
  if (o.new_path.empty()) {
    new_name = "the network's current checkpoint";
    new_cp = fetch_checkpoint(*s->client, s->genesis, nullptr);
  } else {
    new_cp = load_checkpoint_file(o.new_path, s->genesis);
  }
  if (!new_cp) return report(ctx, new_cp.status());
  size_t proof_len = 0;
  Status c = check_consistency(&*s->client, *old_cp, *new_cp, &proof_len);
  if (!c.is_ok()) return report(ctx, c);
  if (ctx.json) {
    std::cout << JsonObject()
                     .boolean("ok", true)
                     .boolean("consistent", true)
                     .raw("old", checkpoint_json(*old_cp, s->genesis))
                     .raw("new", checkpoint_json(*new_cp, s->genesis))
                     .num("proof_hashes", static_cast<int64_t>(proof_len))
                     .dump()
              << "\n";
    return static_cast<int>(Exit::kOk);
  }
  std::cout << "consistent: the log only grew\n"
            << "  old: " << o.old_path << " size " << old_cp->checkpoint.size << " root "
            << crypto::hex_encode(old_cp->checkpoint.root) << " (" << old_cp->signers.size() << " signatures)\n"
            << "  new: " << new_name << " size " << new_cp->checkpoint.size << " root "
            << crypto::hex_encode(new_cp->checkpoint.root) << " (" << new_cp->signers.size() << " signatures)\n"
            << "  RFC 9162 consistency proof of " << proof_len << " hashes verified\n";
  return static_cast<int>(Exit::kOk);
}

}  // namespace

void add_checkpoint_commands(CLI::App& app, Context& ctx) {
  auto co = std::make_shared<CheckpointOptions>();
  CLI::App* cp = app.add_subcommand("checkpoint", "fetch the network's signed checkpoint and verify its quorum");
  cp->add_option("--save", co->save, "write the signed checkpoint note to this file, byte for byte");
  cp->add_flag("--force", co->force, "overwrite the --save file if it exists");
  cp->footer(
      "Example:\n"
      "  provctl checkpoint --save cp-monday.note\n"
      "Exit 0 if at least q validators of the genesis signed it; 1 otherwise; 3 if no node answered.");
  cp->callback([&ctx, co] { ctx.run = [&ctx, co] { return run_checkpoint(ctx, *co); }; });

  auto o = std::make_shared<ConsistencyOptions>();
  CLI::App* cmd = app.add_subcommand("consistency", "prove the log only grew between two saved checkpoints");
  cmd->add_option("old", o->old_path, "the older saved checkpoint")->required();
  cmd->add_option("new", o->new_path, "the newer saved checkpoint (default: fetch the current one)");
  add_passphrase_options(cmd, o->passphrase, "the client key");
  cmd->footer(
      "Example:\n"
      "  provctl consistency cp-monday.note cp-friday.note\n"
      "Both must carry a quorum of genesis validator signatures. Exit 1 if the log shrank or forked,\n"
      "or the node's RFC 9162 consistency proof does not verify.");
  cmd->callback([&ctx, o] { ctx.run = [&ctx, o] { return run_consistency(ctx, *o); }; });
}

}  // namespace prov::provctl
