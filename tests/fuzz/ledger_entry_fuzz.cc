// Fuzzes the entry decoder. Properties: nothing crashes; an accepted entry
// re-serializes to exactly the input.
#include <cstdint>
#include <cstdlib>

#include "ledger/registry.h"
#include "ledger/tx.h"

using namespace prov;
using namespace prov::ledger;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  ByteView bytes(data, size);
  auto entry = decode_entry(bytes);
  if (entry && serialize(*entry) != Bytes(bytes.begin(), bytes.end())) std::abort();
  return 0;
}
