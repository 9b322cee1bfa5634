// RegistryLocationPublisher against an in-memory chain (a scripted RpcTransport that implements
// the registry's updateLocation/getServiceLocation rules, nonces, a mempool, mining on demand
// and faults): first attempt, stale refusal, background retry while the chain is down,
// configuration errors, Withdraw, supersession, lost broadcast answers, stuck and unmineable
// transactions, and a transaction reverted by a newer epoch. No processes, no sockets.
#include "br2k/replication/registry_publisher.h"

#include <gtest/gtest.h>

#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>

#include "br2k/eth/transaction.h"

namespace br2k::replication {
namespace {

using namespace std::chrono_literals;
using eth::Address;
using eth::Bytes;
using eth::Hash;
using eth::ServiceId;
using nlohmann::json;

// Anvil's well-known development key 1 (mnemonic "test test ... junk"), as the operator.
constexpr char kOperatorKey[] =
    "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d";

// A chain with one ServiceRegistry at kRegistry. Thread-safe.
class FakeChain final : public eth::RpcTransport {
 public:
  struct Service {
    std::string location = "registered-location";
    uint64_t epoch = 0;
    std::set<Address> operators;
    bool deregistered = false;
  };
  struct Applied {
    std::string location;
    uint64_t epoch;
  };

  static Address Registry() { return *Address::Parse("0x" + std::string(40, 'e')); }

  std::string Endpoint() const override { return "fake://chain"; }

  Result<std::string> RoundTrip(std::string_view body, Deadline) override {
    std::lock_guard l(mu_);
    if (down_) return UnavailableError("fake: connection refused");
    json req = json::parse(body);
    if (req.is_array()) {
      json arr = json::array();
      for (const auto& r : req) arr.push_back(Answer(r));
      return arr.dump();
    }
    json out = Answer(req);
    if (drop_send_answers_ > 0 && req["method"] == "eth_sendRawTransaction") {
      --drop_send_answers_;
      return UnavailableError("fake: connection reset after the request was sent");
    }
    return out.dump();
  }

  // ---- control ----
  void SetDown(bool d) {
    std::lock_guard l(mu_);
    down_ = d;
  }
  void SetAutomine(bool a) {
    std::lock_guard l(mu_);
    automine_ = a;
  }
  // The next n eth_sendRawTransaction calls reach the node but their answers are lost.
  void DropSendAnswers(int n) {
    std::lock_guard l(mu_);
    drop_send_answers_ = n;
  }
  void Mine() {
    std::lock_guard l(mu_);
    MineLocked();
  }
  // A chain reset (e.g. a restarted dev node): accounts, mempool and receipts are gone; the
  // registry keeps its services.
  void ResetAccounts() {
    std::lock_guard l(mu_);
    nonces_.clear();
    pending_.clear();
    receipts_.clear();
  }
  void Register(const ServiceId& id, std::set<Address> operators) {
    std::lock_guard l(mu_);
    services_[id].operators = std::move(operators);
  }
  void AddOperator(const ServiceId& id, const Address& a) {
    std::lock_guard l(mu_);
    services_[id].operators.insert(a);
  }
  // Someone else's update (another leader), applied directly.
  void SetLocation(const ServiceId& id, const std::string& loc, uint64_t epoch) {
    std::lock_guard l(mu_);
    services_[id].location = loc;
    services_[id].epoch = epoch;
  }
  Service Get(const ServiceId& id) {
    std::lock_guard l(mu_);
    return services_[id];
  }
  std::vector<Applied> applied() {
    std::lock_guard l(mu_);
    return applied_;
  }
  // Distinct transactions the node accepted, in order.
  std::vector<eth::SignedTransaction> accepted() {
    std::lock_guard l(mu_);
    return accepted_;
  }
  size_t pending() {
    std::lock_guard l(mu_);
    return pending_.size();
  }

