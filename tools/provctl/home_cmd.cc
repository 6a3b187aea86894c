// provctl home show: print and cross-check the provctl home (docs/cli.md).
#include <iostream>
#include <memory>

#include "crypto/encoding.h"
#include "crypto/keyfile.h"
#include "ledger/genesis.h"
#include "tools/provctl/common.h"
#include "tools/provctl/home.h"

namespace prov::provctl {
namespace {

// The agency in `g` that holds `key` under id `agency`, or an error saying why not.
Status check_key_registered(const ledger::v1::Genesis& g, const std::string& agency, const PublicKey& key) {
  for (const auto& a : g.agencies()) {
    if (a.id() != agency) continue;
    for (const auto& k : a.keys())
      if (k.pub_key() == to_string(key)) return Status::ok();
    return Status::not_found("the home's key is not a genesis key of agency \"" + agency + "\"");
  }
  return Status::not_found("agency \"" + agency + "\" is not in the genesis");
}

int run_home_show(const Context& ctx) {
  auto home = load_home(ctx.home);
  if (!home) return report(ctx, home.status());
  auto g = ledger::load_genesis_file(home->genesis_path);
  if (!g) return report(ctx, g.status());
  if (!home->chain_id.empty() && home->chain_id != g->chain_id())
    return report(ctx, Status::invalid_argument("provctl.conf says chain_id " + home->chain_id + " but the genesis says " +
                                                g->chain_id()));
  auto key = crypto::read_key_file_info(home->key_path);
  if (!key) return report(ctx, key.status());
  if (!home->agency.empty()) {
    Status st = check_key_registered(*g, home->agency, key->public_key);
    if (!st.is_ok()) return report(ctx, st);
  }
  const std::string pub = crypto::base64_encode(key->public_key);
  if (ctx.json) {
    std::vector<std::string> nodes;
    for (const auto& n : home->nodes) nodes.push_back(json_quote(n));
    std::cout << JsonObject()
                     .boolean("ok", true)
                     .str("home", home->dir)
                     .str("chain_id", g->chain_id())
                     .str("genesis", home->genesis_path)
                     .str("genesis_hash", crypto::hex_encode(ledger::genesis_hash(*g)))
                     .str("key", home->key_path)
                     .str("public_key", pub)
                     .boolean("sealed", key->sealed)
                     .str("agency", home->agency)
                     .raw("nodes", json_array(nodes))
                     .dump()
              << "\n";
    return static_cast<int>(Exit::kOk);
  }
  std::cout << "home:       " << home->dir << "\n"
            << "chain_id:   " << g->chain_id() << "\n"
            << "genesis:    " << home->genesis_path << " (hash " << crypto::hex_encode(ledger::genesis_hash(*g)) << ")\n"
            << "key:        " << home->key_path << " (" << pub << (key->sealed ? ", sealed" : "") << ")\n"
            << "agency:     " << (home->agency.empty() ? "-" : home->agency) << "\n";
  for (const auto& n : home->nodes) std::cout << "node:       " << n << "\n";
  return static_cast<int>(Exit::kOk);
}

}  // namespace

void add_home_commands(CLI::App& app, Context& ctx) {
  CLI::App* home = app.add_subcommand("home", "inspect the provctl home (--home DIR or PROV_HOME)");
  home->require_subcommand(1);
  home->fallthrough();
  CLI::App* show = home->add_subcommand("show", "print the home's configuration and check it against the genesis");
  show->footer("Example:\n  provctl --home ./localnet home show\n  PROV_HOME=./localnet provctl home show --json");
  show->callback([&ctx] { ctx.run = [&ctx] { return run_home_show(ctx); }; });
}

}  // namespace prov::provctl
