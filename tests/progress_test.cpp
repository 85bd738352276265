// The progress line: share done and ETA without a pre-pass, the refreshing terminal form, the plain
// log form, colours only where allowed.
#include "cardsync/progress.hpp"

#include "support/subprocess.hpp"
#include "support/temp_dir.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <pty.h>
#include <sys/wait.h>
#include <sstream>
#include <string>
#include <vector>

namespace {

using cardsync::ProgressSnapshot;

ProgressSnapshot midway() {
    ProgressSnapshot s;
    s.elapsed_s = 10;
    s.rows_read = 600;
    s.rows_done = 500;
    s.bytes_read = 30'000;
    s.bytes_total = 100'000;
    s.updated = 480;
    s.rejected = 5;
    s.failed = 3;
    s.invalid = 12;
    s.requests = 520;
    s.in_flight = 16;
    s.waiting = 4;
    return s;
}

TEST(Progress, FractionFromTheRowsWhenTheirCountIsKnown) {
    ProgressSnapshot s = midway();
    s.rows_total = 2000;
    EXPECT_DOUBLE_EQ(*cardsync::progress_fraction(s), 0.25);
    EXPECT_DOUBLE_EQ(*cardsync::eta_seconds(s), 30.0);  // 10 s for a quarter: 30 s for the rest
}

TEST(Progress, FractionFromTheBytesCountsTheRowsRecordedNotTheRowsRead) {
    // 600 rows in 30 % of the bytes: about 2000 rows; 500 of them recorded.
    const ProgressSnapshot s = midway();
    EXPECT_DOUBLE_EQ(*cardsync::progress_fraction(s), 0.25);
    EXPECT_DOUBLE_EQ(*cardsync::eta_seconds(s), 30.0);
}

TEST(Progress, NoTotalNoFractionNoEta) {
    ProgressSnapshot s = midway();
    s.bytes_total = 0;  // stdin
    EXPECT_FALSE(cardsync::progress_fraction(s));
    EXPECT_FALSE(cardsync::eta_seconds(s));
    ProgressSnapshot start;
    start.bytes_total = 100;
    EXPECT_FALSE(cardsync::progress_fraction(start));  // nothing read yet
    start.rows_read = 1;
    start.bytes_read = 10;
    EXPECT_DOUBLE_EQ(*cardsync::progress_fraction(start), 0.0);
    EXPECT_FALSE(cardsync::eta_seconds(start));  // nothing done: no pace yet
}

TEST(Progress, FractionNeverAboveOne) {
    ProgressSnapshot s = midway();
    s.bytes_read = s.bytes_total = 100;
    s.rows_read = 10;
    s.rows_done = 10;
    EXPECT_DOUBLE_EQ(*cardsync::progress_fraction(s), 1.0);
    EXPECT_DOUBLE_EQ(*cardsync::eta_seconds(s), 0.0);
}

TEST(Progress, RateIsTheRecentOneWhenKnownElseTheAverage) {
    ProgressSnapshot s = midway();
    EXPECT_DOUBLE_EQ(cardsync::rows_per_second(s), 50.0);
    s.rate_now = 75;
    EXPECT_DOUBLE_EQ(cardsync::rows_per_second(s), 75.0);
}

TEST(Progress, ClockText) {
    struct Case {
        std::optional<double> seconds;
        const char* text;
    };
    for (const Case& c : {Case{0.0, "0:00"}, Case{59.4, "0:59"}, Case{61, "1:01"}, Case{3599, "59:59"},
                          Case{3600, "1:00:00"}, Case{90061, "25:01:01"}, Case{std::nullopt, "--:--"}, Case{-1, "--:--"}})
        EXPECT_EQ(cardsync::clock_text(c.seconds), c.text);
}

TEST(Progress, TerminalLineRefreshesInPlace) {
    const std::string line = cardsync::terminal_line(midway(), false);
    EXPECT_EQ(line.front(), '\r');
    EXPECT_EQ(line.substr(line.size() - 3), "\x1b[K");
    EXPECT_EQ(line.find('\n'), std::string::npos);
    for (const char* part : {"500 rows", "25.0%", "50 rows/s", "ETA 0:30", "480 updated", "5 rejected", "3 failed",
                             "12 invalid", "16 in flight", "4 waiting"})
        EXPECT_NE(line.find(part), std::string::npos) << part << " in " << line;
    EXPECT_EQ(line.find("\x1b[3"), std::string::npos) << "no colour asked for";
}

TEST(Progress, TerminalLineShowsTheTotalAndGroupsDigits) {
    ProgressSnapshot s = midway();
    s.rows_done = 1'234'567;
    s.rows_total = 2'000'000;
    const std::string line = cardsync::terminal_line(s, false);
    EXPECT_NE(line.find("1,234,567/2,000,000 rows"), std::string::npos) << line;
}

TEST(Progress, ColoursOnlyWhenAllowedAndOnlyForCountsThatMatter) {
    const std::string line = cardsync::terminal_line(midway(), true);
    EXPECT_NE(line.find("\x1b[32m480 updated\x1b[0m"), std::string::npos) << line;
    EXPECT_NE(line.find("\x1b[31m3 failed\x1b[0m"), std::string::npos) << line;
    ProgressSnapshot clean = midway();
    clean.failed = 0;
    EXPECT_NE(cardsync::terminal_line(clean, true).find(" 0 failed"), std::string::npos);  // zero stays plain

    EXPECT_TRUE(cardsync::colour_allowed(true, nullptr));
    EXPECT_TRUE(cardsync::colour_allowed(true, ""));
    EXPECT_FALSE(cardsync::colour_allowed(true, "1"));
    EXPECT_FALSE(cardsync::colour_allowed(false, nullptr));
}

TEST(Progress, LogLineIsPlainKeyValue) {
    const std::string line = cardsync::log_line(midway());
    EXPECT_EQ(line.rfind("cardsync: progress ", 0), 0u);
    EXPECT_EQ(line.back(), '\n');
    for (char c : line.substr(0, line.size() - 1)) EXPECT_GE(static_cast<unsigned char>(c), 0x20) << "control character";
    for (const char* part : {"elapsed_s=10.00", "rows_done=500", "rows_read=600", "done_pct=25.0", "rows_per_s=50.0",
                             "eta_s=30", "updated=480", "skipped=0", "rejected=5", "failed=3", "invalid=12",
                             "requests=520", "in_flight=16", "waiting=4"})
        EXPECT_NE(line.find(std::string(" ") + part), std::string::npos) << part << " in " << line;
    ProgressSnapshot stdin_run = midway();
    stdin_run.bytes_total = 0;
    const std::string unknown = cardsync::log_line(stdin_run);
    EXPECT_EQ(unknown.find("done_pct"), std::string::npos);
    EXPECT_EQ(unknown.find("eta_s"), std::string::npos);
}

// --- the built binary ------------------------------------------------------------------------

// 40 rows at 20 requests/s against a simulator answering in 20 ms: about 2 s of run.
std::string forty_rows() {
    std::string csv = "phone_number,first_name\n";
    for (int i = 0; i < 40; ++i) csv += "+1555" + std::to_string(4000000 + i) + ",Ann\n";
    return csv;
}

std::vector<std::string> slow_run(const std::string& input, const std::string& results) {
    return {CARDSYNC_BINARY, "apply", input, "--mock", "--rate", "20", "--burst", "1", "--mock-latency", "20",
            "--results", results};
}

TEST(ProgressEndToEnd, PlainLinesOnAPipeAtTheSetInterval) {
    cardsync::test::TempDir dir;
    cardsync::test::write_file(dir.file("in.csv"), forty_rows());
    auto args = slow_run(dir.file("in.csv"), "-");
    args.insert(args.end(), {"--progress-interval", "0.25"});
    const auto r = cardsync::test::run_process(args);
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(std::count(r.out.begin(), r.out.end(), '\n'), 40) << "stdout: the records only";
    EXPECT_EQ(r.err.find('\r'), std::string::npos) << "no terminal control on a pipe";
    EXPECT_EQ(r.err.find('\x1b'), std::string::npos);
    std::istringstream lines(r.err);
    std::vector<double> elapsed;
    std::uint64_t last_done = 0;
    for (std::string line; std::getline(lines, line);) {
        if (line.rfind("cardsync: progress ", 0) != 0) continue;
        const auto at = line.find(" elapsed_s=");
        ASSERT_NE(at, std::string::npos) << line;
        elapsed.push_back(std::strtod(line.c_str() + at + 11, nullptr));
        const auto done = line.find(" rows_done=");
        const std::uint64_t rows_done = std::strtoull(line.c_str() + done + 11, nullptr, 10);
        EXPECT_GE(rows_done, last_done) << "never goes back";
        last_done = rows_done;
        EXPECT_NE(line.find(" done_pct="), std::string::npos) << "a file: its size is known: " << line;
        EXPECT_NE(line.find(" in_flight="), std::string::npos);
    }
    // ~2 s of run at a 0.25 s interval: several lines, each about an interval after the last.
    ASSERT_GE(elapsed.size(), 4u) << r.err;
    for (std::size_t i = 1; i < elapsed.size(); ++i) {
        EXPECT_GE(elapsed[i] - elapsed[i - 1], 0.2) << r.err;
        EXPECT_LE(elapsed[i] - elapsed[i - 1], 1.5) << r.err;  // loose: a loaded machine may wake late
    }
    EXPECT_NE(r.err.find("40 rows: 40 updated"), std::string::npos) << "the summary follows";

    auto quiet = args;
    quiet.push_back("--quiet");
    const auto q = cardsync::test::run_process(quiet);
    EXPECT_EQ(q.exit_code, 0);
    EXPECT_TRUE(q.err.empty()) << "--quiet: nothing on stderr: " << q.err;
}

// Runs `argv` with stdin, stdout and stderr on a new pseudo-terminal; returns what it printed.
std::string run_on_pty(const std::vector<std::string>& argv, const char* no_color) {
    int master = -1;
    const pid_t pid = forkpty(&master, nullptr, nullptr, nullptr);
    if (pid < 0) throw std::runtime_error("forkpty failed");
    if (pid == 0) {
        if (no_color) setenv("NO_COLOR", no_color, 1);
        else unsetenv("NO_COLOR");
        std::vector<char*> args;
        for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
        args.push_back(nullptr);
        execv(args[0], args.data());
        _exit(127);
    }
    std::string out;
    char buf[4096];
    for (;;) {
        const ssize_t n = read(master, buf, sizeof buf);
        if (n > 0) out.append(buf, static_cast<std::size_t>(n));
        else if (n < 0 && errno == EINTR) continue;
        else break;  // EIO once the child is gone
    }
    close(master);
    int status = 0;
    waitpid(pid, &status, 0);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << out;
    return out;
}

TEST(ProgressEndToEnd, ATerminalSeesOneRefreshingLine) {
    cardsync::test::TempDir dir;
    cardsync::test::write_file(dir.file("in.csv"), forty_rows());
    auto args = slow_run(dir.file("in.csv"), dir.file("out.ndjson"));
    args.insert(args.end(), {"--progress-interval", "0.1"});
    const std::string out = run_on_pty(args, nullptr);
    std::size_t refreshes = 0;
    for (std::size_t at = out.find("\r"); at != std::string::npos; at = out.find("\r", at + 1))
        if (out.compare(at + 1, 1, "\n") != 0) ++refreshes;  // the pty turns "\n" into "\r\n": not those
    EXPECT_GE(refreshes, 5u) << out;
    EXPECT_NE(out.find("\x1b[K"), std::string::npos) << "each refresh erases the rest of the line";
    EXPECT_NE(out.find(" rows/s ETA "), std::string::npos) << out;
    EXPECT_NE(out.find(" in flight "), std::string::npos) << out;
    EXPECT_NE(out.find("\x1b[32m"), std::string::npos) << "colour on a terminal";
    EXPECT_EQ(out.find("cardsync: progress "), std::string::npos) << "not the plain line";
    EXPECT_NE(out.find("40 rows: 40 updated"), std::string::npos) << out;
    EXPECT_NE(out.find("\r\x1b[Kcardsync: simulator:"), std::string::npos) << "the line is erased before the summary";

    const std::string plain = run_on_pty(args, "1");
    EXPECT_NE(plain.find("\x1b[K"), std::string::npos);
    EXPECT_EQ(plain.find("\x1b[3"), std::string::npos) << "NO_COLOR: no colour";
}

}  // namespace
