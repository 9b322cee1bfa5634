// The etcd client contract, against the in-memory fake.
#include "br2k/etcd/fake_client.h"
#include "etcd_contract.h"

namespace br2k::etcd::contract {
namespace {

Target kFake{"Fake", [] { return std::unique_ptr<Client>(std::make_unique<FakeClient>()); }};

INSTANTIATE_TEST_SUITE_P(Fake, EtcdContract, ::testing::Values(&kFake), TargetName);

}  // namespace
}  // namespace br2k::etcd::contract
