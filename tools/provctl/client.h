// provctl's HTTP client for the node API: failover across the home's node
// URLs and RFC 9421 request signing with the home's client key.
//
// A node that refuses the connection, times out, drops the connection before
// answering, or answers 503 (syncing, shutting down) is skipped and the next
// URL is tried, in the home's order; when none answers the result is
// kUnavailable, which provctl maps to exit code 3. Any other HTTP answer,
// error statuses included, is returned to the caller.
// Single-threaded: one client per command; each request runs its own
// io_context to completion (Beast asynchronous operations with deadlines).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "crypto/bytes.h"
#include "crypto/ed25519.h"
#include "crypto/status.h"

namespace prov::provctl {

inline constexpr uint32_t kDefaultRequestTimeoutMs = 10000;
inline constexpr size_t kMaxResponseBytes = 16u << 20;  // largest answer we read

struct HttpReply {
  unsigned status = 0;
  std::string content_type;
  std::string body;
  std::string node;  // base URL that answered
};

// An http://host:port base URL split up; kInvalidArgument for anything else.
struct NodeUrl {
  std::string host;
  std::string port;
  std::string base;  // "http://host:port", no trailing slash
};
Result<NodeUrl> parse_node_url(std::string_view url);

class NodeClient {
 public:
  // `key` signs reads; without it only public endpoints and submission work.
  NodeClient(std::vector<std::string> urls, std::string chain_id, std::optional<crypto::KeyPair> key);

  // Sends `method target` (target starts with '/') to the first node that
  // answers, waiting at most timeout_ms per node. Signs the request when
  // `sign` (RFC 9421, covering the body's Content-Digest when there is one).
  Result<HttpReply> request(std::string_view method, std::string_view target, std::string_view body = {},
                            std::string_view content_type = {}, bool sign = false,
                            uint32_t timeout_ms = kDefaultRequestTimeoutMs);

 private:
  std::vector<std::string> urls_;
  std::string chain_id_;
  std::optional<crypto::KeyPair> key_;
};

// The message of an API error body {"error":{"code","message"}}, or the raw
// body when it is not one; for error reports.
std::string api_error_message(const HttpReply& reply);

}  // namespace prov::provctl
