// `br2k eth ...` and `br2k registry ...` as a user runs them: outputs in cast's format, errors
// as "br2k: <message>" with exit status 1.
#include <gtest/gtest.h>

#include <fstream>

#include "anvil.h"
#include "command.h"
#include "vectors_path.h"

namespace br2k::eth {
namespace {

using CliRun = br2k::testing::CommandResult;

CliRun Br2k(const std::vector<std::string>& args, const std::string& env = "") {
  std::vector<std::string> argv = {kHarness};
  argv.insert(argv.end(), args.begin(), args.end());
  return br2k::testing::RunCommand(argv, env);
}

TEST(EthCli, OfflineVerbsMatchCastOutput) {
  EXPECT_EQ(Br2k({"eth", "sig", "transfer(address,uint256)"}).out, "0xa9059cbb\n");
  EXPECT_EQ(Br2k({"eth", "keccak", "hello"}).out,
            "0x1c8aff950685c2ed4bc3174f3472287b56d9517b9c948127319a09a7a36deac8\n");
  EXPECT_EQ(Br2k({"eth", "keccak", "0x"}).out,
            "0xc5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470\n");
  EXPECT_EQ(
      Br2k({"eth", "calldata", "baz(uint32,bool)", "69", "true"}).out,
      "0xcdcd77c0000000000000000000000000000000000000000000000000000000000000004500000000000000"
      "00000000000000000000000000000000000000000000000001\n");
  EXPECT_EQ(Br2k({"eth", "to-checksum", "0xfb6916095ca1df60bb79ce92ce3ea74c37c5d359"}).out,
            "0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359\n");
  EXPECT_EQ(Br2k({"eth", "address-of", testing::kAnvilKey0}).out,
            "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266\n");
  CliRun enc =
      Br2k({"eth", "abi-encode", "f(uint256,string,int8,address[],(bool,bytes2))", "1234567890",
            "he\"llo", "-5", "[0xfb6916095ca1df60bb79ce92ce3ea74c37c5d359]", "(true,0x0102)"});
  ASSERT_EQ(enc.status, 0) << enc.err;
  CliRun dec = Br2k({"eth", "abi-decode", "f()(uint256,string,int8,address[],(bool,bytes2))",
                     enc.out.substr(0, enc.out.size() - 1)});
  ASSERT_EQ(dec.status, 0) << dec.err;
  EXPECT_EQ(
      dec.out,
      "1234567890 [1.234e9]\n\"he\\\"llo\"\n-5\n[0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359]\n"
      "(true, 0x0102)\n");
}

TEST(EthCli, SignTxOfflineReproducesEip155Example) {
  CliRun r = Br2k({"eth", "sign-tx", "0x3535353535353535353535353535353535353535", "--value",
                   "1000000000000000000", "--nonce", "9", "--gas-limit", "21000", "--chain", "1",
                   "--gas-price", "20000000000", "--legacy", "--private-key",
                   "0x4646464646464646464646464646464646464646464646464646464646464646"});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(
      r.out,
      "0xf86c098504a817c800825208943535353535353535353535353535353535353535880de0b6b3a76400008025a0"
      "28ef61340bd939bc2195fe537567866003e1a15d3c71ff63e1590620aa636276a067cbe9d8997f761aecb70330"
      "4b3800ccf555c9f3dc64214b297fb1966a3b6d83\n");
}

TEST(EthCli, ErrorsAreOneLineOnStderrWithExit1) {
  CliRun r = Br2k({"eth", "sig", "bad("});
  EXPECT_EQ(r.status, 1);
  EXPECT_EQ(r.out, "");
  EXPECT_EQ(r.err, "br2k: invalid signature 'bad(': missing ')'\n");
  r = Br2k({"eth", "call", "0x0000000000000000000000000000000000000001", "f()", "-r",
            "http://127.0.0.1:1"});
  EXPECT_EQ(r.status, 1);
  EXPECT_EQ(r.err.rfind("br2k: http://127.0.0.1:1: node unreachable", 0), 0u) << r.err;
}

TEST(EthCli, RegistryVerbsOnAnvil) {
  auto anvil = testing::Anvil::Start("eth-cli-anvil");
  ASSERT_TRUE(anvil.ok()) << anvil.status();
  std::string env =
      "ETH_RPC_URL=" + (*anvil)->url() + " BR2K_ETH_KEY=" + std::string(testing::kAnvilKey0);
  CliRun deploy = Br2k({"registry", "deploy"}, env);
  ASSERT_EQ(deploy.status, 0) << deploy.err;
  std::string reg = deploy.out.substr(0, deploy.out.size() - 1);
  ASSERT_EQ(reg.size(), 42u);
  env += " BR2K_REGISTRY=" + reg;
  CliRun r = Br2k({"registry", "register", "logserver", "127.0.0.1:7000", "--replicas", "3",
                   "--image", "app:1"},
                  env);
  ASSERT_EQ(r.status, 0) << r.err;
  ASSERT_EQ(
      Br2k({"registry", "update-location", "logserver", "127.0.0.1:7001", "--epoch", "5"}, env)
          .status,
      0);
  r = Br2k({"registry", "update-location", "logserver", "127.0.0.1:7009", "--epoch", "4"}, env);
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.err.find("StaleEpoch("), std::string::npos) << r.err;
  EXPECT_EQ(Br2k({"registry", "locate", "logserver"}, env).out, "127.0.0.1:7001\n");
  r = Br2k({"registry", "show", "logserver", "--json"}, env);
  ASSERT_EQ(r.status, 0) << r.err;
  auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["epoch"], 5);
  EXPECT_EQ(j["replicas"], 3);
  EXPECT_EQ(j["state"], "Active");
  ASSERT_EQ(
      Br2k({"registry", "claim", "logserver", "127.0.0.1:7001", "--reason", "down"}, env).status,
      0);
  // Without a failed location the claim names the one the registry holds.
  ASSERT_EQ(Br2k({"registry", "claim", "logserver", "--reason", "again"}, env).status, 0);
  r = Br2k({"registry", "watch", "logserver", "--from-block", "1", "--for", "1", "--json"}, env);
  ASSERT_EQ(r.status, 0) << r.err;
  std::istringstream lines(r.out);
  std::string line;
  std::vector<nlohmann::json> events;
  while (std::getline(lines, line)) events.push_back(nlohmann::json::parse(line));
  // NewLocation (register), NewLocation (epoch 5), Claim, Claim
  ASSERT_EQ(events.size(), 4u);
  EXPECT_EQ(events[1]["epoch"], 5);
  EXPECT_EQ(events[2]["event"], "Claim");
  EXPECT_EQ(events[2]["reason"], "down");
  EXPECT_EQ(events[3]["event"], "Claim");
  EXPECT_EQ(events[3]["reason"], "again");
  EXPECT_EQ(events[3]["failed_location"], "127.0.0.1:7001") << events[3].dump();
  // eth call decodes with cast's formatting.
  r = Br2k({"eth", "call", reg, "getServiceLocation(bytes32)(string,uint64,uint8)",
            j["id"].get<std::string>()},
           env);
  EXPECT_EQ(r.out, "\"127.0.0.1:7001\"\n5\n1\n");
  EXPECT_EQ(Br2k({"registry", "locate", "nobody"}, env).status, 1);
}

