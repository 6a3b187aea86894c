// The batch endpoint's JSON shortcuts (node/api/batch_json.h) against
// protobuf's JSON mapping, differentially: whenever the fast parser takes a
// body, protobuf must accept it too and decode the same transactions; the
// fast printer, given results built from the input, must print exactly
// what protobuf prints or decline.
#include <google/protobuf/util/json_util.h>

#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "node/api/batch_json.h"

using namespace prov;
using namespace prov::node::api;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view body(reinterpret_cast<const char*>(data), size);

  if (auto fast = parse_batch_request_fast(body)) {
    v1::SubmitBatchRequest ref;
    google::protobuf::util::JsonParseOptions opts;
    opts.ignore_unknown_fields = false;
    if (!google::protobuf::util::JsonStringToMessage(std::string(body), &ref, opts).ok()) std::abort();
    if (static_cast<size_t>(ref.txs_size()) != fast->size()) std::abort();
    for (size_t i = 0; i < fast->size(); ++i) {
      if (to_string((*fast)[i]) != ref.txs(static_cast<int>(i))) std::abort();
    }
  }

  // Results whose strings are slices of the input (split on NUL bytes).
  v1::SubmitBatchResponse r;
  v1::SubmitBatchResult* cur = nullptr;
  size_t field = 0, start = 0;
  for (size_t i = 0; i <= size; ++i) {
    if (i < size && data[i] != 0) continue;
    std::string piece(body.substr(start, i - start));
    if (field % 4 == 0) cur = r.add_results();
    switch (field % 4) {
      case 0: cur->set_tx_hash(piece); break;
      case 1: cur->set_state(piece); break;
      case 2: cur->set_code(piece); break;
      default: cur->set_message(piece); break;
    }
    ++field;
    start = i + 1;
    if (field >= 64) break;
  }
  if (auto printed = print_batch_response_fast(r)) {
    google::protobuf::util::JsonPrintOptions opts;
    opts.preserve_proto_field_names = true;
    opts.always_print_primitive_fields = true;
    std::string ref;
    if (!google::protobuf::util::MessageToJsonString(r, &ref, opts).ok()) std::abort();
    if (*printed != ref) std::abort();
  }
  return 0;
}
