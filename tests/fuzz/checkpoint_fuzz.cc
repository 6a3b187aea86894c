// Fuzzes the tlog-checkpoint body parser. Property: whatever parses
// re-formats to exactly the input, and nothing crashes.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "crypto/note.h"

using namespace prov::crypto::note;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  auto cp = parse_checkpoint(input);
  if (cp) {
    auto again = format_checkpoint(*cp);
    if (!again || *again != input) std::abort();
  }
  return 0;
}
