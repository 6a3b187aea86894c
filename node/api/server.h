// The client API's HTTP/1.1 server on Boost.Beast, on the node's io_context.
//
// One acceptor; each connection is a session on its own strand, so the
// io_context may be run by any number of threads. Bounds (ApiConfig): header
// and body sizes (431 / 413, then close), a read deadline per request
// (slowloris), and a connection limit beyond which a new connection gets 503
// and is closed. Garbage that Beast's parser rejects gets 400 and a close;
// the server keeps serving everyone else. Beast's exceptions never leave
// this file: every operation uses error codes.
//
// Thread-safety: start() and stop() may be called from any thread; stop()
// is idempotent and closes the acceptor and every open session.
#pragma once

#include <boost/asio/io_context.hpp>

#include <memory>

#include "crypto/status.h"
#include "node/api/handler.h"
#include "node/service.h"

namespace prov::node::api {

class ApiServer {
 public:
  // Binds config.bind_address:config.port and starts accepting on `io`.
  // kIOError naming the address if it can not bind.
  static Result<std::shared_ptr<ApiServer>> start(boost::asio::io_context& io, NodeService& node, ApiConfig config);
  ~ApiServer();

  // The bound port (useful with port 0).
  uint16_t port() const { return port_; }
  ApiHandler& handler() { return *handler_; }
  // Stops accepting and closes every session.
  void stop();

  struct Impl;

 private:
  ApiServer() = default;
  std::shared_ptr<Impl> impl_;
  std::shared_ptr<ApiHandler> handler_;
  uint16_t port_ = 0;
};

}  // namespace prov::node::api
