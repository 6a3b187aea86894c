// The client API (node/api) over real sockets on 127.0.0.1 against a fake
// NodeService backed by a MemoryKv chain: public endpoints, RFC 9421 signed
// reads and their refusals, bounds, and submission status mapping.
#include <doctest/doctest.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <atomic>
#include <mutex>
#include <thread>

#include "crypto/encoding.h"
#include "crypto/http_signature.h"
#include "crypto/note.h"
#include "ledger/query.h"
#include "ledger/receipt.h"
#include "node/api/api.pb.h"
#include "node/api/server.h"
#include <google/protobuf/util/json_util.h>
#include "tests/unit/ledger_test_fixture.h"

namespace prov::node::api {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
using tcp = asio::ip::tcp;
using ledger::testing::Chain;
using ledger::testing::key_from;

constexpr int64_t kNow = 1'700'000'000;

// A node: a MemoryKv chain that commits each admitted transaction as its own
// block and keeps a checkpoint signed by every validator at the head. Without
// wait it answers "accepted", as provd does (the transaction is committed all
// the same). submit_batch is NodeService's default: one submit() each.
class FakeNode final : public NodeService {
 public:
  FakeNode() {
    REQUIRE(chain_.commit({chain_.sign(chain_.anchor("stats/a", "A"))}).is_ok());
    auto b = chain_.anchor("stats/b", "B");
    Chain::derive(b, "stats/a", 1);
    REQUIRE(chain_.commit({chain_.sign(chain_.anchor("health/h", "H", 0, "health")), chain_.sign(b),
                           chain_.sign(chain_.access("stats/a", 1))})
                .is_ok());
    resign();
  }

  const std::string& chain_id() const override { return chain_id_; }
  std::shared_ptr<const ledger::KvReader> snapshot() override {
    std::lock_guard<std::mutex> lock(mu_);
    return std::make_shared<ledger::MemoryKv>(chain_.kv);
  }
  void submit(Bytes tx, SubmitOptions options, std::function<void(SubmitResult)> done) override {
    SubmitResult r;
    last_timeout_ms = options.timeout_ms;
    {
      std::lock_guard<std::mutex> lock(mu_);
      r.tx_hash = crypto::sha256(tx);
      if (busy) {
        r.state = SubmitState::kBusy;
      } else if (auto checked = ledger::check_transaction(chain_.kv, tx); !checked) {
        r.state = SubmitState::kRejected;
        r.rejection = checked.reason();
        r.message = checked.rejected().message;
      } else {
        auto applied = chain_.commit({tx});
        REQUIRE(applied.is_ok());
        r.state = options.wait_for_commit ? SubmitState::kCommitted : SubmitState::kAccepted;
        r.entry_index = applied->header.log_size() - 1;
        r.height = applied->header.height();
        resign_locked();
      }
    }
    // Another thread, as in provd.
    std::thread([done, r] { done(r); }).detach();
  }
  NodeStatus status() override {
    std::lock_guard<std::mutex> lock(mu_);
    auto head = ledger::read_head(chain_.kv);
    NodeStatus s;
    s.chain_id = chain_id_;
    s.height = head->height;
    s.log_size = head->log_size;
    s.log_root = head->log_root;
    s.sync = SyncState::kSynced;
    return s;
  }
  std::optional<std::string> checkpoint_note() override {
    std::lock_guard<std::mutex> lock(mu_);
    return note_;
  }
  void wait_for_checkpoint(uint64_t min_size, uint32_t, std::function<void(std::optional<std::string>)> done) override {
    std::optional<std::string> note;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (note_size_ >= min_size) note = note_;
    }
    done(note);
  }
  std::string metrics_text() override { return "prov_height 3\n"; }

  ledger::v1::Genesis genesis() const { return chain_.genesis(); }
  std::atomic<bool> busy{false};
  std::atomic<uint32_t> last_timeout_ms{0};

