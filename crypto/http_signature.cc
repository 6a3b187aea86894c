// RFC 9421 / RFC 9530 subset; see http_signature.h for the rules.
#include "crypto/http_signature.h"

#include <algorithm>
#include <charconv>

#include "crypto/encoding.h"
#include "crypto/sha256.h"

namespace prov::crypto::http_sig {
namespace {

constexpr std::string_view kDigestPrefix = "sha-256=:";
// `created` must fit comfortably: 10^15 s is far beyond any real clock.
constexpr int64_t kMaxCreated = 1'000'000'000'000'000;

bool is_known_component(std::string_view c) {
  return c == kComponentMethod || c == kComponentTargetUri || c == kComponentContentDigest;
}

// Visible ASCII only: a newline or control byte in a value would let a
// request smuggle extra lines into the signature base.
bool is_visible_ascii(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char c) { return c > 0x20 && c < 0x7f; });
}

bool is_token(std::string_view s) {
  if (s.empty()) return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
  });
}

// A strict cursor over a header value.
class Reader {
 public:
  explicit Reader(std::string_view s) : s_(s) {}
  bool done() const { return pos_ == s_.size(); }
  bool eat(char c) {
    if (pos_ < s_.size() && s_[pos_] == c) {
      ++pos_;
      return true;
    }
    return false;
  }
  bool eat(std::string_view lit) {
    if (s_.substr(pos_, lit.size()) != lit) return false;
    pos_ += lit.size();
    return true;
  }
  // An sf-string without escapes (our values never need them).
  bool string(std::string* out) {
    if (!eat('"')) return false;
    size_t end = s_.find('"', pos_);
    if (end == std::string_view::npos) return false;
    std::string_view v = s_.substr(pos_, end - pos_);
    for (char c : v)
      if (c < 0x20 || c > 0x7e || c == '\\') return false;
    *out = std::string(v);
    pos_ = end + 1;
    return true;
  }
  // A key: lower-case letters, digits, '-' (sf-key subset).
  bool key(std::string* out) {
    size_t start = pos_;
    while (pos_ < s_.size() && ((s_[pos_] >= 'a' && s_[pos_] <= 'z') || (s_[pos_] >= '0' && s_[pos_] <= '9') ||
                                s_[pos_] == '-'))
      ++pos_;
    if (pos_ == start) return false;
    *out = std::string(s_.substr(start, pos_ - start));
    return true;
  }
  // A non-negative decimal integer without leading zeros, at most 15 digits.
  bool integer(int64_t* out) {
    size_t start = pos_;
    while (pos_ < s_.size() && s_[pos_] >= '0' && s_[pos_] <= '9') ++pos_;
    size_t n = pos_ - start;
    if (n == 0 || n > 15 || (n > 1 && s_[start] == '0')) return false;
    auto r = std::from_chars(s_.data() + start, s_.data() + pos_, *out);
    return r.ec == std::errc();
  }
  // Bytes up to (not including) `c`; false if `c` never comes.
  bool until(char c, std::string_view* out) {
    size_t end = s_.find(c, pos_);
    if (end == std::string_view::npos) return false;
    *out = s_.substr(pos_, end - pos_);
    pos_ = end;
    return true;
  }

 private:
  std::string_view s_;
  size_t pos_ = 0;
};

Status malformed(std::string_view what) { return Status::invalid_argument(std::string(what)); }

}  // namespace

std::string content_digest(ByteView body) {
  return std::string(kDigestPrefix) + base64_encode(sha256(body)) + ":";
}

Status check_content_digest(std::string_view header, ByteView body) {
  if (header.size() > kMaxSignatureHeaderBytes) return malformed("Content-Digest too long");
  if (header.substr(0, kDigestPrefix.size()) != kDigestPrefix || header.size() < kDigestPrefix.size() + 1 ||
      header.back() != ':')
    return malformed("Content-Digest must be exactly one sha-256=:<base64>: digest");
  std::string_view b64 = header.substr(kDigestPrefix.size(), header.size() - kDigestPrefix.size() - 1);
  auto given = base64_decode_fixed<Hash256>(b64);
  if (!given) return malformed("Content-Digest: bad base64 SHA-256");
  if (*given != sha256(body)) return Status::unauthenticated("Content-Digest does not match the body");
  return Status::ok();
}

std::string format_signature_params(const SignatureParams& params) {
  std::string out = "(";
  for (size_t i = 0; i < params.components.size(); ++i) {
    if (i) out += ' ';
    out += '"' + params.components[i] + '"';
  }
  out += ");created=" + std::to_string(params.created) + ";keyid=\"" + params.keyid + "\"";
  if (params.has_alg) out += ";alg=\"" + std::string(kAlg) + "\"";
  return out;
}

Result<std::string> signature_base(const RequestParts& request, const SignatureParams& params) {
  std::string base;
  std::vector<std::string_view> seen;
  for (const std::string& c : params.components) {
    if (!is_known_component(c)) return Status::unauthenticated("covered component \"" + c + "\" is not supported");
    if (std::find(seen.begin(), seen.end(), c) != seen.end())
      return Status::unauthenticated("covered component \"" + c + "\" repeated");
    seen.push_back(c);
    std::string_view value;
    if (c == kComponentMethod) {
      if (!is_token(request.method)) return malformed("bad method");
      value = request.method;
    } else if (c == kComponentTargetUri) {
      if (request.target_uri.size() > kMaxTargetUriBytes || !is_visible_ascii(request.target_uri))
        return malformed("bad target URI");
      value = request.target_uri;
    } else {
      if (!request.content_digest) return Status::unauthenticated("content-digest is covered but absent");
      if (request.content_digest->size() > kMaxSignatureHeaderBytes || !is_visible_ascii(*request.content_digest))
        return malformed("bad Content-Digest");
      value = *request.content_digest;
    }
    base += '"' + c + "\": ";
    base += value;
    base += '\n';
  }
  base += "\"@signature-params\": " + format_signature_params(params);
  return base;
}

