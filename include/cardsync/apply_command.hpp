#pragma once
// `cardsync apply`: its options and the driver that runs a job (or a dry run) from them.

#include "cardsync/engine.hpp"
#include "cardsync/mock_server.hpp"

#include <memory>
#include <string>
#include <vector>

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
    std::string shard;            ///< "I/N": record only the rows of shard I of N (shard.hpp); empty = all
    std::uint32_t shard_count = 0;  ///< N, the index from JOB_COMPLETION_INDEX / SLURM_ARRAY_TASK_ID; 0 = none

    // Sending (everything but --dry-run). The key comes from LINQ_API_V3_API_KEY or --api-key-file,
    // never from the command line (it would show in `ps` and in shell history).
    std::string base_url;         ///< empty: LINQ_API_V3_BASE_URL, else the production URL
    std::string api_key_file;     ///< file holding the key (trailing blanks and newline ignored)
    int connections = 16;         ///< keep-alive connections
    int pipeline = 1;             ///< requests in flight per connection
    int threads = 1;              ///< sending threads (engines)
    double rate = 20;             ///< requests/s across the pool (retries included); 0 = no limit
    double burst = 0;             ///< token bucket size; 0 = rate / 10
    int max_attempts = 3;         ///< attempts per row
    double timeout_s = 30;        ///< per attempt
    double connect_timeout_s = 10;
    std::string cacert;           ///< PEM CA file instead of the system store
    bool insecure = false;        ///< skip TLS verification (loud warning)
    bool allow_insecure_http = false;  ///< http:// to a non-loopback host
    std::string budget = "3/10m"; ///< per-number call budget to pace to ("off" to disable)
    bool resume = false;          ///< skip rows already recorded `updated` in --results, append the rest
    double grace_s = 5;           ///< after SIGINT/SIGTERM, time left to requests in flight
    bool verbose = false;         ///< one line per attempt, retries and connection events on stderr
    bool skip_unchanged = false;  ///< take a snapshot of the live cards; rows changing nothing are skipped
    bool create_missing = false;  ///< take a snapshot; numbers without a card are created with POST

    // Reporting (run_summary.hpp, progress.hpp).
    double progress_interval_s = 0;  ///< progress every this many seconds; 0 = 0.5 on a terminal, 10 otherwise
    std::string summary_json;     ///< write the JSON summary here at the end (empty: none)
    std::string metrics_file;     ///< write Prometheus text here at the end, atomically (empty: none)
    std::vector<std::string> command_line;  ///< argv as typed, for the resume command in the summary

    // --mock: run against the built-in simulator, started in-process on an ephemeral loopback port
    // with a generated token (no key, no --base-url). Without --mock-seed-cards every valid number
    // has a card, so any input file shows real outcomes.
    bool mock = false;
    MockOptions mock_options;     ///< the simulator's options, as --mock-<name>
};

/// Registers the `apply` subcommand and its options on `app`, bound to `args`.
CLI::App* add_apply_command(CLI::App& app, ApplyArgs& args);

/// The engine's options from `args` (shared by `cardsync plan`). Throws std::invalid_argument with
/// a message for the user (bad URL, no key, bad --budget). With --mock, base_url and api_key are
/// left for start_mock.
ApplyOptions send_options(const ApplyArgs& args);

/// Starts the --mock simulator on 127.0.0.1 and points `options` at it (URL, generated token, and
/// its certificate at `cert_path` for TLS). Without --mock-seed-cards every number has a card,
/// unless `snapshot`: then the store starts empty, so GET-all and the writes agree.
std::unique_ptr<MockServer> start_mock(const ApplyArgs& args, ApplyOptions& options, const std::string& cert_path,
                                       bool snapshot);

/// Runs the job described by `args`; returns the process exit status (see ExitStatus in cli.hpp).
/// Problems with the input as a whole are printed on stderr with their line and give exit_usage.
int run_apply_command(const ApplyArgs& args);

}  // namespace cardsync
