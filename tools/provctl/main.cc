// provctl: the command line for operators, pipelines and auditors.
//
// main owns CLI11 and its exceptions: it builds the command tree from the
// verb groups (common.h), parses, and runs the chosen verb. Parse errors exit
// with 2; verbs return their own exit code (docs/cli.md).
#include <CLI/CLI.hpp>

#include <exception>
#include <iostream>

#include "tools/provctl/common.h"

int main(int argc, char** argv) {
  using prov::provctl::Exit;
  prov::provctl::Context ctx;
  CLI::App app{"provctl: anchor, query and verify provenance on a provledger network"};
  app.require_subcommand(1);
  app.fallthrough();
  app.add_flag("--json", ctx.json, "print machine-readable JSON on stdout");
  app.add_option("--home", ctx.home, "provctl home directory (genesis.json, client.key, provctl.conf)")
      ->envname("PROV_HOME");
  app.footer(
      "Exit codes: 0 ok, 1 failed (verification failed, not found, error), 2 usage error, 3 no node reachable.\n"
      "Example:\n  provctl genesis localnet --validators 4 --out ./localnet\n"
      "Docs: docs/cli.md");
  prov::provctl::add_key_commands(app, ctx);
  prov::provctl::add_genesis_commands(app, ctx);
  prov::provctl::add_home_commands(app, ctx);
  prov::provctl::add_anchor_command(app, ctx);
  prov::provctl::add_tx_commands(app, ctx);
  prov::provctl::add_receipt_commands(app, ctx);
  prov::provctl::add_checkpoint_commands(app, ctx);
  prov::provctl::add_verify_command(app, ctx);
  prov::provctl::add_query_commands(app, ctx);
  prov::provctl::add_access_command(app, ctx);
  prov::provctl::add_audit_command(app, ctx);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // app.exit prints help or the error; help and --version are successes.
    int rc = app.exit(e);
    return rc == 0 ? static_cast<int>(Exit::kOk) : static_cast<int>(Exit::kUsage);
  }
  if (!ctx.run) {
    std::cerr << "provctl: no command given\n" << app.help();
    return static_cast<int>(Exit::kUsage);
  }
  try {
    return ctx.run();
  } catch (const std::exception& e) {
    // Verbs report errors as Status; this is only for allocation failure and
    // the like, which must still end in a message rather than an abort.
    std::cerr << "provctl: unexpected error: " << e.what() << "\n";
    return static_cast<int>(Exit::kFailed);
  }
}
