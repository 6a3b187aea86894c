// provd: a provledger node. `provd --config FILE` (docs/operator.md).
#include <cstdio>
#include <cstring>
#include <sstream>
#include <string>

#include "node/config.h"
#include "node/log.h"
#include "node/node.h"
#include "node/version.h"

#ifdef PROV_WITH_JEMALLOC
#include <jemalloc/jemalloc.h>
#endif

namespace {

constexpr const char* kUsage =
    "usage: provd --config FILE\n"
    "       provd --version\n"
    "\n"
    "Runs a provledger node with the configuration in FILE (docs/operator.md).\n"
    "Example: provd --config localnet/node1/provd.conf\n";

// The allocator provd runs on, for --version and the start-up log.
std::string allocator() {
#ifdef PROV_WITH_JEMALLOC
  const char* version = nullptr;
  size_t len = sizeof(version);
  if (mallctl("version", &version, &len, nullptr, 0) == 0 && version != nullptr) {
    return std::string("jemalloc ") + version;
  }
  return "jemalloc";
#else
  return "libc malloc";
#endif
}

}  // namespace

int main(int argc, char** argv) {
  std::string config_path;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--help" || arg == "-h") {
      std::fputs(kUsage, stdout);
      return 0;
    }
    if (arg == "--version") {
      std::printf("provd %s (peer protocol %u, %s)\n", prov::node::release(), prov::node::kProtocolVersion,
                  allocator().c_str());
      return 0;
    }
    if (arg == "--config" && i + 1 < argc) {
      config_path = argv[++i];
      continue;
    }
    std::fprintf(stderr, "provd: unknown argument '%s'\n\n%s", arg.c_str(), kUsage);
    return 2;
  }
  if (config_path.empty()) {
    std::fprintf(stderr, "provd: --config FILE is required\n\n%s", kUsage);
    return 2;
  }
  auto config = prov::node::load_config(config_path);
  if (!config) {
    std::fprintf(stderr, "provd: %s\n", config.status().message().c_str());
    return 2;
  }
  auto node = prov::node::Node::open(*config);
  if (!node) {
    std::fprintf(stderr, "provd: %s\n", node.status().to_string().c_str());
    return 1;
  }
  LOG_INFO("memory allocator: " << allocator());
  prov::Status st = (*node)->run();
  if (!st.is_ok()) {
    std::fprintf(stderr, "provd: %s\n", st.to_string().c_str());
    return 1;
  }
  return 0;
}
