#include "node/version.h"

namespace prov::node {

const char* release() { return "0.1.0"; }

}  // namespace prov::node
