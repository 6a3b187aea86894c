// PeerTransport on real loopback sockets: frames both ways, refusal of
// unknown keys, hostile raw clients, bounds, reconnection. Every wait runs
// the io_context until a predicate holds, with a deadline; nothing sleeps.
#include <doctest/doctest.h>
#include <poll.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>

#include "crypto/secure_channel.h"
#include "node/transport.h"

using namespace prov;
using namespace prov::node;
namespace asio = boost::asio;
using tcp = asio::ip::tcp;

namespace {

constexpr std::string_view kChain = "transport-test";
constexpr auto kDeadline = std::chrono::seconds(4);

// Runs `io` until `pred` holds or the deadline passes; returns pred().
template <class Pred>
bool run_until(asio::io_context& io, Pred pred, std::chrono::milliseconds deadline = kDeadline) {
  const auto end = std::chrono::steady_clock::now() + deadline;
  while (!pred()) {
    if (std::chrono::steady_clock::now() > end) return pred();
    if (io.stopped()) io.restart();
    io.run_one_for(std::chrono::milliseconds(10));
  }
  return true;
}

crypto::KeyPair key_of(uint8_t b) {
  Seed s;
  s.bytes.fill(b);
  return crypto::KeyPair::from_seed(s);
}

TransportConfig test_config() {
  TransportConfig c;
  c.chain_id = std::string(kChain);
  c.handshake_timeout = std::chrono::milliseconds(2000);
  c.reconnect_backoff_min = std::chrono::milliseconds(10);
  c.reconnect_backoff_max = std::chrono::milliseconds(200);
  c.jitter_seed = 42;
  return c;
}

struct Node {
  explicit Node(uint8_t seed, PeerRole r = PeerRole::kValidator) : key(key_of(seed)), role(r) {}
  crypto::KeyPair key;
  PeerRole role;
  TransportConfig config = test_config();
  uint16_t port = 0;
  std::vector<std::pair<PublicKey, Bytes>> got;
  std::function<void()> notify;  // called on the io thread after each frame
  std::unique_ptr<PeerTransport> t;

