// The ServiceRegistry contract through its C++ binding, on a real anvil: every function, every
// refusal, every event with its decoded fields.
#include <gtest/gtest.h>

#include <limits>
#include <mutex>
#include <thread>

#include "anvil.h"
#include "br2k/eth/service_registry.h"

namespace br2k::eth {
namespace {

using Kind = RegistryEvent::Kind;

Deadline Soon() {
  return Deadline::After(std::chrono::seconds(60));
}

class RegistryTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto a = testing::Anvil::Start("eth-registry");
    ASSERT_TRUE(a.ok()) << a.status();
    anvil_ = std::move(*a).release();
    auto owner = TxSender::Create(anvil_->client(), *PrivateKey::FromHex(testing::kAnvilKey0),
                                  testing::kAnvilChainId, Soon());
    ASSERT_TRUE(owner.ok()) << owner.status();
    owner_ = std::move(*owner).release();
    auto addr = ServiceRegistry::Deploy(*owner_, Soon());
    ASSERT_TRUE(addr.ok()) << addr.status();
    auto reg = ServiceRegistry::Connect(anvil_->client(), *addr, Soon());
    ASSERT_TRUE(reg.ok()) << reg.status();
    registry_ = std::move(*reg).release();
  }
  static void TearDownTestSuite() {
    delete registry_;
    delete owner_;
    delete anvil_;
  }

  // A new funded account with its own sender.
  std::unique_ptr<TxSender> NewAccount() {
    PrivateKey key = PrivateKey::Random();
    SendOptions opts;
    opts.value = *U256::FromDecimal("1000000000000000000");  // 1 ETH
    auto fund = owner_->SendAndWait(key.address(), {}, opts, Soon());
    EXPECT_TRUE(fund.ok()) << fund.status();
    auto s = TxSender::Create(anvil_->client(), key, testing::kAnvilChainId, Soon());
    EXPECT_TRUE(s.ok()) << s.status();
    return std::move(*s);
  }

  ServiceId Register(const std::string& name, const std::string& location = "10.0.0.1:7000") {
    ServiceId id = ServiceIdFromName(br2k::testing::UniqueName(name));
    auto r = registry_->Register(*owner_, id, location, Info(), Soon());
    EXPECT_TRUE(r.ok()) << r.status();
    return id;
  }

  static RecoveryInfo Info() {
    return RecoveryInfo{"kind-br2k", 5, "harbor.local/br2k", {"app:1.0", "etcd:3.5"}};
  }

  std::vector<RegistryEvent> Events(const ServiceId& id, std::vector<Kind> kinds = {}) {
    auto e = registry_->GetEvents(id, kinds, 0, std::nullopt, Soon());
    EXPECT_TRUE(e.ok()) << e.status();
    return e.ok() ? *e : std::vector<RegistryEvent>{};
  }

  static testing::Anvil* anvil_;
  static TxSender* owner_;
  static ServiceRegistry* registry_;
};

testing::Anvil* RegistryTest::anvil_ = nullptr;
TxSender* RegistryTest::owner_ = nullptr;
ServiceRegistry* RegistryTest::registry_ = nullptr;

TEST_F(RegistryTest, Register_storesHeaderAndBodyAndEmitsEvents) {
  ServiceId id = Register("reg");
  auto s = registry_->GetService(id, Soon());
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->location, "10.0.0.1:7000");
  EXPECT_EQ(s->owner, owner_->address());
  EXPECT_EQ(s->state, ServiceState::kActive);
  EXPECT_EQ(s->version, 1u);
  EXPECT_EQ(s->epoch, 0u);
  EXPECT_EQ(s->managers, std::vector<Address>{owner_->address()});
  EXPECT_TRUE(s->operators.empty());
  EXPECT_EQ(s->deployer, owner_->address());
  EXPECT_EQ(s->recovery, Info());

  auto loc = registry_->GetServiceLocation(id, Soon());
  ASSERT_TRUE(loc.ok());
  EXPECT_EQ(loc->location, "10.0.0.1:7000");
  EXPECT_EQ(loc->state, ServiceState::kActive);

  auto ev = Events(id);
  ASSERT_EQ(ev.size(), 3u);
  EXPECT_EQ(ev[0].kind, Kind::kRegistered);
  EXPECT_EQ(ev[0].account, owner_->address());
  EXPECT_EQ(ev[0].location, "10.0.0.1:7000");
  EXPECT_EQ(ev[1].kind, Kind::kManagerAdded);
  EXPECT_EQ(ev[1].account, owner_->address());
  EXPECT_EQ(ev[2].kind, Kind::kNewLocation);
  EXPECT_EQ(ev[2].service, id);
  EXPECT_EQ(ev[2].version, 1u);
  EXPECT_GT(ev[2].block_number, 0u);

  auto again = registry_->Register(*owner_, id, "x", Info(), Soon());
  EXPECT_EQ(again.status().code(), StatusCode::kAlreadyExists) << again.status();
  auto empty =
      registry_->Register(*owner_, ServiceIdFromName("empty-loc-" + br2k::testing::UniqueName("x")),
                          "", Info(), Soon());
  EXPECT_EQ(empty.status().code(), StatusCode::kInvalidArgument) << empty.status();
  EXPECT_NE(empty.status().message().find("EmptyLocation"), std::string::npos);
}

