// Boost.Beast HTTP server for the client API; see server.h.
#include "node/api/server.h"

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <chrono>
#include <list>
#include <mutex>
#include <optional>

namespace prov::node::api {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
using tcp = asio::ip::tcp;

class Session;

}  // namespace

// Shared by the acceptor and sessions: the handler and the open sessions.
struct ApiServer::Impl : std::enable_shared_from_this<ApiServer::Impl> {
  Impl(asio::io_context& io, std::shared_ptr<ApiHandler> h)
      : io(io), acceptor(asio::make_strand(io)), handler(std::move(h)) {}
  asio::io_context& io;
  tcp::acceptor acceptor;
  std::shared_ptr<ApiHandler> handler;
  std::mutex mu;                               // guards sessions and stopped
  std::list<std::weak_ptr<Session>> sessions;  // open sessions, for stop()
  bool stopped = false;

  void accept();
  void on_accept(beast::error_code ec, tcp::socket socket);
};

namespace {

// One connection: read a request (bounded, with a deadline), answer, repeat
// while keep-alive. Runs on its own strand.
class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket socket, std::shared_ptr<ApiServer::Impl> server)
      : stream_(std::move(socket)), server_(std::move(server)) {}
  ~Session() { server_->handler->connections_open.fetch_sub(1); }

  void start() { asio::dispatch(stream_.get_executor(), [self = shared_from_this()] { self->read(); }); }

  // Answers 503 and closes (over the connection bound).
  void reject() {
    asio::dispatch(stream_.get_executor(), [self = shared_from_this()] {
      Response r = ApiHandler::error_response(http::status::service_unavailable, "too_many_connections",
                                              "the node is serving its maximum number of connections; retry");
      r.keep_alive(false);
      self->write(std::move(r));
    });
  }

  void close() {
    asio::post(stream_.get_executor(), [self = shared_from_this()] {
      beast::error_code ec;
      self->stream_.socket().shutdown(tcp::socket::shutdown_both, ec);
      self->stream_.close();
    });
  }

 private:
  const ApiConfig& config() const { return server_->handler->config(); }

  void read() {
    parser_.emplace();
    parser_->header_limit(static_cast<uint32_t>(config().max_header_bytes));
    parser_->body_limit(config().max_body_bytes);
    stream_.expires_after(std::chrono::milliseconds(config().read_timeout_ms));
    http::async_read(stream_, buffer_, *parser_,
                     [self = shared_from_this()](beast::error_code ec, size_t) { self->on_read(ec); });
  }

  void on_read(beast::error_code ec) {
    if (ec == http::error::end_of_stream || ec == beast::error::timeout || ec == asio::error::operation_aborted ||
        ec == asio::error::connection_reset || ec == asio::error::eof || ec == asio::error::bad_descriptor) {
      return shutdown();
    }
    if (ec) {
      // The request was refused before routing: answer once, then close,
      // because the stream position is unknown after a parse error.
      server_->handler->parse_errors.fetch_add(1);
      http::status status = http::status::bad_request;
      std::string_view code = "bad_request";
      if (ec == http::error::body_limit) {
        status = http::status::payload_too_large;
        code = "body_too_large";
      } else if (ec == http::error::header_limit) {
        status = http::status::request_header_fields_too_large;
        code = "header_too_large";
      }
      Response r = ApiHandler::error_response(status, code, ec.message());
      r.keep_alive(false);
      return write(std::move(r));
    }
    stream_.expires_never();  // submission may wait for commit; the node bounds that wait
    request_ = parser_->release();
    auto self = shared_from_this();
    server_->handler->handle(request_, [self](Response res) {
      asio::post(self->stream_.get_executor(), [self, res = std::move(res)]() mutable { self->write(std::move(res)); });
    });
  }

  void write(Response res) {
    response_ = std::move(res);
    stream_.expires_after(std::chrono::milliseconds(config().read_timeout_ms));
    http::async_write(stream_, response_, [self = shared_from_this()](beast::error_code ec, size_t) {
      if (ec || !self->response_.keep_alive()) return self->shutdown();
      self->read();
    });
  }

  void shutdown() {
    beast::error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
    stream_.close();
  }

  beast::tcp_stream stream_;
  std::shared_ptr<ApiServer::Impl> server_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  Request request_;
  Response response_;
};

}  // namespace

void ApiServer::Impl::accept() {
  acceptor.async_accept(asio::make_strand(io), [self = shared_from_this()](beast::error_code ec, tcp::socket s) {
    self->on_accept(ec, std::move(s));
  });
}

void ApiServer::Impl::on_accept(beast::error_code ec, tcp::socket socket) {
  if (ec == asio::error::operation_aborted) return;
  if (!ec) {
    // Answers go out at once: a response written in parts must not wait
    // for the client's delayed ACK (Nagle).
    beast::error_code ignored;
    socket.set_option(tcp::no_delay(true), ignored);
    const size_t open = handler->connections_open.fetch_add(1);
    auto session = std::make_shared<Session>(std::move(socket), shared_from_this());
    {
      std::lock_guard<std::mutex> lock(mu);
      if (stopped) return session->close();
      sessions.remove_if([](const std::weak_ptr<Session>& w) { return w.expired(); });
      sessions.push_back(session);
    }
    if (open >= handler->config().max_connections) {
      handler->connections_rejected.fetch_add(1);
      session->reject();
    } else {
      session->start();
    }
  }
  // Errors such as EMFILE must not stop the acceptor for good.
  std::lock_guard<std::mutex> lock(mu);
  if (!stopped && acceptor.is_open()) accept();
}

Result<std::shared_ptr<ApiServer>> ApiServer::start(asio::io_context& io, NodeService& node, ApiConfig config) {
  std::shared_ptr<ApiServer> server(new ApiServer());
  server->handler_ = std::make_shared<ApiHandler>(node, std::move(config));
  server->impl_ = std::make_shared<Impl>(io, server->handler_);
  const ApiConfig& cfg = server->handler_->config();
  beast::error_code ec;
  auto address = asio::ip::make_address(cfg.bind_address, ec);
  if (ec) return Status::invalid_argument("API bind address \"" + cfg.bind_address + "\": " + ec.message());
  tcp::endpoint ep(address, cfg.port);
  tcp::acceptor& a = server->impl_->acceptor;
  const std::string where = cfg.bind_address + ":" + std::to_string(cfg.port);
  if (a.open(ep.protocol(), ec); ec) return Status::io_error("API socket " + where + ": " + ec.message());
  if (a.set_option(asio::socket_base::reuse_address(true), ec); ec)
    return Status::io_error("API socket " + where + ": " + ec.message());
  if (a.bind(ep, ec); ec) return Status::io_error("API bind " + where + ": " + ec.message());
  if (a.listen(asio::socket_base::max_listen_connections, ec); ec)
    return Status::io_error("API listen " + where + ": " + ec.message());
  server->port_ = a.local_endpoint(ec).port();
  asio::dispatch(a.get_executor(), [impl = server->impl_] { impl->accept(); });
  return server;
}

void ApiServer::stop() {
  if (!impl_) return;
  std::list<std::weak_ptr<Session>> open;
  {
    std::lock_guard<std::mutex> lock(impl_->mu);
    if (impl_->stopped) return;
    impl_->stopped = true;
    open.swap(impl_->sessions);
  }
  asio::post(impl_->acceptor.get_executor(), [impl = impl_] {
    beast::error_code ec;
    impl->acceptor.close(ec);
  });
  for (auto& w : open)
    if (auto s = w.lock()) s->close();
}

ApiServer::~ApiServer() { stop(); }

}  // namespace prov::node::api
