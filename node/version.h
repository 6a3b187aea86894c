// Version strings of the node and its wire protocol.
#pragma once

#include <cstdint>

namespace prov::node {

// Peer protocol version carried in the handshake; bumped on any wire change.
inline constexpr uint32_t kProtocolVersion = 1;
// Human-readable release, e.g. "0.1.0".
const char* release();

}  // namespace prov::node
