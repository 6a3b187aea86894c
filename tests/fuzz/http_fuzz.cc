// libFuzzer target: raw bytes as an HTTP request into Beast's parser (with
// the API's bounds) and, when it parses, the API's routing, authentication
// and JSON handling (node/api/handler.h), without sockets. The node behind
// it is a genesis-only MemoryKv ledger with a signed checkpoint.
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>

#include <cstdint>
#include <cstdlib>

#include "crypto/ed25519.h"
#include "crypto/merkle.h"
#include "crypto/note.h"
#include "ledger/receipt.h"
#include "ledger/state.h"
#include "node/api/handler.h"

namespace {

using namespace prov;

crypto::KeyPair key_from(uint8_t n) {
  Seed s;
  s.bytes.fill(n);
  return crypto::KeyPair::from_seed(s);
}

class FuzzNode final : public node::NodeService {
 public:
  FuzzNode() {
    ledger::v1::Genesis g;
    g.set_version(1);
    g.set_chain_id(chain_);
    g.set_genesis_time_ms(1000);
    auto v = g.add_validators();
    v->set_name("validator-1");
    v->set_pub_key(to_string(key_from(1).public_key()));
    v->set_address("127.0.0.1:7101");
    auto a = g.add_agencies();
    a->set_id("audit");
    a->set_namespace_("audit");
    a->add_roles("auditor");
    auto k = a->add_keys();
    k->set_name("audit-key");
    k->set_pub_key(to_string(key_from(12).public_key()));
    auto w = ledger::apply_genesis(g);
    if (!w) std::abort();
    kv_->apply(*w);
    auto signer = crypto::note::NoteSigner::create("validator-1", key_from(1));
    note_ = *crypto::note::sign_note(ledger::checkpoint_text(chain_, 0, crypto::merkle::empty_root()), std::span<const crypto::note::NoteSigner>(&*signer, 1));
  }
  const std::string& chain_id() const override { return chain_; }
  std::shared_ptr<const ledger::KvReader> snapshot() override { return kv_; }
  void submit(Bytes, node::SubmitOptions, std::function<void(node::SubmitResult)> done) override {
    node::SubmitResult r;
    r.state = node::SubmitState::kRejected;
    r.rejection = ledger::Rejection::kMalformed;
    done(r);
  }
  node::NodeStatus status() override { return {}; }
  std::optional<std::string> checkpoint_note() override { return note_; }
  void wait_for_checkpoint(uint64_t, uint32_t, std::function<void(std::optional<std::string>)> done) override {
    done(note_);
  }
  std::string metrics_text() override { return ""; }

 private:
  std::string chain_ = "fuzz-chain";
  std::shared_ptr<ledger::MemoryKv> kv_ = std::make_shared<ledger::MemoryKv>();
  std::string note_;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  namespace http = boost::beast::http;
  static FuzzNode node;
  static node::api::ApiHandler handler(node, [] {
    node::api::ApiConfig c;
    c.clock_s = [] { return int64_t{1'700'000'000}; };
    return c;
  }());
  http::request_parser<http::string_body> parser;
  parser.header_limit(static_cast<uint32_t>(handler.config().max_header_bytes));
  parser.body_limit(handler.config().max_body_bytes);
  parser.eager(true);
  boost::beast::error_code ec;
  size_t used = 0;
  while (used < size && !parser.is_done()) {
    size_t n = parser.put(boost::asio::buffer(data + used, size - used), ec);
    if (ec || n == 0) return 0;
    used += n;
  }
  if (!parser.is_done()) return 0;
  bool answered = false;
  handler.handle(parser.get(), [&answered](node::api::Response res) {
    // Every response is well-formed JSON or text with a real status.
    if (res.result_int() < 200 || res.result_int() > 599) std::abort();
    answered = true;
  });
  if (!answered) std::abort();  // the fuzz node answers synchronously
  return 0;
}
