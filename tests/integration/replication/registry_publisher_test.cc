// RegistryLocationPublisher against a real anvil with the ServiceRegistry deployed, the service
// registered and operator keys added (anvil's development keys): the fence (a stale epoch is
// refused and the location stays the newer leader's), and a chain that is unreachable when the
// leader publishes (Publish returns OK, the background retry publishes once anvil comes up on
// that port; a withdrawn epoch is never sent).
#include "br2k/replication/registry_publisher.h"

#include <gtest/gtest.h>

#include <thread>

#include "anvil.h"
#include "br2k/eth/rpc_transport.h"
#include "br2k/eth/service_registry.h"
#include "br2k/proc/process.h"
#include "test_env.h"

namespace br2k::replication {
namespace {

using namespace std::chrono_literals;
using eth::testing::Anvil;
using Clock = std::chrono::steady_clock;

Deadline Soon() {
  return Deadline::After(60s);
}

eth::PrivateKey Key(const char* hex) {
  return *eth::PrivateKey::FromHex(hex);
}

long Ms(Clock::duration d) {
  return static_cast<long>(std::chrono::duration_cast<std::chrono::milliseconds>(d).count());
}

// Deploys the registry from dev key 0 and registers each service with its operator.
Result<eth::Address> DeployAndRegister(
    std::shared_ptr<eth::RpcClient> client,
    const std::vector<std::pair<std::string, eth::Address>>& services) {
  BR2K_ASSIGN_OR_RETURN(auto owner, eth::TxSender::Create(client, Key(eth::testing::kAnvilKey0),
                                                          eth::testing::kAnvilChainId, Soon()));
  BR2K_ASSIGN_OR_RETURN(eth::Address addr, eth::ServiceRegistry::Deploy(*owner, Soon()));
  eth::ServiceRegistry reg(client, addr);
  for (const auto& [name, op] : services) {
    eth::ServiceId id = eth::ServiceIdFromName(name);
    eth::RecoveryInfo info{"kind-br2k", 3, "harbor.local/br2k", {"br2k-logserver:dev"}};
    BR2K_RETURN_IF_ERROR(reg.Register(*owner, id, "unpublished", info, Soon()).status());
    BR2K_RETURN_IF_ERROR(reg.AddOperator(*owner, id, op, Soon()).status());
  }
  return addr;
}

RegistryPublisherOptions Options(std::shared_ptr<eth::RpcClient> client, eth::Address registry,
                                 const std::string& service, const char* key) {
  RegistryPublisherOptions o;
  o.client = std::move(client);
  o.registry = registry;
  o.service = eth::ServiceIdFromName(service);
  o.operator_key = Key(key);
  o.chain_id = eth::testing::kAnvilChainId;
  o.backoff_max = 500ms;
  return o;
}

std::unique_ptr<RegistryLocationPublisher> Make(RegistryPublisherOptions o) {
  auto p = RegistryLocationPublisher::Create(std::move(o));
  EXPECT_TRUE(p.ok()) << p.status();
  return p.ok() ? std::move(*p) : nullptr;
}

TEST(RegistryPublisherIT, StaleEpoch_cannotOverwriteTheNewerLeadersLocation) {
  auto anvil = Anvil::Start("registry-publisher-fence");
  ASSERT_TRUE(anvil.ok()) << anvil.status();
  const std::string service = testing::UniqueName("fence");
  auto key1 = Key(eth::testing::kAnvilKey1), key2 = Key(eth::testing::kAnvilKey2);
  auto client = (*anvil)->client();
  // Both replicas' operator keys are operators of the service.
  auto addr = DeployAndRegister(client, {{service, key1.address()}});
  ASSERT_TRUE(addr.ok()) << addr.status();
  eth::ServiceRegistry reg(client, *addr);
  eth::ServiceId id = eth::ServiceIdFromName(service);
  auto owner = eth::TxSender::Create(client, Key(eth::testing::kAnvilKey0),
                                     eth::testing::kAnvilChainId, Soon());
  ASSERT_TRUE(owner.ok());
  ASSERT_TRUE(reg.AddOperator(**owner, id, key2.address(), Soon()).ok());

  auto newer = Make(Options(client, *addr, service, eth::testing::kAnvilKey1));
  auto older = Make(Options(client, *addr, service, eth::testing::kAnvilKey2));

  auto t0 = Clock::now();
  ASSERT_TRUE(newer->Publish("http://127.0.0.1:9001", 100, Deadline::After(10s)).ok());
  std::cout << "[registry] first publish (read, dry run, send, receipt) took "
            << Ms(Clock::now() - t0) << " ms\n";
  auto loc = reg.GetServiceLocation(id, Soon());
  ASSERT_TRUE(loc.ok()) << loc.status();
  EXPECT_EQ(loc->location, "http://127.0.0.1:9001");
  EXPECT_EQ(loc->epoch, 100u);
  auto s = newer->state();
  EXPECT_EQ(s.published_epoch, 100u);
  ASSERT_TRUE(s.tx_hash.has_value());
  auto receipt = client->GetTransactionReceipt(*s.tx_hash, Soon());
  ASSERT_TRUE(receipt.ok() && receipt->has_value());
  EXPECT_TRUE((*receipt)->success);
  EXPECT_EQ((*receipt)->block_number, s.block);

  // The deposed leader (epoch 99) tries to publish itself: refused, nothing sent.
  Status st = older->Publish("http://127.0.0.1:9002", 99, Deadline::After(10s));
  EXPECT_EQ(st.code(), StatusCode::kAborted) << st;
  loc = reg.GetServiceLocation(id, Soon());
  ASSERT_TRUE(loc.ok());
  EXPECT_EQ(loc->location, "http://127.0.0.1:9001");
  EXPECT_EQ(loc->epoch, 100u);
  auto nonce = client->GetTransactionCount(key2.address(), "latest", Soon());
  ASSERT_TRUE(nonce.ok());
  EXPECT_EQ(*nonce, 0u) << "the stale publisher sent no transaction";
  EXPECT_EQ(older->state().stale, 1u);
  EXPECT_TRUE(older->WaitIdle(Deadline::After(1s)).ok()) << "no retry after a stale refusal";

  // The contract itself refuses a stale epoch sent straight to it (the fence does not depend on
  // the publisher's own read).
  auto direct = reg.UpdateLocation(**owner, id, "http://127.0.0.1:9002", 99, Soon());
  EXPECT_EQ(direct.status().code(), StatusCode::kAborted) << direct.status();

  // Re-announcing the same epoch is fine and sends nothing; a newer epoch takes over.
  ASSERT_TRUE(newer->Publish("http://127.0.0.1:9001", 100, Deadline::After(10s)).ok());
  EXPECT_EQ(newer->state().transactions, 1u);
  ASSERT_TRUE(older->Publish("http://127.0.0.1:9002", 101, Deadline::After(10s)).ok());
  loc = reg.GetServiceLocation(id, Soon());
  ASSERT_TRUE(loc.ok());
  EXPECT_EQ(loc->location, "http://127.0.0.1:9002");
  EXPECT_EQ(loc->epoch, 101u);
  auto events =
      reg.GetEvents(id, {eth::RegistryEvent::Kind::kNewLocation}, 0, std::nullopt, Soon());
  ASSERT_TRUE(events.ok());
  ASSERT_EQ(events->size(), 3u);  // registration, epoch 100, epoch 101
  EXPECT_EQ((*events)[1].epoch, 100u);
  EXPECT_EQ((*events)[2].epoch, 101u);
}

TEST(RegistryPublisherIT, ChainUnreachable_publishOkThenRetryPublishesWhenTheChainComesUp) {
  auto port = proc::FreePort("127.0.0.1");
  ASSERT_TRUE(port.ok()) << port.status();
  const std::string url = "http://127.0.0.1:" + std::to_string(*port);
  auto transport = eth::MakeHttpTransport(url);
  ASSERT_TRUE(transport.ok());
  auto client = std::make_shared<eth::RpcClient>(*transport);
  // Where dev key 0's first transaction (the deployment below) puts the registry.
  eth::Address registry = eth::CreateAddress(Key(eth::testing::kAnvilKey0).address(), 0);
  const std::string service = testing::UniqueName("late-chain");
  const std::string withdrawn_service = testing::UniqueName("withdrawn");

  auto leader = Make(Options(client, registry, service, eth::testing::kAnvilKey1));
  auto t0 = Clock::now();
  ASSERT_TRUE(leader->Publish("http://127.0.0.1:9101", 7, Deadline::After(10s)).ok());
  std::cout << "[registry] Publish with the chain unreachable returned OK in "
            << Ms(Clock::now() - t0) << " ms\n";
  auto s = leader->state();
  EXPECT_TRUE(s.retry_pending);
  EXPECT_EQ(s.last_error.code(), StatusCode::kUnavailable) << s.last_error;

  // A second replica led briefly and stepped down while the chain was unreachable.
  auto gone = Make(Options(client, registry, withdrawn_service, eth::testing::kAnvilKey2));
  ASSERT_TRUE(gone->Publish("http://127.0.0.1:9102", 8, Deadline::After(10s)).ok());
  EXPECT_TRUE(gone->state().retry_pending);
  gone->Withdraw(8);
  EXPECT_FALSE(gone->state().retry_pending);
  EXPECT_TRUE(gone->WaitIdle(Deadline::After(1s)).ok());

  auto anvil = Anvil::Start("registry-publisher-late", *port);
  ASSERT_TRUE(anvil.ok()) << anvil.status();
  auto t_up = Clock::now();
  auto addr =
      DeployAndRegister(client, {{service, Key(eth::testing::kAnvilKey1).address()},
                                 {withdrawn_service, Key(eth::testing::kAnvilKey2).address()}});
  ASSERT_TRUE(addr.ok()) << addr.status();
  ASSERT_EQ(*addr, registry);

  ASSERT_TRUE(leader->WaitIdle(Deadline::After(60s)).ok()) << leader->StateJson();
  std::cout << "[registry] background retry published " << Ms(Clock::now() - t_up)
            << " ms after anvil came up (deploy and registration included); state "
            << leader->StateJson() << "\n";
  eth::ServiceRegistry reg(client, registry);
  auto loc = reg.GetServiceLocation(eth::ServiceIdFromName(service), Soon());
  ASSERT_TRUE(loc.ok()) << loc.status();
  EXPECT_EQ(loc->location, "http://127.0.0.1:9101");
  EXPECT_EQ(loc->epoch, 7u);
  s = leader->state();
  EXPECT_EQ(s.published_epoch, 7u);
  EXPECT_TRUE(s.tx_hash.has_value());
  EXPECT_TRUE(s.last_error.ok()) << s.last_error;
  EXPECT_GE(s.failures, 1u);

  // The withdrawn epoch was never sent: its key has no transaction, and the service still
  // shows its registration.
  auto nonce =
      client->GetTransactionCount(Key(eth::testing::kAnvilKey2).address(), "latest", Soon());
  ASSERT_TRUE(nonce.ok());
  EXPECT_EQ(*nonce, 0u);
  auto wloc = reg.GetServiceLocation(eth::ServiceIdFromName(withdrawn_service), Soon());
  ASSERT_TRUE(wloc.ok());
  EXPECT_EQ(wloc->location, "unpublished");
  EXPECT_EQ(wloc->epoch, 0u);
  EXPECT_EQ(gone->state().transactions, 0u);
}

}  // namespace
}  // namespace br2k::replication
