// Each area of the `br2k` CLI registers its verbs on the root app from its own file.
// Conventions for every verb: errors go to stderr as "br2k: <message>" and the process exits 1
// (2 for usage errors, which CLI11 reports); machine-readable output only with --json.
#pragma once

#include <CLI/CLI.hpp>

namespace br2k::cli {

// up, status, down (cluster_commands.cc)
void RegisterClusterCommands(CLI::App& app);
// eth keccak | sig | calldata | abi-encode | abi-decode | ... (eth_commands.cc)
void RegisterEthCommands(CLI::App& app);
// registry deploy | register | update-location | show | locate | claim | watch
// (registry_commands.cc)
void RegisterRegistryCommands(CLI::App& app);
// manager: the manager daemon (manager_commands.cc)
void RegisterManagerCommands(CLI::App& app);
// call [METHOD] PATH: a request to the replicated service through the client library
// (call_commands.cc)
void RegisterCallCommands(CLI::App& app);
// chaos: a chaos run with the history checker and the report (chaos_commands.cc)
void RegisterChaosCommands(CLI::App& app);

// images build | push | list | registry start|stop, deploy, undeploy (deploy_commands.cc)
void RegisterDeployCommands(CLI::App& app);
// context add | import | use | list | show | remove (context_commands.cc)
void RegisterContextCommands(CLI::App& app);

}  // namespace br2k::cli
