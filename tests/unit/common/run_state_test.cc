#include "br2k/common/run_state.h"

#include <gtest/gtest.h>

#include <fstream>

#include "test_env.h"

namespace br2k {
namespace {

RunState Sample() {
  RunState s;
  s.run_dir = "/tmp/run";
  s.started_at_unix = 1700000000;
  s.heartbeat_ms = 100;
  s.election_ms = 1000;
  s.owner_pid = 42;
  s.etcd.push_back({"etcd-0", "http://127.0.0.1:1000", "http://127.0.0.1:1001", 77, "/d0", "/l0"});
  s.etcd.push_back({"etcd-1", "http://127.0.0.1:1002", "http://127.0.0.1:1003", 78, "/d1", "/l1"});
  return s;
}

TEST(RunState, SerializeParseRoundTrip) {
  RunState s = Sample();
  auto back = RunState::Parse(s.Serialize());
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->Serialize(), s.Serialize());
  ASSERT_EQ(back->etcd.size(), 2u);
  EXPECT_EQ(back->etcd[1].client_url, "http://127.0.0.1:1002");
  EXPECT_EQ(back->etcd[1].pid, 78);
}

TEST(RunState, ReplicasSectionRoundTripsAndIsOptional) {
  RunState s = Sample();
  s.service = "logserver";
  s.replicas.push_back({"node-0",
                        "http://127.0.0.1:2000",
                        90,
                        "etcd-0",
                        "/n0",
                        "/n0/log",
                        {"/bin/br2k-logserver", "--id=node-0"}});
  auto back = RunState::Parse(s.Serialize());
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->service, "logserver");
  ASSERT_EQ(back->replicas.size(), 1u);
  EXPECT_EQ(back->replicas[0].url, "http://127.0.0.1:2000");
  EXPECT_EQ(back->replicas[0].etcd_member, "etcd-0");
  EXPECT_EQ(back->replicas[0].argv.size(), 2u);
  // A document without the section (an etcd-only run) parses with no replicas.
  auto plain = RunState::Parse(Sample().Serialize());
  ASSERT_TRUE(plain.ok());
  EXPECT_TRUE(plain->replicas.empty());
  std::string bad = s.Serialize();
  bad.replace(bad.find("\"pid\": 90"), 9, "\"pid\": -4");
  EXPECT_FALSE(RunState::Parse(bad).ok());
}

TEST(RunState, ChainAndManagerSectionsRoundTripAndAreOptional) {
  RunState s = Sample();
  ChainState c;
  c.rpc_url = "http://127.0.0.1:8545";
  c.chain_id = 31337;
  c.anvil_pid = 99;
  c.anvil_log = "/run/anvil.log";
  c.registry = "0x5FbDB2315678afecb367f032d93F642f64180aa3";
  c.service_name = "logserver";
  c.owner_key_file = "/run/keys/owner";
  c.manager_key_file = "/run/keys/manager";
  c.tx_key_file = "/run/keys/tx";
  c.operator_key_files = {"/run/keys/op-0", "/run/keys/op-1"};
  s.chain = c;
  s.manager = ManagerState{.pid = 123, .log_file = "/run/manager.log"};
  auto back = RunState::Parse(s.Serialize());
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->Serialize(), s.Serialize());
  ASSERT_TRUE(back->chain.has_value());
  EXPECT_EQ(back->chain->chain_id, 31337u);
  EXPECT_EQ(back->chain->operator_key_files.size(), 2u);
  EXPECT_EQ(back->chain->registry, c.registry);
  ASSERT_TRUE(back->manager.has_value());
  EXPECT_EQ(back->manager->pid, 123);
  auto plain = RunState::Parse(Sample().Serialize());
  ASSERT_TRUE(plain.ok());
  EXPECT_FALSE(plain->chain.has_value());
  EXPECT_FALSE(plain->manager.has_value());
  std::string bad = s.Serialize();
  bad.replace(bad.find("\"chain_id\": 31337"), 17, "\"chain_id\": \"x\"");
  auto r = RunState::Parse(bad);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("chain.chain_id"), std::string::npos) << r.status();
}

