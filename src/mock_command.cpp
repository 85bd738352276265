#include "cardsync/mock_command.hpp"

#include "cardsync/cli.hpp"
#include "cardsync/number_budget.hpp"

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <charconv>
#include <csignal>
#include <cstdio>
#include <ctime>
#include <pthread.h>
#include <stdexcept>

namespace cardsync {

double parse_duration_s(std::string_view text) {
    double value = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    const std::string_view unit(end, static_cast<std::size_t>(text.data() + text.size() - end));
    double scale = 0;
    if (unit.empty() || unit == "s") scale = 1;
    else if (unit == "ms") scale = 1e-3;
    else if (unit == "m") scale = 60;
    else if (unit == "h") scale = 3600;
    if (ec != std::errc() || end == text.data() || scale == 0 || !(value >= 0))
        throw std::invalid_argument(fmt::format("\"{}\" is not a duration (like 90, 1.5s, 500ms, 10m, 1h)", text));
    return value * scale;
}

void add_mock_options(CLI::App& cmd, MockOptions& o, const std::string& prefix) {
    const std::string group = prefix.empty() ? "Options" : "Simulator (--" + prefix + "*)";
    auto name = [&](const char* n) { return "--" + prefix + n; };
    auto duration = [](double& target) {
        return [&target](const std::string& text) {
            try {
                target = parse_duration_s(text);
            } catch (const std::invalid_argument& e) {
                throw CLI::ValidationError(e.what());
            }
        };
    };
    const auto probability = CLI::Range(0.0, 1.0);

    cmd.add_option(name("listen"), o.listen, "Address to listen on, HOST:PORT (port 0: any free port)")
        ->capture_default_str()->group(group);
    cmd.add_option(name("api-key"), o.api_key, "The bearer token the simulator accepts (empty: no check)")
        ->capture_default_str()->group(group);
    cmd.add_option(name("base-path"), o.base_path, "Path prefix of the API")->capture_default_str()->group(group);
    cmd.add_option(name("seed-cards"), o.seed_cards_csv,
                   "CSV of existing cards: phone_number,first_name,last_name,image_url[,is_active]")
        ->check(CLI::ExistingFile)->group(group);
    cmd.add_flag(name("every-number-has-card"), o.every_number_has_card,
                 "A PATCH on a number without a card creates it instead of answering 404")->group(group);
    cmd.add_option(name("outside-prefix"), o.outside_prefixes,
                   "Numbers starting with this are outside the account: 403 (repeatable, e.g. +1800)")
        ->take_all()->group(group);
    cmd.add_option_function<std::string>(
           name("budget"),
           [&o](const std::string& text) {
               const auto spec = parse_budget(text);
               if (!spec) throw CLI::ValidationError(fmt::format("\"{}\" is not a budget CALLS/WINDOW (like 3/10m, or off)", text));
               o.budget_calls = spec->calls;
               o.budget_window_s = to_seconds(spec->window);
           },
           "Per-number write budget CALLS/WINDOW shared by POST and PATCH, then 429 (default 3/10m; off)")
        ->group(group);
    cmd.add_option(name("budget-calls"), o.budget_calls, "Calls per number per budget window (0: no budget)")
        ->check(CLI::NonNegativeNumber)->group(group);
    cmd.add_option_function<std::string>(name("budget-window"), duration(o.budget_window_s),
                                         "Budget window (seconds, or 10m, 90s, ...; default 10m)")
        ->group(group);
    cmd.add_option(name("seed"), o.seed, "Seed of the fault generator (same seed, same faults)")
        ->capture_default_str()->group(group);
    cmd.add_option(name("fail-500"), o.fail_500, "Probability of a 500 (half code 3006, half 2022)")
        ->check(probability)->group(group);
    cmd.add_option(name("fail-503"), o.fail_503, "Probability of a 503/4004")->check(probability)->group(group);
    cmd.add_option_function<double>(
           name("fail-503-retry-after"), [&o](double s) { o.fail_503_retry_after_s = s; },
           "Retry-After (seconds) sent with injected 503s")
        ->check(CLI::NonNegativeNumber)->group(group);
    cmd.add_option(name("fail-429"), o.fail_429, "Probability of a spurious 429/1007 (Retry-After 1)")
        ->check(probability)->group(group);
    cmd.add_option(name("drop"), o.drop, "Probability of closing the connection instead of answering")
        ->check(probability)->group(group);
    cmd.add_option(name("truncate"), o.truncate, "Probability of sending half the answer's body, then closing")
        ->check(probability)->group(group);
    cmd.add_option(name("close-every"), o.close_every, "Answer with Connection: close every K answers per connection")
        ->check(CLI::NonNegativeNumber)->group(group);
    cmd.add_option(name("latency"), o.latency_ms, "Latency of every answer, ms")
        ->check(CLI::NonNegativeNumber)->group(group);
    cmd.add_option(name("latency-max"), o.latency_max_ms, "Above --latency: latency uniform in [latency, latency-max] ms")
        ->check(CLI::NonNegativeNumber)->group(group);
    cmd.add_option(name("latency-tail"), o.latency_tail_ms, "Add an exponential tail with this mean, ms")
        ->check(CLI::NonNegativeNumber)->group(group);
    cmd.add_option(name("account-rate"), o.account_rate, "Account-wide requests/s (token bucket), then 429/1007")
        ->check(CLI::NonNegativeNumber)->group(group);
    cmd.add_option(name("account-burst"), o.account_burst, "Token bucket size (default: max(1, rate))")
        ->check(CLI::NonNegativeNumber)->group(group);
    cmd.add_option(name("max-connections"), o.max_connections, "Close connections beyond this many at once")
        ->check(CLI::NonNegativeNumber)->group(group);
    cmd.add_option(name("idle-timeout"), o.idle_timeout_s,
                   "Close a connection after this many seconds with nothing read or written, or a TLS handshake "
                   "stalled that long (0 = never)")
        ->capture_default_str()->check(CLI::NonNegativeNumber)->group(group);
    cmd.add_flag(name("tls"), o.tls, "Serve HTTPS (a self-signed certificate for 127.0.0.1/localhost unless --cert)")
        ->group(group);
    cmd.add_option(name("cert"), o.cert_file, "TLS certificate chain, PEM")->check(CLI::ExistingFile)->group(group);
    cmd.add_option(name("key"), o.key_file, "TLS private key, PEM (default: in the --cert file)")
        ->check(CLI::ExistingFile)->group(group);
    cmd.add_option(name("write-cert"), o.write_cert_to, "Write the certificate in use here (for clients' --cacert)")
        ->group(group);
    cmd.add_option(name("stats-out"), o.stats_out, "At exit, write the statistics JSON here")->group(group);
    cmd.add_option(name("state-out"), o.state_out, "At exit, write every card as NDJSON here")->group(group);
}

std::string mock_summary(const MockServer& server) {
    const MockStats s = server.stats();
    const std::string cards = server.cards_ndjson();
    std::string statuses;
    for (const auto& [code, count] : s.by_status) statuses += fmt::format("{}{} x{}", statuses.empty() ? "" : ", ", code, count);
    return fmt::format("{} requests ({}); writes applied: {}; connections: {} ({} refused); cards: {}", s.requests,
                       statuses.empty() ? "none" : statuses, s.writes_applied, s.connections_total,
                       s.connections_refused, std::count(cards.begin(), cards.end(), '\n'));
}

int run_mock_command(const MockOptions& options, double stats_interval_s) {
    sigset_t signals, previous;
    sigemptyset(&signals);
    sigaddset(&signals, SIGINT);
    sigaddset(&signals, SIGTERM);
    sigaddset(&signals, SIGUSR1);
    pthread_sigmask(SIG_BLOCK, &signals, &previous);  // before the server thread starts: it inherits the mask
    int status = exit_ok;
    try {
        MockServer server(options);
        std::fputs((server.base_url() + "\n").c_str(), stdout);
        std::fflush(stdout);
        fmt::print(stderr, "cardsync mock: serving the API at {} (SIGINT or SIGTERM stops it, SIGUSR1 prints its counters)\n",
                   server.api_url());
        // Counters on demand (SIGUSR1) and every stats_interval_s: requests/s over the time since the last line.
        using clock = std::chrono::steady_clock;
        auto last_time = clock::now();
        std::uint64_t last_requests = 0;
        const auto print_stats = [&](const char* why) {
            const MockStats s = server.stats();
            const auto now = clock::now();
            const double span = std::chrono::duration<double>(now - last_time).count();
            const double rate = span > 0 ? static_cast<double>(s.requests - last_requests) / span : 0;
            last_time = now;
            last_requests = s.requests;
            fmt::print(stderr, "cardsync mock: stats ({}) {}\n", why, s.log_line(rate));
        };
        auto next_tick = clock::now() + std::chrono::duration_cast<clock::duration>(std::chrono::duration<double>(stats_interval_s));
        while (true) {
            int received = 0;
            if (stats_interval_s > 0) {
                const auto left = std::max(clock::duration::zero(), next_tick - clock::now());
                const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(left).count();
                const timespec wait{static_cast<time_t>(ns / 1'000'000'000), static_cast<long>(ns % 1'000'000'000)};
                received = sigtimedwait(&signals, nullptr, &wait);
                if (received < 0) {
                    if (errno == EAGAIN) {
                        print_stats("interval");
                        next_tick += std::chrono::duration_cast<clock::duration>(std::chrono::duration<double>(stats_interval_s));
                    }
                    continue;
                }
            } else if (sigwait(&signals, &received) != 0) {
                continue;
            }
            if (received == SIGUSR1) {
                print_stats("SIGUSR1");
                continue;
            }
            break;
        }
        server.stop();
        fmt::print(stderr, "cardsync mock: stopped after {}\n", mock_summary(server));
        print_stats("at exit");
    } catch (const std::exception& e) {
        fmt::print(stderr, "cardsync mock: error: {}\n", e.what());
        status = exit_usage;
    }
    // A second signal that came while stopping must not kill us once unblocked.
    const timespec no_wait{0, 0};
    while (sigtimedwait(&signals, nullptr, &no_wait) > 0) {}
    pthread_sigmask(SIG_SETMASK, &previous, nullptr);
    return status;
}

}  // namespace cardsync