 private:
  static json Quantity(uint64_t v) { return eth::U256(v).ToQuantity(); }
  static json Revert(const Bytes& data) {
    return {
        {"__error", {{"code", 3}, {"message", "execution reverted"}, {"data", eth::ToHex(data)}}}};
  }
  static json RpcError(int code, const std::string& m) {
    return {{"__error", {{"code", code}, {"message", m}}}};
  }
  static Bytes ErrorData(const std::string& name, const std::vector<eth::AbiValue>& args) {
    for (const auto& e : eth::ServiceRegistry::Abi().errors) {
      if (e.name == name) return *e.EncodeCall(args);
    }
    ADD_FAILURE() << "no error " << name;
    return {};
  }
  static const eth::AbiFunction& Fn(const std::string& name) {
    return **eth::ServiceRegistry::Function(name);
  }

  // The contract's updateLocation checks: revert data, or nullopt when it would succeed.
  std::optional<Bytes> Check(const Address& from, const ServiceId& id, const std::string& loc,
                             uint64_t epoch) {
    auto idv = eth::AbiValue::Bytes_(id.ToBytes());
    auto it = services_.find(id);
    if (it == services_.end()) return ErrorData("UnknownService", {idv});
    if (it->second.deregistered) return ErrorData("ServiceDeregistered", {idv});
    if (!it->second.operators.count(from)) {
      return ErrorData("NotOperator", {idv, eth::AbiValue::Addr(from)});
    }
    if (loc.empty()) return ErrorData("EmptyLocation", {});
    if (epoch < it->second.epoch) {
      return ErrorData("StaleEpoch",
                       {idv, eth::AbiValue::Uint(epoch), eth::AbiValue::Uint(it->second.epoch)});
    }
    return std::nullopt;
  }

  std::optional<Bytes> CheckCall(const Address& from, const Bytes& data) {
    auto args = Fn("updateLocation").DecodeCall(data);
    if (!args.ok()) return Bytes{};
    return Check(from, *Hash::FromView((*args)[0].bytes), (*args)[1].AsString(),
                 (*args)[2].word.low64());
  }

  static Bytes Input(const json& req) {
    return *eth::FromHex(req.value("input", req.value("data", std::string("0x"))));
  }

  json Call(const json& p) {
    Address to = *Address::Parse(p[0]["to"].get<std::string>());
    if (to != Registry()) return "0x";
    Bytes data = Input(p[0]);
    Address from;
    if (p[0].contains("from")) from = *Address::Parse(p[0]["from"].get<std::string>());
    auto read = Fn("getServiceLocation").DecodeCall(data);
    if (read.ok()) {
      ServiceId id = *Hash::FromView((*read)[0].bytes);
      auto it = services_.find(id);
      if (it == services_.end()) return Revert(ErrorData("UnknownService", {(*read)[0]}));
      auto out = eth::AbiEncode(Fn("getServiceLocation").outputs,
                                {eth::AbiValue::Str(it->second.location),
                                 eth::AbiValue::Uint(it->second.epoch), eth::AbiValue::Uint(1)});
      return eth::ToHex(*out);
    }
    if (auto bad = CheckCall(from, data)) return Revert(*bad);
    return "0x";
  }

  json Send(const std::string& raw_hex) {
    auto tx = eth::DecodeSignedTransaction(*eth::FromHex(raw_hex));
    if (!tx.ok()) return RpcError(-32602, "bad transaction");
    Address from = *tx->Sender();
    if (receipts_.count(tx->hash)) return RpcError(-32000, "already known");
    for (const auto& p : pending_) {
      if (p.hash == tx->hash) return RpcError(-32000, "already known");
    }
    if (tx->tx.nonce < nonces_[from]) return RpcError(-32000, "nonce too low");
    for (auto& p : pending_) {
      if (*p.Sender() == from && p.tx.nonce == tx->tx.nonce) {
        if (tx->tx.max_fee_per_gas <= p.tx.max_fee_per_gas) {
          return RpcError(-32000, "replacement transaction underpriced");
        }
        p = *tx;
        accepted_.push_back(*tx);
        if (automine_) MineLocked();
        return tx->hash.ToHex();
      }
    }
    pending_.push_back(*tx);
    accepted_.push_back(*tx);
    if (automine_) MineLocked();
    return tx->hash.ToHex();
  }

