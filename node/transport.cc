#include "node/transport.h"

#include <algorithm>
#include <array>
#include <atomic>
#include <deque>
#include <map>
#include <mutex>
#include <random>
#include <set>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>

namespace prov::node {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using boost::system::error_code;

namespace {

// One read's worth of bytes; a connection holds this plus at most one partial frame.
constexpr size_t kReadChunkBytes = 64 * 1024;
// Frames gathered into one write call: fewer system calls under load.
constexpr size_t kWriteBatchFramesMax = 64;
// Pause before accepting again after accept() itself failed (e.g. out of fds).
constexpr std::chrono::milliseconds kAcceptRetryDelay{100};
// 2^kBackoffShiftMax · min is far beyond any sane max; avoids overflow.
constexpr uint32_t kBackoffShiftMax = 20;

enum Counter : size_t {
  kFramesIn, kFramesOut, kBytesIn, kBytesOut, kHandshakesOk, kHandshakesFailed,
  kGarbage, kOversized, kBadTag, kUnknownKey, kTimeout, kRejected, kDuplicate,
  kBusy, kDisconnects, kDialFailures, kQueueDrops, kNotConnected, kCounterCount,
};

// Which counter a channel error closes a connection under.
Counter reason_for(crypto::ChannelError e) {
  switch (e) {
    case crypto::ChannelError::kMalformed: return kGarbage;
    case crypto::ChannelError::kOversized: return kOversized;
    case crypto::ChannelError::kBadTag: return kBadTag;
    case crypto::ChannelError::kNonceExhausted: return kDisconnects;
    case crypto::ChannelError::kWrongVersion:
    case crypto::ChannelError::kWrongChainId:
    case crypto::ChannelError::kBadSignature:
    case crypto::ChannelError::kReflected:
    case crypto::ChannelError::kWeakKey: break;
  }
  return kRejected;
}

enum class Phase : uint8_t { kConnecting, kHandshaking, kEstablished, kClosed };

struct Outgoing {
  Bytes wire;
  bool is_frame;  // false: handshake bytes (not counted as frames)
};

struct Conn {
  Conn(asio::io_context& io, bool is_outbound) : socket(io), deadline(io), outbound(is_outbound) {}
  tcp::socket socket;
  asio::steady_timer deadline;  // connect + handshake must finish before it fires
  bool outbound;
  bool peer_known = false;  // outbound: the key dialed; inbound: set once authenticated
  bool counted_pending = false;  // holds one of pending_handshakes_max's slots
  bool received_any = false;
  PublicKey peer;
  Phase phase = Phase::kConnecting;
  std::optional<crypto::Handshake> handshake;
  std::optional<crypto::SecureSession> session;
  std::vector<uint8_t> read_buf = std::vector<uint8_t>(kReadChunkBytes);
  std::deque<Outgoing> queue;
  uint64_t queued_bytes = 0;  // sealed bytes in `queue`, bounded by send_queue_bytes_max
  bool writing = false;
  size_t in_flight = 0;  // entries of `queue` in the current write
  std::vector<asio::const_buffer> write_bufs;
};
using ConnPtr = std::shared_ptr<Conn>;

struct Peer {
  PeerInfo info;
  bool dial = false;
  ConnPtr active;   // the established link, if any
  ConnPtr dialing;  // our outbound attempt in connect or handshake
  bool waiting = false;  // a redial timer is armed
  uint32_t failures = 0;
  std::unique_ptr<asio::steady_timer> timer;
};

}  // namespace

class PeerTransport::Impl : public std::enable_shared_from_this<Impl> {
 public:
  Impl(asio::io_context& io, TransportConfig config, crypto::KeyPair key, std::vector<PeerInfo> peers,
       FrameHandler on_frame)
      : io_(io), config_(std::move(config)), key_(std::move(key)), on_frame_(std::move(on_frame)),
        acceptor_(io), resolver_(io), accept_retry_(io),
        rng_(config_.jitter_seed ? *config_.jitter_seed : std::random_device{}()) {
    for (PeerInfo& info : peers) {
      if (info.key == key_.public_key()) continue;
      Peer p;
      p.dial = should_dial(key_.public_key(), config_.role, info);
      p.timer = std::make_unique<asio::steady_timer>(io_);
      p.info = std::move(info);
      const PublicKey k = p.info.key;
      peers_.emplace(k, std::move(p));
    }
  }

