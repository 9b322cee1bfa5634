// The behaviour every br2k::etcd::Client must show, as a parameterized gtest suite.
// A test binary instantiates it with its own targets:
//   INSTANTIATE_TEST_SUITE_P(Fake, EtcdContract, ::testing::Values(&kFakeTarget), TargetName);
#pragma once

#include <gtest/gtest.h>

#include <functional>
#include <memory>
#include <string>

#include "br2k/etcd/client.h"

namespace br2k::etcd::contract {

struct Target {
  std::string name;
  // A fresh client per test. Tests use a unique key prefix, so targets may share a cluster.
  std::function<std::unique_ptr<Client>()> make;
};

class EtcdContract : public ::testing::TestWithParam<Target*> {
 protected:
  void SetUp() override;
  void TearDown() override;
  std::string Key(const std::string& suffix) const { return prefix_ + suffix; }

  std::unique_ptr<Client> client_;
  std::string prefix_;
};

inline std::string TargetName(const ::testing::TestParamInfo<Target*>& info) {
  return info.param->name;
}

}  // namespace br2k::etcd::contract
