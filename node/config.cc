#include "node/config.h"

#include <charconv>
#include <fstream>
#include <sstream>

namespace prov::node {
namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
  return s;
}

std::string resolve(std::string_view p, const std::string& base) {
  if (p.empty() || p.front() == '/' || base.empty()) return std::string(p);
  return base + "/" + std::string(p);
}

Result<size_t> parse_size(std::string_view v, size_t max, size_t min = 1) {
  size_t out = 0;
  auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), out);
  if (ec != std::errc() || end != v.data() + v.size()) return Status::invalid_argument("not a number");
  if (out < min || out > max) {
    return Status::invalid_argument("out of range " + std::to_string(min) + ".." + std::to_string(max));
  }
  return out;
}

}  // namespace

Result<Endpoint> parse_endpoint(std::string_view s, bool allow_zero) {
  size_t colon = s.rfind(':');
  if (colon == std::string_view::npos || colon == 0) return Status::invalid_argument("expected host:port");
  Endpoint e;
  e.host = std::string(s.substr(0, colon));
  std::string_view port = s.substr(colon + 1);
  unsigned value = 0;
  auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
  if (ec != std::errc() || end != port.data() + port.size() || value > 65535 || (value == 0 && !allow_zero)) {
    return Status::invalid_argument("bad port in " + std::string(s));
  }
  e.port = static_cast<uint16_t>(value);
  return e;
}

Result<NodeConfig> parse_config(std::string_view text, const std::string& base_dir) {
  if (text.size() > kConfigMaxBytes) return Status::invalid_argument("config file larger than 64 KiB");
  NodeConfig c;
  // Defaults live beside the configuration file too.
  c.genesis = resolve(c.genesis, base_dir);
  c.data_dir = resolve(c.data_dir, base_dir);
  c.node_key = resolve(c.node_key, base_dir);
  size_t line_no = 0;
  std::istringstream in{std::string(text)};
  for (std::string raw; std::getline(in, raw);) {
    ++line_no;
    std::string_view line = trim(raw);
    if (line.empty() || line.front() == '#') continue;
    size_t eq = line.find('=');
    auto fail = [&](const std::string& why) {
      return Status::invalid_argument("line " + std::to_string(line_no) + ": " + why);
    };
    if (eq == std::string_view::npos) return fail("expected key = value");
    std::string key(trim(line.substr(0, eq)));
    std::string_view value = trim(line.substr(eq + 1));
    if (value.empty()) return fail(key + " has no value");
    // A comment after a value would silently become part of it ("data # old"
    // as a directory name); comments go on lines of their own.
    if (value.find(" #") != std::string_view::npos || value.find("\t#") != std::string_view::npos)
      return fail(key + ": a comment must be on a line of its own (a line starting with #)");
    auto set_size = [&](size_t& field, size_t max, size_t min = 1) -> Status {
      auto v = parse_size(value, max, min);
      if (!v) return fail(key + ": " + v.status().message());
      field = *v;
      return Status::ok();
    };
    auto set_endpoint = [&](Endpoint& field) -> Status {
      auto e = parse_endpoint(value, /*allow_zero=*/true);
      if (!e) return fail(key + ": " + e.status().message());
      field = *e;
      return Status::ok();
    };
    if (key == "genesis") {
      c.genesis = resolve(value, base_dir);
    } else if (key == "data_dir") {
      c.data_dir = resolve(value, base_dir);
    } else if (key == "node_key") {
      c.node_key = resolve(value, base_dir);
    } else if (key == "passphrase_file") {
      c.passphrase_file = resolve(value, base_dir);
    } else if (key == "passphrase_env") {
      c.passphrase_env = std::string(value);
    } else if (key == "p2p_listen") {
      PROV_RETURN_IF_ERROR(set_endpoint(c.p2p));
    } else if (key == "api_listen") {
      PROV_RETURN_IF_ERROR(set_endpoint(c.api));
    } else if (key == "mempool_max_txs") {
      PROV_RETURN_IF_ERROR(set_size(c.mempool_max_txs, 10'000'000));
    } else if (key == "mempool_max_bytes") {
      PROV_RETURN_IF_ERROR(set_size(c.mempool_max_bytes, size_t{16} << 30));
    } else if (key == "worker_threads") {
      PROV_RETURN_IF_ERROR(set_size(c.worker_threads, 256));
    } else if (key == "block_cache_bytes") {
      PROV_RETURN_IF_ERROR(set_size(c.block_cache_bytes, size_t{1} << 40));
    } else if (key == "write_buffer_bytes") {
      PROV_RETURN_IF_ERROR(set_size(c.write_buffer_bytes, size_t{1} << 40));
    } else if (key == "direct_io") {
      if (value != "true" && value != "false") return fail("direct_io must be true or false");
      c.direct_io = value == "true";
    } else if (key == "api_max_connections") {
      PROV_RETURN_IF_ERROR(set_size(c.api_max_connections, 100000));
    } else if (key == "api_max_body_bytes") {
      PROV_RETURN_IF_ERROR(set_size(c.api_max_body_bytes, size_t{64} << 20));
    } else if (key == "min_block_interval_ms") {
      PROV_RETURN_IF_ERROR(set_size(c.min_block_interval_ms, 10'000, /*min=*/0));
    } else if (key == "log_level") {
      if (value != "error" && value != "warn" && value != "info" && value != "debug") {
        return fail("log_level must be error, warn, info or debug");
      }
      c.log_level = std::string(value);
    } else {
      return fail("unknown key '" + key + "'");
    }
  }
  if (!c.passphrase_file.empty() && !c.passphrase_env.empty()) {
    return Status::invalid_argument("passphrase_file and passphrase_env are both set; name one source");
  }
  return c;
}

Result<NodeConfig> load_config(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) return Status::not_found("cannot read config file " + path);
  std::string text((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  std::string dir = ".";
  if (size_t slash = path.rfind('/'); slash != std::string::npos) dir = path.substr(0, slash);
  auto c = parse_config(text, dir);
  if (!c) return Status::invalid_argument(path + ": " + c.status().message());
  c->path = path;
  return c;
}

}  // namespace prov::node
