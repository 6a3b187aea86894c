// The provbench subcommands. Each runs in the calling thread, prints a
// report (text or JSON) to stdout and returns the process exit code.
#pragma once

#include <cstdint>
#include <string>

namespace prov::bench {

struct CryptoArgs {
  bool json = false;
  double seconds_per_case = 1.0;  // wall time spent measuring each figure
  bool verify_only = false;        // only the Ed25519 verification rate (tools/bench net's ceiling)
};

struct LedgerArgs {
  bool json = false;
  uint64_t entries = 100000;       // log size to build and measure proofs on
  std::string dir;                 // database directory; empty = a temporary one, removed after
  uint32_t block_txs = 500;        // transactions per block
  bool log_only = false;
  bool node_path = false;          // build the log the node's way, timing build, re-apply and commit           // build the log with merkle-log appends only (no transactions)
  bool reuse = false;              // measure the log already in `dir` (built and kept by an earlier run)
  uint32_t proof_samples = 2000;   // random proofs timed per kind
  uint64_t seed = 1;               // sampling and synthetic data
};

int run_crypto(const CryptoArgs& args);
int run_ledger(const LedgerArgs& args);

}  // namespace prov::bench
