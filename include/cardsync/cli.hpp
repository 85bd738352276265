#pragma once
// The command-line front end: `cardsync apply`, `cardsync mock`, with CLI11.

namespace cardsync {

/// Exit statuses (documented in README).
enum ExitStatus : int {
    exit_ok = 0,           ///< every row fine (updated, skipped or planned)
    exit_rows_failed = 1,  ///< some rows invalid, rejected or failed
    exit_usage = 2,        ///< usage or configuration error (bad option, unreadable input, missing column)
    exit_aborted = 3,      ///< the run stopped itself (401, a flood of the same permanent error)
    exit_interrupted = 130 ///< SIGINT/SIGTERM
};

/// Parses the arguments and runs the command; returns the process exit status.
int run_cli(int argc, char** argv);

}  // namespace cardsync