TEST_F(RegistryTest, UpdateLocation_rejectsStaleEpoch) {
  ServiceId id = Register("epoch");
  ASSERT_TRUE(registry_->UpdateLocation(*owner_, id, "10.0.0.2:7000", 5, Soon()).ok());
  ASSERT_TRUE(registry_->UpdateLocation(*owner_, id, "10.0.0.3:7000", 5, Soon()).ok());
  auto stale = registry_->UpdateLocation(*owner_, id, "10.0.0.9:7000", 4, Soon());
  EXPECT_EQ(stale.status().code(), StatusCode::kAborted) << stale.status();
  EXPECT_NE(stale.status().message().find("StaleEpoch"), std::string::npos) << stale.status();
  EXPECT_NE(stale.status().message().find(", 4, 5)"), std::string::npos) << stale.status();
  auto loc = registry_->GetServiceLocation(id, Soon());
  ASSERT_TRUE(loc.ok());
  EXPECT_EQ(loc->location, "10.0.0.3:7000");
  EXPECT_EQ(loc->epoch, 5u);
  ASSERT_TRUE(registry_->UpdateLocation(*owner_, id, "10.0.0.4:7000", 9, Soon()).ok());

  auto ev = Events(id, {Kind::kNewLocation});
  ASSERT_EQ(ev.size(), 4u);
  EXPECT_EQ(ev[1].location, "10.0.0.2:7000");
  EXPECT_EQ(ev[1].epoch, 5u);
  EXPECT_EQ(ev[1].version, 2u);
  EXPECT_EQ(ev[3].location, "10.0.0.4:7000");
  EXPECT_EQ(ev[3].epoch, 9u);
  EXPECT_EQ(ev[3].version, 4u);
  EXPECT_EQ(registry_->GetService(id, Soon())->version, 4u);
}

TEST_F(RegistryTest, Operators_mayOnlyUpdateTheLocation) {
  ServiceId id = Register("ops");
  auto replica = NewAccount();
  auto refused = registry_->UpdateLocation(*replica, id, "10.1.0.1:7000", 1, Soon());
  EXPECT_EQ(refused.status().code(), StatusCode::kPermissionDenied) << refused.status();
  EXPECT_NE(refused.status().message().find("NotOperator"), std::string::npos);

  ASSERT_TRUE(registry_->AddOperator(*owner_, id, replica->address(), Soon()).ok());
  EXPECT_TRUE(*registry_->IsOperator(id, replica->address(), Soon()));
  EXPECT_EQ(registry_->AddOperator(*owner_, id, replica->address(), Soon()).status().code(),
            StatusCode::kAlreadyExists);
  auto moved = registry_->UpdateLocation(*replica, id, "10.1.0.1:7000", 1, Soon());
  ASSERT_TRUE(moved.ok()) << moved.status();
  EXPECT_EQ(registry_->GetServiceLocation(id, Soon())->location, "10.1.0.1:7000");

  auto state = registry_->UpdateState(*replica, id, ServiceState::kFailed, Soon());
  EXPECT_EQ(state.status().code(), StatusCode::kPermissionDenied);
  EXPECT_NE(state.status().message().find("NotManager"), std::string::npos);
  EXPECT_EQ(registry_->AddOperator(*replica, id, replica->address(), Soon()).status().code(),
            StatusCode::kPermissionDenied);

  ASSERT_TRUE(registry_->RemoveOperator(*owner_, id, replica->address(), Soon()).ok());
  EXPECT_FALSE(*registry_->IsOperator(id, replica->address(), Soon()));
  EXPECT_EQ(registry_->UpdateLocation(*replica, id, "10.1.0.2:7000", 2, Soon()).status().code(),
            StatusCode::kPermissionDenied);
  auto nope = registry_->RemoveOperator(*owner_, id, replica->address(), Soon());
  EXPECT_NE(nope.status().message().find("NoSuchOperator"), std::string::npos) << nope.status();

  auto ev = Events(id, {Kind::kOperatorAdded, Kind::kOperatorRemoved});
  ASSERT_EQ(ev.size(), 2u);
  EXPECT_EQ(ev[0].kind, Kind::kOperatorAdded);
  EXPECT_EQ(ev[0].account, replica->address());
  EXPECT_EQ(ev[1].kind, Kind::kOperatorRemoved);
  EXPECT_EQ(ev[1].account, replica->address());
}

