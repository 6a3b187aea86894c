// The client API's request handling: routing, RFC 9421 authentication and
// read permissions, queries on a node snapshot, and the JSON mapping.
//
// It takes a request Beast already parsed and produces a response, without
// sockets, so the server (server.h), the unit tests and the HTTP fuzz target
// share it. Endpoints, signing rules, status codes and bounds: docs/api.md.
//
// Read permission rule (signed reads): the keyid must be an active client key
// of a registered agency. An agency with role `auditor` reads everything. An
// agency with `writer` or `recorder` reads entries (and their receipts and
// inclusion proofs) that it submitted or that touch a dataset in its
// namespace, the history and lineage of datasets in its namespace, digest
// lookups filtered to those entries, and consistency proofs; blocks are for
// auditors only. Any other agency may read consistency proofs only.
//
// Thread-safety: handle() may be called from several threads at once; the
// handler holds no per-request state, and its counters are atomics.
#pragma once

#include <boost/beast/http.hpp>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>

#include "node/service.h"

namespace prov::node::api {

namespace http = boost::beast::http;
using Request = http::request<http::string_body>;
using Response = http::response<http::string_body>;

struct ApiConfig {
  std::string bind_address = "127.0.0.1";  // loopback unless the operator says otherwise
  uint16_t port = 0;                       // 0: any free port (tests)
  size_t max_body_bytes = 2u << 20;        // fits a 1 MiB transaction as base64 JSON
  size_t max_header_bytes = 16u << 10;
  size_t max_connections = 256;            // beyond: 503 and close
  uint32_t read_timeout_ms = 10000;        // a whole request must arrive within this (slowloris)
  uint32_t default_wait_ms = 10000;        // commit + checkpoint wait of POST /v1/transactions?wait
  uint32_t max_wait_ms = 30000;
  size_t max_batch_txs = 1000;             // transactions per POST /v1/transactions:batch; beyond: 413
  uint32_t max_query_limit = 1000;         // items per page
  // Seconds since the Unix epoch for the signature window; tests inject it.
  std::function<int64_t()> clock_s;
};

class ApiHandler {
 public:
  ApiHandler(NodeService& node, ApiConfig config);

  // Handles one request and calls `done` exactly once with the response,
  // possibly on another thread (transaction submission waits on the node).
  void handle(const Request& req, std::function<void(Response)> done);

  // A response for a request that could not be parsed or was refused before
  // routing (oversized body, header, garbage, too many connections). A 429
  // or 503 carries Retry-After: 1.
  static Response error_response(http::status status, std::string_view code, std::string_view message,
                                 unsigned version = 11);

  // The API's own Prometheus metrics (requests by status class, auth failures).
  std::string metrics_text() const;
  const ApiConfig& config() const { return config_; }

  // Counted by the server, exposed by metrics_text().
  std::atomic<uint64_t> connections_open{0};
  std::atomic<uint64_t> connections_rejected{0};
  std::atomic<uint64_t> parse_errors{0};

 private:
  struct Ctx;
  void route(Ctx& ctx, const std::function<void(Response)>& done);
  void submit(Ctx& ctx, const std::function<void(Response)>& done);
  void submit_batch(Ctx& ctx, const std::function<void(Response)>& done);
  Response finish(unsigned version, bool keep_alive, Response res);

  NodeService& node_;
  ApiConfig config_;
  std::atomic<uint64_t> responses_[6]{};  // by status class: 1xx..5xx, [0] unused
  std::atomic<uint64_t> auth_failures_{0};
};

}  // namespace prov::node::api
