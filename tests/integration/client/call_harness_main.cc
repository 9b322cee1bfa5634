// The `br2k call` verb alone, for the CLI test (the real `br2k` registers the same function next
// to the other areas' verbs).
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>

#include "commands.h"

int main(int argc, char** argv) {
  CLI::App app{"br2k (call verb)"};
  app.require_subcommand(1);
  spdlog::set_level(spdlog::level::warn);
  br2k::cli::RegisterCallCommands(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  return 0;
}
