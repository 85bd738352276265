#pragma once
// `cardsync mock`: the simulator's command-line options (shared with `cardsync apply --mock-*`)
// and the command that runs it until SIGINT/SIGTERM.

#include "cardsync/mock_server.hpp"

#include <string>
#include <string_view>

namespace CLI {
class App;
}

namespace cardsync {

/// Registers every MockOptions field on `cmd` as an option named --<prefix><name>, bound to
/// `options` (prefix "" for `cardsync mock`, "mock-" for `cardsync apply`): --listen, --api-key,
/// --base-path, --seed-cards, --every-number-has-card, --outside-prefix (repeatable), --budget
/// (or --budget-calls / --budget-window), --seed, --fail-500, --fail-503, --fail-503-retry-after,
/// --fail-429, --drop, --truncate, --close-every, --latency, --latency-max, --latency-tail,
/// --account-rate, --account-burst, --max-connections, --tls, --cert, --key, --write-cert,
/// --stats-out, --state-out. Probabilities are checked to lie in [0, 1], counts and times >= 0.
void add_mock_options(CLI::App& cmd, MockOptions& options, const std::string& prefix);

/// Parses a duration in seconds: "90", "1.5", "500ms", "30s", "10m", "1h". Throws std::invalid_argument.
double parse_duration_s(std::string_view text);

/// One line of what the simulator saw: requests by status, writes applied, connections, cards held.
std::string mock_summary(const MockServer& server);

/// Runs the simulator: prints its base URL ("http://127.0.0.1:PORT") and a newline on stdout as soon
/// as it serves, blocks until SIGINT or SIGTERM, stops cleanly, prints a summary of its counters on
/// stderr, and returns exit_ok; exit_usage (with the reason on stderr) when it cannot start.
/// SIGUSR1 prints the counters (MockStats::log_line) on stderr, and so does every
/// `stats_interval_s` seconds when > 0 (--stats-interval); the same line is printed at exit.
/// Call it before starting other threads: it blocks SIGINT/SIGTERM/SIGUSR1 so that only it receives them.
int run_mock_command(const MockOptions& options, double stats_interval_s = 0);

}  // namespace cardsync
