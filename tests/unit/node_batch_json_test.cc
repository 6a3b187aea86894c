// The batch endpoint's JSON fast paths (node/api/batch_json.h) against
// protobuf's JSON mapping, the reference: every body the fast parser takes
// protobuf decodes to the same transactions, and every response it prints
// is byte for byte protobuf's.
#include <doctest/doctest.h>

#include <google/protobuf/util/json_util.h>

#include "crypto/encoding.h"
#include "node/api/batch_json.h"

namespace prov::node::api {
namespace {

std::optional<std::vector<Bytes>> reference_parse(std::string_view body) {
  v1::SubmitBatchRequest r;
  google::protobuf::util::JsonParseOptions opts;
  opts.ignore_unknown_fields = false;
  if (!google::protobuf::util::JsonStringToMessage(std::string(body), &r, opts).ok()) return std::nullopt;
  std::vector<Bytes> out;
  for (const std::string& tx : r.txs()) out.push_back(to_bytes(tx));
  return out;
}

std::string reference_print(const v1::SubmitBatchResponse& r) {
  google::protobuf::util::JsonPrintOptions opts;
  opts.preserve_proto_field_names = true;
  opts.always_print_primitive_fields = true;
  std::string out;
  REQUIRE(google::protobuf::util::MessageToJsonString(r, &out, opts).ok());
  return out;
}

Bytes bytes_of(size_t n, uint8_t seed) {
  Bytes b(n);
  for (size_t i = 0; i < n; ++i) b[i] = static_cast<uint8_t>(seed * 31 + i * 7);
  return b;
}

}  // namespace

TEST_CASE("batch json: the fast parser agrees with protobuf wherever it answers") {
  std::string a = crypto::base64_encode(bytes_of(224, 1));
  std::string b = crypto::base64_encode(bytes_of(1, 2));
  std::string c = crypto::base64_encode(bytes_of(2, 3));
  const std::vector<std::string> taken = {
      "{\"txs\":[\"" + a + "\"]}",
      "{\"txs\":[\"" + a + "\",\"" + b + "\",\"" + c + "\"]}",
      " {\n \"txs\" : [ \"" + a + "\" , \"\" ]\t}\r\n",
      "{\"txs\":[]}",
      "{\"txs\":[\"AAA=\"]}",
  };
  for (const std::string& body : taken) {
    CAPTURE(body);
    auto fast = parse_batch_request_fast(body);
    REQUIRE(fast.has_value());
    auto ref = reference_parse(body);
    REQUIRE(ref.has_value());
    CHECK(*fast == *ref);
  }
  // Valid for protobuf, but not the plain form: left to protobuf.
  const std::vector<std::string> declined = {
      "{\"txs\":[\"" + a.substr(0, a.size() - 1) + "\"]}",  // unpadded
      "{\"txs\":[\"-_-_\"]}",                               // URL-safe alphabet
      "{\"txs\":[\"" + a + "\"],\"txs\":[\"" + b + "\"]}",  // repeated key
      "{\"txs\":[\"AA\\u003d\\u003d\"]}",                   // escapes
      "{\"txs\":null}",
      "{}",
      // Not JSON at all, or not this message.
      "", "{", "{\"txs\":[\"" + a + "\"]", "{\"txs\":[\"" + a + "\",]}", "{\"tx\":[]}", "[\"" + a + "\"]",
      "{\"txs\":[\"" + a + "\"]} x", "{\"txs\":[\"AAB=\"]}", "{\"txs\":[\"A===\"]}", "{\"txs\":[1]}",
  };
  for (const std::string& body : declined) {
    CAPTURE(body);
    CHECK_FALSE(parse_batch_request_fast(body).has_value());
  }
}

TEST_CASE("batch json: the fast printer is byte for byte protobuf's, or declines") {
  v1::SubmitBatchResponse r;
  CHECK(print_batch_response_fast(r) == reference_print(r));
  auto* x = r.add_results();
  x->set_tx_hash(crypto::hex_encode(bytes_of(32, 9)));
  x->set_state("accepted");
  x->set_message("already pending");
  auto* y = r.add_results();
  y->set_tx_hash(crypto::hex_encode(bytes_of(32, 10)));
  y->set_state("rejected");
  y->set_code("version_conflict");
  y->set_message("version 3 not above latest 7; agency demo: dataset demo/x (retry with version 0)");
  r.add_results()->set_state("busy");
  auto fast = print_batch_response_fast(r);
  REQUIRE(fast.has_value());
  CHECK(*fast == reference_print(r));

  for (const std::string& odd : std::vector<std::string>{"quote \" here", "back\\slash", "tab\there", "<html>", "a&b", "it's", "x=y", "caf\xc3\xa9",
                          std::string("nul\0x", 5), "\x7f"}) {
    CAPTURE(odd);
    v1::SubmitBatchResponse o = r;
    o.mutable_results(1)->set_message(odd);
    auto printed = print_batch_response_fast(o);
    // Declining is always correct; answering must match exactly.
    if (printed) CHECK(*printed == reference_print(o));
  }
  v1::SubmitBatchResponse quoted = r;
  quoted.mutable_results(0)->set_message("say \"hi\"");
  CHECK_FALSE(print_batch_response_fast(quoted).has_value());
}

}  // namespace prov::node::api
