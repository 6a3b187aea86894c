// Quorum arithmetic shared by QCs, checkpoints and governance.
// Pure functions; thread-safe.
#pragma once

#include <cstddef>

#include "ledger/registry.h"

namespace prov::consensus {

// q = ⌊2n/3⌋ + 1 (defined once, in the ledger, which governance needs too).
using ::prov::ledger::quorum_size;
// The number of faulty validators n tolerates: ⌊(n-1)/3⌋. Requires n ≥ 1.
size_t max_faulty(size_t n);

}  // namespace prov::consensus