 private:
  void resign() {
    std::lock_guard<std::mutex> lock(mu_);
    resign_locked();
  }
  void resign_locked() {
    auto head = ledger::read_head(chain_.kv);
    std::vector<crypto::note::NoteSigner> signers;
    for (size_t i = 0; i < chain_.validators.size(); ++i)
      signers.push_back(*crypto::note::NoteSigner::create("validator-" + std::to_string(i + 1), chain_.validators[i]));
    note_ = *crypto::note::sign_note(ledger::checkpoint_text(chain_id_, head->log_size, head->log_root), signers);
    note_size_ = head->log_size;
  }

  std::mutex mu_;
  Chain chain_;
  std::string chain_id_ = Chain::kChainId;
  std::string note_;
  uint64_t note_size_ = 0;
};

struct Reply {
  unsigned status = 0;
  std::string body;
  std::string header(std::string_view name) const { return headers.count(std::string(name)) ? headers.at(std::string(name)) : ""; }
  std::map<std::string, std::string> headers;
};

// The server on 127.0.0.1:0, its io_context on one thread.
struct Harness {
  FakeNode node;
  asio::io_context io;
  std::shared_ptr<ApiServer> server;
  std::thread thread;

  explicit Harness(ApiConfig cfg = {}) {
    cfg.clock_s = [] { return kNow; };
    auto s = ApiServer::start(io, node, std::move(cfg));
    REQUIRE(s.is_ok());
    server = *s;
    thread = std::thread([this] { io.run(); });
  }
  ~Harness() {
    server->stop();
    io.stop();
    thread.join();
  }
  std::string host() const { return "127.0.0.1:" + std::to_string(server->port()); }

  tcp::socket connect() {
    tcp::socket s(io);
    s.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), server->port()));
    return s;
  }

  Reply send(http::request<http::string_body> req) {
    req.set(http::field::host, host());
    req.prepare_payload();
    tcp::socket s = connect();
    http::write(s, req);
    return read(s);
  }
  static Reply read(tcp::socket& s) {
    beast::flat_buffer buf;
    http::response<http::string_body> res;
    beast::error_code ec;
    http::read(s, buf, res, ec);
    Reply r;
    if (ec) return r;
    r.status = res.result_int();
    r.body = res.body();
    for (const auto& f : res) r.headers[std::string(f.name_string())] = std::string(f.value());
    return r;
  }
  Reply get(std::string_view target) {
    return send(http::request<http::string_body>(http::verb::get, beast::string_view(target.data(), target.size()), 11));
  }
  // A GET signed by `key` at `created` for chain `chain`.
  Reply signed_get(std::string_view target, const crypto::KeyPair& key, int64_t created = kNow,
                   std::string_view chain = Chain::kChainId) {
    http::request<http::string_body> req(http::verb::get, beast::string_view(target.data(), target.size()), 11);
    auto h = crypto::http_sig::sign_request("GET", "http://" + host() + std::string(target), {}, key, chain, created);
    REQUIRE(h.is_ok());
    req.set("Signature-Input", h->signature_input);
    req.set("Signature", h->signature);
    return send(std::move(req));
  }
  Reply post_json(const std::string& body, std::string_view target = "/v1/transactions") {
    http::request<http::string_body> req(http::verb::post, beast::string_view(target.data(), target.size()), 11);
    req.set(http::field::content_type, "application/json");
    req.body() = body;
    return send(std::move(req));
  }
  // Raw bytes in, everything the server sends until it closes out.
  std::string raw(std::string_view bytes) {
    tcp::socket s = connect();
    asio::write(s, asio::buffer(bytes.data(), bytes.size()));
    std::string out;
    beast::error_code ec;
    char chunk[4096];
    for (;;) {
      size_t n = s.read_some(asio::buffer(chunk), ec);
      out.append(chunk, n);
      if (ec) break;
    }
    return out;
  }
};

bool has(const std::string& s, std::string_view part) { return s.find(part) != std::string::npos; }

