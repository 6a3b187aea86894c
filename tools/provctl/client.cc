// provctl's node API client; see client.h.
#include "tools/provctl/client.h"

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <google/protobuf/util/json_util.h>

#include <chrono>

#include "crypto/http_signature.h"
#include "node/api/api.pb.h"

namespace prov::provctl {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

int64_t now_s() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

beast::string_view bsv(std::string_view s) { return {s.data(), s.size()}; }

// One attempt against one node. kUnavailable on anything that means "try the
// next node"; the reply otherwise.
Result<HttpReply> attempt(const NodeUrl& url, const http::request<http::string_body>& req, uint32_t timeout_ms) {
  asio::io_context io;
  tcp::resolver resolver(io);
  beast::tcp_stream stream(io);
  beast::flat_buffer buffer;
  http::response_parser<http::string_body> parser;
  parser.body_limit(kMaxResponseBytes);
  beast::error_code failure;
  const auto deadline = std::chrono::milliseconds(timeout_ms);
  resolver.async_resolve(url.host, url.port, [&](beast::error_code ec, tcp::resolver::results_type results) {
    if (ec) return void(failure = ec);
    stream.expires_after(deadline);
    stream.async_connect(results, [&](beast::error_code ec2, const tcp::endpoint&) {
      if (ec2) return void(failure = ec2);
      http::async_write(stream, req, [&](beast::error_code ec3, size_t) {
        if (ec3) return void(failure = ec3);
        http::async_read(stream, buffer, parser, [&](beast::error_code ec4, size_t) {
          if (ec4) failure = ec4;
        });
      });
    });
  });
  io.run();
  if (failure) return Status::unavailable(url.base + ": " + failure.message());
  const auto& res = parser.get();
  HttpReply reply;
  reply.status = res.result_int();
  if (auto it = res.find(http::field::content_type); it != res.end()) reply.content_type = std::string(it->value());
  reply.body = res.body();
  reply.node = url.base;
  if (reply.status == 503) return Status::unavailable(url.base + ": 503 " + api_error_message(reply));
  return reply;
}

// The {"error": {...}} of a reply, if it has one.
std::optional<node::api::v1::ErrorResponse> api_error(const HttpReply& reply) {
  node::api::v1::ErrorResponse e;
  google::protobuf::util::JsonParseOptions opts;
  opts.ignore_unknown_fields = true;
  if (!google::protobuf::util::JsonStringToMessage(reply.body, &e, opts).ok() || !e.has_error()) return std::nullopt;
  return e;
}

// 404 no_checkpoint or not_checkpointed: the node has no cosigned checkpoint
// covering what was asked (it restarted or is behind).
bool lacks_checkpoint(const HttpReply& reply) {
  if (reply.status != 404) return false;
  auto e = api_error(reply);
  return e && (e->error().code() == "no_checkpoint" || e->error().code() == "not_checkpointed");
}

}  // namespace

Result<NodeUrl> parse_node_url(std::string_view url) {
  constexpr std::string_view kScheme = "http://";
  if (url.substr(0, kScheme.size()) != kScheme)
    return Status::invalid_argument("node URL \"" + std::string(url) + "\" must start with http://");
  std::string_view rest = url.substr(kScheme.size());
  while (!rest.empty() && rest.back() == '/') rest.remove_suffix(1);
  size_t colon = rest.rfind(':');
  if (rest.empty() || rest.find('/') != std::string_view::npos || colon == std::string_view::npos || colon == 0 ||
      colon + 1 == rest.size())
    return Status::invalid_argument("node URL \"" + std::string(url) + "\" must be http://host:port");
  NodeUrl out;
  out.host = std::string(rest.substr(0, colon));
  out.port = std::string(rest.substr(colon + 1));
  out.base = std::string(kScheme) + std::string(rest);
  return out;
}

NodeClient::NodeClient(std::vector<std::string> urls, std::string chain_id, std::optional<crypto::KeyPair> key)
    : urls_(std::move(urls)), chain_id_(std::move(chain_id)), key_(std::move(key)) {}

Result<HttpReply> NodeClient::request(std::string_view method, std::string_view target, std::string_view body,
                                      std::string_view content_type, bool sign, uint32_t timeout_ms) {
  if (urls_.empty()) return Status::unavailable("no node URL configured (add `node = http://host:port` to provctl.conf)");
  if (sign && !key_) return Status::invalid_argument("this request must be signed, but no client key is loaded");
  std::string tried;
  std::optional<HttpReply> behind;
  for (const std::string& u : urls_) {
    PROV_ASSIGN_OR_RETURN(NodeUrl url, parse_node_url(u));
    http::request<http::string_body> req(http::string_to_verb(bsv(method)), bsv(target), 11);
    req.set(http::field::host, url.host + ":" + url.port);
    req.set(http::field::user_agent, "provctl");
    if (!content_type.empty()) req.set(http::field::content_type, bsv(content_type));
    req.body() = std::string(body);
    if (sign) {
      PROV_ASSIGN_OR_RETURN(crypto::http_sig::SignedHeaders h,
                            crypto::http_sig::sign_request(method, url.base + std::string(target), as_bytes(body),
                                                           *key_, chain_id_, now_s()));
      req.set("Signature-Input", h.signature_input);
      req.set("Signature", h.signature);
      if (h.content_digest) req.set("Content-Digest", *h.content_digest);
    }
    req.prepare_payload();
    auto reply = attempt(url, req, timeout_ms);
    if (reply.is_ok() && lacks_checkpoint(*reply)) {
      // This node holds no checkpoint (yet) that covers the entry: a state of
      // the node, not an answer about the log. Another may have one; if none
      // does, the first such answer stands.
      if (!behind) behind = std::move(*reply);
      continue;
    }
    if (reply.is_ok()) return reply;
    tried += (tried.empty() ? "" : "; ") + reply.status().message();
  }
  if (behind) return std::move(*behind);
  return Status::unavailable("no node reachable (" + tried + ")");
}

std::string api_error_message(const HttpReply& reply) {
  if (auto e = api_error(reply)) return e->error().code() + ": " + e->error().message();
  return reply.body.substr(0, 200);
}

}  // namespace prov::provctl