// Issue 10 item 4: `br2k registry repair-location` lowers a pinned epoch (managers only) and the
// event says so; an out-of-range --epoch is refused, not saturated.
TEST(EthCli, RegistryRepairLocationVerbOnAnvil) {
  auto anvil = testing::Anvil::Start("eth-cli-repair");
  ASSERT_TRUE(anvil.ok()) << anvil.status();
  std::string env =
      "ETH_RPC_URL=" + (*anvil)->url() + " BR2K_ETH_KEY=" + std::string(testing::kAnvilKey0);
  CliRun deploy = Br2k({"registry", "deploy"}, env);
  ASSERT_EQ(deploy.status, 0) << deploy.err;
  env += " BR2K_REGISTRY=" + deploy.out.substr(0, deploy.out.size() - 1);
  ASSERT_EQ(Br2k({"registry", "register", "svc", "127.0.0.1:7000"}, env).status, 0);
  const std::string pinned = std::to_string(uint64_t{1} << 48);
  ASSERT_EQ(
      Br2k({"registry", "update-location", "svc", "127.0.0.1:7066", "--epoch", pinned}, env).status,
      0);
  for (const char* bad : {"-1", "18446744073709551616", "99999999999999999999999", "1e3", ""}) {
    CliRun r = Br2k({"registry", "repair-location", "svc", "127.0.0.1:7001", "--epoch", bad}, env);
    EXPECT_EQ(r.status, 1) << bad;
    EXPECT_NE(r.err.find("--epoch"), std::string::npos) << r.err;
  }
  std::string other = env;
  other.replace(other.find(testing::kAnvilKey0), std::string(testing::kAnvilKey0).size(),
                testing::kAnvilKey1);
  CliRun denied =
      Br2k({"registry", "repair-location", "svc", "127.0.0.1:7001", "--epoch", "0"}, other);
  EXPECT_EQ(denied.status, 1);
  EXPECT_NE(denied.err.find("NotManager("), std::string::npos) << denied.err;
  CliRun ok = Br2k({"registry", "repair-location", "svc", "127.0.0.1:7001", "--epoch", "0"}, env);
  ASSERT_EQ(ok.status, 0) << ok.err;
  CliRun show = Br2k({"registry", "show", "svc", "--json"}, env);
  ASSERT_EQ(show.status, 0) << show.err;
  auto j = nlohmann::json::parse(show.out);
  EXPECT_EQ(j["epoch"], 0);
  EXPECT_EQ(j["location"], "127.0.0.1:7001");
  CliRun w =
      Br2k({"registry", "watch", "svc", "--from-block", "1", "--for", "1", "--all", "--json"}, env);
  ASSERT_EQ(w.status, 0) << w.err;
  EXPECT_NE(w.out.find("\"LocationRepaired\""), std::string::npos) << w.out;
  EXPECT_NE(w.out.find("\"previous_epoch\":" + pinned), std::string::npos) << w.out;
}