TEST_CASE("api: public endpoints") {
  Harness h;
  auto r = h.get("/healthz");
  CHECK(r.status == 200);
  CHECK(r.body == "ok\n");
  r = h.get("/metrics");
  CHECK(r.status == 200);
  CHECK(r.header("Content-Type") == "text/plain; version=0.0.4");
  CHECK(has(r.body, "prov_height 3"));
  CHECK(has(r.body, "prov_api_responses_total{class=\"2xx\"}"));
  r = h.get("/v1/status");
  CHECK(r.status == 200);
  CHECK(r.header("Content-Type") == "application/json");
  CHECK(has(r.body, "\"chain_id\":\"test-chain\""));
  CHECK(has(r.body, "\"height\":\"2\""));
  CHECK(has(r.body, "\"log_size\":\"4\""));
  CHECK(has(r.body, "\"sync_state\":\"synced\""));
  CHECK(has(r.body, "\"mempool_txs\":\"0\""));  // primitive fields are always printed
  r = h.get("/v1/checkpoint");
  CHECK(r.status == 200);
  CHECK(r.body == *h.node.checkpoint_note());
  CHECK(ledger::verify_checkpoint(r.body, h.node.genesis()).is_ok());
  CHECK(h.get("/v1/nope").status == 404);
  auto post = http::request<http::string_body>(http::verb::post, "/v1/status", 11);
  r = h.send(post);
  CHECK(r.status == 405);
  CHECK(r.header("Allow") == "GET");
  CHECK(has(r.body, "\"code\":\"method_not_allowed\""));
}

TEST_CASE("api: signed reads by an auditor") {
  Harness h;
  Chain c;  // same deterministic keys as the node's chain
  auto r = h.signed_get("/v1/entries/0", c.audit);
  REQUIRE(r.status == 200);
  CHECK(has(r.body, "\"index\":\"0\""));
  CHECK(has(r.body, "\"dataset\":\"stats/a\""));
  CHECK(h.signed_get("/v1/entries/99", c.audit).status == 404);
  CHECK(h.signed_get("/v1/entries/x", c.audit).status == 400);
  CHECK(h.signed_get("/v1/blocks/1", c.audit).status == 200);
  CHECK(has(h.signed_get("/v1/blocks/1", c.audit).body, "\"commit_proof\":"));  // for light clients
  CHECK(h.signed_get("/v1/blocks/0", c.audit).status == 400);
  r = h.signed_get("/v1/datasets/stats/a/history?limit=10", c.audit);
  CHECK(r.status == 200);
  CHECK(has(r.body, "\"kind\":\"anchor\""));
  CHECK(has(r.body, "\"kind\":\"access\""));
  r = h.signed_get("/v1/datasets/stats/b/lineage?direction=upstream&depth=3", c.audit);
  CHECK(r.status == 200);
  CHECK(has(r.body, "\"dataset\":\"stats/a\""));
  CHECK(h.signed_get("/v1/datasets/stats/b/lineage?direction=sideways", c.audit).status == 400);
  r = h.signed_get("/v1/digests/" + crypto::hex_encode(ledger::testing::digest_of("A")), c.audit);
  CHECK(r.status == 200);
  CHECK(has(r.body, "\"indexes\":[\"0\"]"));
  CHECK(h.signed_get("/v1/proofs/inclusion?index=1&size=4", c.audit).status == 200);
  CHECK(h.signed_get("/v1/proofs/consistency?from=1&to=4", c.audit).status == 200);
  CHECK(h.signed_get("/v1/proofs/consistency?from=1&to=99", c.audit).status != 200);

  auto entry = ledger::entry_by_index(*h.node.snapshot(), 2);
  REQUIRE(entry.is_ok());
  r = h.signed_get("/v1/receipts/by-hash/" + crypto::hex_encode(crypto::sha256(as_bytes(entry->entry.tx()))), c.audit);
  REQUIRE(r.status == 200);
  // The receipt is a JSON string; pull it out with the JSON parser's rules.
  node::api::v1::ReceiptResponse rr;
  REQUIRE(google::protobuf::util::JsonStringToMessage(r.body, &rr).ok());
  auto verified = ledger::verify_receipt(rr.receipt(), h.node.genesis());
  REQUIRE(verified.is_ok());
  CHECK(verified->index == 2);
  CHECK(verified->entry_bytes == entry->bytes);
}