  void MineLocked() {
    ++block_;
    bool progress = true;
    while (progress) {
      progress = false;
      for (auto it = pending_.begin(); it != pending_.end(); ++it) {
        Address from = *it->Sender();
        if (it->tx.nonce != nonces_[from]) continue;
        bool ok = !CheckCall(from, it->tx.data).has_value();
        if (ok) {
          auto args = *Fn("updateLocation").DecodeCall(it->tx.data);
          ServiceId id = *Hash::FromView(args[0].bytes);
          services_[id].location = args[1].AsString();
          services_[id].epoch = args[2].word.low64();
          applied_.push_back({args[1].AsString(), args[2].word.low64()});
        }
        receipts_[it->hash] = {{"transactionHash", it->hash.ToHex()},
                               {"blockNumber", Quantity(block_)},
                               {"blockHash", "0x" + std::string(64, 'b')},
                               {"status", ok ? "0x1" : "0x0"},
                               {"gasUsed", "0x5208"},
                               {"effectiveGasPrice", "0x8"},
                               {"from", from.ToChecksum()},
                               {"to", Registry().ToChecksum()},
                               {"contractAddress", nullptr},
                               {"logs", json::array()}};
        ++nonces_[from];
        pending_.erase(it);
        progress = true;
        break;
      }
    }
  }

  json Handle(const json& r) {
    try {
      return HandleOrThrow(r);
    } catch (const std::exception& e) {
      ADD_FAILURE() << "fake chain: " << r.dump() << ": " << e.what();
      return RpcError(-32603, e.what());
    }
  }

  json HandleOrThrow(const json& r) {
    const std::string m = r["method"];
    const json& p = r["params"];
    if (m == "eth_chainId") return Quantity(31337);
    if (m == "eth_blockNumber") return Quantity(block_);
    if (m == "eth_getBlockByNumber") {
      return {{"number", Quantity(block_)}, {"baseFeePerGas", "0x7"}};
    }
    if (m == "eth_maxPriorityFeePerGas") return "0x1";
    if (m == "eth_gasPrice") return "0x8";
    if (m == "eth_getCode")
      return *Address::Parse(p[0].get<std::string>()) == Registry() ? "0x60" : "0x";
    if (m == "eth_getTransactionCount") {
      Address a = *Address::Parse(p[0].get<std::string>());
      uint64_t n = nonces_[a];
      if (p[1] == "pending") {
        for (bool found = true; found;) {
          found = false;
          for (const auto& t : pending_) {
            if (*t.Sender() == a && t.tx.nonce == n) {
              ++n;
              found = true;
            }
          }
        }
      }
      return Quantity(n);
    }
    if (m == "eth_call") return Call(p);
    if (m == "eth_estimateGas") {
      Address from = *Address::Parse(p[0]["from"].get<std::string>());
      if (auto bad = CheckCall(from, Input(p[0]))) {
        return Revert(*bad);
      }
      return "0x186a0";
    }
    if (m == "eth_sendRawTransaction") return Send(p[0].get<std::string>());
    if (m == "eth_getTransactionReceipt") {
      auto it = receipts_.find(*Hash::FromHex(p[0].get<std::string>()));
      return it == receipts_.end() ? json(nullptr) : it->second;
    }
    return RpcError(-32601, "method not found: " + m);
  }

  json Answer(const json& r) {
    json res = Handle(r);
    json out = {{"jsonrpc", "2.0"}, {"id", r["id"]}};
    if (res.is_object() && res.contains("__error")) {
      out["error"] = res["__error"];
    } else {
      out["result"] = res;
    }
    return out;
  }

