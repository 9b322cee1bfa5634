# cmake -DABI=<abi file> -DBIN=<bin file> -DOUT=<.cc> -P embed_artifact.cmake
# Writes the compiled registry into a C++ source: the JSON ABI and the creation bytecode (hex).
file(READ ${ABI} abi)
file(READ ${BIN} bin)
string(STRIP "${abi}" abi)
string(STRIP "${bin}" bin)
if(bin STREQUAL "")
  message(FATAL_ERROR "empty bytecode in ${BIN}")
endif()
file(WRITE ${OUT}.tmp "// Generated from contracts/ServiceRegistry.sol by src/eth/embed_artifact.cmake. Do not edit.
#include \"service_registry_artifact.h\"

namespace br2k::eth::internal {
const char kServiceRegistryAbi[] = R\"br2k_abi(${abi})br2k_abi\";
const char kServiceRegistryBytecode[] = \"${bin}\";
}  // namespace br2k::eth::internal
")
file(COPY_FILE ${OUT}.tmp ${OUT} ONLY_IF_DIFFERENT)
file(REMOVE ${OUT}.tmp)