TEST_F(RegistryTest, Managers_changeStateAndRecoveryInfo) {
  ServiceId id = Register("mgr");
  auto m = NewAccount();
  EXPECT_EQ(registry_->UpdateState(*m, id, ServiceState::kFailed, Soon()).status().code(),
            StatusCode::kPermissionDenied);
  EXPECT_EQ(registry_->UpdateRecoveryInfo(*m, id, Info(), Soon()).status().code(),
            StatusCode::kPermissionDenied);
  ASSERT_TRUE(registry_->AddManager(*owner_, id, m->address(), Soon()).ok());
  EXPECT_EQ(registry_->AddManager(*owner_, id, m->address(), Soon()).status().code(),
            StatusCode::kAlreadyExists);
  EXPECT_TRUE(*registry_->IsManager(id, m->address(), Soon()));

  ASSERT_TRUE(registry_->UpdateState(*m, id, ServiceState::kRecovering, Soon()).ok());
  EXPECT_EQ(registry_->UpdateState(*m, id, ServiceState::kNone, Soon()).status().code(),
            StatusCode::kInvalidArgument);
  RecoveryInfo info{"gke-prod", 7, "registry.example/br2k", {"app:2.0"}};
  ASSERT_TRUE(registry_->UpdateRecoveryInfo(*m, id, info, Soon()).ok());
  auto s = registry_->GetService(id, Soon());
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->state, ServiceState::kRecovering);
  EXPECT_EQ(s->recovery, info);
  EXPECT_EQ(s->managers.size(), 2u);

  auto owner_removal = registry_->RemoveManager(*m, id, owner_->address(), Soon());
  EXPECT_NE(owner_removal.status().message().find("CannotRemoveOwner"), std::string::npos);
  ASSERT_TRUE(registry_->RemoveManager(*owner_, id, m->address(), Soon()).ok());
  EXPECT_FALSE(*registry_->IsManager(id, m->address(), Soon()));
  EXPECT_NE(registry_->RemoveManager(*owner_, id, m->address(), Soon())
                .status()
                .message()
                .find("NoSuchManager"),
            std::string::npos);
  EXPECT_EQ(registry_->UpdateState(*m, id, ServiceState::kActive, Soon()).status().code(),
            StatusCode::kPermissionDenied);

  auto ev = Events(id, {Kind::kStateChanged, Kind::kRecoveryInfoUpdated, Kind::kManagerAdded,
                        Kind::kManagerRemoved});
  ASSERT_EQ(ev.size(), 5u);  // owner added at registration, m added, state, info, m removed
  EXPECT_EQ(ev[1].kind, Kind::kManagerAdded);
  EXPECT_EQ(ev[1].account, m->address());
  EXPECT_EQ(ev[2].kind, Kind::kStateChanged);
  EXPECT_EQ(ev[2].state, ServiceState::kRecovering);
  EXPECT_EQ(ev[3].kind, Kind::kRecoveryInfoUpdated);
  EXPECT_EQ(ev[3].version, ev[2].version + 1);
  EXPECT_EQ(ev[4].kind, Kind::kManagerRemoved);
  EXPECT_EQ(ev[4].account, m->address());
}