  const PublicKey& pub() const { return key.public_key(); }
  size_t count_from(const Node& other) const {
    return static_cast<size_t>(
        std::count_if(got.begin(), got.end(), [&](const auto& g) { return g.first == other.pub(); }));
  }
  bool connected_to(const Node& other) const {
    auto peers = t->connected_peers();
    return std::find(peers.begin(), peers.end(), other.pub()) != peers.end();
  }
};

// Starts `n`, allowing every node in `allowed`; nodes already started are
// listed with their address so `n` can dial them.
void start_node(asio::io_context& io, Node& n, const std::vector<Node*>& allowed) {
  std::vector<PeerInfo> peers;
  for (const Node* m : allowed) {
    PeerInfo info{"peer", m->pub(), m->role, m->port ? "127.0.0.1" : "", m->port};
    peers.push_back(info);
  }
  n.config.role = n.role;
  n.config.listen_port = n.port;  // 0 the first time; the same port on restart
  n.t = std::make_unique<PeerTransport>(io, n.config, n.key, peers,
                                        [&n](const PublicKey& p, Bytes f) {
                                          n.got.emplace_back(p, std::move(f));
                                          if (n.notify) n.notify();
                                        });
  REQUIRE(n.t->start().is_ok());
  n.port = n.t->bound_port();
  REQUIRE(n.port != 0);
}

// Starts every node, largest key first: the smaller key dials, so each
// dialer finds the address of everyone it must dial already bound. Keys in
// `also_allowed` are allowed everywhere but never started (raw clients).
void start_all(asio::io_context& io, std::vector<Node*> nodes, std::vector<Node*> also_allowed = {}) {
  std::vector<Node*> order = nodes;
  std::sort(order.begin(), order.end(), [](const Node* a, const Node* b) { return b->pub() < a->pub(); });
  std::vector<Node*> allowed = nodes;
  allowed.insert(allowed.end(), also_allowed.begin(), also_allowed.end());
  for (Node* n : order) start_node(io, *n, allowed);
}

bool fully_connected(const std::vector<Node*>& nodes) {
  for (const Node* a : nodes)
    for (const Node* b : nodes)
      if (a != b && !a->connected_to(*b)) return false;
  return true;
}

// A frame from `from` reaches `to` (and the predicate is checked by running io).
bool exchange(asio::io_context& io, Node& from, Node& to, const std::string& text) {
  const size_t before = to.count_from(from);
  if (!from.t->send(to.pub(), to_bytes(text)).is_ok()) return false;
  return run_until(io, [&] { return to.count_from(from) > before; }) && to_string(to.got.back().second) == text;
}

bool readable(tcp::socket& s) {
  pollfd p{s.native_handle(), POLLIN, 0};
  return ::poll(&p, 1, 0) > 0;
}

// A hand-driven TCP client: raw bytes, or a real handshake then hostile frames.
struct RawPeer {
  RawPeer(asio::io_context& io, uint16_t port) : sock(io) {
    boost::system::error_code ec;
    sock.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port), ec);
    REQUIRE_FALSE(ec);
  }
  void write(ByteView b) {
    boost::system::error_code ec;
    asio::write(sock, asio::buffer(b.data(), b.size()), ec);
  }
  // Completes a handshake as `key`; the session, or nullopt if refused.
  std::optional<crypto::SecureSession> handshake(asio::io_context& io, const crypto::KeyPair& key,
                                                 std::string chain = std::string(kChain)) {
    auto hs = crypto::Handshake::create(key, crypto::HandshakeConfig{std::move(chain), crypto::kDefaultMaxFrameBytes});
    REQUIRE(hs.is_ok());
    write(hs->hello());
    std::vector<uint8_t> buf(4096);
    while (hs->state() == crypto::HandshakeState::kAwaitingHello ||
           hs->state() == crypto::HandshakeState::kAwaitingAuth) {
      if (!run_until(io, [&] { return readable(sock); })) return std::nullopt;
      boost::system::error_code ec;
      const size_t n = sock.read_some(asio::buffer(buf), ec);
      if (ec) return std::nullopt;
      auto step = hs->on_bytes(ByteView(buf.data(), n));
      write(step.to_send);
    }
    if (hs->state() != crypto::HandshakeState::kDone) return std::nullopt;
    return hs->take_session();
  }
  // Runs io until the transport has closed this connection.
  bool wait_closed(asio::io_context& io) {
    std::vector<uint8_t> buf(4096);
    bool closed = false;
    run_until(io, [&] {
      while (!closed && readable(sock)) {
        boost::system::error_code ec;
        sock.read_some(asio::buffer(buf), ec);
        if (ec) closed = true;
      }
      return closed;
    });
    return closed;
  }
  tcp::socket sock;
};

}  // namespace

TEST_CASE("transport: two nodes exchange frames both ways") {
  asio::io_context io;
  Node a(1), b(2);
  start_all(io, {&a, &b});
  REQUIRE(run_until(io, [&] { return fully_connected({&a, &b}); }));
  for (int i = 0; i < 5; ++i) {
    CHECK(exchange(io, a, b, "a->b " + std::to_string(i)));
    CHECK(exchange(io, b, a, "b->a " + std::to_string(i)));
  }
  // An empty frame is a frame too.
  REQUIRE(a.t->send(b.pub(), Bytes{}).is_ok());
  REQUIRE(run_until(io, [&] { return b.count_from(a) == 6; }));
  CHECK(b.got.back().second.empty());
  REQUIRE(run_until(io, [&] { return a.t->metrics().frames_out == 6; }));
  const TransportMetrics m = a.t->metrics();
  CHECK(m.frames_in == 5);
  CHECK(m.handshakes_ok == 1);
  CHECK(m.handshakes_failed == 0);
  CHECK(m.bytes_out > m.frames_out * (crypto::kFrameHeaderBytes + crypto::kAeadTagBytes));
  // Exactly one link each way, despite both sides knowing of each other.
  CHECK(a.t->connected_peers() == std::vector<PublicKey>{b.pub()});
  CHECK(b.t->connected_peers() == std::vector<PublicKey>{a.pub()});
  CHECK(a.t->metrics().dropped_duplicate + b.t->metrics().dropped_duplicate == 0);
}