TEST(RunState, ProcessIdentitiesRoundTripAndAreOptional) {
  RunState s = Sample();
  s.etcd[0].argv = {"etcd", "--name=etcd-0"};
  s.etcd[0].start_time = 123456789;
  s.replicas.push_back({.id = "node-0",
                        .url = "http://127.0.0.1:2000",
                        .pid = 90,
                        .argv = {"/bin/br2k-logserver", "--id=node-0"},
                        .start_time = 5});
  ChainState c;
  c.rpc_url = "http://127.0.0.1:8545";
  c.anvil_pid = 99;
  c.anvil_argv = {"/bin/anvil", "--port", "8545"};
  c.anvil_start_time = 7;
  s.chain = c;
  s.manager = ManagerState{
      .pid = 123, .log_file = "/m.log", .argv = {"/bin/br2k", "manager"}, .start_time = 8};
  auto back = RunState::Parse(s.Serialize());
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->Serialize(), s.Serialize());
  EXPECT_EQ(back->etcd[0].argv, s.etcd[0].argv);
  EXPECT_EQ(back->etcd[0].start_time, 123456789u);
  EXPECT_TRUE(back->etcd[1].argv.empty());
  EXPECT_EQ(back->etcd[1].start_time, 0u);  // absent: unknown (older state files)
  EXPECT_EQ(back->replicas[0].start_time, 5u);
  EXPECT_EQ(back->chain->anvil_argv, c.anvil_argv);
  EXPECT_EQ(back->chain->anvil_start_time, 7u);
  EXPECT_EQ(back->manager->argv, s.manager->argv);
  EXPECT_EQ(back->manager->start_time, 8u);
  // Unknown identities are not written, so documents of older versions stay as they were.
  EXPECT_EQ(Sample().Serialize().find("start_time"), std::string::npos);
  EXPECT_EQ(Sample().Serialize().find("argv"), std::string::npos);

  // Strict: mistyped or negative values are rejected, naming the field.
  auto expect_bad = [&](const std::string& from, const std::string& to, const std::string& field) {
    std::string doc = s.Serialize();
    auto at = doc.find(from);
    ASSERT_NE(at, std::string::npos) << from;
    doc.replace(at, from.size(), to);
    auto r = RunState::Parse(doc);
    ASSERT_FALSE(r.ok()) << to;
    EXPECT_NE(r.status().message().find(field), std::string::npos) << r.status();
  };
  expect_bad("\"start_time\": 123456789", "\"start_time\": -1", "etcd[0].start_time");
  expect_bad("\"start_time\": 123456789", "\"start_time\": \"1\"", "etcd[0].start_time");
  expect_bad("\"start_time\": 123456789", "\"start_time\": 1.5", "etcd[0].start_time");
  expect_bad("\"start_time\": 5", "\"start_time\": -5", "replicas[0].start_time");
  expect_bad("\"anvil_start_time\": 7", "\"anvil_start_time\": true", "chain.anvil_start_time");
  expect_bad("\"start_time\": 8", "\"start_time\": null", "manager.start_time");
  expect_bad("\"--name=etcd-0\"", "3", "etcd[0].argv");
  expect_bad("\"anvil_argv\": [", "\"anvil_argv\": \"x\", \"unused\": [", "chain.anvil_argv");
}

TEST(RunState, ContainersSectionRoundTripsAndIsChecked) {
  RunState s = Sample();
  ContainerState c;
  c.context = "podman";
  c.root = "/run/containers";
  c.name = "logserver";
  c.nodes = 3;
  c.app_port_base = 18080;
  c.etcd_client_port_base = 12379;
  c.etcd_peer_port_base = 12480;
  c.container_registry = "127.0.0.1:5000/br2k";
  c.images = {"127.0.0.1:5000/br2k/br2k-logserver@sha256:" + std::string(64, 'a')};
  c.registry_pid = 77;
  c.registry_port = 5000;
  c.registry_root = "/run/registry";
  s.containers = c;
  auto back = RunState::Parse(s.Serialize());
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->Serialize(), s.Serialize());
  ASSERT_TRUE(back->containers.has_value());
  EXPECT_EQ(back->containers->images, c.images);
  EXPECT_FALSE(RunState::Parse(Sample().Serialize())->containers.has_value());
  s.containers->nodes = 0;
  auto bad = RunState::Parse(s.Serialize());
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("containers.nodes"), std::string::npos) << bad.status();
  s.containers->nodes = 3;
  s.containers->app_port_base = 65535;
  EXPECT_FALSE(RunState::Parse(s.Serialize()).ok());
}

