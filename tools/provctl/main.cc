#include <CLI/CLI.hpp>

int main(int argc, char** argv) {
  CLI::App app{"provctl: anchor, query and verify provenance on a provledger network"};
  app.require_subcommand(1);
  CLI11_PARSE(app, argc, argv);
  return 0;
}