// Issue 10 item 5: --epoch of 2^64, -1 or 99999999999999999999999 was saturated to 2^64-1 (one
// typo pinned the registry). Refused before anything is sent (no node is reachable here).
TEST(EthCli, EpochOutOfRange_refusedNotSaturated) {
  std::string env =
      "ETH_RPC_URL=http://127.0.0.1:1 BR2K_ETH_KEY=" + std::string(testing::kAnvilKey0) +
      " BR2K_REGISTRY=0x5FbDB2315678afecb367f032d93F642f64180aa3";
  for (const char* epoch :
       {"--epoch=18446744073709551616", "--epoch=-1", "--epoch=99999999999999999999999"}) {
    CliRun r = Br2k({"registry", "update-location", "logserver", "127.0.0.1:7001", epoch}, env);
    EXPECT_EQ(r.status, 1) << epoch;
    EXPECT_EQ(
        r.err.rfind("br2k: --epoch must be a decimal integer from 0 to 18446744073709551615", 0),
        0u)
        << epoch << ": " << r.err;
  }
}

// Issue 10 item 12: `eth send` exited 0 when the mined transaction reverted, and `eth call`
// printed the registry's custom errors as raw selectors.
TEST(EthCli, RevertedTransactionAndCustomErrors_onAnvil) {
  auto anvil = testing::Anvil::Start("eth-cli-revert-anvil");
  ASSERT_TRUE(anvil.ok()) << anvil.status();
  std::string env =
      "ETH_RPC_URL=" + (*anvil)->url() + " BR2K_ETH_KEY=" + std::string(testing::kAnvilKey0);
  CliRun deploy = Br2k({"registry", "deploy"}, env);
  ASSERT_EQ(deploy.status, 0) << deploy.err;
  std::string reg = deploy.out.substr(0, deploy.out.size() - 1);
  const std::string unknown = "0x" + std::string(64, 'a');
  // eth call: the custom error by name, with its argument.
  CliRun call =
      Br2k({"eth", "call", reg, "updateLocation(bytes32,string,uint64)", unknown, "x", "1"}, env);
  EXPECT_EQ(call.status, 1);
  EXPECT_EQ(call.err.rfind("br2k: UnknownService(" + unknown + ")", 0), 0u) << call.err;
  // eth send with a gas limit (no estimate): mined, reverted -> exit 1 and says so.
  CliRun send = Br2k({"eth", "send", reg, "updateLocation(bytes32,string,uint64)", unknown, "x",
                      "1", "--gas-limit", "200000"},
                     env);
  EXPECT_EQ(send.status, 1) << send.out;
  EXPECT_NE(send.out.find("0 (failed)"), std::string::npos) << send.out;
  EXPECT_NE(send.err.find("reverted (receipt status 0): UnknownService(" + unknown + ")"),
            std::string::npos)
      << send.err;
  // Without a gas limit the estimate refuses it before sending, also by name.
  send =
      Br2k({"eth", "send", reg, "updateLocation(bytes32,string,uint64)", unknown, "x", "1"}, env);
  EXPECT_EQ(send.status, 1);
  EXPECT_NE(send.err.find("UnknownService("), std::string::npos) << send.err;
  // A successful send still exits 0.
  CliRun ok =
      Br2k({"eth", "send", "0x000000000000000000000000000000000000dEaD", "--value", "1"}, env);
  EXPECT_EQ(ok.status, 0) << ok.err;
}

}  // namespace
}  // namespace br2k::eth