  Status start();
  void stop();
  void post_send(const PublicKey& peer, std::shared_ptr<const Bytes> frame, bool all);
  std::vector<PublicKey> connected_peers() const {
    std::lock_guard lock(view_mu_);
    return connected_view_;
  }
  uint16_t bound_port() const { return bound_port_.load(); }
  TransportMetrics metrics() const;
  uint32_t max_frame_bytes() const { return config_.max_frame_bytes; }

 private:
  Status validate_config() const;
  void accept();
  void on_accept(const error_code& ec, tcp::socket socket);
  void start_dial(Peer& p);
  void schedule_dial(Peer& p);
  std::chrono::milliseconds backoff(uint32_t failures);
  void begin_handshake(const ConnPtr& c);
  void arm_deadline(const ConnPtr& c);
  void read(const ConnPtr& c);
  void on_read(const ConnPtr& c, const error_code& ec, size_t n);
  void on_read_end(const ConnPtr& c);
  bool establish(const ConnPtr& c);
  bool keep_new(const Conn& fresh, const Conn& old) const;
  bool deliver(const ConnPtr& c, ByteView in);
  void send_now(Peer& p, const Bytes& frame);
  void enqueue(const ConnPtr& c, Bytes wire, bool is_frame);
  void write(const ConnPtr& c);
  void on_write(const ConnPtr& c, const error_code& ec, size_t n);
  void fail_handshake(const ConnPtr& c, Counter reason);
  void close(const ConnPtr& c, std::optional<Counter> reason);
  void close_all();
  void publish_connected();
  void count(Counter c, uint64_t n = 1) { counters_[c].fetch_add(n, std::memory_order_relaxed); }

  asio::io_context& io_;
  const TransportConfig config_;
  const crypto::KeyPair key_;
  const FrameHandler on_frame_;
  tcp::acceptor acceptor_;
  tcp::resolver resolver_;
  asio::steady_timer accept_retry_;
  std::mt19937_64 rng_;  // backoff jitter only
  std::map<PublicKey, Peer> peers_;
  std::set<ConnPtr> pending_;  // connecting or handshaking, both directions
  size_t pending_inbound_ = 0;
  bool started_ = false;

  std::atomic<bool> stopped_{false};
  mutable std::mutex view_mu_;
  std::vector<PublicKey> connected_view_;  // guarded by view_mu_
  std::atomic<uint16_t> bound_port_{0};
  std::array<std::atomic<uint64_t>, kCounterCount> counters_{};
};

bool should_dial(const PublicKey& self, PeerRole self_role, const PeerInfo& peer) {
  if (peer.host.empty() || peer.port == 0 || peer.key == self) return false;
  if (self_role != peer.role) return self_role == PeerRole::kObserver;
  return self < peer.key;
}

// ---- Lifecycle -------------------------------------------------------------

Status PeerTransport::Impl::validate_config() const {
  if (config_.chain_id.size() > crypto::kChainIdBytesMax) return Status::invalid_argument("transport: chain id too long");
  if (config_.max_frame_bytes < crypto::kMinMaxFrameBytes) {
    return Status::invalid_argument("transport: max_frame_bytes below " + std::to_string(crypto::kMinMaxFrameBytes));
  }
  if (config_.send_queue_bytes_max < uint64_t{config_.max_frame_bytes} + crypto::kFrameHeaderBytes) {
    return Status::invalid_argument("transport: send_queue_bytes_max must hold one maximal frame");
  }
  if (config_.handshake_timeout.count() <= 0) return Status::invalid_argument("transport: handshake_timeout must be > 0");
  if (config_.pending_handshakes_max == 0) return Status::invalid_argument("transport: pending_handshakes_max must be > 0");
  if (config_.reconnect_backoff_min.count() <= 0 || config_.reconnect_backoff_max < config_.reconnect_backoff_min) {
    return Status::invalid_argument("transport: need 0 < reconnect_backoff_min <= reconnect_backoff_max");
  }
  return Status::ok();
}

Status PeerTransport::Impl::start() {
  if (started_) return Status::already_exists("transport: already started");
  if (stopped_) return Status::unavailable("transport: stopped");
  PROV_RETURN_IF_ERROR(validate_config());
  error_code ec;
  const auto address = asio::ip::make_address(config_.listen_host, ec);
  if (ec) return Status::invalid_argument("transport: listen_host is not an IP address: " + config_.listen_host);
  const tcp::endpoint endpoint(address, config_.listen_port);
  // Each step reports through `ec`: Asio's exceptions never leave this module.
  acceptor_.open(endpoint.protocol(), ec);
  if (!ec) acceptor_.set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec) acceptor_.bind(endpoint, ec);
  if (!ec) acceptor_.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    error_code ignored;
    acceptor_.close(ignored);
    return Status::io_error("transport: listen on " + config_.listen_host + ":" + std::to_string(config_.listen_port) +
                            ": " + ec.message());
  }
  bound_port_ = acceptor_.local_endpoint(ec).port();
  started_ = true;
  accept();
  for (auto& [key, p] : peers_) {
    if (p.dial) start_dial(p);
  }
  return Status::ok();
}