TEST_F(RegistryTest, TransferOwnership_thenOnlyNewOwnerDeregisters) {
  ServiceId id = Register("own");
  auto next = NewAccount();
  auto not_owner = registry_->TransferOwnership(*next, id, next->address(), Soon());
  EXPECT_EQ(not_owner.status().code(), StatusCode::kPermissionDenied);
  EXPECT_NE(not_owner.status().message().find("NotOwner"), std::string::npos);
  ASSERT_TRUE(registry_->TransferOwnership(*owner_, id, next->address(), Soon()).ok());
  auto s = registry_->GetService(id, Soon());
  EXPECT_EQ(s->owner, next->address());
  EXPECT_TRUE(*registry_->IsManager(id, next->address(), Soon()));
  EXPECT_EQ(registry_->Deregister(*owner_, id, Soon()).status().code(),
            StatusCode::kPermissionDenied);

  auto ev = Events(id, {Kind::kOwnershipTransferred});
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0].previous_owner, owner_->address());
  EXPECT_EQ(ev[0].account, next->address());

  ASSERT_TRUE(registry_->Deregister(*next, id, Soon()).ok());
  EXPECT_EQ(Events(id, {Kind::kDeregistered}).size(), 1u);
}

TEST_F(RegistryTest, Deregistered_refusesEverything) {
  ServiceId id = Register("dereg");
  ASSERT_TRUE(registry_->Deregister(*owner_, id, Soon()).ok());
  auto expect_dereg = [](const Status& s) {
    EXPECT_EQ(s.code(), StatusCode::kFailedPrecondition) << s;
    EXPECT_NE(s.message().find("ServiceDeregistered"), std::string::npos) << s;
  };
  expect_dereg(registry_->UpdateLocation(*owner_, id, "a:1", 100, Soon()).status());
  expect_dereg(registry_->UpdateState(*owner_, id, ServiceState::kActive, Soon()).status());
  expect_dereg(registry_->AddOperator(*owner_, id, owner_->address(), Soon()).status());
  expect_dereg(registry_->SendClaim(*owner_, id, "a:1", "down", Soon()).status());
  expect_dereg(registry_->Register(*owner_, id, "a:1", Info(), Soon()).status());
  expect_dereg(registry_->Deregister(*owner_, id, Soon()).status());
  expect_dereg(registry_->GetServiceLocation(id, Soon()).status());
  auto s = registry_->GetService(id, Soon());
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->state, ServiceState::kRetired);
}

