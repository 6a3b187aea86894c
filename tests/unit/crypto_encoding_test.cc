#include <doctest/doctest.h>

#include "crypto/encoding.h"

using namespace prov;
using namespace prov::crypto;

TEST_CASE("hex round-trips and rejects bad input") {
  Bytes b = {0x00, 0x01, 0xab, 0xff};
  CHECK(hex_encode(b) == "0001abff");
  CHECK(*hex_decode("0001ABff") == b);
  CHECK_FALSE(hex_decode("abc").is_ok());
  CHECK_FALSE(hex_decode("zz").is_ok());
}

TEST_CASE("base64 matches RFC 4648 test vectors") {
  const char* cases[][2] = {{"", ""},         {"f", "Zg=="},         {"fo", "Zm8="},        {"foo", "Zm9v"},
                            {"foob", "Zm9vYg=="}, {"fooba", "Zm9vYmE="}, {"foobar", "Zm9vYmFy"}};
  for (auto& c : cases) {
    CHECK(base64_encode(as_bytes(c[0])) == c[1]);
    auto d = base64_decode(c[1]);
    REQUIRE(d.is_ok());
    CHECK(to_string(*d) == c[0]);
  }
}

TEST_CASE("base64 decoding is strict") {
  CHECK_FALSE(base64_decode("Zg=").is_ok());      // bad length
  CHECK_FALSE(base64_decode("Zh==").is_ok());     // non-zero padding bits
  CHECK_FALSE(base64_decode("Zm9=").is_ok());     // non-zero padding bits
  CHECK_FALSE(base64_decode("Zm 9").is_ok());     // whitespace
  CHECK_FALSE(base64_decode("Z===").is_ok());     // too much padding
  CHECK_FALSE(base64_decode("=Zg=").is_ok());     // padding first
  CHECK_FALSE(base64_decode("Zm9v-_==").is_ok()); // URL alphabet
  CHECK(base64_decode("Zm8=").is_ok());
}

TEST_CASE("fixed-size decoding checks length") {
  CHECK(hex_decode_fixed<Hash256>(std::string(64, 'a')).is_ok());
  CHECK_FALSE(hex_decode_fixed<Hash256>(std::string(62, 'a')).is_ok());
}

TEST_CASE("canonical decimal u64") {
  uint64_t v = 7;
  CHECK(parse_decimal_u64("0", &v));
  CHECK(v == 0);
  CHECK(parse_decimal_u64("18446744073709551615", &v));
  CHECK(v == UINT64_MAX);
  v = 7;
  CHECK_FALSE(parse_decimal_u64("18446744073709551616", &v));  // overflow
  CHECK_FALSE(parse_decimal_u64("007", &v));                   // leading zero
  CHECK_FALSE(parse_decimal_u64("", &v));
  CHECK_FALSE(parse_decimal_u64("+1", &v));
  CHECK_FALSE(parse_decimal_u64("1 ", &v));
  CHECK(v == 7);  // untouched on failure
}