void PeerTransport::Impl::stop() {
  // The caller is the io thread (or no thread runs the io_context), so
  // closing here races with nothing, and handlers that run later see stopped_.
  if (!stopped_.exchange(true)) close_all();
}

void PeerTransport::Impl::close_all() {
  error_code ignored;
  acceptor_.close(ignored);
  resolver_.cancel();
  accept_retry_.cancel();
  std::vector<ConnPtr> all(pending_.begin(), pending_.end());
  for (auto& [key, p] : peers_) {
    p.timer->cancel();
    p.waiting = false;
    if (p.active) all.push_back(p.active);
  }
  for (const ConnPtr& c : all) close(c, std::nullopt);
  publish_connected();
}

TransportMetrics PeerTransport::Impl::metrics() const {
  auto get = [this](Counter c) { return counters_[c].load(std::memory_order_relaxed); };
  TransportMetrics m;
  m.frames_in = get(kFramesIn);
  m.frames_out = get(kFramesOut);
  m.bytes_in = get(kBytesIn);
  m.bytes_out = get(kBytesOut);
  m.handshakes_ok = get(kHandshakesOk);
  m.handshakes_failed = get(kHandshakesFailed);
  m.dropped_garbage = get(kGarbage);
  m.dropped_oversized = get(kOversized);
  m.dropped_bad_tag = get(kBadTag);
  m.dropped_unknown_key = get(kUnknownKey);
  m.dropped_timeout = get(kTimeout);
  m.dropped_rejected = get(kRejected);
  m.dropped_duplicate = get(kDuplicate);
  m.refused_busy = get(kBusy);
  m.disconnects = get(kDisconnects);
  m.dial_failures = get(kDialFailures);
  m.queue_drops = get(kQueueDrops);
  m.not_connected_drops = get(kNotConnected);
  return m;
}

// ---- Accepting and dialing ---------------------------------------------------

void PeerTransport::Impl::accept() {
  acceptor_.async_accept([self = shared_from_this()](const error_code& ec, tcp::socket socket) {
    self->on_accept(ec, std::move(socket));
  });
}

void PeerTransport::Impl::on_accept(const error_code& ec, tcp::socket socket) {
  if (stopped_) return;
  if (ec) {
    // Out of descriptors and the like: back off briefly instead of spinning.
    accept_retry_.expires_after(kAcceptRetryDelay);
    accept_retry_.async_wait([self = shared_from_this()](const error_code& e) {
      if (!e && !self->stopped_) self->accept();
    });
    return;
  }
  if (pending_inbound_ >= config_.pending_handshakes_max) {
    count(kBusy);
    error_code ignored;
    socket.close(ignored);
    accept();
    return;
  }
  auto c = std::make_shared<Conn>(io_, /*is_outbound=*/false);
  c->socket = std::move(socket);
  c->counted_pending = true;
  ++pending_inbound_;
  pending_.insert(c);
  arm_deadline(c);
  begin_handshake(c);
  accept();
}

void PeerTransport::Impl::start_dial(Peer& p) {
  auto c = std::make_shared<Conn>(io_, /*is_outbound=*/true);
  c->peer = p.info.key;
  c->peer_known = true;
  p.dialing = c;
  pending_.insert(c);
  arm_deadline(c);
  resolver_.async_resolve(
      p.info.host, std::to_string(p.info.port),
      [self = shared_from_this(), c](const error_code& ec, const tcp::resolver::results_type& results) {
        if (self->stopped_ || c->phase == Phase::kClosed) return;
        if (ec) {
          self->count(kDialFailures);
          self->close(c, std::nullopt);
          return;
        }
        asio::async_connect(c->socket, results, [self, c](const error_code& e, const tcp::endpoint&) {
          if (self->stopped_ || c->phase == Phase::kClosed) return;
          if (e) {
            self->count(kDialFailures);
            self->close(c, std::nullopt);
            return;
          }
          self->begin_handshake(c);
        });
      });
}