TEST_F(RegistryTest, UnknownService_isNotFound) {
  ServiceId id = ServiceIdFromName(br2k::testing::UniqueName("nobody"));
  EXPECT_EQ(registry_->GetServiceLocation(id, Soon()).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(registry_->GetService(id, Soon()).status().code(), StatusCode::kNotFound);
  auto s = registry_->UpdateLocation(*owner_, id, "a:1", 1, Soon()).status();
  EXPECT_EQ(s.code(), StatusCode::kNotFound);
  EXPECT_NE(s.message().find("UnknownService(" + id.ToHex() + ")"), std::string::npos) << s;
  EXPECT_EQ(registry_->SendClaim(*owner_, id, "a:1", "x", Soon()).status().code(),
            StatusCode::kNotFound);
}

TEST_F(RegistryTest, Claim_fromAnyoneIsEmittedAndWatched) {
  ServiceId id = Register("claim");
  // Start after the registration block (its NewLocation is not part of this test).
  uint64_t from = *anvil_->client()->BlockNumber(Soon()) + 1;
  std::mutex mu;
  std::vector<RegistryEvent> seen;
  std::stop_source stop;
  Status watch_status;
  LogWatcher::Options opts;
  opts.poll_interval = std::chrono::milliseconds(50);
  std::thread watcher([&] {
    watch_status = registry_->Watch(
        id, {}, from,
        [&](const RegistryEvent& e) {
          std::lock_guard<std::mutex> l(mu);
          seen.push_back(e);
          if (seen.size() >= 2) stop.request_stop();
          return Status::Ok();
        },
        stop.get_token(), Soon(), opts);
  });
  auto user = NewAccount();
  ASSERT_TRUE(registry_->SendClaim(*user, id, "10.0.0.1:7000", "connection refused", Soon()).ok());
  ASSERT_TRUE(registry_->UpdateLocation(*owner_, id, "10.0.0.5:7000", 3, Soon()).ok());
  watcher.join();
  ASSERT_TRUE(watch_status.ok()) << watch_status;
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_EQ(seen[0].kind, Kind::kClaim);
  EXPECT_EQ(seen[0].service, id);
  EXPECT_EQ(seen[0].account, user->address());
  EXPECT_EQ(seen[0].location, "10.0.0.1:7000");
  EXPECT_EQ(seen[0].reason, "connection refused");
  EXPECT_EQ(seen[1].kind, Kind::kNewLocation);
  EXPECT_EQ(seen[1].location, "10.0.0.5:7000");
  EXPECT_EQ(seen[1].epoch, 3u);
}

// Issue 10 item 4: one operator key set the epoch to 2^64-1 and nobody could lower it.
TEST_F(RegistryTest, UpdateLocation_pinToMaxEpoch_refused) {
  ServiceId id = Register("pin");
  auto replica = NewAccount();
  ASSERT_TRUE(registry_->AddOperator(*owner_, id, replica->address(), Soon()).ok());
  ASSERT_TRUE(registry_->UpdateLocation(*replica, id, "10.2.0.1:7000", 7, Soon()).ok());
  auto pin = registry_->UpdateLocation(*replica, id, "10.2.0.66:7000",
                                       std::numeric_limits<uint64_t>::max(), Soon());
  EXPECT_EQ(pin.status().code(), StatusCode::kOutOfRange) << pin.status();
  EXPECT_NE(pin.status().message().find("EpochJumpTooLarge"), std::string::npos) << pin.status();
  // The owner cannot pin it either; the largest allowed jump is accepted.
  EXPECT_EQ(registry_
                ->UpdateLocation(*owner_, id, "10.2.0.66:7000",
                                 7 + ServiceRegistry::kMaxEpochJump + 1, Soon())
                .status()
                .code(),
            StatusCode::kOutOfRange);
  auto loc = registry_->GetServiceLocation(id, Soon());
  ASSERT_TRUE(loc.ok());
  EXPECT_EQ(loc->location, "10.2.0.1:7000");
  EXPECT_EQ(loc->epoch, 7u);
  ASSERT_TRUE(registry_
                  ->UpdateLocation(*replica, id, "10.2.0.2:7000",
                                   7 + ServiceRegistry::kMaxEpochJump, Soon())
                  .ok());
  EXPECT_EQ(registry_->GetServiceLocation(id, Soon())->epoch, 7 + ServiceRegistry::kMaxEpochJump);
}

TEST_F(RegistryTest, MaxEpochJump_bindingMatchesContract) {
  auto f = ServiceRegistry::Function("MAX_EPOCH_JUMP");
  ASSERT_TRUE(f.ok()) << f.status();
  auto data = (*f)->EncodeCall({});
  ASSERT_TRUE(data.ok());
  CallRequest req{std::nullopt, registry_->address(), *data, U256(), std::nullopt};
  auto out = anvil_->client()->EthCall(req, Soon());
  ASSERT_TRUE(out.ok()) << out.status();
  auto v = (*f)->DecodeOutput(out->data);
  ASSERT_TRUE(v.ok()) << v.status();
  EXPECT_EQ(v->at(0).word, U256(ServiceRegistry::kMaxEpochJump));
}

// Issue 10 item 6: a follower's operator key rewrote the leader's location at its epoch.
TEST_F(RegistryTest, UpdateLocation_equalEpochFromAnotherOperator_refused) {
  ServiceId id = Register("hijack");
  auto leader = NewAccount();
  auto follower = NewAccount();
  ASSERT_TRUE(registry_->AddOperator(*owner_, id, leader->address(), Soon()).ok());
  ASSERT_TRUE(registry_->AddOperator(*owner_, id, follower->address(), Soon()).ok());
  ASSERT_TRUE(registry_->UpdateLocation(*leader, id, "10.3.0.1:7000", 12, Soon()).ok());
  EXPECT_EQ(*registry_->GetEpochWriter(id, Soon()), leader->address());
  auto hijack = registry_->UpdateLocation(*follower, id, "10.3.0.66:7000", 12, Soon());
  EXPECT_EQ(hijack.status().code(), StatusCode::kAborted) << hijack.status();
  EXPECT_NE(hijack.status().message().find("EpochHeldByOther"), std::string::npos)
      << hijack.status();
  // A manager's updateLocation is refused too (repairLocation is the managers' way).
  EXPECT_EQ(registry_->UpdateLocation(*owner_, id, "10.3.0.66:7000", 12, Soon()).status().code(),
            StatusCode::kAborted);
  // The writer itself may re-announce at its epoch.
  ASSERT_TRUE(registry_->UpdateLocation(*leader, id, "10.3.0.2:7000", 12, Soon()).ok());
  auto loc = registry_->GetServiceLocation(id, Soon());
  EXPECT_EQ(loc->location, "10.3.0.2:7000");
  EXPECT_EQ(loc->epoch, 12u);
}

TEST_F(RegistryTest, RepairLocation_byOwner_lowersPinnedEpochAndEmitsEvent) {
  ServiceId id = Register("repair");
  auto replica = NewAccount();
  ASSERT_TRUE(registry_->AddOperator(*owner_, id, replica->address(), Soon()).ok());
  const uint64_t pinned = ServiceRegistry::kMaxEpochJump;  // as high as one key can go at once
  ASSERT_TRUE(registry_->UpdateLocation(*replica, id, "10.4.0.66:7000", pinned, Soon()).ok());
  EXPECT_EQ(registry_->UpdateLocation(*replica, id, "10.4.0.1:7000", 40, Soon()).status().code(),
            StatusCode::kAborted);

  auto r = registry_->RepairLocation(*owner_, id, "10.4.0.1:7000", 0, Soon());
  ASSERT_TRUE(r.ok()) << r.status();
  auto loc = registry_->GetServiceLocation(id, Soon());
  EXPECT_EQ(loc->location, "10.4.0.1:7000");
  EXPECT_EQ(loc->epoch, 0u);
  EXPECT_EQ(*registry_->GetEpochWriter(id, Soon()), owner_->address());
  auto ev = Events(id, {Kind::kLocationRepaired});
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0].account, owner_->address());
  EXPECT_EQ(ev[0].location, "10.4.0.1:7000");
  EXPECT_EQ(ev[0].epoch, 0u);
  EXPECT_EQ(ev[0].previous_epoch, pinned);
  auto moves = Events(id, {Kind::kNewLocation});
  ASSERT_FALSE(moves.empty());
  EXPECT_EQ(moves.back().location, "10.4.0.1:7000");  // clients following NewLocation move too
  // A leader with a real epoch publishes again.
  ASSERT_TRUE(registry_->UpdateLocation(*replica, id, "10.4.0.2:7000", 41, Soon()).ok());
  EXPECT_EQ(registry_->GetServiceLocation(id, Soon())->epoch, 41u);
  // A repair cannot pin either.
  EXPECT_EQ(
      registry_->RepairLocation(*owner_, id, "x:1", std::numeric_limits<uint64_t>::max(), Soon())
          .status()
          .code(),
      StatusCode::kOutOfRange);
}

