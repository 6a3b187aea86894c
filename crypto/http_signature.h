// RFC 9421 HTTP Message Signatures (Ed25519) and RFC 9530 Content-Digest, the
// subset provledger's client API uses for signed reads. Shared by the node
// (verification) and provctl (signing), so both build the same signature base.
//
// Covered components: "@method", "@target-uri" and, whenever the request has
// a body, "content-digest"; each at most once, nothing else. Parameters:
// `created` (integer seconds, required, within ±kMaxClockSkewSeconds of the
// verifier's clock), `keyid` (required: standard base64 of the client's
// 32-byte Ed25519 public key) and `alg` (optional, must be "ed25519"); any
// other parameter is refused. Exactly one signature, labelled kLabel.
//
// Deviation from RFC 9421, on purpose: the Ed25519 signature covers
//   crypto::domain_message(purpose::kHttpRequest, chain_id, signature base)
// rather than the bare signature base, because every signature of ours starts
// with a 0x00 purpose tag and the chain id (DESIGN.md), so a request
// signature can never be replayed as a transaction or on another chain.
//
// Parsers are strict and bounded (kMaxSignatureHeaderBytes) and never trust
// their input. Pure functions; thread-safe.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "crypto/bytes.h"
#include "crypto/ed25519.h"
#include "crypto/status.h"

namespace prov::crypto::http_sig {

inline constexpr std::string_view kLabel = "sig1";
inline constexpr std::string_view kAlg = "ed25519";
inline constexpr int64_t kMaxClockSkewSeconds = 60;
// Bound on Signature-Input, Signature and Content-Digest header values.
inline constexpr size_t kMaxSignatureHeaderBytes = 1024;
// Bound on @target-uri.
inline constexpr size_t kMaxTargetUriBytes = 8192;

inline constexpr std::string_view kComponentMethod = "@method";
inline constexpr std::string_view kComponentTargetUri = "@target-uri";
inline constexpr std::string_view kComponentContentDigest = "content-digest";

// What the signature covers, as the verifier sees the request.
struct RequestParts {
  std::string method;                         // e.g. "GET" (case-sensitive, as sent)
  std::string target_uri;                     // absolute: "http://127.0.0.1:7001/v1/entries/3?x=y"
  std::optional<std::string> content_digest;  // the Content-Digest header, if present
};

struct SignatureParams {
  std::vector<std::string> components;  // covered component names, in order
  int64_t created = 0;                  // seconds since the Unix epoch
  std::string keyid;                    // base64 public key
  bool has_alg = false;                 // alg="ed25519" was given
};

// "sha-256=:<base64 SHA-256(body)>:" (RFC 9530).
std::string content_digest(ByteView body);
// OK iff `header` is exactly content_digest(body); kInvalidArgument if it is
// not a sha-256 digest we can read, kUnauthenticated if it does not match.
Status check_content_digest(std::string_view header, ByteView body);

// The inner list and parameters, e.g.
//   ("@method" "@target-uri");created=1700000000;keyid="...";alg="ed25519"
std::string format_signature_params(const SignatureParams& params);
// RFC 9421 §2.5 signature base; fails if a covered component is unknown,
// repeated, or (content-digest) absent from `request`.
Result<std::string> signature_base(const RequestParts& request, const SignatureParams& params);

// The headers a signed request carries.
struct SignedHeaders {
  std::string signature_input;                // Signature-Input: sig1=(...);created=...
  std::string signature;                      // Signature: sig1=:<base64>:
  std::optional<std::string> content_digest;  // Content-Digest, iff the body is non-empty
};
// Signs (method, target_uri, body) with `key` for `chain_id` at `created`
// seconds. Fails only on an over-long target URI.
Result<SignedHeaders> sign_request(std::string_view method, std::string_view target_uri, ByteView body,
                                   const KeyPair& key, std::string_view chain_id, int64_t created);

// Strict parsers for the two headers (exposed for tests and fuzzing).
Result<SignatureParams> parse_signature_input(std::string_view header);
Result<Signature> parse_signature(std::string_view header);

struct Verified {
  PublicKey key;
  int64_t created = 0;
};
// Verifies a request: both headers parse, the covered components are the
// required ones (content-digest whenever `body` is non-empty or the header is
// present), the Content-Digest matches `body`, `created` is within the skew
// window of `now_s`, and the signature verifies under keyid for `chain_id`.
// kUnauthenticated (or kInvalidArgument for malformed headers) saying which.
Result<Verified> verify_request(const RequestParts& request, ByteView body, std::string_view signature_input,
                                std::string_view signature, std::string_view chain_id, int64_t now_s);

}  // namespace prov::crypto::http_sig