std::chrono::milliseconds PeerTransport::Impl::backoff(uint32_t failures) {
  const auto min_ms = static_cast<uint64_t>(config_.reconnect_backoff_min.count());
  const auto max_ms = static_cast<uint64_t>(config_.reconnect_backoff_max.count());
  const uint64_t full = std::min(max_ms, min_ms << std::min(failures, kBackoffShiftMax));
  // Jitter in [full/2, full] keeps restarted nodes from redialing in lockstep.
  std::uniform_int_distribution<uint64_t> jitter(full / 2, full);
  return std::chrono::milliseconds(jitter(rng_));
}

void PeerTransport::Impl::schedule_dial(Peer& p) {
  if (stopped_ || !p.dial || p.active || p.dialing || p.waiting) return;
  p.waiting = true;
  p.timer->expires_after(backoff(p.failures));
  p.timer->async_wait([self = shared_from_this(), key = p.info.key](const error_code& ec) {
    if (ec || self->stopped_) return;
    Peer& peer = self->peers_.at(key);
    peer.waiting = false;
    if (!peer.active && !peer.dialing) self->start_dial(peer);
  });
}

// ---- Handshake ---------------------------------------------------------------

void PeerTransport::Impl::arm_deadline(const ConnPtr& c) {
  c->deadline.expires_after(config_.handshake_timeout);
  c->deadline.async_wait([self = shared_from_this(), c](const error_code& ec) {
    if (ec || self->stopped_) return;
    if (c->phase == Phase::kConnecting) {
      self->close(c, kTimeout);
    } else if (c->phase == Phase::kHandshaking) {
      self->fail_handshake(c, kTimeout);
    }
  });
}

void PeerTransport::Impl::begin_handshake(const ConnPtr& c) {
  error_code ignored;
  c->socket.set_option(tcp::no_delay(true), ignored);
  // validate_config() checked everything create() checks.
  auto hs = crypto::Handshake::create(key_, crypto::HandshakeConfig{config_.chain_id, config_.max_frame_bytes});
  assert(hs.is_ok());
  c->handshake.emplace(std::move(hs).value());
  c->phase = Phase::kHandshaking;
  enqueue(c, c->handshake->hello(), /*is_frame=*/false);
  read(c);
}

void PeerTransport::Impl::fail_handshake(const ConnPtr& c, Counter reason) {
  count(kHandshakesFailed);
  close(c, reason);
}

bool PeerTransport::Impl::establish(const ConnPtr& c) {
  const PublicKey key = c->handshake->peer_key();
  auto it = peers_.find(key);
  // An outbound link must reach the key we dialed, not merely an allowed one.
  if (it == peers_.end() || (c->outbound && key != c->peer)) {
    fail_handshake(c, kUnknownKey);
    return false;
  }
  c->peer = key;
  c->peer_known = true;
  c->session.emplace(c->handshake->take_session());
  c->handshake.reset();
  c->deadline.cancel();
  pending_.erase(c);
  if (c->counted_pending) {
    c->counted_pending = false;
    --pending_inbound_;
  }
  c->phase = Phase::kEstablished;
  count(kHandshakesOk);

  Peer& p = it->second;
  if (p.dialing == c) {
    p.dialing.reset();
    p.failures = 0;
  }
  if (p.active) {
    if (!keep_new(*c, *p.active)) {
      close(c, kDuplicate);
      return false;
    }
    ConnPtr old = std::exchange(p.active, c);
    close(old, kDuplicate);
  }
  p.active = c;
  publish_connected();
  return true;
}

// Both ends apply the same rule to the same pair of links, so they keep the
// same one: the link dialed by the smaller key wins; between two links dialed
// by the same side, the newer wins (the older is likely half-dead).
bool PeerTransport::Impl::keep_new(const Conn& fresh, const Conn& old) const {
  const PublicKey& self = key_.public_key();
  auto dialed_by_smaller = [&self](const Conn& c) { return c.outbound ? self < c.peer : c.peer < self; };
  if (dialed_by_smaller(fresh) != dialed_by_smaller(old)) return dialed_by_smaller(fresh);
  return true;
}

