// RFC 9421 request signatures and RFC 9530 Content-Digest (crypto/http_signature.h).
#include <doctest/doctest.h>

#include "crypto/encoding.h"
#include "crypto/http_signature.h"

namespace prov::crypto::http_sig {
namespace {

KeyPair test_key(uint8_t n = 7) {
  Seed s;
  s.bytes.fill(n);
  return KeyPair::from_seed(s);
}

constexpr std::string_view kChain = "test-chain";
constexpr int64_t kNow = 1'700'000'000;
constexpr std::string_view kUri = "http://127.0.0.1:7001/v1/entries/3";

struct Signed {
  RequestParts parts;
  Bytes body;
  SignedHeaders headers;
};

Signed make(std::string_view method, std::string_view uri, std::string_view body, int64_t created = kNow) {
  Signed s;
  s.body = to_bytes(body);
  auto h = sign_request(method, uri, s.body, test_key(), kChain, created);
  REQUIRE(h.is_ok());
  s.headers = *h;
  s.parts = RequestParts{std::string(method), std::string(uri), h->content_digest};
  return s;
}

Status check(const Signed& s, int64_t now = kNow) {
  return verify_request(s.parts, s.body, s.headers.signature_input, s.headers.signature, kChain, now).status();
}

TEST_CASE("content digest: RFC 9530 example and mismatch") {
  // RFC 9530 §2 example: {"hello": "world"}\n hashed with sha-256.
  CHECK(content_digest(as_bytes("{\"hello\": \"world\"}\n")) ==
        "sha-256=:RK/0qy18MlBSVnWgjwz6lZEWjP/lF5HF9bvEF8FabDg=:");
  CHECK(check_content_digest(content_digest(as_bytes("x")), as_bytes("x")).is_ok());
  CHECK(check_content_digest(content_digest(as_bytes("x")), as_bytes("y")).code() == StatusCode::kUnauthenticated);
  CHECK(check_content_digest("sha-512=:AAAA:", as_bytes("x")).code() == StatusCode::kInvalidArgument);
  CHECK(check_content_digest("sha-256=:AAAA:", as_bytes("x")).code() == StatusCode::kInvalidArgument);
}

TEST_CASE("signature base has the RFC 9421 layout") {
  SignatureParams p;
  p.components = {"@method", "@target-uri"};
  p.created = 1618884473;
  p.keyid = "abc=";
  p.has_alg = true;
  auto base = signature_base(RequestParts{"GET", "https://example.com/foo?x=1", std::nullopt}, p);
  REQUIRE(base.is_ok());
  CHECK(*base ==
        "\"@method\": GET\n\"@target-uri\": https://example.com/foo?x=1\n"
        "\"@signature-params\": (\"@method\" \"@target-uri\");created=1618884473;keyid=\"abc=\";alg=\"ed25519\"");
  auto parsed = parse_signature_input("sig1=" + format_signature_params(p));
  REQUIRE(parsed.is_ok());
  CHECK(parsed->components == p.components);
  CHECK(parsed->created == p.created);
  CHECK(parsed->keyid == p.keyid);
}

TEST_CASE("a signed request verifies, with and without a body") {
  auto get = make("GET", kUri, "");
  CHECK_FALSE(get.headers.content_digest.has_value());
  auto v = verify_request(get.parts, get.body, get.headers.signature_input, get.headers.signature, kChain, kNow);
  REQUIRE(v.is_ok());
  CHECK(v->key == test_key().public_key());
  auto post = make("POST", "http://127.0.0.1:7001/v1/search", "{\"q\":1}");
  CHECK(post.headers.signature_input.find("content-digest") != std::string::npos);
  CHECK(check(post).is_ok());
}

TEST_CASE("tampering is detected") {
  SUBCASE("method") {
    auto s = make("GET", kUri, "");
    s.parts.method = "DELETE";
    CHECK(check(s).code() == StatusCode::kUnauthenticated);
  }
  SUBCASE("target") {
    auto s = make("GET", kUri, "");
    s.parts.target_uri = "http://127.0.0.1:7001/v1/entries/4";
    CHECK(check(s).code() == StatusCode::kUnauthenticated);
  }
  SUBCASE("body") {
    auto s = make("POST", kUri, "hello");
    s.body = to_bytes("hellp");
    CHECK(check(s).code() == StatusCode::kUnauthenticated);
  }
  SUBCASE("digest and body replaced together") {
    auto s = make("POST", kUri, "hello");
    s.body = to_bytes("other");
    s.parts.content_digest = content_digest(s.body);
    CHECK(check(s).code() == StatusCode::kUnauthenticated);
  }
  SUBCASE("created") {
    auto s = make("GET", kUri, "");
    auto pos = s.headers.signature_input.find("created=");
    s.headers.signature_input[pos + 8] = '2';
    CHECK(check(s).code() == StatusCode::kUnauthenticated);
  }
  SUBCASE("other chain") {
    auto s = make("GET", kUri, "");
    CHECK(verify_request(s.parts, s.body, s.headers.signature_input, s.headers.signature, "other", kNow)
              .status()
              .code() == StatusCode::kUnauthenticated);
  }
  SUBCASE("other key claimed") {
    auto s = make("GET", kUri, "");
    std::string other = base64_encode(test_key(8).public_key());
    std::string mine = base64_encode(test_key().public_key());
    s.headers.signature_input.replace(s.headers.signature_input.find(mine), mine.size(), other);
    CHECK(check(s).code() == StatusCode::kUnauthenticated);
  }
}

TEST_CASE("created must be within ±60 s") {
  auto s = make("GET", kUri, "");
  CHECK(check(s, kNow + 60).is_ok());
  CHECK(check(s, kNow - 60).is_ok());
  CHECK(check(s, kNow + 61).code() == StatusCode::kUnauthenticated);  // replay too late
  CHECK(check(s, kNow - 61).code() == StatusCode::kUnauthenticated);  // from the future
}

TEST_CASE("missing components are refused") {
  auto key = test_key();
  SignatureParams p;
  p.created = kNow;
  p.keyid = base64_encode(key.public_key());
  RequestParts parts{"GET", std::string(kUri), std::nullopt};
  auto sign_with = [&](std::vector<std::string> comps, const RequestParts& rp, ByteView body) {
    p.components = std::move(comps);
    auto base = signature_base(rp, p);
    REQUIRE(base.is_ok());
    std::string input = "sig1=" + format_signature_params(p);
    std::string sig = "sig1=:" + base64_encode(key.sign(purpose::kHttpRequest, kChain, as_bytes(*base))) + ":";
    return verify_request(rp, body, input, sig, kChain, kNow).status();
  };
  CHECK(sign_with({"@method", "@target-uri"}, parts, {}).is_ok());
  CHECK(sign_with({"@method"}, parts, {}).code() == StatusCode::kUnauthenticated);
  CHECK(sign_with({"@target-uri"}, parts, {}).code() == StatusCode::kUnauthenticated);
  // A body whose digest is not covered.
  Bytes body = to_bytes("payload");
  RequestParts with_digest = parts;
  with_digest.content_digest = content_digest(body);
  CHECK(sign_with({"@method", "@target-uri"}, with_digest, body).code() == StatusCode::kUnauthenticated);
  CHECK(sign_with({"@method", "@target-uri", "content-digest"}, with_digest, body).is_ok());
  // A body without any Content-Digest header.
  CHECK(sign_with({"@method", "@target-uri"}, parts, body).code() == StatusCode::kUnauthenticated);
}

TEST_CASE("strict header parsing") {
  for (std::string_view bad : {
           "", "sig2=(\"@method\");created=1;keyid=\"a\"", "sig1=(\"@method\")", "sig1=(\"@method\");created=1",
           "sig1=(\"@method\");keyid=\"a\"", "sig1=(\"@method\");created=01;keyid=\"a\"",
           "sig1=(\"@method\");created=1;keyid=\"a\";nonce=\"x\"", "sig1=(\"@method\");created=1;created=2;keyid=\"a\"",
           "sig1=(\"@method\"  \"@path\");created=1;keyid=\"a\"", "sig1=(\"@method\");created=1;keyid=\"a\";alg=\"rsa\"",
           "sig1=(\"@method\");created=-1;keyid=\"a\"", "sig1=(\"a\\\"b\");created=1;keyid=\"a\"",
           "sig1=(\"@method\");created=1;keyid=\"a\" ", "sig1=(\"a\" \"b\" \"c\" \"d\");created=1;keyid=\"a\""}) {
    CAPTURE(bad);
    CHECK_FALSE(parse_signature_input(bad).is_ok());
  }
  CHECK(parse_signature_input("sig1=();created=1;keyid=\"a\"").is_ok());
  for (std::string_view bad : {"", "sig1=:AAAA:", "sig1=AAAA", "sig2=:" , "sig1=:x:y"}) {
    CAPTURE(bad);
    CHECK_FALSE(parse_signature(bad).is_ok());
  }
  // An unknown covered component fails at the base.
  SignatureParams p;
  p.components = {"@method", "@path"};
  p.keyid = "a";
  CHECK_FALSE(signature_base(RequestParts{"GET", "http://x/", std::nullopt}, p).is_ok());
  // A newline in the target can not forge extra base lines.
  p.components = {"@method", "@target-uri"};
  CHECK_FALSE(signature_base(RequestParts{"GET", "http://x/\n\"@method\": POST", std::nullopt}, p).is_ok());
}

}  // namespace
}  // namespace prov::crypto::http_sig
