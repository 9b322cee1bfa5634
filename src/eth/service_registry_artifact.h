// The compiled ServiceRegistry contract, generated into the build tree (private to src/eth).
#pragma once

namespace br2k::eth::internal {
extern const char kServiceRegistryAbi[];
extern const char kServiceRegistryBytecode[];  // hex, no 0x
}  // namespace br2k::eth::internal
