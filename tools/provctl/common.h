// What every provctl verb shares: exit codes, error reporting, JSON output
// and the passphrase options.
//
// Verbs register themselves on the CLI11 app and leave a closure in
// Context::run; main parses, then runs it. CLI11's exceptions never leave
// main, and verbs report errors as Status values through report().
// Single-threaded: provctl is one command per process.
#pragma once

#include <CLI/CLI.hpp>

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "crypto/status.h"

namespace prov::provctl {

// Process exit codes (docs/cli.md). Scripts depend on them: never renumber.
enum class Exit : int {
  kOk = 0,
  kFailed = 1,       // verification failed, not found, or the operation failed
  kUsage = 2,        // the command line is wrong
  kUnreachable = 3,  // no node could be reached
};

struct Context {
  bool json = false;          // --json: machine-readable output on stdout
  std::string home;           // --home DIR or $PROV_HOME; empty if neither
  std::function<int()> run;   // the chosen verb, set by its CLI11 callback
};

// The exit code for an operating error: kUnavailable -> 3, anything else -> 1.
int exit_code_for(StatusCode code);

// Prints `st` (to stderr, and as {"ok":false,...} on stdout under --json)
// and returns its exit code.
int report(const Context& ctx, const Status& st);
// Prints a usage error and returns 2.
int usage_error(const Context& ctx, const std::string& message);

// Escapes `s` as a JSON string literal, quotes included.
std::string json_quote(std::string_view s);

// A flat JSON object built in insertion order; values are raw JSON.
class JsonObject {
 public:
  JsonObject& str(const std::string& key, std::string_view value);
  JsonObject& num(const std::string& key, int64_t value);
  JsonObject& boolean(const std::string& key, bool value);
  JsonObject& raw(const std::string& key, std::string raw_json);
  std::string dump() const;

 private:
  std::vector<std::pair<std::string, std::string>> fields_;
};

// Joins already-serialized JSON values into an array.
std::string json_array(const std::vector<std::string>& items);

// --passphrase-file / --passphrase-env, mutually exclusive.
struct PassphraseOptions {
  std::string file;
  std::string env;
};
void add_passphrase_options(CLI::App* cmd, PassphraseOptions& opts, const std::string& purpose);
// The passphrase the options name, or nullopt if neither was given.
Result<std::optional<std::string>> read_passphrase(const PassphraseOptions& opts);

// Milliseconds since the Unix epoch, from the system clock.
int64_t now_ms();

// Verb groups; each adds its subcommands to `app`.
void add_key_commands(CLI::App& app, Context& ctx);
void add_genesis_commands(CLI::App& app, Context& ctx);
void add_home_commands(CLI::App& app, Context& ctx);
void add_anchor_command(CLI::App& app, Context& ctx);
void add_tx_commands(CLI::App& app, Context& ctx);
// Reading and verifying verbs (verified.h).
void add_receipt_commands(CLI::App& app, Context& ctx);
void add_checkpoint_commands(CLI::App& app, Context& ctx);
void add_verify_command(CLI::App& app, Context& ctx);
void add_query_commands(CLI::App& app, Context& ctx);
void add_access_command(CLI::App& app, Context& ctx);
void add_audit_command(CLI::App& app, Context& ctx);

}  // namespace prov::provctl
