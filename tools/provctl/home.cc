#include "tools/provctl/home.h"

#include <filesystem>
#include <fstream>

#include "tools/provctl/client.h"

namespace prov::provctl {
namespace {

std::string_view trim(std::string_view s) {
  const char* ws = " \t\r";
  size_t b = s.find_first_not_of(ws);
  if (b == std::string_view::npos) return {};
  size_t e = s.find_last_not_of(ws);
  return s.substr(b, e - b + 1);
}

std::string resolve(const std::string& dir, std::string_view path) {
  std::filesystem::path p(path);
  return p.is_absolute() ? p.string() : (std::filesystem::path(dir) / p).string();
}

}  // namespace

Result<HomeConfig> parse_home_config(std::string_view text, const std::string& dir) {
  if (text.size() > kHomeConfigMaxBytes)
    return Status::invalid_argument(std::string(kHomeConfigName) + " is larger than " +
                                    std::to_string(kHomeConfigMaxBytes) + " bytes");
  HomeConfig c;
  c.dir = dir;
  c.genesis_path = resolve(dir, c.genesis_path);
  c.key_path = resolve(dir, c.key_path);
  size_t line_no = 0;
  while (!text.empty()) {
    ++line_no;
    size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
    line = trim(line.substr(0, line.find('#')));
    if (line.empty()) continue;
    auto where = [&] { return std::string(kHomeConfigName) + " line " + std::to_string(line_no) + ": "; };
    size_t eq = line.find('=');
    if (eq == std::string_view::npos) return Status::invalid_argument(where() + "expected `key = value`");
    std::string_view key = trim(line.substr(0, eq));
    std::string_view value = trim(line.substr(eq + 1));
    if (value.empty()) return Status::invalid_argument(where() + "empty value");
    if (key == "chain_id") {
      c.chain_id = value;
    } else if (key == "genesis") {
      c.genesis_path = resolve(dir, value);
    } else if (key == "key") {
      c.key_path = resolve(dir, value);
    } else if (key == "agency") {
      c.agency = value;
    } else if (key == "agency_secret") {
      c.agency_secret_path = resolve(dir, value);
    } else if (key == "node") {
      // Checked as the client will use it, so `provctl home show` reports a
      // URL no verb could reach (provctl speaks plain HTTP: reach a remote
      // node through an SSH tunnel or a TLS-terminating proxy on loopback).
      if (auto url = parse_node_url(value); !url) return Status::invalid_argument(where() + url.status().message());
      if (c.nodes.size() == kHomeMaxNodes)
        return Status::invalid_argument(where() + "more than " + std::to_string(kHomeMaxNodes) + " nodes");
      c.nodes.emplace_back(value);
    } else {
      return Status::invalid_argument(where() + "unknown key \"" + std::string(key.substr(0, 64)) + "\"");
    }
  }
  return c;
}

Result<HomeConfig> load_home(const std::string& dir) {
  if (dir.empty()) return Status::not_found("no provctl home: give --home DIR or set PROV_HOME");
  const std::string path = resolve(dir, kHomeConfigName);
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::not_found("no " + std::string(kHomeConfigName) + " in home " + dir);
  std::string text(kHomeConfigMaxBytes + 1, '\0');
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  text.resize(static_cast<size_t>(in.gcount()));
  auto c = parse_home_config(text, dir);
  if (!c) return Status(c.status().code(), dir + "/" + c.status().message());
  return c;
}

}  // namespace prov::provctl