Result<SignedHeaders> sign_request(std::string_view method, std::string_view target_uri, ByteView body,
                                   const KeyPair& key, std::string_view chain_id, int64_t created) {
  RequestParts parts{std::string(method), std::string(target_uri), std::nullopt};
  SignatureParams params;
  params.components = {std::string(kComponentMethod), std::string(kComponentTargetUri)};
  if (!body.empty()) {
    parts.content_digest = content_digest(body);
    params.components.emplace_back(kComponentContentDigest);
  }
  params.created = created;
  params.keyid = base64_encode(key.public_key());
  params.has_alg = true;
  PROV_ASSIGN_OR_RETURN(std::string base, signature_base(parts, params));
  Signature sig = key.sign(purpose::kHttpRequest, chain_id, as_bytes(base));
  SignedHeaders out;
  out.signature_input = std::string(kLabel) + "=" + format_signature_params(params);
  out.signature = std::string(kLabel) + "=:" + base64_encode(sig) + ":";
  out.content_digest = parts.content_digest;
  return out;
}

Result<SignatureParams> parse_signature_input(std::string_view header) {
  if (header.size() > kMaxSignatureHeaderBytes) return malformed("Signature-Input too long");
  Reader r(header);
  if (!r.eat(kLabel) || !r.eat("=(")) return malformed("Signature-Input must be sig1=(...)");
  SignatureParams p;
  if (!r.eat(')')) {
    for (;;) {
      std::string c;
      if (!r.string(&c)) return malformed("Signature-Input: bad component name");
      p.components.push_back(std::move(c));
      if (p.components.size() > 3) return malformed("Signature-Input: too many components");
      if (r.eat(')')) break;
      if (!r.eat(' ')) return malformed("Signature-Input: components are separated by one space");
    }
  }
  bool has_created = false, has_keyid = false;
  while (!r.done()) {
    std::string name;
    if (!r.eat(';') || !r.key(&name) || !r.eat('=')) return malformed("Signature-Input: bad parameter");
    if (name == "created" && !has_created) {
      if (!r.integer(&p.created) || p.created > kMaxCreated) return malformed("Signature-Input: bad created");
      has_created = true;
    } else if (name == "keyid" && !has_keyid) {
      if (!r.string(&p.keyid)) return malformed("Signature-Input: bad keyid");
      has_keyid = true;
    } else if (name == "alg" && !p.has_alg) {
      std::string alg;
      if (!r.string(&alg) || alg != kAlg) return malformed("Signature-Input: alg must be \"ed25519\"");
      p.has_alg = true;
    } else {
      return malformed("Signature-Input: unsupported or repeated parameter \"" + name + "\"");
    }
  }
  if (!has_created || !has_keyid) return malformed("Signature-Input needs created and keyid");
  return p;
}

Result<Signature> parse_signature(std::string_view header) {
  if (header.size() > kMaxSignatureHeaderBytes) return malformed("Signature too long");
  Reader r(header);
  std::string_view b64;
  if (!r.eat(kLabel) || !r.eat("=:") || !r.until(':', &b64) || !r.eat(':') || !r.done())
    return malformed("Signature must be sig1=:<base64>:");
  auto sig = base64_decode_fixed<Signature>(b64);
  if (!sig) return malformed("Signature: expected 64 bytes of base64");
  return *sig;
}

Result<Verified> verify_request(const RequestParts& request, ByteView body, std::string_view signature_input,
                                std::string_view signature, std::string_view chain_id, int64_t now_s) {
  PROV_ASSIGN_OR_RETURN(SignatureParams params, parse_signature_input(signature_input));
  PROV_ASSIGN_OR_RETURN(Signature sig, parse_signature(signature));
  auto covers = [&](std::string_view c) {
    return std::find(params.components.begin(), params.components.end(), c) != params.components.end();
  };
  if (!covers(kComponentMethod) || !covers(kComponentTargetUri))
    return Status::unauthenticated("the signature must cover @method and @target-uri");
  const bool needs_digest = !body.empty() || request.content_digest.has_value();
  if (needs_digest) {
    if (!covers(kComponentContentDigest)) return Status::unauthenticated("the signature must cover content-digest");
    if (!request.content_digest) return Status::unauthenticated("Content-Digest header missing");
    PROV_RETURN_IF_ERROR(check_content_digest(*request.content_digest, body));
  }
  if (params.created > now_s + kMaxClockSkewSeconds || params.created < now_s - kMaxClockSkewSeconds)
    return Status::unauthenticated("signature created " + std::to_string(params.created) +
                                   " is outside ±60 s of the node's clock " + std::to_string(now_s));
  auto key = base64_decode_fixed<PublicKey>(params.keyid);
  if (!key) return malformed("keyid must be the base64 of a 32-byte Ed25519 public key");
  PROV_ASSIGN_OR_RETURN(std::string base, signature_base(request, params));
  if (!verify(*key, purpose::kHttpRequest, chain_id, as_bytes(base), sig))
    return Status::unauthenticated("the request signature does not verify");
  return Verified{*key, params.created};
}

}  // namespace prov::crypto::http_sig
