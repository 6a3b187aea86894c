// provctl keygen: make an Ed25519 key file and show its public forms.
#include <iostream>
#include <memory>

#include "crypto/encoding.h"
#include "crypto/keyfile.h"
#include "crypto/note.h"
#include "ledger/genesis.h"
#include "tools/provctl/common.h"

namespace prov::provctl {
namespace {

struct KeygenOptions {
  std::string out;
  std::string name = "key";
  std::string kdf = "moderate";
  PassphraseOptions passphrase;
  bool force = false;
};

int run_keygen(const Context& ctx, const KeygenOptions& o) {
  if (!ledger::valid_key_name(o.name))
    return usage_error(ctx, "--name must be 1..64 printable ASCII characters without '+' or space");
  auto pass = read_passphrase(o.passphrase);
  if (!pass) return report(ctx, pass.status());

  crypto::KeyFileWriteOptions w;
  w.passphrase = *pass;
  w.limits = o.kdf == "interactive" ? crypto::pwhash_interactive() : crypto::pwhash_moderate();
  w.overwrite = o.force;
  const std::string path = o.out.empty() ? o.name + ".key" : o.out;
  crypto::KeyPair key = crypto::KeyPair::generate();
  Status st = crypto::write_key_file(path, key, w);
  if (st.code() == StatusCode::kAlreadyExists) return report(ctx, Status::already_exists(st.message() + " (use --force)"));
  if (!st.is_ok()) return report(ctx, st);

  auto verifier = crypto::note::NoteVerifier::create(o.name, key.public_key());
  if (!verifier) return report(ctx, verifier.status());
  const std::string pub = crypto::base64_encode(key.public_key());
  if (ctx.json) {
    std::cout << JsonObject()
                     .boolean("ok", true)
                     .str("file", path)
                     .str("name", o.name)
                     .str("public_key", pub)
                     .str("vkey", verifier->vkey())
                     .boolean("sealed", pass->has_value())
                     .dump()
              << "\n";
  } else {
    std::cout << "wrote " << path << (pass->has_value() ? " (sealed with the passphrase)" : "") << "\n"
              << "public key: " << pub << "\n"
              << "vkey:       " << verifier->vkey() << "\n";
  }
  return static_cast<int>(Exit::kOk);
}

}  // namespace

void add_key_commands(CLI::App& app, Context& ctx) {
  auto o = std::make_shared<KeygenOptions>();
  CLI::App* cmd = app.add_subcommand("keygen", "generate an Ed25519 key file; print its public key and vkey");
  cmd->add_option("--out", o->out, "key file to write (default: <name>.key); created with mode 0600");
  cmd->add_option("--name", o->name, "key name used in the signed-note vkey (validator or client name)")
      ->capture_default_str();
  add_passphrase_options(cmd, o->passphrase, "that seals the key");
  cmd->add_option("--kdf", o->kdf, "Argon2id cost for sealing: moderate (256 MiB) or interactive (64 MiB)")
      ->check(CLI::IsMember({"moderate", "interactive"}))
      ->capture_default_str();
  cmd->add_flag("--force", o->force, "overwrite an existing key file");
  cmd->footer(
      "Examples:\n"
      "  provctl keygen --name validator-5 --out node.key\n"
      "  provctl keygen --name alice --out alice.key --passphrase-file ~/.alice-pass --json");
  cmd->callback([&ctx, o] { ctx.run = [&ctx, o] { return run_keygen(ctx, *o); }; });
}

}  // namespace prov::provctl