TEST_CASE("transport: three nodes, broadcast reaches every other node, in order") {
  asio::io_context io;
  Node a(1), b(2), c(3);
  std::vector<Node*> all{&a, &b, &c};
  start_all(io, all);
  REQUIRE(run_until(io, [&] { return fully_connected(all); }));
  for (Node* n : all) {
    for (int i = 0; i < 3; ++i) REQUIRE(n->t->broadcast(to_bytes("msg " + std::to_string(i))).is_ok());
  }
  REQUIRE(run_until(io, [&] { return a.got.size() == 6 && b.got.size() == 6 && c.got.size() == 6; }));
  for (Node* to : all) {
    for (Node* from : all) {
      if (to == from) continue;
      std::vector<std::string> seq;
      for (auto& [k, f] : to->got)
        if (k == from->pub()) seq.push_back(to_string(f));
      CHECK(seq == std::vector<std::string>{"msg 0", "msg 1", "msg 2"});
    }
  }
}

TEST_CASE("transport: a key outside the allowed set is refused at the handshake") {
  asio::io_context io;
  Node a(1), b(2);
  start_all(io, {&a, &b});
  REQUIRE(run_until(io, [&] { return fully_connected({&a, &b}); }));

  // The intruder knows both addresses and dials them (observers always dial).
  Node intruder(9, PeerRole::kObserver);
  start_node(io, intruder, {&a, &b});
  REQUIRE(run_until(io, [&] {
    return a.t->metrics().dropped_unknown_key >= 1 && b.t->metrics().dropped_unknown_key >= 1;
  }));
  CHECK(a.t->metrics().handshakes_failed >= 1);
  // The intruder may briefly believe it is connected (it checks only that our
  // keys are ones it allows); nothing it sends is ever delivered.
  REQUIRE(intruder.t->broadcast(to_bytes("let me in")).is_ok());
  CHECK(a.t->connected_peers() == std::vector<PublicKey>{b.pub()});
  CHECK(b.t->connected_peers() == std::vector<PublicKey>{a.pub()});
  CHECK(exchange(io, a, b, "still here"));
  CHECK(exchange(io, b, a, "and back"));
  CHECK(a.count_from(intruder) + b.count_from(intruder) == 0);
  // Sending to the intruder goes nowhere and is counted.
  REQUIRE(a.t->send(intruder.pub(), to_bytes("x")).is_ok());
  REQUIRE(run_until(io, [&] { return a.t->metrics().not_connected_drops == 1; }));
}

TEST_CASE("transport: a peer on another chain is refused") {
  asio::io_context io;
  Node a(1), b(2);
  b.config.chain_id = "other-chain";
  start_all(io, {&a, &b});
  REQUIRE(run_until(io, [&] { return a.t->metrics().dropped_rejected >= 1 && b.t->metrics().dropped_rejected >= 1; }));
  CHECK(a.t->connected_peers().empty());
}