TEST_CASE("api: refused reads") {
  Harness h;
  Chain c;
  auto r = h.get("/v1/entries/0");
  CHECK(r.status == 401);
  CHECK(has(r.body, "\"code\":\"unauthenticated\""));
  CHECK(h.signed_get("/v1/entries/0", c.audit, kNow, "other-chain").status == 401);  // wrong signature
  CHECK(h.signed_get("/v1/entries/0", c.audit, kNow - 61).status == 401);           // expired
  CHECK(h.signed_get("/v1/entries/0", c.audit, kNow + 61).status == 401);           // future
  CHECK(h.signed_get("/v1/entries/0", key_from(99)).status == 401);                 // unknown key
  // Signed for one target, sent to another.
  {
    http::request<http::string_body> req(http::verb::get, "/v1/entries/1", 11);
    auto sig = crypto::http_sig::sign_request("GET", "http://" + h.host() + "/v1/entries/0", {}, c.audit,
                                              Chain::kChainId, kNow);
    req.set("Signature-Input", sig->signature_input);
    req.set("Signature", sig->signature);
    CHECK(h.send(req).status == 401);
  }
  // health is a writer: its own namespace only, no blocks.
  CHECK(h.signed_get("/v1/datasets/health/h/history", c.health).status == 200);
  CHECK(h.signed_get("/v1/datasets/stats/a/history", c.health).status == 403);
  CHECK(h.signed_get("/v1/entries/0", c.health).status == 403);
  CHECK(h.signed_get("/v1/entries/1", c.health).status == 200);
  CHECK(h.signed_get("/v1/blocks/1", c.health).status == 403);
  r = h.signed_get("/v1/digests/" + crypto::hex_encode(ledger::testing::digest_of("A")), c.health);
  CHECK(r.status == 200);
  CHECK(has(r.body, "\"indexes\":[]"));
  CHECK(h.get("/metrics").body.find("prov_api_auth_failures_total 0") == std::string::npos);
  // An error quoting request bytes that are not UTF-8 (found by fuzz_http:
  // protobuf logged an error per response and printed the raw bytes) now
  // carries them as '?': the body is valid UTF-8 JSON.
  r = h.get("/v1/st\xff\xc0ts");
  CHECK(r.status == 404);
  CHECK(has(r.body, "no such endpoint: /v1/st??ts"));
}

