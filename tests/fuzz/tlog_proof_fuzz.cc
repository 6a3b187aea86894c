// Fuzzes the tlog-proof parser and inclusion check. Property: whatever
// parses re-formats to exactly the input, and nothing crashes.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "crypto/merkle.h"
#include "crypto/note.h"

using namespace prov::crypto;
using namespace prov::crypto::note;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  auto proof = parse_tlog_proof(input);
  if (proof) {
    auto again = format_tlog_proof(*proof);
    if (!again || *again != input) std::abort();
    const prov::Hash256 leaf = merkle::hash_leaf(proof->extra ? prov::ByteView(*proof->extra) : prov::ByteView{});
    (void)verify_tlog_proof_inclusion(*proof, leaf);
  }
  return 0;
}
