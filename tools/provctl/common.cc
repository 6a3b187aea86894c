#include "tools/provctl/common.h"

#include <chrono>
#include <cstdio>
#include <iostream>

#include "crypto/keyfile.h"

namespace prov::provctl {

int exit_code_for(StatusCode code) {
  return static_cast<int>(code == StatusCode::kUnavailable ? Exit::kUnreachable : Exit::kFailed);
}

int report(const Context& ctx, const Status& st) {
  std::cerr << "provctl: " << st.message() << "\n";
  if (ctx.json) {
    std::cout << JsonObject()
                     .boolean("ok", false)
                     .str("code", status_code_name(st.code()))
                     .str("message", st.message())
                     .dump()
              << "\n";
  }
  return exit_code_for(st.code());
}

int usage_error(const Context& ctx, const std::string& message) {
  std::cerr << "provctl: " << message << "\nRun with --help for usage.\n";
  if (ctx.json) {
    std::cout << JsonObject().boolean("ok", false).str("code", "usage").str("message", message).dump() << "\n";
  }
  return static_cast<int>(Exit::kUsage);
}

std::string json_quote(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", static_cast<unsigned>(c));
          out += buf;
        } else {
          out += c;
        }
    }
  }
  return out + "\"";
}

JsonObject& JsonObject::str(const std::string& key, std::string_view value) { return raw(key, json_quote(value)); }
JsonObject& JsonObject::num(const std::string& key, int64_t value) { return raw(key, std::to_string(value)); }
JsonObject& JsonObject::boolean(const std::string& key, bool value) { return raw(key, value ? "true" : "false"); }
JsonObject& JsonObject::raw(const std::string& key, std::string raw_json) {
  fields_.emplace_back(key, std::move(raw_json));
  return *this;
}

std::string JsonObject::dump() const {
  std::string out = "{";
  for (size_t i = 0; i < fields_.size(); ++i) {
    if (i) out += ", ";
    out += json_quote(fields_[i].first) + ": " + fields_[i].second;
  }
  return out + "}";
}

std::string json_array(const std::vector<std::string>& items) {
  std::string out = "[";
  for (size_t i = 0; i < items.size(); ++i) out += (i ? ", " : "") + items[i];
  return out + "]";
}

void add_passphrase_options(CLI::App* cmd, PassphraseOptions& opts, const std::string& purpose) {
  auto* f = cmd->add_option("--passphrase-file", opts.file,
                            "read the passphrase " + purpose + " from the first line of this file (mode 0600)");
  auto* e = cmd->add_option("--passphrase-env", opts.env,
                            "read the passphrase " + purpose + " from this environment variable");
  f->excludes(e);
}

Result<std::optional<std::string>> read_passphrase(const PassphraseOptions& opts) {
  if (!opts.file.empty()) {
    PROV_ASSIGN_OR_RETURN(std::string p, crypto::read_passphrase_file(opts.file));
    return std::optional<std::string>(std::move(p));
  }
  if (!opts.env.empty()) {
    PROV_ASSIGN_OR_RETURN(std::string p, crypto::read_passphrase_env(opts.env));
    return std::optional<std::string>(std::move(p));
  }
  return std::optional<std::string>();
}

int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace prov::provctl
