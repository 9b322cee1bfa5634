// The fixture of the dashboard's integration and browser tests: a real anvil with the real
// ServiceRegistry (a service users claim about, and the dashboard registered as a service with
// one operator key per replica), a real 3-member etcd cluster and three br2k-dashboard processes
// with the chain flags and the dashboard's own transaction key. Helpers read each replica's copy
// of the record over HTTP; every wait is bounded.
#pragma once

#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>

#include "br2k/eth/service_registry.h"
#include "br2k/http/client.h"
#include "logserver_fleet.h"
#include "registry_chain.h"
#include "test_env.h"

namespace br2k::apps::dashboard {

using namespace std::chrono_literals;
using nlohmann::json;
inline constexpr int kNodes = 3;
// Operator keys of the dashboard's replicas (they publish its location); key 1 is the dashboard's
// own transaction key; the owner (key 0) sends the users' claims.
inline const char* const kOperatorKeys[kNodes] = {
    eth::testing::kAnvilKey2, eth::testing::kAnvilKey3, eth::testing::kAnvilKey4};

inline Deadline Soon() {
  return Deadline::After(60s);
}

inline eth::PrivateKey Key(const char* hex) {
  return *eth::PrivateKey::FromHex(hex);
}

class DashboardFixture : public ::testing::Test {
 protected:
  void SetUp() override {
    auto chain = eth::testing::StartRegistryChain("dashboard-it", Soon());
    ASSERT_TRUE(chain.ok()) << chain.status();
    chain_ = std::move(*chain);
    reg_ = chain_->registry;
    // The service users claim about, and the dashboard itself.
    eth::RecoveryInfo info{"local", 3, "127.0.0.1:5000", {"br2k-logserver@sha256:00"}};
    auto r = reg_->Register(*chain_->owner, svc_, "http://127.0.0.1:9/svc", info, Soon());
    ASSERT_TRUE(r.ok()) << r.status();
    r = reg_->Register(*chain_->owner, dash_, "unpublished", {"local", 3, "", {}}, Soon());
    ASSERT_TRUE(r.ok()) << r.status();
    for (int i = 0; i < kNodes; ++i) {
      r = reg_->AddOperator(*chain_->owner, dash_, Key(kOperatorKeys[i]).address(), Soon());
      ASSERT_TRUE(r.ok()) << r.status();
      key_files_.push_back(dir_.path() / ("operator-" + std::to_string(i) + ".key"));
      std::ofstream(key_files_.back()) << kOperatorKeys[i] << "\n";
    }
    tx_key_file_ = dir_.path() / "dashboard-tx.key";
    std::ofstream(tx_key_file_) << eth::testing::kAnvilKey1 << "\n";

    auto args = testing::FastFailoverArgs();
    args.push_back("--rpc-url=" + chain_->anvil->url());
    args.push_back("--registry=" + reg_->address().ToChecksum());
    args.push_back("--chain-id=" + std::to_string(eth::testing::kAnvilChainId));
    args.push_back("--service-name=" + dash_name_);
    args.push_back("--tx-key-file=" + tx_key_file_.string());
    args.push_back("--poll-ms=100");
    auto f = testing::LogserverFleet::Create({.dir = dir_.path(),
                                              .nodes = kNodes,
                                              .service = "dashboard",
                                              .binary = "br2k-dashboard",
                                              .args = args},
                                             Deadline::After(60s));
    ASSERT_TRUE(f.ok()) << f.status();
    fleet_ = std::move(f).value();
    for (int i = 0; i < kNodes; ++i) {
      Status s = fleet_->Start(i, {"--operator-key-file=" + key_files_[i].string()});
      ASSERT_TRUE(s.ok()) << s;
    }
  }

  void TearDown() override {
    if (!fleet_) return;
    fleet_->StopAll();
    if (HasFailure()) fleet_->DumpLogs(std::cerr);
  }

  json Get(int node, const std::string& path) {
    auto r = http::Call(fleet_->Url(node), "GET", path, "", {}, Deadline::After(10s));
    if (!r.ok() || r->status != 200) return json();
    return json::parse(r->body, nullptr, false);
  }

  // How many claims with `key` node's copy of the record holds for the service (-1: no answer).
  int ClaimsWithKey(int node, const std::string& key) {
    json h = Get(node, "/api/history");
    if (!h.is_object()) return -1;
    int n = 0;
    for (const auto& s : h["services"]) {
      for (const auto& c : s["claims"]) n += c["key"] == key ? 1 : 0;
    }
    return n;
  }

  // Bounded wait until every node of `nodes` holds exactly one claim `key`.
  bool WaitRecordedOnce(const std::set<int>& nodes, const std::string& key) {
    auto until = Deadline::After(45s);
    while (!until.expired()) {
      bool all = true;
      for (int i : nodes) all = all && ClaimsWithKey(i, key) == 1;
      if (all) return true;
      std::this_thread::sleep_for(100ms);
    }
    for (int i : nodes) {
      ADD_FAILURE() << "node " << i << " holds " << ClaimsWithKey(i, key) << " claim(s) " << key;
    }
    return false;
  }

  std::string SendClaim(const std::string& reason) {
    auto receipt = reg_->SendClaim(*chain_->owner, svc_, "http://127.0.0.1:9/svc", reason, Soon());
    EXPECT_TRUE(receipt.ok()) << receipt.status();
    if (!receipt.ok()) return "";
    for (const auto& log : receipt->logs) {
      auto ev = eth::ServiceRegistry::DecodeEvent(log);
      if (ev.ok() && *ev && (*ev)->kind == eth::RegistryEvent::Kind::kClaim) {
        return (*ev)->transaction_hash.ToHex() + ":" + std::to_string((*ev)->log_index);
      }
    }
    ADD_FAILURE() << "no Claim event in the receipt";
    return "";
  }

  bool ServicesListed(int node) {
    json s = Get(node, "/api/services");
    if (!s.is_object()) return false;
    std::set<std::string> ids;
    for (const auto& v : s["services"]) ids.insert(v.value("id", ""));
    return ids.count(svc_.ToHex()) && ids.count(dash_.ToHex());
  }

  testing::ScratchDir dir_{"dashboard-it"};
  std::string svc_name_ = testing::UniqueName("svc");
  std::string dash_name_ = testing::UniqueName("dashboard");
  eth::ServiceId svc_ = eth::ServiceIdFromName(svc_name_);
  eth::ServiceId dash_ = eth::ServiceIdFromName(dash_name_);
  std::unique_ptr<eth::testing::RegistryChain> chain_;
  std::shared_ptr<eth::ServiceRegistry> reg_;
  std::unique_ptr<testing::LogserverFleet> fleet_;
  std::vector<std::filesystem::path> key_files_;
  std::filesystem::path tx_key_file_;
};

}  // namespace br2k::apps::dashboard