TEST_F(RegistryTest, RepairLocation_unauthorised_refused) {
  ServiceId id = Register("repair-denied");
  auto replica = NewAccount();
  auto stranger = NewAccount();
  ASSERT_TRUE(registry_->AddOperator(*owner_, id, replica->address(), Soon()).ok());
  ASSERT_TRUE(registry_->UpdateLocation(*replica, id, "10.5.0.1:7000", 9, Soon()).ok());
  for (TxSender* s : {replica.get(), stranger.get()}) {
    auto r = registry_->RepairLocation(*s, id, "10.5.0.66:7000", 0, Soon());
    EXPECT_EQ(r.status().code(), StatusCode::kPermissionDenied) << r.status();
    EXPECT_NE(r.status().message().find("NotManager"), std::string::npos) << r.status();
  }
  EXPECT_EQ(registry_->GetServiceLocation(id, Soon())->location, "10.5.0.1:7000");
  EXPECT_TRUE(Events(id, {Kind::kLocationRepaired}).empty());
  // An added manager may repair.
  auto manager = NewAccount();
  ASSERT_TRUE(registry_->AddManager(*owner_, id, manager->address(), Soon()).ok());
  ASSERT_TRUE(registry_->RepairLocation(*manager, id, "10.5.0.2:7000", 3, Soon()).ok());
  EXPECT_EQ(registry_->GetServiceLocation(id, Soon())->epoch, 3u);
}

TEST_F(RegistryTest, Connect_refusesAddressWithoutCode) {
  auto r = ServiceRegistry::Connect(anvil_->client(), PrivateKey::Random().address(), Soon());
  EXPECT_EQ(r.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(r.status().message().find("no contract code"), std::string::npos);
}

}  // namespace
}  // namespace br2k::eth
