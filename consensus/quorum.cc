#include "consensus/quorum.h"

#include <cassert>

namespace prov::consensus {

size_t max_faulty(size_t n) {
  assert(n >= 1);
  return (n - 1) / 3;
}

}  // namespace prov::consensus