TEST_CASE("transport: hostile raw clients are dropped and counted; the legit peer keeps working") {
  asio::io_context io;
  Node a(1), b(2), c(3);
  start_all(io, {&a, &b}, {&c});
  REQUIRE(run_until(io, [&] { return fully_connected({&a, &b}); }));
  // A raw client that passes the handshake must hold an allowed key: c's,
  // which no transport uses.
  auto raw_session = [&](RawPeer& raw) {
    auto s = raw.handshake(io, c.key);
    REQUIRE(s.has_value());
    return std::move(*s);
  };

  SUBCASE("garbage before the handshake") {
    RawPeer raw(io, a.port);
    raw.write(Bytes{0, 0, 0, 2, 0xde, 0xad});
    CHECK(raw.wait_closed(io));
    CHECK(a.t->metrics().dropped_garbage == 1);
  }
  SUBCASE("an HTTP request") {
    RawPeer raw(io, a.port);
    raw.write(as_bytes("GET / HTTP/1.1\r\nHost: x\r\n\r\n"));
    CHECK(raw.wait_closed(io));
    CHECK(a.t->metrics().dropped_oversized == 1);
  }
  SUBCASE("a 0xFFFFFFFF length prefix before the handshake") {
    RawPeer raw(io, a.port);
    raw.write(Bytes{0xff, 0xff, 0xff, 0xff});
    CHECK(raw.wait_closed(io));
    CHECK(a.t->metrics().dropped_oversized == 1);
  }
  SUBCASE("a truncated hello, then close") {
    RawPeer raw(io, a.port);
    raw.write(Bytes{0, 0, 0, 60, 0, 0, 0, 1});
    raw.sock.close();
    REQUIRE(run_until(io, [&] { return a.t->metrics().dropped_garbage == 1; }));
  }
  SUBCASE("a 0xFFFFFFFF length prefix after a valid handshake") {
    RawPeer raw(io, a.port);
    auto session = raw_session(raw);
    raw.write(Bytes{0xff, 0xff, 0xff, 0xff});
    CHECK(raw.wait_closed(io));
    CHECK(a.t->metrics().dropped_oversized == 1);
  }
  SUBCASE("a frame with a flipped bit after a valid handshake") {
    RawPeer raw(io, a.port);
    auto session = raw_session(raw);
    Bytes frame = session.encoder.seal(to_bytes("tampered")).value();
    frame[frame.size() / 2] ^= 0x10;
    raw.write(frame);
    CHECK(raw.wait_closed(io));
    CHECK(a.t->metrics().dropped_bad_tag == 1);
  }
  SUBCASE("a replayed frame after a valid handshake") {
    RawPeer raw(io, a.port);
    auto session = raw_session(raw);
    Bytes frame = session.encoder.seal(to_bytes("once")).value();
    raw.write(frame);
    raw.write(frame);
    CHECK(raw.wait_closed(io));
    CHECK(a.t->metrics().dropped_bad_tag == 1);
  }
  SUBCASE("a truncated frame after a valid handshake, then close") {
    RawPeer raw(io, a.port);
    auto session = raw_session(raw);
    Bytes frame = session.encoder.seal(Bytes(100, 7)).value();
    frame.resize(50);
    raw.write(frame);
    raw.sock.close();
    REQUIRE(run_until(io, [&] { return a.t->metrics().dropped_garbage == 1; }));
  }
  SUBCASE("silence until the handshake deadline") {
    a.t.reset();
    a.config.handshake_timeout = std::chrono::milliseconds(150);
    start_node(io, a, {&a, &b, &c});
    RawPeer raw(io, a.port);
    CHECK(raw.wait_closed(io));
    CHECK(a.t->metrics().dropped_timeout == 1);
    CHECK(a.t->metrics().handshakes_failed >= 1);
    REQUIRE(run_until(io, [&] { return fully_connected({&a, &b}); }));
  }
  // Whatever the hostile client did, a and b still talk.
  REQUIRE(run_until(io, [&] { return fully_connected({&a, &b}); }));
  CHECK(exchange(io, a, b, "after"));
  CHECK(exchange(io, b, a, "after, back"));
}

TEST_CASE("transport: unauthenticated connections beyond the bound are refused") {
  asio::io_context io;
  Node a(1);
  a.config.pending_handshakes_max = 2;
  start_node(io, a, {});
  RawPeer r1(io, a.port), r2(io, a.port), r3(io, a.port);
  REQUIRE(run_until(io, [&] { return a.t->metrics().refused_busy == 1; }));
  // The kernel hands connections over in order: the third is the one refused.
  CHECK(r3.wait_closed(io));
  CHECK(a.t->metrics().dropped_timeout == 0);
}

TEST_CASE("transport: a full send queue drops frames and counts them") {
  asio::io_context io;
  Node a(1), b(2);
  a.config.max_frame_bytes = 64 * 1024 + 16;
  a.config.send_queue_bytes_max = 256 * 1024;
  start_node(io, a, {&b});
  // A raw peer holding b's key completes the handshake and then never reads.
  RawPeer raw(io, a.port);
  REQUIRE(raw.handshake(io, b.key).has_value());
  REQUIRE(run_until(io, [&] { return a.connected_to(b); }));
  const Bytes chunk(64 * 1024, 0x42);
  REQUIRE(run_until(io, [&] {
    REQUIRE(a.t->send(b.pub(), chunk).is_ok());
    return a.t->metrics().queue_drops > 0;
  }));
  // Frames that can never fit are refused at once.
  CHECK_FALSE(a.t->send(b.pub(), Bytes(64 * 1024 + 1)).is_ok());
  CHECK(a.connected_to(b));
}

