// Fast paths for POST /v1/transactions:batch, the API's one high-volume
// endpoint: protobuf's JSON parser and printer cost more CPU per
// transaction than admitting it does, apart from its signature check.
//
// Both are exact shortcuts, never a second dialect: each handles only the
// plainest form of its message and returns nullopt for anything else, and
// the caller then uses protobuf's JSON mapping, which stays the reference.
// Tests compare both paths on the same inputs.
// Thread-safety: pure functions.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "crypto/bytes.h"
#include "node/api/api.pb.h"

namespace prov::node::api {

// The txs of a body of exactly the shape {"txs": ["<base64>", ...]} (JSON
// whitespace anywhere between tokens; each string canonical padded base64
// with no escapes, possibly empty), decoded; nullopt for any other body,
// valid or not.
std::optional<std::vector<Bytes>> parse_batch_request_fast(std::string_view body);

// `r` printed as protobuf prints it (preserve_proto_field_names,
// always_print_primitive_fields, no whitespace), or nullopt when a string
// holds a character protobuf would escape.
std::optional<std::string> print_batch_response_fast(const v1::SubmitBatchResponse& r);

}  // namespace prov::node::api