  std::mutex mu_;
  bool down_ = false;
  bool automine_ = true;
  int drop_send_answers_ = 0;
  uint64_t block_ = 1;
  std::map<ServiceId, Service> services_;
  std::map<Address, uint64_t> nonces_;
  std::vector<eth::SignedTransaction> pending_;
  std::map<Hash, json> receipts_;
  std::vector<Applied> applied_;
  std::vector<eth::SignedTransaction> accepted_;
};

class RegistryPublisherTest : public ::testing::Test {
 protected:
  void SetUp() override {
    chain_ = std::make_shared<FakeChain>();
    chain_->Register(service_, {key_.address()});
  }

  RegistryPublisherOptions Options() {
    RegistryPublisherOptions o;
    o.client = std::make_shared<eth::RpcClient>(chain_);
    o.registry = FakeChain::Registry();
    o.service = service_;
    o.operator_key = key_;
    o.chain_id = 31337;
    o.first_attempt = 1s;
    o.backoff_initial = 5ms;
    o.backoff_max = 40ms;
    o.attempt_timeout = 300ms;
    o.rpc_timeout = 1s;
    o.receipt_poll = 5ms;
    return o;
  }

  std::unique_ptr<RegistryLocationPublisher> Make(RegistryPublisherOptions o) {
    auto p = RegistryLocationPublisher::Create(std::move(o));
    EXPECT_TRUE(p.ok()) << p.status();
    return p.ok() ? std::move(*p) : nullptr;
  }
  std::unique_ptr<RegistryLocationPublisher> Make() { return Make(Options()); }

  static Deadline Soon() { return Deadline::After(5s); }

