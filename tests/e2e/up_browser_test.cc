// The Service Registry Dashboard in a real browser against a real `br2k up --detach` (anvil, the
// registry, the log server's and the dashboard's pods, the manager): playwright-core driving
// Debian's chromium, headless, with the dashboard's own browser script
// (tests/integration/dashboard/dashboard_browser.mjs). The services page lists the log server
// and the dashboard, both with their live leaders; a claim sent from the form against the log
// server (the dashboard's key) shows its receipt and appears in the log server's claims with the
// manager's signed report (it finds the service healthy); a service registered with the form is on
// chain; no console errors. Then the dashboard's leader is killed and the same runs on a surviving
// replica after the fail-over. Screenshots are kept in the test's scratch directory
// (BR2K_KEEP_TEST_DIRS=1).
#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <nlohmann/json.hpp>
#include <thread>

#include "br2k/common/run_state.h"
#include "br2k/eth/service_registry.h"
#include "br2k/proc/process.h"
#include "command.h"
#include "test_env.h"

namespace br2k {
namespace {

using namespace std::chrono_literals;

nlohmann::json Status(const std::filesystem::path& run_dir) {
  auto doc = nlohmann::json::parse(testing::RunBr2k(run_dir.string(), "status --json").out, nullptr,
                                   false);
  return doc.is_object() ? doc : nlohmann::json::object();
}

TEST(UpBrowser, ServicesPageListsBothWithLiveLeaders_beforeAndAfterTheDashboardLeaderDies) {
  if (!std::filesystem::exists("/usr/bin/chromium") ||
      !std::filesystem::exists(testing::SourceDir() / "node_modules/playwright-core")) {
    // CI installs both (scripts/setup.sh): there a missing browser is a failure, not a skip.
    if (std::getenv("CI") != nullptr)
      FAIL() << "CI=true but chromium or playwright-core is missing";
    GTEST_SKIP() << "needs Debian's chromium and npm's playwright-core (scripts/setup.sh)";
  }
  testing::ScratchDir dir("up-browser");
  const auto run_dir = dir.path() / "run";
  const auto shots = dir.path() / "screenshots";
  std::filesystem::create_directories(shots);
  auto up = testing::RunBr2k(run_dir.string(), "up --detach --heartbeat-ms 50 --election-ms 500");
  // Whatever fails below, nothing is left running.
  struct Down {
    std::filesystem::path run_dir;
    ~Down() { (void)testing::RunBr2k(run_dir.string(), "down"); }
  } down{run_dir};
  ASSERT_EQ(up.status, 0) << up.out;
  auto doc = Status(run_dir);
  ASSERT_TRUE(doc["dashboard"].is_object() && doc["dashboard"]["url"].is_string()) << doc.dump();
  ASSERT_TRUE(doc["service"]["location"].is_string()) << doc.dump();
  const std::string logserver_url = doc["service"]["location"];
  const std::string logserver_id = eth::ServiceIdFromName("logserver").ToHex();
  const std::string dashboard_id = eth::ServiceIdFromName("dashboard").ToHex();

  auto run_browser = [&](const std::string& url, const std::string& stage,
                         const std::string& new_service, const std::string& expect_report) {
    const auto script = testing::SourceDir() / "tests/integration/dashboard/dashboard_browser.mjs";
    std::string env = "DASHBOARD_URL=" + testing::ShellQuote(url) + " SERVICE_ID=" + logserver_id +
                      " DASHBOARD_SERVICE_ID=" + dashboard_id +
                      " SERVICE_LOCATION=" + testing::ShellQuote(logserver_url) +
                      " REASON=" + testing::ShellQuote("browser claim " + stage) +
                      " SHOTS=" + testing::ShellQuote(shots.string()) + " STAGE=" + stage +
                      " LIVE_LEADERS=2 NEW_SERVICE=" + testing::ShellQuote(new_service) +
                      " EXPECT_REPORT=" + testing::ShellQuote(expect_report);
    auto r = testing::RunShell(env + " timeout 240 node " + testing::ShellQuote(script.string()));
    std::cout << r.out;
    return r.status == 0;
  };

  const std::string registered = testing::UniqueName("up-browser-svc");
  // The manager finds the log server healthy and says so, signed, on the claim's row.
  ASSERT_TRUE(run_browser(doc["dashboard"]["url"], "before", registered, "ignored-healthy"));
  auto shown = testing::RunBr2k(run_dir.string(), "registry show " + registered + " --json");
  EXPECT_EQ(shown.status, 0) << shown.out;
  EXPECT_NE(shown.out.find("http://127.0.0.1:9/" + registered), std::string::npos) << shown.out;

  // The dashboard's leader dies; a surviving replica takes over and publishes itself.
  auto state = RunState::Load(run_dir / "state.json");
  ASSERT_TRUE(state.ok() && state->dashboard.has_value());
  const std::string old_leader = doc["dashboard"]["leader"];
  for (const auto& r : state->dashboard->replicas) {
    if (r.id == old_leader) {
      ASSERT_TRUE(proc::PosixLauncher()->Signal(r.pid, SIGKILL).ok());
    }
  }
  std::string new_url;
  for (Deadline d = Deadline::After(60s); !d.expired() && new_url.empty();) {
    auto now = Status(run_dir);
    const auto& dash = now["dashboard"];
    if (dash.is_object() && dash["leader"].is_string() && dash["leader"] != old_leader &&
        dash["url"].is_string() && dash["location"] == dash["url"]) {
      new_url = dash["url"];
    } else {
      std::this_thread::sleep_for(200ms);
    }
  }
  ASSERT_FALSE(new_url.empty()) << Status(run_dir).dump();
  // The second claim from the same key within the manager's window may be rate-limited.
  ASSERT_TRUE(run_browser(new_url, "after", "", "ignored-healthy|rate-limited|coalesced"));
  for (const char* f : {"before-services.png", "before-service.png", "before-dashboard-service.png",
                        "after-services.png", "after-services-phone.png"}) {
    EXPECT_TRUE(std::filesystem::exists(shots / f)) << f;
  }
  std::cout << "[up-browser] screenshots in " << shots << "\n";
}

}  // namespace
}  // namespace br2k
