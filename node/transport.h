// PeerTransport: authenticated, encrypted TCP links between provledger nodes.
//
// It listens, dials the allowed peers that have an address, runs the secure
// channel handshake (crypto/secure_channel.h) on every connection, refuses
// keys outside the allowed set, and then moves opaque frames: send() and
// broadcast() in, on_frame() out. It knows nothing of what the frames mean.
// A peer that sends garbage, an oversized or forged frame, or stalls its
// handshake is dropped and counted; everyone else keeps being served. Lost
// links are redialed with exponential backoff and jitter. docs/transport.md
// describes the wire format, the limits, the metrics and the refusals.
//
// Threading: all state lives on one io_context thread (run the io_context on
// exactly one thread). on_frame runs on that thread and may call any method.
// send(), broadcast(), connected_peers(), bound_port() and metrics() may be
// called from any thread (send and broadcast post to the io_context).
// start(), stop() and the destructor run on the io thread, or while no thread
// runs the io_context; from elsewhere, post them.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <boost/asio/io_context.hpp>

#include "crypto/bytes.h"
#include "crypto/ed25519.h"
#include "crypto/secure_channel.h"
#include "crypto/status.h"

namespace prov::node {

enum class PeerRole : uint8_t { kValidator, kObserver };

// A node this one may talk to.
struct PeerInfo {
  std::string name;     // for logs only
  PublicKey key;        // its static Ed25519 node key
  PeerRole role = PeerRole::kValidator;
  std::string host;     // empty: no address, never dialed (it dials us)
  uint16_t port = 0;
};

struct TransportConfig {
  std::string listen_host = "127.0.0.1";
  uint16_t listen_port = 0;  // 0: the kernel chooses; see bound_port()
  std::string chain_id;
  PeerRole role = PeerRole::kValidator;  // this node's role (decides who dials)
  // Bound on one frame's ciphertext; also the largest plaintext + 16 send() takes.
  uint32_t max_frame_bytes = crypto::kDefaultMaxFrameBytes;
  // Sealed bytes waiting to be written to one peer; a frame that would
  // exceed it is dropped and counted (a slow peer can not exhaust memory).
  uint64_t send_queue_bytes_max = 64ull << 20;
  // Connect plus handshake must finish within this, or the peer is dropped.
  std::chrono::milliseconds handshake_timeout{5000};
  // Unauthenticated inbound connections in handshake at once; more are refused.
  size_t pending_handshakes_max = 64;
  // Redial delay: min · 2^failures, capped at max, then jittered to [½, 1]×.
  std::chrono::milliseconds reconnect_backoff_min{100};
  std::chrono::milliseconds reconnect_backoff_max{10000};
  std::optional<uint64_t> jitter_seed;  // unset: std::random_device
};

// Counters since construction. Each "dropped_*" counts connections closed
// for that reason; a connection is counted under exactly one reason.
struct TransportMetrics {
  uint64_t frames_in = 0;
  uint64_t frames_out = 0;
  uint64_t bytes_in = 0;   // TCP payload bytes read, handshakes included
  uint64_t bytes_out = 0;  // TCP payload bytes written, handshakes included
  uint64_t handshakes_ok = 0;
  uint64_t handshakes_failed = 0;   // every handshake that did not yield an allowed peer
  uint64_t dropped_garbage = 0;     // unparseable bytes, or EOF inside a frame or handshake
  uint64_t dropped_oversized = 0;   // a length prefix above the bound
  uint64_t dropped_bad_tag = 0;     // a frame that failed AEAD (forged, replayed, reordered)
  uint64_t dropped_unknown_key = 0; // authenticated, but not an allowed peer (or not the one dialed)
  uint64_t dropped_timeout = 0;     // connect + handshake took longer than handshake_timeout
  uint64_t dropped_rejected = 0;    // wrong version or chain id, bad signature, reflected, weak key
  uint64_t dropped_duplicate = 0;   // a second link to the same peer (one is kept)
  uint64_t refused_busy = 0;        // inbound refused: pending_handshakes_max reached
  uint64_t disconnects = 0;         // established links that ended (EOF, reset, nonce spent)
  uint64_t dial_failures = 0;       // resolve or connect failed
  uint64_t queue_drops = 0;         // frames dropped: send queue full
  uint64_t not_connected_drops = 0; // frames for a peer with no established link
};

// Called with each authenticated frame, on the io_context thread.
using FrameHandler = std::function<void(const PublicKey& peer, Bytes frame)>;

class PeerTransport {
 public:
  // `peers` are the allowed keys (validators and observers); this node's own
  // key among them is ignored. Nothing happens until start().
  PeerTransport(boost::asio::io_context& io, TransportConfig config, crypto::KeyPair key,
                std::vector<PeerInfo> peers, FrameHandler on_frame);
  // Stops (see stop()). Handlers still queued on the io_context keep the
  // internals alive until they run (and do nothing) or the io_context is
  // destroyed; the io_context must outlive this object.
  ~PeerTransport();
  PeerTransport(const PeerTransport&) = delete;
  PeerTransport& operator=(const PeerTransport&) = delete;

  // Binds and listens, then dials every peer this node should dial. Fails
  // with kInvalidArgument on a bad config and kIOError if the bind fails.
  Status start();
  // Closes the listener and every link and cancels redials, at once.
  // Idempotent; after it returns on_frame is never called again.
  void stop();

  // Queues `frame` for `peer`. Fails at once with kInvalidArgument if the
  // frame exceeds max_frame_bytes − 16; otherwise a frame that can not be
  // queued (peer not connected, queue full) is dropped and counted.
  Status send(const PublicKey& peer, Bytes frame);
  // send() to every connected peer.
  Status broadcast(Bytes frame);

  // Keys of the peers with an established link, sorted.
  std::vector<PublicKey> connected_peers() const;
  // The listening port (useful with listen_port 0); 0 before start().
  uint16_t bound_port() const;
  TransportMetrics metrics() const;

  class Impl;

 private:
  std::shared_ptr<Impl> impl_;
};

// Whether this node should dial `peer` (the other side waits): observers
// dial validators, validators never dial observers, and between equals the
// smaller key dials. Only peers with an address are ever dialed.
bool should_dial(const PublicKey& self, PeerRole self_role, const PeerInfo& peer);

}  // namespace prov::node