// ---- Reading -----------------------------------------------------------------

void PeerTransport::Impl::read(const ConnPtr& c) {
  c->socket.async_read_some(asio::buffer(c->read_buf), [self = shared_from_this(), c](const error_code& ec, size_t n) {
    self->on_read(c, ec, n);
  });
}

void PeerTransport::Impl::on_read(const ConnPtr& c, const error_code& ec, size_t n) {
  if (stopped_ || c->phase == Phase::kClosed) return;
  if (ec) {
    on_read_end(c);
    return;
  }
  count(kBytesIn, n);
  c->received_any = true;
  ByteView in(c->read_buf.data(), n);
  if (c->phase == Phase::kHandshaking) {
    crypto::Handshake::Step step = c->handshake->on_bytes(in);
    if (!step.to_send.empty()) enqueue(c, std::move(step.to_send), /*is_frame=*/false);
    if (step.state == crypto::HandshakeState::kFailed) {
      fail_handshake(c, reason_for(c->handshake->error()));
      return;
    }
    if (step.state == crypto::HandshakeState::kDone && !establish(c)) return;
    in = in.subspan(step.consumed_bytes);
  }
  if (c->phase == Phase::kEstablished && !in.empty() && !deliver(c, in)) return;
  if (c->phase != Phase::kClosed && !stopped_) read(c);
}

// EOF or a socket error. Inside a frame or a started handshake it is a
// truncation (garbage); at a frame boundary it is an ordinary disconnect.
void PeerTransport::Impl::on_read_end(const ConnPtr& c) {
  if (c->phase == Phase::kEstablished) {
    close(c, c->session->decoder.at_frame_boundary() ? kDisconnects : kGarbage);
    return;
  }
  count(kHandshakesFailed);
  close(c, c->received_any ? std::optional<Counter>(kGarbage) : std::nullopt);
}

bool PeerTransport::Impl::deliver(const ConnPtr& c, ByteView in) {
  while (!in.empty()) {
    crypto::DecodeStep step = c->session->decoder.decode(in);
    in = in.subspan(step.consumed_bytes);
    if (step.error) {
      close(c, reason_for(*step.error));
      return false;
    }
    if (!step.frame) continue;
    count(kFramesIn);
    on_frame_(c->peer, std::move(*step.frame));
    // on_frame may have stopped the transport or otherwise closed this link.
    if (stopped_ || c->phase == Phase::kClosed) return false;
  }
  return true;
}

// ---- Writing -----------------------------------------------------------------

void PeerTransport::Impl::post_send(const PublicKey& peer, std::shared_ptr<const Bytes> frame, bool all) {
  auto send = [self = shared_from_this(), peer, frame = std::move(frame), all] {
    if (self->stopped_) return;
    if (all) {
      for (auto& [key, p] : self->peers_) {
        if (p.active) self->send_now(p, *frame);
      }
      return;
    }
    auto it = self->peers_.find(peer);
    if (it == self->peers_.end() || !it->second.active) {
      self->count(kNotConnected);
      return;
    }
    self->send_now(it->second, *frame);
  };
  // On the io_context's thread (the node's strand) the frame goes out now,
  // in order with everything else that thread sends: posted, it waited for
  // the handler that sent it to finish, and a leader's proposal waited for
  // the fsync of its own vote that the core emits after it. Writes only
  // start here; completions run later, never inside this call.
  if (io_.get_executor().running_in_this_thread()) return send();
  asio::post(io_, std::move(send));
}

void PeerTransport::Impl::send_now(Peer& p, const Bytes& frame) {
  const ConnPtr c = p.active;
  const uint64_t wire_bytes = crypto::kFrameHeaderBytes + frame.size() + crypto::kAeadTagBytes;
  if (c->queued_bytes + wire_bytes > config_.send_queue_bytes_max) {
    count(kQueueDrops);
    return;
  }
  auto sealed = c->session->encoder.seal(frame);
  if (!sealed) {
    // Only a spent nonce counter can fail here (send() checked the size):
    // the link must not carry another frame.
    close(c, reason_for(sealed.error()));
    return;
  }
  enqueue(c, std::move(sealed).value(), /*is_frame=*/true);
}