TEST(RunState, DashboardSectionRoundTripsIsOptionalAndIsChecked) {
  RunState s = Sample();
  ServiceState d;
  d.name = "dashboard";
  d.tx_key_file = "/run/keys/dashboard-tx.key";
  d.operator_key_files = {"/run/keys/dashboard-operator-0.key",
                          "/run/keys/dashboard-operator-1.key"};
  d.deployment.kind = "process";
  d.deployment.context = "local";
  d.deployment.root = "/run";
  d.deployment.name = "dashboard";
  d.deployment.nodes = 2;
  d.deployment.app_port_base = 18090;
  d.deployment.etcd_client_port_base = 12390;
  d.deployment.etcd_peer_port_base = 12490;
  d.deployment.container_registry = "file://";
  d.deployment.images = {"file:///bin/br2k-dashboard@sha256:" + std::string(64, 'b')};
  d.replicas.push_back({.id = "node-0", .url = "http://127.0.0.1:18090", .pid = 91});
  d.etcd.push_back(
      {"dashboard-0", "http://127.0.0.1:12390", "http://127.0.0.1:12490", 92, "/d", "/l"});
  s.dashboard = d;
  auto back = RunState::Parse(s.Serialize());
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->Serialize(), s.Serialize());
  ASSERT_TRUE(back->dashboard.has_value());
  EXPECT_EQ(back->dashboard->name, "dashboard");
  EXPECT_EQ(back->dashboard->operator_key_files, d.operator_key_files);
  EXPECT_EQ(back->dashboard->deployment.app_port_base, 18090);
  ASSERT_EQ(back->dashboard->replicas.size(), 1u);
  EXPECT_EQ(back->dashboard->replicas[0].pid, 91);
  ASSERT_EQ(back->dashboard->etcd.size(), 1u);
  EXPECT_EQ(back->dashboard->etcd[0].name, "dashboard-0");
  // An older state file (no dashboard section) still loads.
  EXPECT_FALSE(RunState::Parse(Sample().Serialize())->dashboard.has_value());
  // The section is checked like the others, naming the field.
  s.dashboard->deployment.nodes = 0;
  auto bad = RunState::Parse(s.Serialize());
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("dashboard.deployment.nodes"), std::string::npos)
      << bad.status();
  s.dashboard->deployment.nodes = 2;
  s.dashboard->name = "";
  EXPECT_FALSE(RunState::Parse(s.Serialize()).ok());
  s.dashboard->name = "dashboard";
  s.dashboard->replicas[0].pid = -1;
  bad = RunState::Parse(s.Serialize());
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("dashboard.replicas[0].pid"), std::string::npos)
      << bad.status();
}

TEST(RunState, Parse_rejectsMalformedJsonWithClearError) {
  auto r = RunState::Parse("{\"version\": 1,");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(r.status().message().find("not valid JSON"), std::string::npos);
}

TEST(RunState, Parse_namesTheBadField) {
  std::string doc = Sample().Serialize();
  doc.replace(doc.find("\"pid\": 77"), 9, "\"pid\": \"x\"");
  auto r = RunState::Parse(doc);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("etcd[0].pid must be an integer"), std::string::npos)
      << r.status();
}

TEST(RunState, Parse_rejectsOtherVersions) {
  auto r = RunState::Parse(R"({"version": 9})");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("unsupported version 9"), std::string::npos);
}

TEST(RunState, Parse_rejectsOutOfRangeIntegers) {
  std::string doc = Sample().Serialize();
  doc.replace(doc.find("\"pid\": 77"), 9, "\"pid\": 99999999999");
  EXPECT_FALSE(RunState::Parse(doc).ok());
}

TEST(RunState, SaveThenLoad_andMissingFileIsNotFound) {
  testing::ScratchDir dir("runstate");
  auto file = dir.path() / "state.json";
  EXPECT_EQ(RunState::Load(file).status().code(), StatusCode::kNotFound);
  ASSERT_TRUE(Sample().Save(file).ok());
  auto loaded = RunState::Load(file);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_EQ(loaded->owner_pid, 42);
  // No temporary file is left behind.
  int files = 0;
  for (auto& e : std::filesystem::directory_iterator(dir.path())) (void)e, ++files;
  EXPECT_EQ(files, 1);
}

TEST(RunState, Load_corruptFileIsInvalidArgumentNamingTheFile) {
  testing::ScratchDir dir("runstate");
  auto file = dir.path() / "state.json";
  std::ofstream(file) << "garbage";
  auto r = RunState::Load(file);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(r.status().message().find(file.string()), std::string::npos);
}

}  // namespace
}  // namespace br2k
