// provd's configuration file (docs/operator.md).
//
// `key = value` lines, '#' starts a comment; every key has a default, an
// unknown key or a malformed value is an error naming the line. Relative
// paths are resolved against the directory holding the file.
// Thread-safety: pure functions apart from reading the file.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "crypto/status.h"

namespace prov::node {

inline constexpr size_t kConfigMaxBytes = 64 * 1024;

struct Endpoint {
  std::string host = "127.0.0.1";
  uint16_t port = 0;
};

struct NodeConfig {
  std::string path;                          // the file this was read from ("" if defaults)
  std::string genesis = "genesis.json";      // the network's genesis file
  std::string data_dir = "data";             // RocksDB and nothing else
  std::string node_key = "node.key";         // Ed25519 key file (crypto/keyfile.h), 0600
  std::string passphrase_file;               // for a sealed node key: first line of this file
  std::string passphrase_env;                // ... or this environment variable
  Endpoint p2p{"127.0.0.1", 7101};           // peer listener
  Endpoint api{"127.0.0.1", 7001};           // client API listener
  size_t mempool_max_txs = 10000;
  size_t mempool_max_bytes = 64u << 20;
  size_t worker_threads = 2;                 // signature checks off the consensus strand
  size_t block_cache_bytes = 64u << 20;
  size_t write_buffer_bytes = 64u << 20;
  bool direct_io = true;                     // flushes and compactions past the page cache, if the fs takes it
  size_t api_max_connections = 256;
  size_t api_max_body_bytes = 2u << 20;     // a 1 MiB transaction as base64 JSON fits
  size_t min_block_interval_ms = 15;         // as a leader: no block sooner than this after the last
  std::string log_level = "info";            // error | warn | info | debug
};

// Parses configuration text; relative paths resolve against `base_dir`.
Result<NodeConfig> parse_config(std::string_view text, const std::string& base_dir);
// Reads and parses the file at `path`.
Result<NodeConfig> load_config(const std::string& path);
// "host:port" -> Endpoint; the port must be 1..65535 (or 0 when allow_zero).
Result<Endpoint> parse_endpoint(std::string_view s, bool allow_zero = false);

}  // namespace prov::node
