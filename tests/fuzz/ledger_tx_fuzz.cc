// Fuzzes transaction decoding and validation against a genesis state.
// Properties: nothing crashes; whatever decodes is byte-identical to its own
// re-serialization (the bytes-envelope rule); admission never accepts what
// decoding rejected.
#include <cstdint>
#include <cstdlib>

#include "ledger/registry.h"
#include "ledger/tx.h"
#include "ledger_fuzz_chain.h"

using namespace prov;
using namespace prov::ledger;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const MemoryKv& state = fuzz::genesis_state();
  ByteView bytes(data, size);
  auto tx = decode_transaction(bytes, kDefaultMaxTxBytes);
  auto admitted = check_transaction(state, bytes);
  if (!tx) {
    if (admitted) std::abort();
    return 0;
  }
  if (serialize(tx->envelope) != Bytes(bytes.begin(), bytes.end())) std::abort();
  if (serialize(tx->body) != to_bytes(tx->envelope.body())) std::abort();
  (void)validate_transaction(state, tx.value());
  return 0;
}