void PeerTransport::Impl::enqueue(const ConnPtr& c, Bytes wire, bool is_frame) {
  c->queued_bytes += wire.size();
  c->queue.push_back(Outgoing{std::move(wire), is_frame});
  if (!c->writing) write(c);
}

void PeerTransport::Impl::write(const ConnPtr& c) {
  c->write_bufs.clear();
  c->in_flight = std::min(c->queue.size(), kWriteBatchFramesMax);
  for (size_t i = 0; i < c->in_flight; ++i) c->write_bufs.push_back(asio::buffer(c->queue[i].wire));
  c->writing = true;
  asio::async_write(c->socket, c->write_bufs, [self = shared_from_this(), c](const error_code& ec, size_t n) {
    self->on_write(c, ec, n);
  });
}

void PeerTransport::Impl::on_write(const ConnPtr& c, const error_code& ec, size_t n) {
  c->writing = false;
  if (stopped_ || c->phase == Phase::kClosed) return;
  if (ec) {
    // The read side sees the same failure; whichever comes first closes.
    on_read_end(c);
    return;
  }
  count(kBytesOut, n);
  for (size_t i = 0; i < c->in_flight; ++i) {
    if (c->queue.front().is_frame) count(kFramesOut);
    c->queued_bytes -= c->queue.front().wire.size();
    c->queue.pop_front();
  }
  c->in_flight = 0;
  if (!c->queue.empty()) write(c);
}

// ---- Closing -----------------------------------------------------------------

void PeerTransport::Impl::close(const ConnPtr& c, std::optional<Counter> reason) {
  if (c->phase == Phase::kClosed) return;
  c->phase = Phase::kClosed;
  if (reason) count(*reason);
  error_code ignored;
  c->socket.close(ignored);
  c->deadline.cancel();
  pending_.erase(c);
  if (c->counted_pending) {
    c->counted_pending = false;
    --pending_inbound_;
  }
  if (!c->peer_known) return;
  auto it = peers_.find(c->peer);
  if (it == peers_.end()) return;
  Peer& p = it->second;
  if (p.active == c) {
    p.active.reset();
    publish_connected();
    schedule_dial(p);
  } else if (p.dialing == c) {
    p.dialing.reset();
    ++p.failures;
    schedule_dial(p);
  }
}

void PeerTransport::Impl::publish_connected() {
  std::vector<PublicKey> keys;
  for (const auto& [key, p] : peers_) {
    if (p.active) keys.push_back(key);
  }
  std::lock_guard lock(view_mu_);
  connected_view_ = std::move(keys);
}

// ---- PeerTransport -------------------------------------------------------------

PeerTransport::PeerTransport(asio::io_context& io, TransportConfig config, crypto::KeyPair key,
                             std::vector<PeerInfo> peers, FrameHandler on_frame)
    : impl_(std::make_shared<Impl>(io, std::move(config), std::move(key), std::move(peers), std::move(on_frame))) {}

PeerTransport::~PeerTransport() { impl_->stop(); }

Status PeerTransport::start() { return impl_->start(); }
void PeerTransport::stop() { impl_->stop(); }

Status PeerTransport::send(const PublicKey& peer, Bytes frame) {
  if (frame.size() > impl_->max_frame_bytes() - crypto::kAeadTagBytes) {
    return Status::invalid_argument("transport: frame of " + std::to_string(frame.size()) + " bytes exceeds the bound");
  }
  impl_->post_send(peer, std::make_shared<const Bytes>(std::move(frame)), /*all=*/false);
  return Status::ok();
}

Status PeerTransport::broadcast(Bytes frame) {
  if (frame.size() > impl_->max_frame_bytes() - crypto::kAeadTagBytes) {
    return Status::invalid_argument("transport: frame of " + std::to_string(frame.size()) + " bytes exceeds the bound");
  }
  impl_->post_send(PublicKey{}, std::make_shared<const Bytes>(std::move(frame)), /*all=*/true);
  return Status::ok();
}

std::vector<PublicKey> PeerTransport::connected_peers() const { return impl_->connected_peers(); }
uint16_t PeerTransport::bound_port() const { return impl_->bound_port(); }
TransportMetrics PeerTransport::metrics() const { return impl_->metrics(); }

}  // namespace prov::node
