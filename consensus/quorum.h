// Quorum arithmetic shared by QCs, checkpoints and governance.
// Pure functions; thread-safe.
#pragma once

#include <cstddef>

namespace prov::consensus {

// q = ⌊2n/3⌋ + 1: any two quorums of n validators intersect in at least one
// honest validator when at most f = ⌊(n-1)/3⌋ are faulty. Requires n ≥ 1.
size_t quorum_size(size_t n);
// The number of faulty validators n tolerates: ⌊(n-1)/3⌋.
size_t max_faulty(size_t n);

}  // namespace prov::consensus
