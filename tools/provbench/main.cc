// provbench: provledger's benchmarks (run it as `tools/bench`).
//   provbench ledger [--entries N] [--json] [--dir D] [--log-only] ...
//   provbench crypto [--json]
// CLI11 exceptions stay inside main (STYLE.md).
#include <CLI/CLI.hpp>

#include "benches.h"

int main(int argc, char** argv) {
  CLI::App app{"provledger benchmarks; docs/benchmarks.md explains every figure"};
  app.require_subcommand(1);

  prov::bench::LedgerArgs ledger;
  CLI::App* l = app.add_subcommand("ledger", "build a log of N entries in RocksDB, time proofs, report memory and disk");
  l->add_option("--entries", ledger.entries, "log size in entries")->capture_default_str();
  l->add_flag("--json", ledger.json, "print one JSON object");
  l->add_option("--dir", ledger.dir, "database directory (default: a temporary one, removed afterwards)");
  l->add_option("--block-txs", ledger.block_txs, "transactions per block")->capture_default_str();
  l->add_flag("--log-only", ledger.log_only,
              "build the log with Merkle-log appends and entry writes only (no transactions): for 10M+ entries");
  l->add_flag("--node-path", ledger.node_path,
             "build the log as a node does: signatures memoized, each block built and re-applied on two uncommitted "
             "parents, then committed; times each phase");
  l->add_flag("--reuse", ledger.reuse, "skip the build: measure the log of --entries entries already in --dir");
  l->add_option("--proof-samples", ledger.proof_samples, "random proofs timed per kind")->capture_default_str();
  l->add_option("--seed", ledger.seed, "seed for synthetic data and sampling")->capture_default_str();

  prov::bench::CryptoArgs crypto;
  CLI::App* c = app.add_subcommand("crypto", "SHA-256 backends, Ed25519 sign and verify rates");
  c->add_flag("--json", crypto.json, "print one JSON object");
  c->add_option("--seconds", crypto.seconds_per_case, "seconds measured per figure")->capture_default_str();
  c->add_flag("--verify-only", crypto.verify_only, "measure only the Ed25519 verification rate");

  CLI11_PARSE(app, argc, argv);
  if (l->parsed()) return prov::bench::run_ledger(ledger);
  return prov::bench::run_crypto(crypto);
}
