// `provbench ledger`: builds a log of N entries in a RocksStore, then times
// inclusion and consistency proofs on it and reports memory and disk use.
//
// Two ways to build the log:
// - default: N signed anchor transactions in blocks of --block-txs, each
//   block through the real state transition (build_block: decoding, every
//   validation rule, Ed25519 verification, indexes, Merkle log) and committed
//   with sync=true. Validation and commit are timed separately.
// - --log-only: synthetic entries of a real anchor entry's size appended
//   straight through the ledger's Merkle-log append (log_append) and written
//   with the entries in large WriteSets, no transactions or indexes. This is
//   what makes a 10-million-entry log practical to build for proof timings.
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <deque>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "bench_util.h"
#include "benches.h"
#include "crypto/ed25519.h"
#include "crypto/merkle.h"
#include "crypto/sha256.h"
#include "crypto/short_hash.h"
#include "ledger/merkle_log.h"
#include "ledger/registry.h"
#include "ledger/sig_cache.h"
#include "ledger/state.h"
#include "ledger/store/rocks_store.h"
#include "ledger/tx.h"

namespace prov::bench {
namespace {

using ledger::Column;
using ledger::WriteSet;
using ledger::store::RocksStore;
namespace v1 = ledger::v1;

constexpr const char* kChainId = "bench-chain";
constexpr uint64_t kDatasets = 1000;               // anchors spread over this many datasets
constexpr uint64_t kLogOnlyBatchEntries = 20000;   // entries per WriteSet in --log-only
constexpr int kValidators = 4;
constexpr double kSettleSecondsMax = 600;          // bound on waiting for compaction to finish

crypto::KeyPair key_from(uint64_t seed, uint8_t n) {
  Seed s;
  s.bytes.fill(n);
  for (int i = 0; i < 8; ++i) s.bytes[i] ^= static_cast<uint8_t>(seed >> (8 * i));
  return crypto::KeyPair::from_seed(s);
}

struct Setup {
  std::vector<crypto::KeyPair> validators;
  crypto::KeyPair client;
  v1::Genesis genesis;
};

Setup make_setup(uint64_t seed) {
  Setup s{{}, key_from(seed, 100), {}};
  s.genesis.set_version(1);
  s.genesis.set_chain_id(kChainId);
  s.genesis.set_genesis_time_ms(1'700'000'000'000);
  for (int i = 0; i < kValidators; ++i) {
    s.validators.push_back(key_from(seed, static_cast<uint8_t>(i + 1)));
    v1::Validator* v = s.genesis.add_validators();
    v->set_name("validator-" + std::to_string(i + 1));
    v->set_pub_key(to_string(s.validators.back().public_key()));
    v->set_address("127.0.0.1:" + std::to_string(7101 + i));
  }
  v1::Agency* a = s.genesis.add_agencies();
  a->set_id("bench");
  a->set_namespace_("bench");
  a->add_roles("writer");
  v1::ClientKey* k = a->add_keys();
  k->set_name("bench-key");
  k->set_pub_key(to_string(s.client.public_key()));
  return s;
}

Bytes signed_anchor(const Setup& s, uint64_t i) {
  v1::TransactionBody b;
  b.set_version(1);
  b.set_chain_id(kChainId);
  b.set_agency("bench");
  b.set_nonce(i + 1);
  b.set_client_time_ms(1'700'000'000'000 + static_cast<int64_t>(i));
  v1::AnchorRecord* a = b.mutable_anchor();
  a->set_dataset("bench/dataset-" + std::to_string(i % kDatasets));
  Bytes content;
  put_u64_be(content, i);
  a->set_digest(to_string(crypto::sha256(content)));
  a->set_size_bytes(1'000'000 + i);
  a->set_media_type("text/csv");
  return ledger::sign_transaction(b, s.client);
}

// Seconds one Ed25519 verification takes on this machine (single thread).
double verify_seconds_each(const Setup& s) {
  Bytes msg(200, 0x42);
  Signature sig = s.client.sign(crypto::purpose::kTransaction, kChainId, msg);
  constexpr int kRuns = 3000;
  int ok = 0;
  Stopwatch sw;
  for (int i = 0; i < kRuns; ++i) ok += crypto::verify(s.client.public_key(), crypto::purpose::kTransaction, kChainId, msg, sig);
  return ok == kRuns ? sw.seconds() / kRuns : 0;
}

struct BuildFigures {
  double validate_s = 0;  // build_block: validation, signatures, writes
  double commit_s = 0;    // RocksStore::apply(sync=true)
  double sign_s = 0;      // client-side signing of the transactions
  double total_s = 0;
};

Status build_with_transactions(RocksStore& store, const Setup& s, const LedgerArgs& args, BuildFigures& f) {
  std::vector<Bytes> txs;
  txs.reserve(args.entries);
  Stopwatch sign;
  for (uint64_t i = 0; i < args.entries; ++i) txs.push_back(signed_anchor(s, i));
  f.sign_s = sign.seconds();

  int64_t time_ms = s.genesis.genesis_time_ms();
  uint64_t round = 0;
  Stopwatch total;
  for (uint64_t at = 0; at < txs.size(); at += args.block_txs) {
    std::vector<Bytes> block(txs.begin() + static_cast<ptrdiff_t>(at),
                             txs.begin() + static_cast<ptrdiff_t>(std::min<uint64_t>(at + args.block_txs, txs.size())));
    ledger::BlockTemplate tmpl;
    tmpl.epoch = 0;
    tmpl.round = ++round;
    tmpl.time_ms = ++time_ms;
    tmpl.proposer = s.validators[round % kValidators].public_key();
    Stopwatch v;
    auto built = ledger::build_block(store, tmpl, block);
    f.validate_s += v.seconds();
    if (!built.is_ok()) return built.status();
    Stopwatch c;
    PROV_RETURN_IF_ERROR(store.apply(built->writes, /*sync=*/true));
    f.commit_s += c.seconds();
  }
  f.total_s = total.seconds();
  return Status::ok();
}

// The node's way (--node-path): every transaction was checked once at
// admission (check_transaction: decoded, signature verified into the
// process-wide memo) and is kept decoded as the mempool keeps it, the leader
// builds each block on top of its two uncommitted parents (stacked
// overlays, as the consensus core's two-chain commit leaves them), a
// follower re-executes the same block bytes on the same parents, and a
// block is committed (sync=true) once two blocks sit above it. Build and
// apply take the admitted transactions' decoded forms (ledger::DecodedLookup).
struct NodePathFigures {
  double prime_s = 0;   // admission: check_transaction of every transaction
  double build_s = 0;   // leader: build_block_filtered on the overlays
  double apply_s = 0;   // follower: apply_block on the overlays
  double commit_s = 0;  // RocksStore::apply(sync=true) of a committed block
  double build_cpu_us = 0, apply_cpu_us = 0, commit_cpu_us = 0;  // this thread's CPU time
};

Status build_node_path(RocksStore& store, const Setup& s, const LedgerArgs& args, NodePathFigures& f) {
  std::vector<Bytes> txs;
  txs.reserve(args.entries);
  for (uint64_t i = 0; i < args.entries; ++i) txs.push_back(signed_anchor(s, i));
  // Admission against the committed genesis state, as the node's workers
  // check against a snapshot: one registry context per chunk of 32.
  std::unordered_map<Hash256, ledger::DecodedTx, crypto::FixedBytesHash> admitted;
  admitted.reserve(txs.size());
  Stopwatch prime;
  for (size_t i = 0; i < txs.size(); i += 32) {
    ledger::TxContext ctx;
    for (size_t j = i; j < std::min(txs.size(), i + 32); ++j) {
      auto d = ledger::check_transaction(store, txs[j], &ctx);
      if (!d) return d.status();
      Hash256 hash = d->tx_hash;
      admitted.emplace(hash, std::move(d).value());
    }
  }
  f.prime_s = prime.seconds();
  const ledger::DecodedLookup decoded = [&](const Hash256& h) -> const ledger::DecodedTx* {
    auto it = admitted.find(h);
    return it == admitted.end() ? nullptr : &it->second;
  };

  std::deque<WriteSet> uncommitted;  // oldest first, at most two
  int64_t time_ms = s.genesis.genesis_time_ms();
  uint64_t round = 0;
  for (uint64_t at = 0; at < txs.size(); at += args.block_txs) {
    std::vector<Bytes> block(txs.begin() + static_cast<ptrdiff_t>(at),
                             txs.begin() + static_cast<ptrdiff_t>(std::min<uint64_t>(at + args.block_txs, txs.size())));
    std::vector<std::unique_ptr<ledger::Overlay>> layers;
    const ledger::KvReader* top = &store;
    for (const WriteSet& w : uncommitted) {
      layers.push_back(std::make_unique<ledger::Overlay>(*top, w));
      top = layers.back().get();
    }
    ledger::BlockTemplate tmpl;
    tmpl.epoch = 0;
    tmpl.round = ++round;
    tmpl.time_ms = ++time_ms;
    tmpl.proposer = s.validators[round % kValidators].public_key();
    Stopwatch b;
    ThreadCpuStopwatch bc;
    auto built = ledger::build_block_filtered(*top, tmpl, block, nullptr, &decoded);
    f.build_s += b.seconds();
    f.build_cpu_us += bc.micros();
    if (!built.is_ok()) return built.status();
    if (built->header.log_size() != at + block.size()) return Status::internal("a transaction was dropped");
    Stopwatch a;
    ThreadCpuStopwatch ac;
    auto applied = ledger::apply_block(*top, built->block_bytes, &decoded);
    f.apply_s += a.seconds();
    f.apply_cpu_us += ac.micros();
    if (!applied.is_ok()) return applied.status();
    layers.clear();
    uncommitted.push_back(std::move(applied->writes));
    if (uncommitted.size() > 2) {
      Stopwatch c;
      ThreadCpuStopwatch cc;
      PROV_RETURN_IF_ERROR(store.apply(uncommitted.front(), /*sync=*/true));
      f.commit_s += c.seconds();
      f.commit_cpu_us += cc.micros();
      uncommitted.pop_front();
    }
    // The mempool forgets a transaction once committed; here once built
    // and applied, which bounds the memory the same way.
    for (const Bytes& tx : block) admitted.erase(crypto::sha256(tx));
  }
  for (const WriteSet& w : uncommitted) {
    Stopwatch c;
    ThreadCpuStopwatch cc;
    PROV_RETURN_IF_ERROR(store.apply(w, /*sync=*/true));
    f.commit_s += c.seconds();
    f.commit_cpu_us += cc.micros();
  }
  return Status::ok();
}

// VmRSS in MiB after each tenth of the log was built: shows memory staying
// flat (or not) as the log grows.
std::string rss_trace(const std::vector<double>& mib) {
  std::string out;
  for (double m : mib) out += (out.empty() ? "" : ",") + std::to_string(static_cast<int>(m + 0.5));
  return out;
}

Status build_log_only(RocksStore& store, const Setup& s, const LedgerArgs& args, double& seconds,
                      std::vector<double>& rss_mib) {
  // Entries as large as a real anchor entry, filled with random bytes (as
  // incompressible as the hashes and signatures that dominate real ones).
  const size_t tx_bytes = signed_anchor(s, 0).size();
  std::mt19937_64 rng(args.seed);
  Stopwatch sw;
  for (uint64_t at = 0; at < args.entries; at += kLogOnlyBatchEntries) {
    const uint64_t n = std::min(kLogOnlyBatchEntries, args.entries - at);
    WriteSet ws;
    std::vector<Hash256> leaves;
    leaves.reserve(n);
    for (uint64_t i = at; i < at + n; ++i) {
      v1::Entry e;
      e.set_version(1);
      e.set_index(i);
      e.set_height(i / args.block_txs + 1);
      e.set_block_time_ms(1'700'000'000'000 + static_cast<int64_t>(i / args.block_txs));
      std::string tx(tx_bytes, '\0');
      for (size_t j = 0; j + 8 <= tx.size(); j += 8) {
        uint64_t r = rng();
        std::memcpy(tx.data() + j, &r, 8);
      }
      e.set_tx(std::move(tx));
      v1::DatasetLink* l = e.add_links();
      l->set_dataset("bench/dataset-" + std::to_string(i % kDatasets));
      l->set_version(i / kDatasets + 1);
      l->set_has_prev(i >= kDatasets);
      l->set_prev_index(i >= kDatasets ? i - kDatasets : 0);
      std::string bytes = e.SerializeAsString();
      leaves.push_back(crypto::merkle::hash_leaf(as_bytes(bytes)));
      ws.put(Column::kEntries, ledger::u64_key(i), as_bytes(bytes));
    }
    PROV_RETURN_IF_ERROR(ledger::log_append(store, at, leaves, ws));
    PROV_RETURN_IF_ERROR(store.apply(ws, /*sync=*/false));
    const uint64_t tenth = std::max<uint64_t>(1, args.entries / 10);
    if ((at + n) / tenth != at / tenth) rss_mib.push_back(proc_status_kib("VmRSS") / 1024.0);
  }
  PROV_RETURN_IF_ERROR(store.sync_wal());
  seconds = sw.seconds();
  return Status::ok();
}

struct ProofFigures {
  std::vector<double> inclusion_us, consistency_us;          // wall time
  std::vector<double> inclusion_cpu_us, consistency_cpu_us;  // thread CPU time
  uint64_t inclusion_path_hashes_max = 0;
};

// Times proof generation plus verification at random indexes and sizes.
// Roots (a checkpoint's content) are computed outside the timed part.
Status time_proofs(const ledger::KvReader& kv, uint64_t log_size, const LedgerArgs& args, ProofFigures& f) {
  std::mt19937_64 rng(args.seed ^ 0x5eed);
  for (uint32_t i = 0; i < args.proof_samples; ++i) {
    const uint64_t size = 1 + rng() % log_size;
    const uint64_t index = rng() % size;
    PROV_ASSIGN_OR_RETURN(Hash256 root, ledger::log_root(kv, size));
    Stopwatch sw;
    ThreadCpuStopwatch cpu;
    PROV_ASSIGN_OR_RETURN(std::optional<Bytes> entry, kv.get(Column::kEntries, ledger::u64_key(index)));
    if (!entry) return Status::corruption("entry " + std::to_string(index) + " missing");
    PROV_ASSIGN_OR_RETURN(std::vector<Hash256> path, ledger::log_inclusion_proof(kv, index, size));
    PROV_RETURN_IF_ERROR(crypto::merkle::verify_inclusion(crypto::merkle::hash_leaf(*entry), index, size, path, root));
    f.inclusion_us.push_back(sw.micros());
    f.inclusion_cpu_us.push_back(cpu.micros());
    f.inclusion_path_hashes_max = std::max<uint64_t>(f.inclusion_path_hashes_max, path.size());
  }
  for (uint32_t i = 0; i < args.proof_samples; ++i) {
    const uint64_t new_size = 1 + rng() % log_size;
    const uint64_t old_size = 1 + rng() % new_size;
    PROV_ASSIGN_OR_RETURN(Hash256 old_root, ledger::log_root(kv, old_size));
    PROV_ASSIGN_OR_RETURN(Hash256 new_root, ledger::log_root(kv, new_size));
    Stopwatch sw;
    ThreadCpuStopwatch cpu;
    PROV_ASSIGN_OR_RETURN(std::vector<Hash256> proof, ledger::log_consistency_proof(kv, old_size, new_size));
    PROV_RETURN_IF_ERROR(crypto::merkle::verify_consistency(old_size, new_size, old_root, new_root, proof));
    f.consistency_us.push_back(sw.micros());
    f.consistency_cpu_us.push_back(cpu.micros());
  }
  return Status::ok();
}

// OK iff `kv` holds entries 0..entries-1 and no entry beyond.
Status check_reusable(const ledger::KvReader& kv, uint64_t entries) {
  PROV_ASSIGN_OR_RETURN(std::optional<Bytes> last, kv.get(Column::kEntries, ledger::u64_key(entries - 1)));
  PROV_ASSIGN_OR_RETURN(std::optional<Bytes> beyond, kv.get(Column::kEntries, ledger::u64_key(entries)));
  if (!last || beyond) return Status::invalid_argument("--reuse: the database does not hold exactly --entries entries");
  return Status::ok();
}

std::string make_temp_dir() {
  const char* base = std::getenv("TMPDIR");
  std::string pattern = std::string(base && *base ? base : "/tmp") + "/provbench-XXXXXX";
  if (mkdtemp(pattern.data()) == nullptr) return {};
  return pattern;
}

int fail(const Status& s) {
  std::fprintf(stderr, "provbench ledger: %s\n", s.to_string().c_str());
  return 1;
}

}  // namespace

int run_ledger(const LedgerArgs& args) {
  crypto::init();
  if (args.entries == 0 || args.block_txs == 0 || args.proof_samples == 0) {
    return fail(Status::invalid_argument("--entries, --block-txs and --proof-samples must be > 0"));
  }
  if (args.reuse && args.dir.empty()) return fail(Status::invalid_argument("--reuse needs --dir"));
  const bool temp = args.dir.empty();
  const std::string dir = temp ? make_temp_dir() : args.dir;
  if (dir.empty()) return fail(Status::io_error("cannot create a temporary directory"));

  Setup setup = make_setup(args.seed);
  Report report;
  report.add_text("mode", args.reuse      ? "reuse (measure the log already in --dir)"
                         : args.log_only ? "log-only (merkle-log appends + entry writes, no transactions)"
                         : args.node_path ? "node-path (signatures memoized, build + re-apply on uncommitted parents, commit)"
                                         : "transactions (build_block with full validation + sync commit)");
  report.add("entries", static_cast<double>(args.entries), "entries");
  {
    ledger::store::StoreOptions options;
    options.memory = ledger::store::MemoryBudget::create(ledger::store::kDefaultBlockCacheBytes,
                                                         ledger::store::kDefaultWriteBufferBytes);
    auto opened = RocksStore::open(dir, options);
    if (!opened.is_ok()) return fail(opened.status());
    RocksStore& store = **opened;
    if (args.reuse) {
      // Measure a log an earlier run built in --dir (and kept).
      if (Status s = check_reusable(store, args.entries); !s.is_ok()) return fail(s);
    } else if (auto genesis = ledger::apply_genesis(setup.genesis); !genesis.is_ok()) {
      return fail(genesis.status());
    } else if (Status s = store.apply(*genesis, true); !s.is_ok()) {
      return fail(s);
    } else if (args.log_only) {
      double seconds = 0;
      std::vector<double> rss;
      if (Status s = build_log_only(store, setup, args, seconds, rss); !s.is_ok()) return fail(s);
      report.add_text("vm_rss_MiB_each_tenth_of_build", rss_trace(rss));
      report.add("log_only_build_entries_per_s", static_cast<double>(args.entries) / seconds, "entries/s");
      report.add("log_only_build_s", seconds, "s");
    } else if (args.node_path) {
      NodePathFigures f;
      if (Status s = build_node_path(store, setup, args, f); !s.is_ok()) return fail(s);
      const double n = static_cast<double>(args.entries);
      report.add("block_txs", args.block_txs, "transactions/block");
      report.add("admission_tx_per_s", n / f.prime_s,
                 "tx/s (check_transaction: decode, checks, Ed25519 into the memo; one thread)");
      report.add("leader_build_tx_per_s", n / f.build_s, "tx/s (build_block_filtered on two uncommitted parents)");
      report.add("follower_apply_tx_per_s", n / f.apply_s, "tx/s (apply_block of the same bytes)");
      report.add("commit_tx_per_s", n / f.commit_s, "tx/s (RocksStore::apply sync=true)");
      report.add("leader_build_us_per_tx", f.build_s / n * 1e6, "us");
      report.add("follower_apply_us_per_tx", f.apply_s / n * 1e6, "us");
      report.add("commit_us_per_tx", f.commit_s / n * 1e6, "us");
      report.add("leader_build_cpu_us_per_tx", f.build_cpu_us / n, "us of CPU");
      report.add("follower_apply_cpu_us_per_tx", f.apply_cpu_us / n, "us of CPU");
      report.add("commit_cpu_us_per_tx", f.commit_cpu_us / n, "us of CPU (this thread; RocksDB's own threads not counted)");
    } else {
      BuildFigures f;
      if (Status s = build_with_transactions(store, setup, args, f); !s.is_ok()) return fail(s);
      const double n = static_cast<double>(args.entries);
      const double verify_each_s = verify_seconds_each(setup);
      report.add("block_txs", args.block_txs, "transactions/block");
      report.add("client_sign_tx_per_s", n / f.sign_s, "tx/s (not part of the apply figures)");
      report.add("apply_verify_on_entries_per_s", n / (f.validate_s + f.commit_s),
                 "entries/s (build_block incl. Ed25519 verify + sync commit)");
      report.add("apply_verify_off_entries_per_s_estimated",
                 n / std::max(1e-9, f.validate_s - n * verify_each_s + f.commit_s),
                 "entries/s (same, minus the measured Ed25519 verify time per tx)");
      report.add("validate_only_entries_per_s", n / f.validate_s, "entries/s (build_block alone)");
      report.add("commit_only_entries_per_s", n / f.commit_s, "entries/s (RocksStore::apply sync=true alone)");
      report.add("ed25519_verify_us", verify_each_s * 1e6, "us per verification");
      report.add("blocks_per_s", (n / args.block_txs) / (f.validate_s + f.commit_s), "blocks/s");
    }

    // Time proofs on a settled store: memtables flushed and the compactions
    // the build queued finished, as on a node between bursts of blocks.
    report.add("rocksdb_memtables_before_flush_MiB", store.memtable_bytes() / 1048576.0, "MiB");
    if (Status s = store.flush(); !s.is_ok()) return fail(s);
    Stopwatch settle;
    while (store.background_work_pending() && settle.seconds() < kSettleSecondsMax) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    report.add("compaction_settle_s", settle.seconds(), "s (waiting for background compaction before timing proofs)");

    // Proofs read through a snapshot, as queries do.
    auto snap = store.snapshot();
    ProofFigures pf;
    if (Status s = time_proofs(*snap, args.entries, args, pf); !s.is_ok()) return fail(s);
    snap.reset();
    report.add("proof_samples", args.proof_samples, "proofs per kind");
    report.add("inclusion_proof_p50_us", percentile(pf.inclusion_us, 0.50), "us (read entry + proof + verify)");
    report.add("inclusion_proof_p99_us", percentile(pf.inclusion_us, 0.99), "us");
    report.add("inclusion_proof_max_us", percentile(pf.inclusion_us, 1.0), "us");
    report.add("inclusion_proof_cpu_p50_us", percentile(pf.inclusion_cpu_us, 0.50), "us (thread CPU time)");
    report.add("inclusion_proof_cpu_p99_us", percentile(pf.inclusion_cpu_us, 0.99), "us (thread CPU time)");
    report.add("consistency_proof_p50_us", percentile(pf.consistency_us, 0.50), "us (proof + verify)");
    report.add("consistency_proof_p99_us", percentile(pf.consistency_us, 0.99), "us");
    report.add("consistency_proof_max_us", percentile(pf.consistency_us, 1.0), "us");

    report.add("consistency_proof_cpu_p50_us", percentile(pf.consistency_cpu_us, 0.50), "us (thread CPU time)");
    report.add("consistency_proof_cpu_p99_us", percentile(pf.consistency_cpu_us, 0.99), "us (thread CPU time)");
    report.add("vm_rss_MiB", proc_status_kib("VmRSS") / 1024.0, "MiB (resident now)");
    report.add("vm_hwm_MiB", proc_status_kib("VmHWM") / 1024.0, "MiB (peak resident)");
    report.add("rocksdb_sst_MiB", store.approximate_sst_bytes() / 1048576.0, "MiB (after flush)");
    report.add("block_cache_MiB", options.memory->block_cache_usage_bytes() / 1048576.0, "MiB (shared LRU block cache in use)");
    if (Status s = store.close(); !s.is_ok()) return fail(s);
  }
  const uint64_t disk = directory_bytes(dir);
  report.add("disk_MiB", disk / 1048576.0, "MiB (database directory, after flush and close)");
  report.add("disk_bytes_per_entry", static_cast<double>(disk) / static_cast<double>(args.entries), "bytes/entry");
  report.add_text("dir", temp ? "(temporary, removed)" : dir);
  if (temp) {
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
  }
  report.print(args.json);
  return 0;
}

}  // namespace prov::bench
