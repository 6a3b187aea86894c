// Fuzzes the genesis loader: strict JSON parsing, normalization, validation.
// Properties: nothing crashes; a genesis that loads prints to JSON that loads
// again to the same message and the same genesis hash (so every node that
// accepts a file agrees on what it says); the draft check accepts everything
// the complete check accepts.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "ledger/genesis.h"

using namespace prov::ledger;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  auto g = load_genesis_json(input, GenesisCheck::kComplete);
  auto draft = load_genesis_json(input, GenesisCheck::kDraft);
  if (g && !draft) std::abort();
  if (!g) return 0;
  auto json = genesis_to_json(*g);
  if (!json) std::abort();
  auto again = load_genesis_json(*json, GenesisCheck::kComplete);
  if (!again) std::abort();
  if (again->SerializeAsString() != g->SerializeAsString()) std::abort();
  if (genesis_hash(*again) != genesis_hash(*g)) std::abort();
  return 0;
}
