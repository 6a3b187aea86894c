// Fuzzes block and header decoding and apply_block on a genesis state.
// Properties: nothing crashes; accepted blocks and headers re-serialize to
// exactly the input; a block that applies has a header that decodes.
#include <cstdint>
#include <cstdlib>

#include "ledger/registry.h"
#include "ledger/tx.h"
#include "ledger_fuzz_chain.h"

using namespace prov;
using namespace prov::ledger;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  ByteView bytes(data, size);
  auto block = decode_block(bytes, max_block_envelope_bytes(effective_params({})));
  if (block && serialize(*block) != Bytes(bytes.begin(), bytes.end())) std::abort();
  auto header = decode_header(bytes);
  if (header && serialize(*header) != Bytes(bytes.begin(), bytes.end())) std::abort();
  auto applied = apply_block(fuzz::genesis_state(), bytes);
  if (applied && !block) std::abort();
  return 0;
}
