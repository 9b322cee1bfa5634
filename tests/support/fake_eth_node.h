// An in-memory Ethereum node for unit tests: a scripted RpcTransport answering each JSON-RPC
// call (single or batch) from a handler, and counting calls per method. Header-only.
#pragma once

#include <functional>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>

#include "br2k/eth/rpc_transport.h"

namespace br2k::eth::testing {

// A node answering from a handler (method, params) -> result or an error object. A handler may
// return a Status to simulate a transport failure.
class FakeNode final : public RpcTransport {
 public:
  using json = nlohmann::json;
  using Handler = std::function<Result<json>(const std::string&, const json&)>;
  explicit FakeNode(Handler h) : h_(std::move(h)) {}
  std::string Endpoint() const override { return "fake://node"; }
  Result<std::string> RoundTrip(std::string_view body, Deadline) override {
    std::lock_guard<std::mutex> l(mu_);
    json req = json::parse(body);
    auto one = [&](const json& r) -> Result<json> {
      ++calls_[r["method"].get<std::string>()];
      BR2K_ASSIGN_OR_RETURN(json res, h_(r["method"], r["params"]));
      json out = {{"jsonrpc", "2.0"}, {"id", r["id"]}};
      if (res.is_object() && res.contains("__error")) {
        out["error"] = res["__error"];
      } else {
        out["result"] = res;
      }
      return out;
    };
    if (req.is_array()) {
      json arr = json::array();
      for (const auto& r : req) {
        BR2K_ASSIGN_OR_RETURN(json o, one(r));
        arr.push_back(o);
      }
      return arr.dump();
    }
    BR2K_ASSIGN_OR_RETURN(json o, one(req));
    return o.dump();
  }
  int calls(const std::string& m) {
    std::lock_guard<std::mutex> l(mu_);
    return calls_[m];
  }

 private:
  std::mutex mu_;
  Handler h_;
  std::map<std::string, int> calls_;
};

}  // namespace br2k::eth::testing
