// The `br2k eth` and `br2k registry` verbs alone, for the CLI tests (the real `br2k` registers
// the same functions next to the other areas' verbs).
#include <CLI/CLI.hpp>

#include "commands.h"

int main(int argc, char** argv) {
  CLI::App app{"br2k (eth and registry verbs)"};
  app.require_subcommand(1);
  br2k::cli::RegisterEthCommands(app);
  br2k::cli::RegisterRegistryCommands(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  return 0;
}
