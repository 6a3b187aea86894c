// The provctl home: a directory with genesis.json, the user's client key and
// provctl.conf, which names the nodes (docs/cli.md, "Home directory").
//
// provctl.conf is `key = value` lines; '#' starts a comment; `node` repeats.
// Parsing is strict (an unknown key is an error, like genesis fields) and
// bounded. Paths in it are relative to the home directory.
// Thread-safety: pure functions apart from reading the file system.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "crypto/status.h"

namespace prov::provctl {

inline constexpr size_t kHomeConfigMaxBytes = 64 * 1024;
inline constexpr size_t kHomeMaxNodes = 64;
inline constexpr const char* kHomeConfigName = "provctl.conf";

struct HomeConfig {
  std::string dir;
  std::string chain_id;                          // empty: take it from the genesis
  std::string genesis_path = "genesis.json";     // resolved against dir
  std::string key_path = "client.key";           // resolved against dir
  std::string agency;
  std::string agency_secret_path;                // empty if not configured
  std::vector<std::string> nodes;                // API base URLs, in failover order
};

// Parses provctl.conf text; paths are resolved against `dir`. Errors are
// kInvalidArgument naming the line.
Result<HomeConfig> parse_home_config(std::string_view text, const std::string& dir);

// Loads DIR/provctl.conf. kNotFound if `dir` is empty (no --home and no
// PROV_HOME) or the file does not exist.
Result<HomeConfig> load_home(const std::string& dir);

}  // namespace prov::provctl