  std::shared_ptr<FakeChain> chain_;
  ServiceId service_ = eth::ServiceIdFromName("unit-logserver");
  eth::PrivateKey key_ = *eth::PrivateKey::FromHex(kOperatorKey);
};

TEST_F(RegistryPublisherTest, Publish_writesLocationAndEpoch) {
  auto p = Make();
  ASSERT_TRUE(p->Publish("http://127.0.0.1:8081", 42, Soon()).ok());
  EXPECT_EQ(chain_->Get(service_).location, "http://127.0.0.1:8081");
  EXPECT_EQ(chain_->Get(service_).epoch, 42u);
  auto s = p->state();
  EXPECT_EQ(s.published_url, "http://127.0.0.1:8081");
  EXPECT_EQ(s.published_epoch, 42u);
  ASSERT_TRUE(s.tx_hash.has_value());
  EXPECT_EQ(*s.tx_hash, chain_->accepted().at(0).hash);
  EXPECT_GT(s.block, 0u);
  EXPECT_FALSE(s.retry_pending);
  EXPECT_TRUE(s.last_error.ok());
  EXPECT_EQ(s.publishes, 1u);
  EXPECT_EQ(s.transactions, 1u);
  EXPECT_EQ(s.successes, 1u);
  EXPECT_EQ(s.operator_address, key_.address());
  EXPECT_TRUE(p->WaitIdle(Deadline::After(1s)).ok());
}

TEST_F(RegistryPublisherTest, Publish_alreadyShownSendsNothing) {
  chain_->SetLocation(service_, "http://me", 7);
  auto p = Make();
  EXPECT_TRUE(p->Publish("http://me", 7, Soon()).ok());
  EXPECT_TRUE(p->Publish("http://me", 5, Soon()).ok());  // a later epoch of ours is there
  EXPECT_TRUE(chain_->accepted().empty());
  auto s = p->state();
  EXPECT_EQ(s.published_epoch, 7u);
  EXPECT_FALSE(s.tx_hash.has_value());
}

TEST_F(RegistryPublisherTest, Publish_staleEpochIsAbortedAndLocationUnchanged) {
  chain_->SetLocation(service_, "http://newer-leader", 10);
  auto p = Make();
  Status st = p->Publish("http://old-leader", 9, Soon());
  EXPECT_EQ(st.code(), StatusCode::kAborted) << st;
  EXPECT_NE(st.message().find("StaleEpoch"), std::string::npos) << st;
  EXPECT_EQ(chain_->Get(service_).location, "http://newer-leader");
  EXPECT_EQ(chain_->Get(service_).epoch, 10u);
  EXPECT_TRUE(chain_->accepted().empty()) << "a stale publisher never sends";
  auto s = p->state();
  EXPECT_EQ(s.stale, 1u);
  EXPECT_EQ(s.last_error.code(), StatusCode::kAborted);
  EXPECT_FALSE(s.retry_pending);
  EXPECT_TRUE(p->WaitIdle(Deadline::After(1s)).ok()) << "no retry after a stale refusal";
}

TEST_F(RegistryPublisherTest, Publish_chainDownReturnsOkAndRetriesInBackground) {
  chain_->SetDown(true);
  auto p = Make();
  EXPECT_TRUE(p->Publish("http://leader", 3, Soon()).ok());
  auto s = p->state();
  EXPECT_TRUE(s.retry_pending);
  EXPECT_EQ(s.pending_epoch, 3u);
  EXPECT_EQ(s.last_error.code(), StatusCode::kUnavailable) << s.last_error;
  EXPECT_EQ(p->WaitIdle(Deadline::After(50ms)).code(), StatusCode::kDeadlineExceeded);
  chain_->SetDown(false);
  ASSERT_TRUE(p->WaitIdle(Soon()).ok());
  EXPECT_EQ(chain_->Get(service_).location, "http://leader");
  EXPECT_EQ(chain_->Get(service_).epoch, 3u);
  s = p->state();
  EXPECT_EQ(s.published_epoch, 3u);
  EXPECT_TRUE(s.last_error.ok());
  EXPECT_GE(s.attempts, 2u);
  EXPECT_GE(s.failures, 1u);
  EXPECT_EQ(s.transactions, 1u);
}

TEST_F(RegistryPublisherTest, Publish_notOperatorKeepsServingAndPublishesOnceAdded) {
  chain_->Register(service_, {});
  auto p = Make();
  EXPECT_TRUE(p->Publish("http://leader", 4, Soon()).ok()) << "serving anyway";
  auto s = p->state();
  EXPECT_EQ(s.last_error.code(), StatusCode::kPermissionDenied) << s.last_error;
  EXPECT_NE(s.last_error.message().find("NotOperator"), std::string::npos);
  EXPECT_TRUE(s.retry_pending);
  EXPECT_TRUE(chain_->accepted().empty());
  chain_->AddOperator(service_, key_.address());
  ASSERT_TRUE(p->WaitIdle(Soon()).ok());
  EXPECT_EQ(chain_->Get(service_).epoch, 4u);
}

TEST_F(RegistryPublisherTest, Publish_unknownServiceIsExposed) {
  auto o = Options();
  o.service = eth::ServiceIdFromName("never-registered");
  auto p = Make(std::move(o));
  EXPECT_TRUE(p->Publish("http://leader", 4, Soon()).ok());
  EXPECT_EQ(p->state().last_error.code(), StatusCode::kNotFound) << p->state().last_error;
  EXPECT_NE(p->StateJson().find("UnknownService"), std::string::npos) << p->StateJson();
}

TEST_F(RegistryPublisherTest, Withdraw_stopsTheRetryAndNothingIsSentForThatEpoch) {
  chain_->SetDown(true);
  auto p = Make();
  ASSERT_TRUE(p->Publish("http://withdrawn", 5, Soon()).ok());
  p->Withdraw(4);  // another epoch: nothing to stop
  EXPECT_TRUE(p->state().retry_pending);
  p->Withdraw(5);
  auto s = p->state();
  EXPECT_FALSE(s.retry_pending);
  EXPECT_EQ(s.pending_epoch, 0u);
  EXPECT_EQ(s.withdrawals, 1u);
  EXPECT_TRUE(p->WaitIdle(Deadline::After(1s)).ok());
  chain_->SetDown(false);
  ASSERT_TRUE(p->Publish("http://next", 6, Soon()).ok());
  auto applied = chain_->applied();
  ASSERT_EQ(applied.size(), 1u);
  EXPECT_EQ(applied[0].location, "http://next");
  EXPECT_EQ(chain_->accepted().size(), 1u) << "nothing was ever sent for the withdrawn epoch";
}

TEST_F(RegistryPublisherTest, Publish_supersedesAnOlderRetry) {
  chain_->SetDown(true);
  auto p = Make();
  ASSERT_TRUE(p->Publish("http://a", 5, Soon()).ok());
  ASSERT_TRUE(p->Publish("http://b", 6, Soon()).ok());
  EXPECT_EQ(p->state().pending_epoch, 6u);
  chain_->SetDown(false);
  ASSERT_TRUE(p->WaitIdle(Soon()).ok());
  auto applied = chain_->applied();
  ASSERT_EQ(applied.size(), 1u);
  EXPECT_EQ(applied[0].location, "http://b");
  EXPECT_EQ(applied[0].epoch, 6u);
}

TEST_F(RegistryPublisherTest, LostBroadcastAnswer_waitsForTheSameTransaction) {
  chain_->SetAutomine(false);
  chain_->DropSendAnswers(1);
  auto o = Options();
  o.first_attempt = 100ms;
  auto p = Make(std::move(o));
  ASSERT_TRUE(p->Publish("http://leader", 8, Soon()).ok());
  auto s = p->state();
  EXPECT_TRUE(s.retry_pending);
  ASSERT_TRUE(s.pending_tx.has_value()) << "the unanswered transaction is remembered";
  ASSERT_EQ(chain_->accepted().size(), 1u);
  EXPECT_EQ(*s.pending_tx, chain_->accepted()[0].hash);
  chain_->Mine();
  ASSERT_TRUE(p->WaitIdle(Soon()).ok());
  EXPECT_EQ(chain_->accepted().size(), 1u) << "never a second transaction";
  EXPECT_EQ(chain_->Get(service_).epoch, 8u);
  EXPECT_EQ(p->state().tx_hash, chain_->accepted()[0].hash);
}

TEST_F(RegistryPublisherTest, NotMinedInTime_theRetryWaitsForItsReceipt) {
  chain_->SetAutomine(false);
  auto o = Options();
  o.first_attempt = 50ms;
  auto p = Make(std::move(o));
  ASSERT_TRUE(p->Publish("http://leader", 9, Soon()).ok());
  EXPECT_EQ(p->state().last_error.code(), StatusCode::kDeadlineExceeded) << p->state().last_error;
  chain_->Mine();
  ASSERT_TRUE(p->WaitIdle(Soon()).ok());
  EXPECT_EQ(chain_->accepted().size(), 1u);
  EXPECT_EQ(p->state().published_epoch, 9u);
  EXPECT_EQ(p->state().tx_hash, chain_->accepted()[0].hash);
}

TEST_F(RegistryPublisherTest, StuckTransaction_isReplacedWithHigherFees) {
  chain_->SetAutomine(false);
  auto o = Options();
  o.first_attempt = 50ms;
  o.replace_after = 0ms;
  auto p = Make(std::move(o));
  ASSERT_TRUE(p->Publish("http://leader", 11, Soon()).ok());
  // Bounded wait for a replacement (each background attempt replaces the pending one).
  auto until = Deadline::After(5s);
  while (!until.expired() && chain_->accepted().size() < 2) std::this_thread::sleep_for(5ms);
  auto acc = chain_->accepted();
  ASSERT_GE(acc.size(), 2u);
  EXPECT_EQ(acc[0].tx.nonce, acc[1].tx.nonce);
  EXPECT_GT(acc[1].tx.max_fee_per_gas, acc[0].tx.max_fee_per_gas);
  EXPECT_EQ(chain_->pending(), 1u) << "a replacement takes the place of the stuck one";
  chain_->Mine();
  ASSERT_TRUE(p->WaitIdle(Soon()).ok());
  EXPECT_EQ(chain_->applied().size(), 1u);
  EXPECT_EQ(chain_->Get(service_).epoch, 11u);
}

TEST_F(RegistryPublisherTest, ChainReset_dropsAnUnmineableTransactionAndSendsAgain) {
  auto o = Options();
  o.first_attempt = 50ms;
  o.replace_after = 0ms;
  auto p = Make(std::move(o));
  ASSERT_TRUE(p->Publish("http://a", 1, Soon()).ok());  // nonce 0 mined
  chain_->SetAutomine(false);
  ASSERT_TRUE(p->Publish("http://b", 2, Soon()).ok());  // nonce 1, not mined
  EXPECT_TRUE(p->state().retry_pending);
  chain_->ResetAccounts();  // the node forgets: nonce 1 can never be mined now
  chain_->SetAutomine(true);
  ASSERT_TRUE(p->WaitIdle(Soon()).ok());
  EXPECT_EQ(chain_->Get(service_).location, "http://b");
  EXPECT_EQ(chain_->Get(service_).epoch, 2u);
  EXPECT_EQ(chain_->accepted().back().tx.nonce, 0u) << "re-made with the node's nonce";
}

TEST_F(RegistryPublisherTest, RevertedByANewerEpoch_stopsAsStale) {
  chain_->SetAutomine(false);
  auto o = Options();
  o.first_attempt = 50ms;
  auto p = Make(std::move(o));
  ASSERT_TRUE(p->Publish("http://old", 5, Soon()).ok());
  chain_->SetLocation(service_, "http://new", 6);  // a newer leader got in first
  chain_->Mine();                                  // our transaction reverts
  ASSERT_TRUE(p->WaitIdle(Soon()).ok());
  auto s = p->state();
  EXPECT_EQ(s.stale, 1u);
  EXPECT_EQ(s.last_error.code(), StatusCode::kAborted) << s.last_error;
  EXPECT_EQ(chain_->Get(service_).location, "http://new");
  EXPECT_TRUE(chain_->applied().empty());
}

TEST_F(RegistryPublisherTest, Destructor_joinsWhileRetrying) {
  chain_->SetDown(true);
  auto p = Make();
  ASSERT_TRUE(p->Publish("http://leader", 3, Soon()).ok());
  p.reset();  // must return (the test's timeout would catch a hang)
  chain_->SetDown(false);
  EXPECT_TRUE(chain_->accepted().empty());
}

TEST_F(RegistryPublisherTest, Publish_rejectsBadArguments) {
  auto p = Make();
  EXPECT_EQ(p->Publish("", 3, Soon()).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(p->Publish("http://x", 0, Soon()).code(), StatusCode::kInvalidArgument);
}

TEST_F(RegistryPublisherTest, Create_rejectsBadOptions) {
  auto o = Options();
  o.client = nullptr;
  EXPECT_EQ(RegistryLocationPublisher::Create(o).status().code(), StatusCode::kInvalidArgument);
  o = Options();
  o.operator_key.reset();
  EXPECT_EQ(RegistryLocationPublisher::Create(o).status().code(), StatusCode::kInvalidArgument);
  o = Options();
  o.backoff_initial = 0ms;
  EXPECT_EQ(RegistryLocationPublisher::Create(o).status().code(), StatusCode::kInvalidArgument);
  o = Options();
  o.backoff_max = 1ms;
  o.backoff_initial = 2ms;
  EXPECT_EQ(RegistryLocationPublisher::Create(o).status().code(), StatusCode::kInvalidArgument);
}

TEST_F(RegistryPublisherTest, StateJson_hasTheDocumentedFields) {
  auto p = Make();
  ASSERT_TRUE(p->Publish("http://leader", 12, Soon()).ok());
  json j = json::parse(p->StateJson());
  EXPECT_EQ(j["registry"], FakeChain::Registry().ToChecksum());
  EXPECT_EQ(j["service"], service_.ToHex());
  EXPECT_EQ(j["operator"], key_.address().ToChecksum());
  EXPECT_EQ(j["published"]["url"], "http://leader");
  EXPECT_EQ(j["published"]["epoch"], 12);
  EXPECT_TRUE(j["published"]["tx"].is_string());
  EXPECT_TRUE(j["pending"].is_null());
  EXPECT_EQ(j["last_error"], "");
  EXPECT_EQ(j["counters"]["transactions"], 1);
}

}  // namespace
}  // namespace br2k::replication
