// `cardsync mock`: option parsing (shared with apply --mock-*), and the command run as a user runs it.
#include "cardsync/mock_command.hpp"

#include "support/raw_http.hpp"
#include "support/temp_dir.hpp"

#include <CLI/CLI.hpp>
#include <gtest/gtest.h>

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

namespace cardsync {
namespace {

TEST(ParseDuration, AcceptsSecondsAndUnits) {
    struct Case {
        const char* text;
        double seconds;
    } cases[] = {{"90", 90}, {"1.5", 1.5}, {"500ms", 0.5}, {"30s", 30}, {"10m", 600}, {"1h", 3600}, {"0", 0}};
    for (const auto& c : cases) EXPECT_DOUBLE_EQ(parse_duration_s(c.text), c.seconds) << c.text;
    for (const char* bad : {"", "m", "10x", "-1", "1.5.5", "10 m"}) EXPECT_THROW(parse_duration_s(bad), std::invalid_argument) << bad;
}

// Parses `args` (after the program name) into MockOptions through add_mock_options.
MockOptions parse(std::vector<std::string> args, const std::string& prefix = "") {
    CLI::App app;
    MockOptions o;
    add_mock_options(app, o, prefix);
    std::reverse(args.begin(), args.end());  // CLI11 takes them reversed
    app.parse(args);
    return o;
}

TEST(MockOptionsCli, EveryFieldHasItsOption) {
    test::TempDir dir;
    test::write_file(dir.file("c.csv"), "phone_number\n");
    test::write_file(dir.file("cert.pem"), "x");
    const auto o = parse({"--listen", "127.0.0.1:9999", "--api-key", "k", "--base-path", "/b", "--seed-cards",
                          dir.file("c.csv"), "--every-number-has-card", "--outside-prefix", "+1800", "--outside-prefix",
                          "+1900", "--budget", "5/2m", "--seed", "77", "--fail-500", "0.1", "--fail-503", "0.2",
                          "--fail-503-retry-after", "4", "--fail-429", "0.05", "--drop", "0.01", "--truncate", "0.02",
                          "--close-every", "9", "--latency", "3", "--latency-max", "8", "--latency-tail", "2",
                          "--account-rate", "100", "--account-burst", "20", "--max-connections", "7", "--idle-timeout", "2.5", "--tls", "--cert",
                          dir.file("cert.pem"), "--key", dir.file("cert.pem"), "--write-cert", "w.pem", "--stats-out",
                          "s.json", "--state-out", "c.ndjson"});
    EXPECT_EQ(o.listen, "127.0.0.1:9999");
    EXPECT_EQ(o.api_key, "k");
    EXPECT_EQ(o.base_path, "/b");
    EXPECT_EQ(o.seed_cards_csv, dir.file("c.csv"));
    EXPECT_TRUE(o.every_number_has_card);
    EXPECT_EQ(o.outside_prefixes, (std::vector<std::string>{"+1800", "+1900"}));
    EXPECT_EQ(o.budget_calls, 5);
    EXPECT_DOUBLE_EQ(o.budget_window_s, 120);
    EXPECT_EQ(o.seed, 77u);
    EXPECT_DOUBLE_EQ(o.fail_500, 0.1);
    EXPECT_DOUBLE_EQ(o.fail_503, 0.2);
    EXPECT_EQ(o.fail_503_retry_after_s, 4.0);
    EXPECT_DOUBLE_EQ(o.fail_429, 0.05);
    EXPECT_DOUBLE_EQ(o.drop, 0.01);
    EXPECT_DOUBLE_EQ(o.truncate, 0.02);
    EXPECT_EQ(o.close_every, 9);
    EXPECT_DOUBLE_EQ(o.latency_ms, 3);
    EXPECT_DOUBLE_EQ(o.latency_max_ms, 8);
    EXPECT_DOUBLE_EQ(o.latency_tail_ms, 2);
    EXPECT_DOUBLE_EQ(o.account_rate, 100);
    EXPECT_DOUBLE_EQ(o.account_burst, 20);
    EXPECT_EQ(o.max_connections, 7);
    EXPECT_DOUBLE_EQ(o.idle_timeout_s, 2.5);
    EXPECT_TRUE(o.tls);
    EXPECT_EQ(o.cert_file, dir.file("cert.pem"));
    EXPECT_EQ(o.key_file, dir.file("cert.pem"));
    EXPECT_EQ(o.write_cert_to, "w.pem");
    EXPECT_EQ(o.stats_out, "s.json");
    EXPECT_EQ(o.state_out, "c.ndjson");

    const auto split = parse({"--budget-calls", "2", "--budget-window", "90s"});
    EXPECT_EQ(split.budget_calls, 2);
    EXPECT_DOUBLE_EQ(split.budget_window_s, 90);
    const auto defaults = parse({});
    EXPECT_EQ(defaults.api_key, "mock-key");
    EXPECT_EQ(defaults.budget_calls, 3);
    EXPECT_DOUBLE_EQ(defaults.budget_window_s, 600);
    EXPECT_DOUBLE_EQ(defaults.idle_timeout_s, 60);
    EXPECT_FALSE(defaults.fail_503_retry_after_s);
}

TEST(MockOptionsCli, PrefixNamesTheOptionsForApply) {
    const auto o = parse({"--mock-fail-500", "0.5", "--mock-every-number-has-card", "--mock-budget", "off"}, "mock-");
    EXPECT_DOUBLE_EQ(o.fail_500, 0.5);
    EXPECT_TRUE(o.every_number_has_card);
    EXPECT_EQ(o.budget_calls, 0);
    EXPECT_THROW(parse({"--fail-500", "0.5"}, "mock-"), CLI::ParseError);
}

TEST(MockOptionsCli, OutOfRangeValuesAreRefused) {
    const std::vector<std::vector<std::string>> bad = {
        {"--fail-500", "1.5"}, {"--drop", "-0.1"},       {"--truncate", "2"},        {"--latency", "-1"},
        {"--close-every", "-2"}, {"--max-connections", "-1"}, {"--idle-timeout", "-1"}, {"--budget", "x"}, {"--budget", "3/0"},     {"--budget-window", "soon"},
        {"--seed-cards", "/nonexistent.csv"}, {"--fail-503-retry-after", "-1"},
    };
    for (const auto& args : bad) EXPECT_THROW(parse(args), CLI::ParseError) << args[0] << " " << args[1];
}

// `cardsync mock` as a child process: its stdout line, then a signal.
struct Child {
    explicit Child(std::vector<std::string> args) {
        int out[2], err[2];
        if (pipe(out) || pipe(err)) throw std::runtime_error("pipe");
        pid = fork();
        if (pid == 0) {
            dup2(out[1], 1);
            dup2(err[1], 2);
            for (int fd : {out[0], out[1], err[0], err[1]}) close(fd);
            args.insert(args.begin(), {CARDSYNC_BINARY, "mock"});
            std::vector<char*> argv;
            for (auto& a : args) argv.push_back(a.data());
            argv.push_back(nullptr);
            execv(argv[0], argv.data());
            _exit(127);
        }
        close(out[1]);
        close(err[1]);
        out_fd = out[0];
        err_fd = err[0];
    }
    ~Child() {
        if (pid > 0) {
            kill(pid, SIGKILL);
            waitpid(pid, nullptr, 0);
        }
        close(out_fd);
        close(err_fd);
    }
    std::string read_line(int timeout_ms = 5000) {
        std::string line;
        char c;
        while (true) {
            pollfd p{out_fd, POLLIN, 0};
            if (poll(&p, 1, timeout_ms) <= 0) throw std::runtime_error("no line from cardsync mock");
            if (read(out_fd, &c, 1) != 1) return line;
            if (c == '\n') return line;
            line.push_back(c);
        }
    }
    int stop(int signal, std::string& err_text) {
        kill(pid, signal);
        int status = 0;
        waitpid(pid, &status, 0);
        pid = -1;
        char buf[4096];
        ssize_t n;
        while ((n = read(err_fd, buf, sizeof buf)) > 0) err_text.append(buf, static_cast<std::size_t>(n));
        return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    }
    pid_t pid = -1;
    int out_fd = -1, err_fd = -1;
};

std::uint16_t port_of(const std::string& url) { return static_cast<std::uint16_t>(std::stoi(url.substr(url.rfind(':') + 1))); }

TEST(MockCommand, PrintsItsUrlServesAndStopsCleanlyOnSignal) {
    for (int signal : {SIGTERM, SIGINT}) {
        test::TempDir dir;
        Child child({"--seed-cards", CARDSYNC_SAMPLES "/mock-cards.csv", "--outside-prefix", "+1800", "--api-key",
                     "secret-key-123", "--state-out", dir.file("state.ndjson")});
        const auto url = child.read_line();
        ASSERT_EQ(url.rfind("http://127.0.0.1:", 0), 0u) << url;
        test::RawClient c(port_of(url));
        c.send(test::http_request("PATCH", "/api/partner/v3/contact_card?phone_number=%2B14155550101",
                                  R"({"last_name":"Johnson"})", "secret-key-123"));
        EXPECT_EQ(c.read().status, 200);
        c.send(test::http_request("PATCH", "/api/partner/v3/contact_card?phone_number=%2B18005550199",
                                  R"({"last_name":"X"})", "secret-key-123"));
        EXPECT_EQ(c.read().status, 403);
        std::string err;
        EXPECT_EQ(child.stop(signal, err), 0) << err;
        EXPECT_NE(err.find("after 2 requests (200 x1, 403 x1); writes applied: 1; connections: 1"), std::string::npos) << err;
        EXPECT_EQ(err.find("secret-key-123"), std::string::npos) << "the key never appears in output";
        EXPECT_NE(test::read_file(dir.file("state.ndjson")).find("\"last_name\":\"Johnson\""), std::string::npos);
    }
}

TEST(MockCommand, StartFailuresExitWithUsageStatus) {
    test::TempDir dir;
    test::write_file(dir.file("bad.csv"), "phone_number\nnot-a-number\n");
    Child child({"--seed-cards", dir.file("bad.csv")});
    EXPECT_EQ(child.read_line(), "");  // stdout closes without a URL
    std::string err;
    EXPECT_EQ(child.stop(0, err), 2);
    EXPECT_NE(err.find("bad.csv:2"), std::string::npos) << err;
}

// Reads stderr until `want` has appeared `times` times (or 10 s pass); returns everything read.
std::string read_err_until(int fd, const std::string& want, std::size_t times) {
    std::string text;
    char buf[4096];
    const auto seen = [&] {
        std::size_t n = 0;
        for (auto at = text.find(want); at != std::string::npos; at = text.find(want, at + 1)) ++n;
        return n;
    };
    while (seen() < times) {
        pollfd p{fd, POLLIN, 0};
        if (poll(&p, 1, 10000) <= 0) break;
        const ssize_t n = read(fd, buf, sizeof buf);
        if (n <= 0) break;
        text.append(buf, static_cast<std::size_t>(n));
    }
    return text;
}

TEST(MockCommand, CountersAtAnIntervalOnSignalAndAtExit) {
    Child child({"--api-key", "k-77", "--stats-interval", "0.2"});
    const auto url = child.read_line();
    ASSERT_EQ(url.rfind("http://127.0.0.1:", 0), 0u) << url;
    std::string err = read_err_until(child.err_fd, "cardsync mock: stats (interval) ", 2);
    EXPECT_NE(err.find("stats (interval) requests=0 requests_per_s=0.0 "), std::string::npos) << err;

    test::RawClient c(port_of(url));
    c.send(test::http_request("PATCH", "/api/partner/v3/contact_card?phone_number=%2B14155550101", R"({"last_name":"J"})", "k-77"));
    EXPECT_EQ(c.read().status, 404);
    kill(child.pid, SIGUSR1);
    err = read_err_until(child.err_fd, "cardsync mock: stats (SIGUSR1) ", 1);
    const auto line_at = err.find("cardsync mock: stats (SIGUSR1) ");
    ASSERT_NE(line_at, std::string::npos) << err;
    const std::string line = err.substr(line_at, err.find('\n', line_at) - line_at);
    EXPECT_NE(line.find(" requests=1 "), std::string::npos) << line;
    EXPECT_NE(line.find(" status_404=1 code_2001=1 "), std::string::npos) << line;
    EXPECT_NE(line.find(" connections_current=1 "), std::string::npos) << line;

    std::string rest;
    EXPECT_EQ(child.stop(SIGTERM, rest), 0) << "SIGUSR1 did not stop it; SIGTERM does, cleanly";
    EXPECT_NE(rest.find("cardsync mock: stats (at exit) requests=1 "), std::string::npos) << rest;
    EXPECT_EQ((err + rest).find("k-77"), std::string::npos) << "the key never appears";
}

}  // namespace
}  // namespace cardsync
