#include "node/api/batch_json.h"

#include "crypto/encoding.h"

namespace prov::node::api {
namespace {

bool is_ws(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

bool is_base64_char(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' || c == '/' ||
         c == '=';
}

// Printable ASCII that protobuf's printer copies unescaped.
bool plain(std::string_view s) {
  for (char c : s) {
    auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u >= 0x7f || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' || c == '\'' ||
        c == '=') {
      return false;
    }
  }
  return true;
}

struct Cursor {
  std::string_view s;
  size_t i = 0;
  void skip_ws() {
    while (i < s.size() && is_ws(s[i])) ++i;
  }
  bool eat(char c) {
    skip_ws();
    if (i >= s.size() || s[i] != c) return false;
    ++i;
    return true;
  }
  bool peek(char c) {
    skip_ws();
    return i < s.size() && s[i] == c;
  }
};

}  // namespace

std::optional<std::vector<Bytes>> parse_batch_request_fast(std::string_view body) {
  Cursor in{body};
  if (!in.eat('{') || !in.eat('"')) return std::nullopt;
  if (body.substr(in.i, 4) != "txs\"") return std::nullopt;
  in.i += 4;
  if (!in.eat(':') || !in.eat('[')) return std::nullopt;
  std::vector<Bytes> txs;
  if (!in.peek(']')) {
    do {
      if (!in.eat('"')) return std::nullopt;
      size_t start = in.i;
      while (in.i < body.size() && is_base64_char(body[in.i])) ++in.i;
      if (in.i >= body.size() || body[in.i] != '"') return std::nullopt;
      auto tx = crypto::base64_decode(body.substr(start, in.i - start));
      if (!tx) return std::nullopt;
      ++in.i;
      txs.push_back(std::move(tx).value());
    } while (in.eat(','));
  }
  if (!in.eat(']') || !in.eat('}')) return std::nullopt;
  in.skip_ws();
  if (in.i != body.size()) return std::nullopt;
  return txs;
}

std::optional<std::string> print_batch_response_fast(const v1::SubmitBatchResponse& r) {
  std::string out;
  out.reserve(64 + 160 * static_cast<size_t>(r.results_size()));
  out += "{\"results\":[";
  bool first = true;
  for (const v1::SubmitBatchResult& x : r.results()) {
    if (!plain(x.tx_hash()) || !plain(x.state()) || !plain(x.code()) || !plain(x.message())) return std::nullopt;
    if (!first) out += ',';
    first = false;
    out += "{\"tx_hash\":\"";
    out += x.tx_hash();
    out += "\",\"state\":\"";
    out += x.state();
    out += "\",\"code\":\"";
    out += x.code();
    out += "\",\"message\":\"";
    out += x.message();
    out += "\"}";
  }
  out += "]}";
  return out;
}

}  // namespace prov::node::api