TEST_CASE("transport: reconnects after the peer restarts") {
  asio::io_context io;
  Node a(1), b(2);
  start_all(io, {&a, &b});
  REQUIRE(run_until(io, [&] { return fully_connected({&a, &b}); }));
  Node& dialer = a.pub() < b.pub() ? a : b;
  Node& listener = a.pub() < b.pub() ? b : a;

  SUBCASE("the listener restarts on its port") {
    listener.t.reset();
    REQUIRE(run_until(io, [&] { return dialer.t->connected_peers().empty(); }));
    CHECK(dialer.t->metrics().disconnects == 1);
    start_node(io, listener, {&a, &b});
  }
  SUBCASE("the dialer restarts") {
    dialer.t.reset();
    REQUIRE(run_until(io, [&] { return listener.t->connected_peers().empty(); }));
    start_node(io, dialer, {&a, &b});
  }
  SUBCASE("the listener is down for a while: the dialer keeps retrying") {
    listener.t.reset();
    REQUIRE(run_until(io, [&] { return dialer.t->metrics().dial_failures >= 3; }));
    start_node(io, listener, {&a, &b});
  }
  REQUIRE(run_until(io, [&] { return fully_connected({&a, &b}); }));
  CHECK(exchange(io, a, b, "again"));
  CHECK(exchange(io, b, a, "again, back"));
}

TEST_CASE("transport: stop is idempotent and silences callbacks") {
  asio::io_context io;
  Node a(1), b(2);
  start_all(io, {&a, &b});
  REQUIRE(run_until(io, [&] { return fully_connected({&a, &b}); }));
  REQUIRE(a.t->send(b.pub(), to_bytes("in flight")).is_ok());
  b.t->stop();
  b.t->stop();
  CHECK(b.t->connected_peers().empty());
  const size_t before = b.got.size();
  REQUIRE(run_until(io, [&] { return a.t->connected_peers().empty(); }));
  CHECK(b.got.size() == before);
  CHECK_FALSE(b.t->start().is_ok());
}

TEST_CASE("transport: send from another thread while the io_context runs; loopback throughput") {
  asio::io_context io;
  Node a(1), b(2);
  start_all(io, {&a, &b});
  REQUIRE(run_until(io, [&] { return fully_connected({&a, &b}); }));

  constexpr size_t kFrames = 20000;
  constexpr size_t kFrameBytes = 1024;
  std::mutex mu;
  std::condition_variable cv;
  bool all_in = false;
  b.got.reserve(kFrames);
  b.notify = [&] {
    if (b.got.size() < kFrames) return;
    std::lock_guard lock(mu);
    all_in = true;
    cv.notify_all();
  };
  auto guard = asio::make_work_guard(io);
  std::thread io_thread([&] { io.run(); });
  const auto t0 = std::chrono::steady_clock::now();
  for (size_t i = 0; i < kFrames; ++i) {
    Bytes f(kFrameBytes, 0);
    put_u64_be(f, i);  // appended after the zeros: the index is the last 8 bytes
    REQUIRE(a.t->send(b.pub(), std::move(f)).is_ok());
  }
  {
    std::unique_lock lock(mu);
    cv.wait_until(lock, t0 + kDeadline, [&] { return all_in; });
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  asio::post(io, [&] {
    a.t->stop();
    b.t->stop();
    guard.reset();
  });
  io_thread.join();
  REQUIRE(b.got.size() == kFrames);
  bool in_order = true;
  for (size_t i = 0; i < kFrames; ++i) {
    in_order = in_order && get_u64_be(b.got[i].second.data() + kFrameBytes) == i;
  }
  CHECK(in_order);
  MESSAGE("loopback: " << kFrames << " frames of " << kFrameBytes << " B in " << seconds << " s = "
                       << static_cast<uint64_t>(kFrames / seconds) << " frames/s");
}

TEST_CASE("transport: dial rule") {
  const PublicKey lo = key_of(1).public_key() < key_of(2).public_key() ? key_of(1).public_key() : key_of(2).public_key();
  const PublicKey hi = key_of(1).public_key() < key_of(2).public_key() ? key_of(2).public_key() : key_of(1).public_key();
  PeerInfo peer_hi{"hi", hi, PeerRole::kValidator, "127.0.0.1", 7000};
  PeerInfo peer_lo{"lo", lo, PeerRole::kValidator, "127.0.0.1", 7000};
  CHECK(should_dial(lo, PeerRole::kValidator, peer_hi));
  CHECK_FALSE(should_dial(hi, PeerRole::kValidator, peer_lo));
  // Observers always dial validators; validators never dial observers.
  CHECK(should_dial(hi, PeerRole::kObserver, peer_lo));
  PeerInfo observer_hi{"obs", hi, PeerRole::kObserver, "127.0.0.1", 7000};
  CHECK_FALSE(should_dial(lo, PeerRole::kValidator, observer_hi));
  // No address: never dialed.
  peer_hi.host.clear();
  CHECK_FALSE(should_dial(lo, PeerRole::kValidator, peer_hi));
}
