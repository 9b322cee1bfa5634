// br2k: the command-line entry point. Each area adds its verbs in its own *_commands.cc.
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <cstdlib>

#include "commands.h"

int main(int argc, char** argv) {
  CLI::App app{
      "br2k: robust blockchain application services (replicated over etcd, located "
      "through an on-chain registry)"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "br2k 0.1.0");
  bool verbose = false;
  app.add_flag("-v,--verbose", verbose, "Log debug details to stderr");
  app.parse_complete_callback(
      [&] { spdlog::set_level(verbose ? spdlog::level::debug : spdlog::level::warn); });

  br2k::cli::RegisterClusterCommands(app);
  br2k::cli::RegisterEthCommands(app);
  br2k::cli::RegisterRegistryCommands(app);
  br2k::cli::RegisterManagerCommands(app);
  br2k::cli::RegisterCallCommands(app);
  br2k::cli::RegisterDeployCommands(app);
  br2k::cli::RegisterContextCommands(app);
  br2k::cli::RegisterChaosCommands(app);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  return EXIT_SUCCESS;
}