TEST_CASE("api: bounds and garbage") {
  ApiConfig cfg;
  cfg.max_body_bytes = 4096;
  cfg.max_connections = 3;
  cfg.read_timeout_ms = 300;
  Harness h(cfg);
  auto r = h.post_json(std::string(5000, 'x'));
  CHECK(r.status == 413);
  std::string out = h.raw("HELLO WORLD\r\n\r\n");
  CHECK(out.rfind("HTTP/1.1 400", 0) == 0);
  out = h.raw(std::string(1 << 15, 'G'));
  CHECK(out.rfind("HTTP/1.1 4", 0) == 0);
  CHECK(h.get("/healthz").status == 200);  // still serving
  // Slowloris: half a request line, then nothing: the server closes.
  {
    tcp::socket s = h.connect();
    asio::write(s, asio::buffer(std::string_view("GET /heal")));
    char c;
    beast::error_code ec;
    s.read_some(asio::buffer(&c, 1), ec);
    CHECK(ec);
  }
  // Connection bound: three idle connections held open, the fourth gets 503.
  {
    std::vector<tcp::socket> held;
    for (int i = 0; i < 3; ++i) held.push_back(h.connect());
    out = h.raw("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
    CHECK(out.rfind("HTTP/1.1 503", 0) == 0);
  }
}

TEST_CASE("api: submit maps outcomes to status codes") {
  Harness h;
  Chain c;
  c.nonce = 1000;  // distinct from the node's own transactions
  Bytes tx = c.sign(c.anchor("stats/new", "N"));
  std::string body = "{\"tx\":\"" + crypto::base64_encode(tx) + "\",\"wait\":true}";
  auto r = h.post_json(body);
  REQUIRE(r.status == 200);
  CHECK(has(r.body, "\"state\":\"committed\""));
  CHECK(has(r.body, "\"entry_index\":\"4\""));
  node::api::v1::SubmitResponse sr;
  REQUIRE(google::protobuf::util::JsonStringToMessage(r.body, &sr).ok());
  auto verified = ledger::verify_receipt(sr.receipt(), h.node.genesis());
  REQUIRE(verified.is_ok());
  CHECK(verified->entry.tx() == to_string(tx));

  r = h.post_json(body);  // the same transaction again
  CHECK(r.status == 409);
  CHECK(has(r.body, "\"code\":\"duplicate\""));
  r = h.post_json("{\"tx\":\"" + crypto::base64_encode(c.sign(c.anchor("stats/x", "X"), &c.health)) + "\"}");
  CHECK(r.status == 403);  // signed by a key of another agency
  CHECK(has(r.body, "\"code\":\"unknown_signer\""));
  CHECK(h.post_json("{\"tx\":\"AAAA\"}").status == 400);
  CHECK(h.post_json("{\"tx\":").status == 400);
  CHECK(h.post_json("{\"tx\":\"AAAA\",\"extra\":1}").status == 400);
  {
    http::request<http::string_body> req(http::verb::post, "/v1/transactions", 11);
    req.set(http::field::content_type, "text/plain");
    req.body() = "x";
    CHECK(h.send(req).status == 415);
  }
  {
    http::request<http::string_body> req(http::verb::post, "/v1/transactions?wait=true", 11);
    req.set(http::field::content_type, "application/octet-stream");
    req.body() = to_string(c.sign(c.anchor("stats/raw", "R")));
    r = h.send(req);
    CHECK(r.status == 200);
    CHECK(has(r.body, "\"committed\":true"));
  }
  {
    http::request<http::string_body> req(http::verb::post, "/v1/transactions?wait=1&timeout_ms=1500", 11);
    req.set(http::field::content_type, "application/octet-stream");
    req.body() = to_string(c.sign(c.anchor("stats/raw2", "R2")));
    CHECK(h.send(req).status == 200);
    CHECK(h.node.last_timeout_ms == 1500);
    req.target("/v1/transactions?wait=1&timeout_ms=soon");
    r = h.send(req);
    CHECK(r.status == 400);
    CHECK(has(r.body, "\"code\":\"bad_query\""));
  }
  {
    http::request<http::string_body> req(http::verb::post, "/v1/transactions", 11);
    req.set(http::field::content_type, "application/octet-stream");
    r = h.send(req);
    CHECK(r.status == 400);
    CHECK(has(r.body, "\"code\":\"empty_tx\""));
  }
  h.node.busy = true;
  r = h.post_json("{\"tx\":\"" + crypto::base64_encode(c.sign(c.anchor("stats/y", "Y"))) + "\"}");
  CHECK(r.status == 429);
  CHECK(r.header("Retry-After") == "1");
}

// {"txs":[...]} with each transaction as base64.
std::string batch_body(const std::vector<Bytes>& txs) {
  std::string body = "{\"txs\":[";
  for (size_t i = 0; i < txs.size(); ++i) body += (i ? ",\"" : "\"") + crypto::base64_encode(txs[i]) + "\"";
  return body + "]}";
}

TEST_CASE("api: batch submit answers each transaction in order, as the single submit would") {
  ApiConfig cfg;
  cfg.max_batch_txs = 5;
  Harness h(cfg);
  Chain c;
  c.nonce = 2000;
  const std::string target = "/v1/transactions:batch";
  Bytes a = c.sign(c.anchor("stats/batch-a", "A"));
  Bytes b = c.sign(c.anchor("stats/batch-b", "B"));
  Bytes forged = c.sign(c.anchor("stats/batch-f", "F"));
  forged.back() ^= 1;  // the signature is the last field
  Bytes foreign = c.sign(c.anchor("stats/batch-x", "X"), &c.health);

  auto r = h.post_json(batch_body({a, b, a, forged, foreign}), target);
  REQUIRE(r.status == 200);
  CHECK(r.header("Content-Type") == "application/json");
  CHECK(r.header("Retry-After").empty());
  node::api::v1::SubmitBatchResponse out;
  REQUIRE(google::protobuf::util::JsonStringToMessage(r.body, &out).ok());
  REQUIRE(out.results_size() == 5);
  const std::vector<Bytes> sent{a, b, a, forged, foreign};
  for (int i = 0; i < 5; ++i) CHECK(out.results(i).tx_hash() == crypto::hex_encode(crypto::sha256(sent[i])));
  CHECK(out.results(0).state() == "accepted");
  CHECK(out.results(0).code().empty());
  CHECK(out.results(1).state() == "accepted");
  CHECK(out.results(2).state() == "rejected");  // the fake commits at once: a's second copy is a duplicate
  CHECK(out.results(2).code() == "duplicate");
  CHECK(out.results(3).state() == "rejected");
  CHECK(out.results(3).code() == "bad_signature");
  CHECK_FALSE(out.results(3).message().empty());
  CHECK(out.results(4).state() == "rejected");
  CHECK(out.results(4).code() == "unknown_signer");
  // Primitive fields are always printed, so every result names all four.
  CHECK(has(r.body, "\"code\":\"\""));

  // An empty entry is refused on its own; the others still go through.
  Bytes d = c.sign(c.anchor("stats/batch-d", "D"));
  r = h.post_json("{\"txs\":[\"\",\"" + crypto::base64_encode(d) + "\"]}", target);
  REQUIRE(r.status == 200);
  REQUIRE(google::protobuf::util::JsonStringToMessage(r.body, &out).ok());
  REQUIRE(out.results_size() == 2);
  CHECK(out.results(0).state() == "rejected");
  CHECK(out.results(0).code() == "empty_tx");
  CHECK(out.results(1).state() == "accepted");

  h.node.busy = true;
  r = h.post_json(batch_body({c.sign(c.anchor("stats/batch-y", "Y"))}), target);
  REQUIRE(r.status == 200);
  CHECK(r.header("Retry-After") == "1");
  REQUIRE(google::protobuf::util::JsonStringToMessage(r.body, &out).ok());
  REQUIRE(out.results_size() == 1);
  CHECK(out.results(0).state() == "busy");
  CHECK(out.results(0).code() == "busy");
  h.node.busy = false;

  SUBCASE("refused batches") {
    std::vector<Bytes> six;
    for (int i = 0; i < 6; ++i) six.push_back(c.sign(c.anchor("stats/over-" + std::to_string(i), "O")));
    r = h.post_json(batch_body(six), target);
    CHECK(r.status == 413);
    CHECK(has(r.body, "\"code\":\"batch_too_large\""));
    six.pop_back();
    CHECK(h.post_json(batch_body(six), target).status == 200);  // exactly the bound
    r = h.post_json("{\"txs\":[", target);
    CHECK(r.status == 400);
    CHECK(has(r.body, "\"code\":\"bad_json\""));
    CHECK(h.post_json("{\"txs\":[\"!!not base64\"]}", target).status == 400);
    CHECK(h.post_json("{\"tx\":\"AAAA\"}", target).status == 400);  // the single submit's body
    r = h.post_json(batch_body({a}).insert(1, "\"wait\":true,"), target);  // no wait for batches
    CHECK(r.status == 400);
    CHECK(has(r.body, "\"code\":\"bad_json\""));
    r = h.post_json("{\"txs\":[]}", target);
    CHECK(r.status == 400);
    CHECK(has(r.body, "\"code\":\"empty_batch\""));
    {
      http::request<http::string_body> req(http::verb::post, "/v1/transactions:batch", 11);
      req.set(http::field::content_type, "application/octet-stream");
      req.body() = to_string(a);
      CHECK(h.send(req).status == 415);
    }
    r = h.get(target);
    CHECK(r.status == 405);
    CHECK(r.header("Allow") == "POST");
  }
}

}  // namespace
}  // namespace prov::node::api
