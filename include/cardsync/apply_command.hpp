#pragma once
// `cardsync apply`: its options and the driver that runs a job (or a dry run) from them.

#include <string>

namespace CLI {
class App;
}

namespace cardsync {

/// What `cardsync apply` was asked to do (filled by CLI11; tests may fill it directly).
struct ApplyArgs {
    std::string input = "-";      ///< path, or "-" for stdin
    std::string format;           ///< "csv" | "ndjson"; empty: from the input's extension
    std::string results = "-";    ///< results path ("-": NDJSON on stdout)
    bool dry_run = false;         ///< read and validate only; record planned / invalid; send nothing
    bool quiet = false;           ///< no summary on stderr
};

/// Registers the `apply` subcommand and its options on `app`, bound to `args`.
CLI::App* add_apply_command(CLI::App& app, ApplyArgs& args);

/// Runs the job described by `args`; returns the process exit status (see ExitStatus in cli.hpp).
/// Problems with the input as a whole are printed on stderr with their line and give exit_usage.
int run_apply_command(const ApplyArgs& args);

}  // namespace cardsync
