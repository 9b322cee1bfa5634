#include "br2k/eth/rpc_transport.h"

namespace br2k::eth {

Result<std::shared_ptr<SubscribingTransport>> MakeWebSocketTransport(const std::string& url,
                                                                     Deadline) {
  return UnimplementedError("websocket transport not built: " + url);
}

}  // namespace br2k::eth
