// The engine end to end: real sockets on 127.0.0.1 against the in-process simulator, asserting on
// what the simulator saw (its counters and its cards) as well as on the records. The last tests
// drive the `cardsync apply` binary as a child process (signals, kill -9 and resume, memory).
#include "cardsync/engine.hpp"

#include "cardsync/cli.hpp"
#include "cardsync/input_error.hpp"
#include "cardsync/mock_server.hpp"
#include "cardsync/results_reader.hpp"
#include "cardsync/results_writer.hpp"
#include "cardsync/row_prefetcher.hpp"
#include "cardsync/row_reader.hpp"
#include "cardsync/snapshot_fetch.hpp"
#include "cardsync/stop_signal.hpp"
#include "cardsync/sync_plan.hpp"
#include "support/loopback_listener.hpp"
#include "support/subprocess.hpp"
#include "support/temp_dir.hpp"

#include <gtest/gtest.h>
#include <fmt/format.h>
#include <simdjson.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <map>
#include <numeric>
#include <set>
#include <string>
#include <thread>
#include <vector>

namespace {

using namespace std::chrono_literals;
using cardsync::ApplyOptions;
using cardsync::ApplyReport;
using cardsync::MockOptions;
using cardsync::MockServer;
using cardsync::Outcome;
using cardsync::ResultRecord;
using cardsync::test::ProcessExit;
using cardsync::test::start_process;
using cardsync::test::TempDir;
using cardsync::test::wait_process;

const std::string bin = CARDSYNC_BINARY;

std::string number(int i) { return "+1555" + std::to_string(1000000 + i); }

// A CSV of `n` rows for distinct numbers.
std::string distinct_rows(int n, int first = 0) {
    std::string csv = "phone_number,first_name,last_name\n";
    for (int i = first; i < first + n; ++i) csv += number(i) + ",Ann" + std::to_string(i) + ",Lee\n";
    return csv;
}

MockOptions mock_options() {
    MockOptions m;
    m.every_number_has_card = true;
    m.budget_calls = 0;
    return m;
}

ApplyOptions options_for(const MockServer& server) {
    ApplyOptions o;
    o.base_url = server.api_url();
    o.api_key = "mock-key";
    o.connections = 4;
    o.rate = 0;
    o.budget = cardsync::BudgetSpec{0, 600s};
    o.handle_signals = false;
    o.seed = 7;
    o.transient = {10ms, 100ms};  // the real waits (0.5 s .. 8 s) would only make the suite slow
    o.throttle = {50ms, 500ms};
    o.warn = [](std::string_view) {};
    return o;
}

struct Run {
    ApplyReport report;
    std::vector<ResultRecord> records;  // in the order written
};

std::vector<ResultRecord> read_records(const std::string& path) {
    std::vector<ResultRecord> out;
    cardsync::ResultsReader in(path);
    ResultRecord r;
    while (in.next(r)) out.push_back(r);
    return out;
}

Run run(const ApplyOptions& o, const std::string& csv, cardsync::StopSignal* stop = nullptr) {
    TempDir dir;
    const auto path = dir.file("results.ndjson");
    Run r;
    {
        auto reader = cardsync::make_row_reader(cardsync::InputFormat::csv, cardsync::memory_source(csv));
        cardsync::ResultsWriter writer(path, cardsync::ResultsFormat::ndjson);
        cardsync::StopSignal own;
        r.report = cardsync::run_apply(o, *reader, writer, stop ? *stop : own);
    }
    r.records = read_records(path);
    return r;
}

std::size_t count(const std::vector<ResultRecord>& records, Outcome o) {
    return static_cast<std::size_t>(std::count_if(records.begin(), records.end(), [o](const auto& r) { return r.outcome == o; }));
}

struct CardView {
    std::string first, last;
    bool operator==(const CardView&) const = default;
};

std::map<std::string, CardView> cards(const MockServer& server) {
    std::map<std::string, CardView> out;
    simdjson::ondemand::parser parser;
    std::string all = server.cards_ndjson();
    std::size_t start = 0;
    while (start < all.size()) {
        std::size_t end = all.find('\n', start);
        if (end == std::string::npos) end = all.size();
        simdjson::padded_string line(std::string_view(all).substr(start, end - start));
        start = end + 1;
        if (line.size() == 0) continue;
        auto doc = parser.iterate(line);
        CardView c;
        std::string_view phone, s;
        if (doc["phone_number"].get(phone)) continue;
        if (!doc["first_name"].get(s)) c.first = std::string(s);
        if (!doc["last_name"].get(s)) c.last = std::string(s);
        out[std::string(phone)] = c;
    }
    return out;
}

std::uint64_t status_count(const cardsync::MockStats& s, int status) {
    auto it = s.by_status.find(status);
    return it == s.by_status.end() ? 0 : it->second;
}

// --- the happy path ------------------------------------------------------------------------------

TEST(Engine, EveryRowUpdatedOverFewKeepAliveConnections) {
    MockServer server(mock_options());
    auto o = options_for(server);
    const auto r = run(o, distinct_rows(500));
    EXPECT_EQ(r.report.exit_status(), cardsync::exit_ok) << r.report.summary();
    ASSERT_EQ(r.records.size(), 500u);
    EXPECT_EQ(count(r.records, Outcome::updated), 500u);
    std::set<std::uint64_t> lines;
    for (const auto& rec : r.records) {
        lines.insert(rec.line);
        EXPECT_EQ(rec.attempts, 1);
        EXPECT_EQ(rec.http_status, 200);
        EXPECT_EQ(rec.is_active, true);
    }
    EXPECT_EQ(lines.size(), 500u);
    EXPECT_EQ(*lines.begin(), 2u);
    EXPECT_EQ(*lines.rbegin(), 501u);

    const auto s = server.stats();
    EXPECT_EQ(s.by_method.at("PATCH"), 500u);
    EXPECT_LE(s.connections_total, 4u) << "keep-alive: connections are reused";
    const auto c = cards(server);
    ASSERT_EQ(c.size(), 500u);
    EXPECT_EQ(c.at(number(0)), (CardView{"Ann0", "Lee"}));
    EXPECT_EQ(c.at(number(499)), (CardView{"Ann499", "Lee"}));
}

TEST(Engine, InvalidRowsAreRecordedAndNeverSent) {
    MockServer server(mock_options());
    const std::string csv = "phone_number,first_name\n" + number(1) + ",Ann\nnot-a-number,Bob\n" + number(2) + ",\n" +
                            number(3) + ",Cy\n";
    const auto r = run(options_for(server), csv);
    ASSERT_EQ(r.records.size(), 4u);
    EXPECT_EQ(count(r.records, Outcome::updated), 2u);
    EXPECT_EQ(count(r.records, Outcome::invalid), 2u);
    EXPECT_EQ(r.report.exit_status(), cardsync::exit_rows_failed);
    EXPECT_EQ(server.stats().requests, 2u);
}

TEST(Engine, EmptyInputEndsAtOnce) {
    MockServer server(mock_options());
    const auto r = run(options_for(server), "phone_number,first_name\n");
    EXPECT_TRUE(r.records.empty());
    EXPECT_TRUE(r.report.input_exhausted);
    EXPECT_EQ(r.report.exit_status(), cardsync::exit_ok);
    EXPECT_EQ(server.stats().connections_total, 0u) << "no connection opened for nothing";
}

// --- faults --------------------------------------------------------------------------------------

struct FaultCase {
    const char* name;
    void (*apply)(MockOptions&);
    std::uint64_t cardsync::MockStats::*seen;  // the simulator's count of the fault
    int pipeline;
    bool expect_resends;  // lost requests sent again for free (not counted as attempts)
};

TEST(Engine, EachFaultIsRecoveredByRetries) {
    using S = cardsync::MockStats;
    const FaultCase cases[] = {
        {"500", [](MockOptions& m) { m.fail_500 = 0.2; }, &S::faults_500, 1, false},
        {"503 with Retry-After", [](MockOptions& m) { m.fail_503 = 0.05; m.fail_503_retry_after_s = 0.2; },
         &S::faults_503, 1, false},
        {"drop", [](MockOptions& m) { m.drop = 0.1; }, &S::faults_drop, 1, true},
        {"truncate", [](MockOptions& m) { m.truncate = 0.1; }, &S::faults_truncate, 1, false},
        {"close_every", [](MockOptions& m) { m.close_every = 3; }, &S::closed_by_close_every, 1, false},
        {"close_every, pipelined", [](MockOptions& m) { m.close_every = 3; }, &S::closed_by_close_every, 4, true},
    };
    for (const auto& c : cases) {
        SCOPED_TRACE(c.name);
        auto m = mock_options();
        c.apply(m);
        MockServer server(m);
        auto o = options_for(server);
        o.max_attempts = 6;
        o.pipeline = c.pipeline;
        const auto r = run(o, distinct_rows(100));
        std::printf("  %s: %.2f s\n", c.name, r.report.elapsed_s);
        EXPECT_EQ(count(r.records, Outcome::updated), 100u) << r.report.summary();
        const auto s = server.stats();
        EXPECT_GT(s.*(c.seen), 0u) << "the fault was injected";
        if (c.expect_resends) {
            EXPECT_GT(r.report.resends, 0u) << r.report.summary();
        } else if (c.seen == &S::closed_by_close_every) {
            EXPECT_GT(s.connections_total, 1u);
        } else {
            EXPECT_GT(r.report.retries, 0u) << r.report.summary();
        }
        // resends after Connection: close never reached the server's parser
        EXPECT_GE(s.requests, 100u + r.report.retries);
        EXPECT_LE(s.requests, 100u + r.report.retries + r.report.resends);
        EXPECT_EQ(cards(server).size(), 100u);
    }
}

// A server (here the simulator's idle timeout) may close keep-alive connections while the engine
// waits, e.g. for a number's budget: the engine opens new ones, and the rows lose no attempt.
TEST(Engine, ConnectionsTheServerClosedWhileIdleAreReopened) {
    auto m = mock_options();
    m.idle_timeout_s = 0.1;
    MockServer server(m);
    auto o = options_for(server);
    o.connections = 2;
    o.budget = cardsync::BudgetSpec{1, 500ms};  // the number's second row waits 0.5 s: both connections fall idle
    const auto r = run(o, "phone_number,first_name\n" + number(1) + ",A\n" + number(2) + ",B\n" + number(1) + ",C\n");
    ASSERT_EQ(r.records.size(), 3u);
    EXPECT_EQ(count(r.records, Outcome::updated), 3u) << r.report.summary();
    for (const auto& rec : r.records) EXPECT_EQ(rec.attempts, 1) << rec.line;
    EXPECT_EQ(r.report.retries, 0u);
    const auto s = server.stats();
    EXPECT_GE(s.closed_idle, 1u);
    EXPECT_GT(s.connections_total, 2u) << "a connection was opened again";
    EXPECT_EQ(cards(server).at(number(1)).first, "C");
}

TEST(Engine, ServerErrorsUntilAttemptsRunOutGiveFailedWithTheReason) {
    auto m = mock_options();
    m.fail_500 = 1.0;
    MockServer server(m);
    auto o = options_for(server);
    o.max_attempts = 2;
    const auto r = run(o, distinct_rows(3));
    ASSERT_EQ(r.records.size(), 3u);
    for (const auto& rec : r.records) {
        EXPECT_EQ(rec.outcome, Outcome::failed);
        EXPECT_EQ(rec.attempts, 2);
        EXPECT_EQ(rec.http_status, 500);
        EXPECT_NE(rec.message.find("gave up after 2 attempts"), std::string::npos) << rec.message;
    }
    EXPECT_EQ(server.stats().requests, 6u);
}

TEST(Engine, StormOf429SlowsTheWholeRunAndStillFinishes) {
    auto m = mock_options();
    m.fail_429 = 0.3;  // spurious 429s with Retry-After: 1
    MockServer server(m);
    auto o = options_for(server);
    o.max_attempts = 8;
    const auto r = run(o, distinct_rows(20));
    EXPECT_EQ(count(r.records, Outcome::updated), 20u) << r.report.summary();
    EXPECT_GT(status_count(server.stats(), 429), 0u);
    EXPECT_GT(r.report.throttled, 0u);
    EXPECT_GT(r.report.final_rate, 0.0) << "an unlimited run now paces itself";
    EXPECT_GE(r.report.elapsed_s, 0.9) << "a 429's Retry-After was honoured";
}

// --- pacing --------------------------------------------------------------------------------------

TEST(Engine, RateIsHeldServerSide) {
    MockServer server(mock_options());
    auto o = options_for(server);
    o.rate = 200;
    o.connections = 8;
    const auto r = run(o, distinct_rows(600));  // about 3 s
    EXPECT_EQ(count(r.records, Outcome::updated), 600u);
    const auto per100 = server.stats().requests_per_100ms;
    ASSERT_GE(per100.size(), 25u);
    // Leave out the first and last slots (the initial burst, the tail).
    std::vector<std::uint32_t> middle(per100.begin() + 2, per100.end() - 2);
    const double mean = std::accumulate(middle.begin(), middle.end(), 0.0) / static_cast<double>(middle.size());
    EXPECT_NEAR(mean, 20.0, 1.0) << "200/s is 20 per 100 ms";
    for (auto n : middle) EXPECT_LE(n, 20u + 20u) << "never more than a burst (rate/10) above the rate";
    EXPECT_NEAR(r.report.elapsed_s, 3.0, 0.5);
}

// The promise in README: --rate holds within 2 % over 10 s, counted by the server.
TEST(Engine, RateIsWithinTwoPercentOverTenSeconds) {
    MockServer server(mock_options());
    auto o = options_for(server);
    o.rate = 100;
    o.burst = 10;
    o.connections = 4;
    const auto r = run(o, distinct_rows(1010));  // 10 at once, then 1000 at 100/s: 10 s
    EXPECT_EQ(count(r.records, Outcome::updated), 1010u);
    const auto per100 = server.stats().requests_per_100ms;
    std::size_t first = 0, last = per100.size();
    while (first < per100.size() && per100[first] == 0) ++first;
    while (last > first && per100[last - 1] == 0) --last;
    ASSERT_GE(last - first, 95u) << "the run took less than 9.5 s";
    // 8 whole seconds from the middle of the run (no initial burst, no tail): 800 requests at 100/s.
    const auto begin = per100.begin() + static_cast<std::ptrdiff_t>(first + 10);
    const double sent = std::accumulate(begin, begin + 80, 0.0);
    EXPECT_NEAR(sent, 800.0, 16.0) << "within 2 % of the rate";
}

TEST(Engine, RetriesSpendTokensToo) {
    auto m = mock_options();
    m.fail_500 = 0.3;
    MockServer server(m);
    auto o = options_for(server);
    o.rate = 100;
    o.max_attempts = 10;
    const auto r = run(o, distinct_rows(100));
    EXPECT_EQ(count(r.records, Outcome::updated), 100u) << r.report.summary();
    const auto sent = server.stats().requests;
    EXPECT_GT(sent, 110u);
    // the bucket starts with 10 tokens (rate / 10), then 100 per second, retries included
    EXPECT_GE(r.report.elapsed_s, 0.95 * static_cast<double>(sent - 10) / 100.0) << sent << " requests";
}

TEST(Engine, NumberBudgetIsPacedSoTheServerNeverSays429) {
    auto m = mock_options();
    m.budget_calls = 3;
    m.budget_window_s = 2;
    MockServer server(m);
    auto o = options_for(server);
    o.budget = cardsync::BudgetSpec{3, 2s};
    o.max_admitted = 1;  // one row at a time: four separate calls for the number, none coalesced
    std::string csv = "phone_number,first_name\n";
    for (int i = 1; i <= 4; ++i) csv += number(1) + ",V" + std::to_string(i) + "\n";
    const auto r = run(o, csv);
    EXPECT_EQ(count(r.records, Outcome::updated), 4u) << r.report.summary();
    const auto s = server.stats();
    EXPECT_EQ(status_count(s, 429), 0u);
    EXPECT_EQ(s.requests, 4u);
    EXPECT_GE(r.report.elapsed_s, 1.9) << "the fourth call waited for the window";
    EXPECT_EQ(cards(server).at(number(1)).first, "V4");
}

TEST(Engine, RowWaitingForItsBudgetHoldsNeitherItsConnectionNorOtherRows) {
    auto m = mock_options();
    m.budget_calls = 1;
    m.budget_window_s = 1.5;
    m.latency_ms = 50;
    MockServer server(m);
    auto o = options_for(server);
    o.connections = 1;
    o.budget = cardsync::BudgetSpec{1, 1500ms};
    std::string csv = "phone_number,first_name\n" + number(0) + ",First\n";
    for (int i = 1; i <= 20; ++i) csv += number(i) + ",Other\n";
    csv += number(0) + ",Second\n";  // queued behind the first, then must wait 1.5 s
    const auto r = run(o, csv);
    ASSERT_EQ(r.records.size(), 22u);
    EXPECT_EQ(count(r.records, Outcome::updated), 22u) << r.report.summary();
    EXPECT_EQ(r.records.back().line, 23u) << "the waiting row finished last";
    EXPECT_EQ(r.records.back().phone_number, number(0));
    EXPECT_EQ(status_count(server.stats(), 429), 0u);
    EXPECT_GE(r.report.elapsed_s, 1.4);
    EXPECT_EQ(cards(server).at(number(0)).first, "Second");
}

// --- order and duplicates ------------------------------------------------------------------------

TEST(Engine, DuplicatesAreCoalescedAndTakeEffectInInputOrder) {
    auto m = mock_options();
    m.latency_ms = 5;
    MockServer server(m);
    auto o = options_for(server);
    std::string csv = "phone_number,first_name,last_name\n";
    std::map<std::string, CardView> expected;
    int rows = 0;
    for (int round = 0; round < 30; ++round) {
        for (int n = 0; n < 10; ++n) {
            const bool with_last = (round + n) % 3 == 0;
            const std::string first = fmt::format("F{}", round);
            const std::string last = with_last ? fmt::format("L{}", round) : std::string();
            csv += number(n) + "," + first + "," + last + "\n";
            auto& e = expected[number(n)];
            e.first = first;
            if (with_last) e.last = last;
            ++rows;
        }
    }
    const auto r = run(o, csv);
    ASSERT_EQ(r.records.size(), static_cast<std::size_t>(rows));
    EXPECT_EQ(count(r.records, Outcome::updated), static_cast<std::size_t>(rows)) << r.report.summary();
    EXPECT_GT(r.report.coalesced, 0u);
    const auto s = server.stats();
    EXPECT_LT(s.requests, static_cast<std::uint64_t>(rows)) << "coalesced rows share one PATCH";
    EXPECT_EQ(s.requests + r.report.coalesced, static_cast<std::uint64_t>(rows)) << r.report.summary();
    EXPECT_EQ(cards(server), expected);
    std::size_t merged_records = 0;
    for (const auto& rec : r.records)
        if (rec.message.find("sent as one request with line") != std::string::npos) ++merged_records;
    EXPECT_GT(merged_records, 0u);
}

// --- stopping early ------------------------------------------------------------------------------

// One engine, then two (--threads 2): the 401 stops every engine.
TEST(Engine, WrongKeyStopsTheRunAndSendsNothingMore) {
    for (int threads : {1, 2}) {
        SCOPED_TRACE(fmt::format("{} engine(s)", threads));
        MockServer server(mock_options());
        auto o = options_for(server);
        o.threads = threads;
        o.api_key = "wrong-key-S3CRET";
        const auto r = run(o, distinct_rows(4000));
        EXPECT_TRUE(r.report.aborted);
        EXPECT_EQ(r.report.exit_status(), cardsync::exit_aborted);
        EXPECT_NE(r.report.abort_reason.find("API key"), std::string::npos) << r.report.abort_reason;
        EXPECT_LE(server.stats().requests, 4u) << "only what was in flight";
        EXPECT_EQ(r.records.size(), r.report.rows_read);
        EXPECT_LT(r.report.rows_read, 4000u);
        std::set<std::uint64_t> lines;
        for (const auto& rec : r.records) EXPECT_TRUE(lines.insert(rec.line).second);
        ASSERT_TRUE(r.report.first_line_not_reached);
        EXPECT_EQ(lines.count(*r.report.first_line_not_reached), 0u) << "the first line not reached has no record";
        if (threads == 1) {
            EXPECT_EQ(*r.report.first_line_not_reached, r.report.last_line_read + 1);
        }
        EXPECT_EQ(count(r.records, Outcome::failed), r.records.size());
        const std::string summary = r.report.summary();
        EXPECT_NE(summary.find("--resume"), std::string::npos) << summary;
        for (const auto& rec : r.records) EXPECT_EQ(rec.message.find("S3CRET"), std::string::npos) << rec.message;
        EXPECT_EQ(summary.find("S3CRET"), std::string::npos);
        EXPECT_EQ(r.report.abort_reason.find("S3CRET"), std::string::npos);
    }
}

// A hostile or broken server that puts our request head, Authorization included, in its errors.
class EchoingServer {
public:
    EchoingServer() {
        listener_ = cardsync::test::listen_on_loopback(port_);
        thread_ = std::thread([this] { serve(); });
    }
    ~EchoingServer() {
        ::shutdown(listener_, SHUT_RDWR);
        ::close(listener_);
        thread_.join();
    }
    std::string url() const { return "http://127.0.0.1:" + std::to_string(port_) + "/api/partner"; }

private:
    void serve() {
        const int fd = ::accept(listener_, nullptr, nullptr);
        if (fd < 0) return;
        for (;;) {
            std::string head;
            char c;
            while (head.size() < 4 || head.compare(head.size() - 4, 4, "\r\n\r\n") != 0) {
                if (::read(fd, &c, 1) != 1) {
                    ::close(fd);
                    return;
                }
                head += c;
            }
            const auto length_at = head.find("Content-Length: ");
            std::string body(std::stoul(head.substr(length_at + 16)), '\0');
            for (std::size_t got = 0; got < body.size();) got += static_cast<std::size_t>(::read(fd, body.data() + got, body.size() - got));
            for (char& ch : head)
                if (ch == '\r' || ch == '\n' || ch == '"') ch = ' ';
            const std::string envelope = R"({"success":false,"error":{"status":400,"code":1999,"message":")" + head + R"("}})";
            const std::string answer = "HTTP/1.1 400 Bad Request\r\nContent-Length: " + std::to_string(envelope.size()) +
                                       "\r\n\r\n" + envelope;
            if (::write(fd, answer.data(), answer.size()) < 0) break;
        }
        ::close(fd);
    }
    int listener_ = -1;
    std::uint16_t port_ = 0;
    std::thread thread_;
};

// One connection, no rate limit, no budget, against `server` with `key`.
ApplyOptions echo_options(const EchoingServer& server, std::string key) {
    ApplyOptions o;
    o.base_url = server.url();
    o.api_key = std::move(key);
    o.connections = 1;
    o.rate = 0;
    o.handle_signals = false;
    o.budget = cardsync::BudgetSpec{0, 600s};
    return o;
}

TEST(Engine, KeyEchoedByTheServerIsNeverPassedOn) {
    EchoingServer server;
    ApplyOptions o = echo_options(server, "echo-me-S3CRET");
    std::string logged;
    o.log = [&logged](std::string_view line) { logged += line; };
    o.warn = [&logged](std::string_view line) { logged += line; };
    std::string csv = "phone_number,first_name\n";
    for (int i = 0; i < 60; ++i) csv += number(i) + ",Ann\n";
    const auto r = run(o, csv);  // 60 identical 400s: the flood stop fires too, and echoes nothing
    ASSERT_FALSE(r.records.empty());
    EXPECT_EQ(r.records.front().outcome, Outcome::rejected);
    EXPECT_NE(r.records.front().message.find("[API key]"), std::string::npos) << r.records.front().message;
    for (const auto& rec : r.records) EXPECT_EQ(rec.message.find("S3CRET"), std::string::npos) << rec.message;
    EXPECT_EQ(logged.find("S3CRET"), std::string::npos) << logged;
    EXPECT_EQ(r.report.abort_reason.find("S3CRET"), std::string::npos);
    EXPECT_EQ(r.report.summary().find("S3CRET"), std::string::npos);
}

// A key that occurs in the redaction marker itself ("k" in "[API key]") once made the engine spin
// for ever on the first message to redact.
TEST(Engine, AKeyFoundInTheRedactionMarkerIsStillRedactedAndTheRunEnds) {
    EchoingServer server;
    ApplyOptions o = echo_options(server, "k");
    o.warn = [](std::string_view) {};
    const auto r = run(o, "phone_number,first_name\n" + number(1) + ",Ann\n" + number(2) + ",Bo\n");
    ASSERT_EQ(r.records.size(), 2u);
    for (const auto& rec : r.records) {
        std::string rest = rec.message;
        for (auto at = rest.find("[API key]"); at != std::string::npos; at = rest.find("[API key]")) rest.erase(at, 9);
        EXPECT_NE(rec.message.find("[API key]"), std::string::npos) << rec.message;
        EXPECT_EQ(rest.find('k'), std::string::npos) << rec.message;
    }
}

TEST(Engine, FloodOfOnePermanentErrorStopsEarly) {
    auto m = mock_options();
    m.outside_prefixes = {"+1555"};
    MockServer server(m);
    auto o = options_for(server);
    const auto r = run(o, distinct_rows(3000));
    EXPECT_TRUE(r.report.aborted);
    EXPECT_EQ(r.report.exit_status(), cardsync::exit_aborted);
    EXPECT_NE(r.report.abort_reason.find("HTTP 403 (2005)"), std::string::npos) << r.report.abort_reason;
    EXPECT_GE(count(r.records, Outcome::rejected), 50u);
    EXPECT_LT(server.stats().requests, 100u);
    EXPECT_EQ(r.records.size(), r.report.rows_read);
}

// One engine, then two (--threads 2, two connections each): the stop reaches every engine.
TEST(Engine, StopRequestLetsInFlightRequestsFinishAndRecordsEveryRowRead) {
    for (int threads : {1, 2}) {
        SCOPED_TRACE(fmt::format("{} engine(s)", threads));
        auto m = mock_options();
        m.latency_ms = 300;
        MockServer server(m);
        auto o = options_for(server);
        o.threads = threads;
        cardsync::StopSignal stop;
        std::thread stopper([&stop] {
            std::this_thread::sleep_for(100ms);
            stop.request_stop();
        });
        const auto r = run(o, distinct_rows(1000), &stop);
        stopper.join();
        EXPECT_TRUE(r.report.interrupted);
        EXPECT_FALSE(r.report.aborted);
        EXPECT_EQ(r.report.exit_status(), cardsync::exit_interrupted);
        EXPECT_EQ(r.records.size(), r.report.rows_read);
        EXPECT_EQ(count(r.records, Outcome::updated), 4u) << "the four in flight finished within the grace period";
        EXPECT_EQ(server.stats().requests, 4u);
        for (const auto& rec : r.records) {
            if (rec.outcome == Outcome::failed) {
                EXPECT_EQ(rec.message, "interrupted before it was sent");
            }
        }
    }
}

TEST(Engine, AStalledInputPipeHoldsUpNeitherAnswersNorAStop) {
    // A producer that wrote 5 rows and then hangs with its end of the pipe open (a stuck upstream
    // job): the 5 rows are sent and recorded, and a stop ends the run at once.
    MockServer server(mock_options());
    auto o = options_for(server);
    int fds[2];
    ASSERT_EQ(::pipe(fds), 0);
    const std::string csv = distinct_rows(5);
    ASSERT_EQ(::write(fds[1], csv.data(), csv.size()), static_cast<ssize_t>(csv.size()));
    TempDir dir;
    const auto path = dir.file("results.ndjson");
    cardsync::StopSignal stop;
    ApplyReport report;
    const auto started = std::chrono::steady_clock::now();
    {
        auto reader = cardsync::make_row_reader(cardsync::InputFormat::csv,
                                                cardsync::open_byte_source("/dev/fd/" + std::to_string(fds[0])));
        cardsync::ResultsWriter writer(path, cardsync::ResultsFormat::ndjson);
        std::thread stopper([&] {
            while (server.stats().writes_applied < 5 && std::chrono::steady_clock::now() - started < 10s)
                std::this_thread::sleep_for(5ms);
            std::this_thread::sleep_for(100ms);  // the records are written after the answers
            stop.request_stop();
        });
        report = cardsync::run_apply(o, *reader, writer, stop);
        stopper.join();
    }
    EXPECT_LT(std::chrono::steady_clock::now() - started, 5s);
    ::close(fds[0]);
    ::close(fds[1]);
    const auto records = read_records(path);
    EXPECT_TRUE(report.interrupted);
    EXPECT_FALSE(report.input_exhausted);
    EXPECT_EQ(report.rows_read, 5u);
    EXPECT_EQ(count(records, Outcome::updated), 5u);
    EXPECT_EQ(server.stats().requests, 5u);
    EXPECT_NE(report.summary().find("rows after line 6 were never read"), std::string::npos) << report.summary();
}

TEST(Engine, GracePeriodCutsOffSlowAnswers) {
    auto m = mock_options();
    m.latency_ms = 3000;
    MockServer server(m);
    auto o = options_for(server);
    o.grace = 200ms;
    cardsync::StopSignal stop;
    std::thread stopper([&stop] {
        std::this_thread::sleep_for(100ms);
        stop.request_stop();
    });
    const auto r = run(o, distinct_rows(50), &stop);
    stopper.join();
    EXPECT_LT(r.report.elapsed_s, 2.0);
    EXPECT_EQ(r.records.size(), r.report.rows_read);
    EXPECT_EQ(count(r.records, Outcome::updated), 0u);
    std::size_t cut = 0;
    for (const auto& rec : r.records) cut += rec.message == "interrupted before an answer";
    EXPECT_EQ(cut, 4u);
}

// --- transport -----------------------------------------------------------------------------------

TEST(Engine, PipeliningOnlyWhenAsked) {
    for (int depth : {1, 8}) {
        SCOPED_TRACE(depth);
        auto m = mock_options();
        m.latency_ms = 20;
        MockServer server(m);
        auto o = options_for(server);
        o.connections = 1;
        o.pipeline = depth;
        const auto r = run(o, distinct_rows(40));
        EXPECT_EQ(count(r.records, Outcome::updated), 40u) << r.report.summary();
        const auto s = server.stats();
        EXPECT_EQ(s.connections_max, 1u);
        if (depth == 1) {
            EXPECT_EQ(s.in_flight_max, 1u);
        } else {
            EXPECT_GT(s.in_flight_max, 1u);
        }
        EXPECT_LE(s.in_flight_max, static_cast<std::uint64_t>(depth));
    }
}

TEST(Engine, TlsIsVerifiedAgainstTheGivenCertificate) {
    TempDir dir;
    auto m = mock_options();
    m.tls = true;
    m.write_cert_to = dir.file("cert.pem");
    MockServer server(m);
    auto o = options_for(server);
    ASSERT_EQ(o.base_url.rfind("https://127.0.0.1:", 0), 0u) << o.base_url;

    const auto refused = run(o, distinct_rows(20));  // the system store does not know the simulator's cert
    EXPECT_TRUE(refused.report.aborted);
    EXPECT_NE(refused.report.abort_reason.find("certificate"), std::string::npos) << refused.report.abort_reason;
    EXPECT_NE(refused.report.abort_reason.find("--cacert"), std::string::npos);
    EXPECT_EQ(server.stats().requests, 0u);

    o.cacert = dir.file("cert.pem");
    const auto trusted = run(o, distinct_rows(20));
    EXPECT_EQ(count(trusted.records, Outcome::updated), 20u) << trusted.report.summary();

    auto insecure = options_for(server);
    insecure.insecure = true;
    std::string warned;
    insecure.warn = [&warned](std::string_view w) { warned += w; };
    const auto unverified = run(insecure, distinct_rows(5));
    EXPECT_EQ(count(unverified.records, Outcome::updated), 5u);
    EXPECT_NE(warned.find("NOT verified"), std::string::npos);
}

TEST(Engine, TlsHostNameMustMatch) {
    TempDir dir;
    auto m = mock_options();
    m.tls = true;
    m.write_cert_to = dir.file("cert.pem");
    MockServer server(m);
    auto o = options_for(server);
    o.cacert = dir.file("cert.pem");
    // The certificate names IP 127.0.0.1 and DNS localhost: a name is checked as well as an address.
    o.base_url = "https://localhost:" + std::to_string(server.port()) + "/api/partner";
    const auto r = run(o, distinct_rows(3));
    EXPECT_EQ(count(r.records, Outcome::updated), 3u) << r.report.summary();
}

TEST(Engine, UnreachableServerAbortsQuickly) {
    std::uint16_t port = 0;
    {
        MockServer server(mock_options());
        port = server.port();
    }  // nothing listens there now
    ApplyOptions o;
    o.base_url = "http://127.0.0.1:" + std::to_string(port) + "/api/partner";
    o.api_key = "k";
    o.rate = 0;
    o.handle_signals = false;
    o.warn = [](std::string_view) {};
    const auto r = run(o, distinct_rows(1000));
    EXPECT_TRUE(r.report.aborted);
    EXPECT_NE(r.report.abort_reason.find("cannot reach"), std::string::npos) << r.report.abort_reason;
    EXPECT_EQ(r.records.size(), r.report.rows_read);
}

TEST(Engine, BadOptionsAreRefusedBeforeAnythingIsSent) {
    ApplyOptions o;
    o.api_key = "k";
    o.base_url = "http://api.example.com/api/partner";
    EXPECT_THROW(run(o, distinct_rows(1)), std::invalid_argument);
    o.base_url = "https://api.example.com/api/partner";
    o.api_key.clear();
    EXPECT_THROW(run(o, distinct_rows(1)), std::invalid_argument);
}

// --- the binary as a child process -----------------------------------------------------------------

std::size_t line_count(const std::string& path) {
    const auto text = cardsync::test::read_file(path);
    return static_cast<std::size_t>(std::count(text.begin(), text.end(), '\n'));
}

// Waits until `path` holds at least `lines` lines (or 10 s pass).
void wait_for_lines(const std::string& path, std::size_t lines) {
    const auto give_up = std::chrono::steady_clock::now() + 10s;
    while (line_count(path) < lines && std::chrono::steady_clock::now() < give_up) std::this_thread::sleep_for(10ms);
}

TEST(EngineProcess, SigintGivesExit130AndARecordForEveryRowRead) {
    TempDir dir;
    MockServer server(mock_options());
    cardsync::test::write_file(dir.file("rows.csv"), distinct_rows(3000));
    const auto results = dir.file("results.ndjson");
    const pid_t c = start_process({bin, "apply", dir.file("rows.csv"), "--base-url", server.api_url(), "--rate", "300",
                           "--results", results, "--budget", "off"},
                          "/dev/null", dir.file("out"), dir.file("err"), {"LINQ_API_V3_API_KEY=mock-key"});
    wait_for_lines(results, 100);
    kill(c, SIGINT);
    const ProcessExit e = wait_process(c);
    EXPECT_EQ(e.code, cardsync::exit_interrupted);
    const auto err = cardsync::test::read_file(dir.file("err"));
    EXPECT_NE(err.find("interrupted"), std::string::npos) << err;
    EXPECT_NE(err.find("--resume"), std::string::npos) << err;
    const auto records = read_records(results);
    ASSERT_GT(records.size(), 100u);
    EXPECT_LT(records.size(), 3000u);
    std::set<std::uint64_t> lines;
    for (const auto& r : records) lines.insert(r.line);
    EXPECT_EQ(lines.size(), records.size()) << "one record per row";
    EXPECT_EQ(*lines.begin(), 2u);
    EXPECT_EQ(*lines.rbegin(), 1 + records.size()) << "every row read has its record, none skipped";
    EXPECT_EQ(server.stats().requests, count(records, Outcome::updated));
}

// A job of distinct rows through the binary, stopped by a signal once some records are in, then resumed.
class StoppedJob {
public:
    StoppedJob(const MockServer& server, int rows, std::vector<std::string> extra) : rows_(rows) {
        cardsync::test::write_file(dir_.file("rows.csv"), distinct_rows(rows));
        results_ = dir_.file("results.ndjson");
        base_ = {bin, "apply", dir_.file("rows.csv"), "--base-url", server.api_url(), "--results", results_, "--budget", "off"};
        base_.insert(base_.end(), extra.begin(), extra.end());
    }
    /// The first run, at `rate`, sent `signo` once `lines` records are in; its records.
    std::vector<ResultRecord> stop(const char* rate, std::size_t lines, int signo, int expected_exit) {
        auto args = base_;
        args.insert(args.end(), {"--rate", rate});
        const pid_t c = start_process(args, "/dev/null", dir_.file("out"), dir_.file("err"), env_);
        wait_for_lines(results_, lines);
        kill(c, signo);
        EXPECT_EQ(wait_process(c).code, expected_exit) << err();
        before_ = read_records(results_);  // a torn last line is not returned
        return before_;
    }
    /// The resumed run, unlimited; the records it added.
    std::vector<ResultRecord> resume() {
        auto args = base_;
        args.insert(args.end(), {"--resume", "--rate", "0"});
        const pid_t c = start_process(args, "/dev/null", dir_.file("out2"), dir_.file("err2"), env_);
        EXPECT_EQ(wait_process(c).code, cardsync::exit_ok) << cardsync::test::read_file(dir_.file("err2"));
        const auto after = read_records(results_);
        EXPECT_EQ(after.size(), before_.size() + static_cast<std::size_t>(rows_)) << "the resumed run records every row once";
        return {after.begin() + static_cast<std::ptrdiff_t>(std::min(before_.size(), after.size())), after.end()};
    }
    std::string err() const { return cardsync::test::read_file(dir_.file("err")); }

private:
    TempDir dir_;
    int rows_;
    std::string results_;
    std::vector<std::string> base_;
    const std::vector<std::string> env_ = {"LINQ_API_V3_API_KEY=mock-key"};
    std::vector<ResultRecord> before_;
};

TEST(EngineProcess, ResumeAfterKill9FinishesTheJobAndResendsNothingRecordedUpdated) {
    MockServer server(mock_options());
    constexpr int rows = 3000;
    StoppedJob job(server, rows, {});
    const auto before = job.stop("500", 400, SIGKILL, 128 + SIGKILL);
    const std::size_t updated_before = count(before, Outcome::updated);
    ASSERT_GT(updated_before, 300u);
    ASSERT_LT(updated_before, static_cast<std::size_t>(rows));
    const auto requests_before = server.stats().requests;
    EXPECT_GE(requests_before, updated_before);

    const auto resumed = job.resume();
    EXPECT_EQ(server.stats().requests - requests_before, rows - updated_before) << "nothing recorded as updated was sent again";
    EXPECT_EQ(count(resumed, Outcome::skipped), updated_before);
    EXPECT_EQ(count(resumed, Outcome::updated), rows - updated_before);
    EXPECT_EQ(cards(server).size(), static_cast<std::size_t>(rows));
}

TEST(EngineProcess, ThreadsSigintThenResumeSendsEveryRowOnce) {
    MockServer server(mock_options());
    constexpr int rows = 3000;
    StoppedJob job(server, rows, {"--threads", "2", "--connections", "4"});
    const auto before = job.stop("400", 200, SIGINT, cardsync::exit_interrupted);
    EXPECT_NE(job.err().find("--resume"), std::string::npos) << job.err();
    std::set<std::uint64_t> lines;
    for (const auto& r : before) EXPECT_TRUE(lines.insert(r.line).second) << "line " << r.line << " twice";
    const std::size_t updated_before = count(before, Outcome::updated);
    ASSERT_GT(updated_before, 100u);
    ASSERT_LT(before.size(), static_cast<std::size_t>(rows));
    EXPECT_EQ(server.stats().requests, updated_before) << "what was in flight finished; nothing else was sent";

    const auto resumed = job.resume();
    EXPECT_EQ(server.stats().requests, static_cast<std::uint64_t>(rows)) << "every row sent once over both runs";
    EXPECT_EQ(count(resumed, Outcome::skipped), updated_before);
    EXPECT_EQ(cards(server).size(), static_cast<std::size_t>(rows));
}

TEST(EngineProcess, LargeInputThroughStdinRunsInFlatMemory) {
#if defined(__SANITIZE_ADDRESS__)
    GTEST_SKIP() << "peak memory means nothing under AddressSanitizer (shadow memory, quarantine)";
#endif
    TempDir dir;
    MockServer server(mock_options());
    // The child's own peak (VmHWM, printed in its summary): a spawned child's rusage would also
    // count the pages of this test process, the simulator's cards included.
    auto peak_kib = [&](int rows) -> long {
        cardsync::test::write_file(dir.file("rows.csv"), distinct_rows(rows));
        const pid_t c = start_process({bin, "apply", "-", "--format", "csv", "--base-url", server.api_url(), "--rate", "0",
                               "--max-attempts", "1", "--connections", "64", "--budget", "off", "--results",
                               dir.file("results.ndjson")},
                              dir.file("rows.csv"), dir.file("out"), dir.file("err"), {"LINQ_API_V3_API_KEY=mock-key"});
        const ProcessExit e = wait_process(c);
        const auto err = cardsync::test::read_file(dir.file("err"));
        EXPECT_EQ(e.code, cardsync::exit_ok) << err;
        EXPECT_EQ(line_count(dir.file("results.ndjson")), static_cast<std::size_t>(rows));
        const auto at = err.find("peak memory ");
        if (at == std::string::npos) {
            ADD_FAILURE() << err;
            return 0;
        }
        return static_cast<long>(std::stod(err.substr(at + 12)) * 1024);
    };
    const long small = peak_kib(20'000);
    const long large = peak_kib(1'000'000);
    RecordProperty("peak_rss_kib_20k", std::to_string(small));
    RecordProperty("peak_rss_kib_1m", std::to_string(large));
    std::printf("peak RSS: 20k rows %ld KiB, 1M rows %ld KiB\n", small, large);
    EXPECT_GT(small, 0);
    EXPECT_LT(large, small + 4 * 1024) << "fifty times the rows, about the same memory";
}

// --- against a snapshot: --skip-unchanged, --create-missing --------------------------------------

// A simulator holding cards for numbers 0..n-1 ("Ann<i>", "Lee"); numbers from n on have none.
struct SeededServer {
    TempDir dir;
    std::unique_ptr<MockServer> server;
    explicit SeededServer(int n) {
        std::string csv = "phone_number,first_name,last_name\n";
        for (int i = 0; i < n; ++i) csv += number(i) + ",Ann" + std::to_string(i) + ",Lee\n";
        cardsync::test::write_file(dir.file("seed.csv"), csv);
        MockOptions m = mock_options();
        m.every_number_has_card = false;
        m.seed_cards_csv = dir.file("seed.csv");
        server = std::make_unique<MockServer>(m);
    }
    std::uint64_t writes() const {
        const auto s = server->stats();
        std::uint64_t n = 0;
        for (const char* m : {"PATCH", "POST"})
            if (s.by_method.count(m)) n += s.by_method.at(m);
        return n;
    }
};

// One apply with a fresh snapshot, as the CLI does it.
Run run_with_snapshot(const MockServer& server, const std::string& csv, bool skip_unchanged, bool create_missing) {
    auto o = options_for(server);
    const auto snapshot = cardsync::fetch_card_snapshot(o);
    o.snapshot = &snapshot.cards;
    o.skip_unchanged = skip_unchanged;
    o.create_missing = create_missing;
    return run(o, csv);
}

TEST(EngineSnapshot, ASecondRunOfAnUnchangedFileSendsNoWrite) {
    SeededServer seeded(50);
    // Rows 0..9 rename, 10..49 repeat the live values.
    std::string csv = "phone_number,first_name,last_name\n";
    for (int i = 0; i < 50; ++i) csv += number(i) + (i < 10 ? ",Bea" : ",Ann") + std::to_string(i) + ",Lee\n";

    const auto first = run_with_snapshot(*seeded.server, csv, true, false);
    EXPECT_EQ(count(first.records, Outcome::updated), 10u) << first.report.summary();
    EXPECT_EQ(count(first.records, Outcome::skipped), 40u);
    EXPECT_EQ(first.report.unchanged, 40u);
    EXPECT_EQ(seeded.writes(), 10u) << "only the changed rows were sent";
    for (const auto& rec : first.records)
        if (rec.outcome == Outcome::skipped) {
            EXPECT_EQ(rec.message, "unchanged");
            EXPECT_EQ(rec.attempts, 0);
        }
    EXPECT_EQ(first.report.exit_status(), cardsync::exit_ok);

    const auto second = run_with_snapshot(*seeded.server, csv, true, false);
    EXPECT_EQ(count(second.records, Outcome::skipped), 50u) << second.report.summary();
    EXPECT_EQ(seeded.writes(), 10u) << "the second run sent no write";
    EXPECT_EQ(seeded.server->stats().by_method.at("GET"), 2u) << "one snapshot per run";
    EXPECT_EQ(cards(*seeded.server).at(number(3)), (CardView{"Bea3", "Lee"}));

    // One row changes the next night: exactly that row is sent.
    std::string changed = csv;
    changed.replace(changed.find(",Ann42,"), 7, ",Cat42,");
    const auto third = run_with_snapshot(*seeded.server, changed, true, false);
    EXPECT_EQ(count(third.records, Outcome::updated), 1u);
    EXPECT_EQ(seeded.writes(), 11u);
    EXPECT_EQ(cards(*seeded.server).at(number(42)), (CardView{"Cat42", "Lee"}));

    // Without --skip-unchanged the same file is sent whole, as before.
    const auto all = run_with_snapshot(*seeded.server, changed, false, false);
    EXPECT_EQ(count(all.records, Outcome::updated), 50u);
    EXPECT_EQ(seeded.writes(), 61u);
}

TEST(EngineSnapshot, CreateMissingPostsNewCards) {
    SeededServer seeded(2);
    const std::string csv = "phone_number,first_name,last_name\n" +
                            number(0) + ",Ann0,Lee\n" +   // unchanged
                            number(5) + ",Eve,Ng\n" +     // created
                            number(6) + ",,Ong\n" +       // no first_name: cannot be created
                            number(5) + ",,Ngo\n";        // after the create: a change of the new card
    const auto r = run_with_snapshot(*seeded.server, csv, true, true);
    ASSERT_EQ(r.records.size(), 4u) << r.report.summary();
    std::map<std::uint64_t, ResultRecord> by_line;
    for (const auto& rec : r.records) by_line[rec.line] = rec;
    EXPECT_EQ(by_line[2].outcome, Outcome::skipped);
    EXPECT_EQ(by_line[3].outcome, Outcome::updated);
    EXPECT_EQ(by_line[3].message, "created (POST)");
    EXPECT_EQ(by_line[4].outcome, Outcome::invalid);
    EXPECT_EQ(by_line[4].message, cardsync::first_name_required);
    EXPECT_EQ(by_line[5].outcome, Outcome::updated);
    EXPECT_EQ(r.report.creates, 1u);
    const auto s = seeded.server->stats();
    EXPECT_EQ(s.by_method.at("POST"), 1u);
    EXPECT_EQ(s.by_method.at("PATCH"), 1u);
    const auto c = cards(*seeded.server);
    EXPECT_EQ(c.at(number(5)), (CardView{"Eve", "Ngo"})) << "created, then changed, in input order";
    EXPECT_EQ(c.count(number(6)), 0u);

    // And the simulator's GET-all lists it now.
    const auto after = cardsync::fetch_card_snapshot(options_for(*seeded.server));
    ASSERT_TRUE(after.cards.find(number(5)));
    EXPECT_EQ(after.cards.find(number(5))->first_name, "Eve");
}

TEST(EngineSnapshot, WithoutCreateMissingANumberWithoutCardIsRejected404) {
    SeededServer seeded(1);
    const std::string csv = "phone_number,first_name,last_name\n" + number(7) + ",Gus,\n" + number(8) + ",,Li\n";
    const auto r = run_with_snapshot(*seeded.server, csv, true, false);
    ASSERT_EQ(r.records.size(), 2u);
    EXPECT_EQ(count(r.records, Outcome::rejected), 2u) << "first_name or not: a PATCH, answered 404";
    for (const auto& rec : r.records) EXPECT_EQ(rec.http_status, 404);
    EXPECT_EQ(seeded.server->stats().by_method.count("POST"), 0u);
}

TEST(EngineSnapshot, ACardMadeAfterTheSnapshotFallsBackToPatch) {
    SeededServer seeded(3);
    // The snapshot predates the cards (empty), as when another job set them up meanwhile.
    cardsync::CardSnapshot stale;
    auto o = options_for(*seeded.server);
    o.snapshot = &stale;
    o.create_missing = true;
    const std::string csv = "phone_number,first_name\n" + number(1) + ",Zed\n";
    const auto r = run(o, csv);
    ASSERT_EQ(r.records.size(), 1u);
    EXPECT_EQ(r.records[0].outcome, Outcome::updated) << r.records[0].message;
    EXPECT_EQ(r.records[0].message, "a card existed (POST answered 409/2014): updated with PATCH");
    EXPECT_EQ(r.records[0].attempts, 2) << "the POST and the PATCH";
    EXPECT_EQ(r.report.create_conflicts, 1u);
    const auto s = seeded.server->stats();
    EXPECT_EQ(s.by_code.at(2014), 1u);
    EXPECT_EQ(s.by_method.at("POST"), 1u);
    EXPECT_EQ(s.by_method.at("PATCH"), 1u);
    EXPECT_EQ(cards(*seeded.server).at(number(1)), (CardView{"Zed", "Lee"})) << "PATCH kept the last name";
}

TEST(EngineSnapshot, FlagsWithoutASnapshotAreRefused) {
    MockServer server(mock_options());
    auto o = options_for(server);
    o.skip_unchanged = true;
    EXPECT_THROW(run(o, distinct_rows(1)), std::invalid_argument);
}


// --- several engines (--threads N) ---------------------------------------------------------------

TEST(EngineThreads, EveryRowRecordedOnceAndEachNumberTakesEffectInInputOrder) {
    auto m = mock_options();
    m.latency_ms = 2;
    MockServer server(m);
    auto o = options_for(server);
    o.threads = 3;
    o.connections = 7;  // shared 3, 2, 2
    std::string csv = "phone_number,first_name,last_name\n";
    std::map<std::string, CardView> expected;
    std::size_t rows = 0, invalid = 0;
    for (int round = 0; round < 20; ++round) {
        for (int n = 0; n < 40; ++n) {
            const std::string first = fmt::format("F{}", round);
            const bool with_last = (round + n) % 4 == 0;
            csv += number(n) + "," + first + "," + (with_last ? fmt::format("L{}", round) : "") + "\n";
            expected[number(n)].first = first;
            if (with_last) expected[number(n)].last = fmt::format("L{}", round);
            ++rows;
        }
        csv += "not-a-number,X,Y\n";  // never sent, still recorded
        ++rows;
        ++invalid;
    }
    for (int i = 100; i < 400; ++i) {  // and many numbers seen once
        csv += number(i) + ",Once,\n";
        expected[number(i)].first = "Once";
        ++rows;
    }
    const auto r = run(o, csv);
    ASSERT_EQ(r.records.size(), rows) << r.report.summary();
    std::set<std::uint64_t> lines;
    for (const auto& rec : r.records) EXPECT_TRUE(lines.insert(rec.line).second) << "line " << rec.line << " twice";
    EXPECT_EQ(lines.size(), rows);
    EXPECT_EQ(count(r.records, Outcome::invalid), invalid);
    EXPECT_EQ(count(r.records, Outcome::updated), rows - invalid) << r.report.summary();
    EXPECT_EQ(cards(server), expected) << "every number's last row won";

    // the merged report adds up the engines'
    EXPECT_EQ(r.report.records(), rows);
    EXPECT_EQ(r.report.rows_read, rows);
    EXPECT_TRUE(r.report.input_exhausted);
    EXPECT_EQ(r.report.count(Outcome::updated), rows - invalid);
    const auto s = server.stats();
    EXPECT_EQ(r.report.requests, s.requests);
    EXPECT_EQ(s.requests + r.report.coalesced + invalid, rows);
    EXPECT_EQ(r.report.latency.count(), s.requests);
    EXPECT_EQ(r.report.pool.answers, s.requests);
    EXPECT_GE(r.report.pool.connects, 3u) << "each engine has connections of its own";
    EXPECT_LE(s.connections_total, 7u);
    EXPECT_EQ(r.report.exit_status(), cardsync::exit_rows_failed);
}

TEST(EngineThreads, ANumbersBudgetHoldsWhicheverThreadItIsOn) {
    auto m = mock_options();
    m.budget_calls = 2;
    m.budget_window_s = 1.5;
    MockServer server(m);
    auto o = options_for(server);
    o.threads = 2;
    o.budget = cardsync::BudgetSpec{2, 1500ms};
    o.max_admitted = 2;  // one row at a time per engine: every row its own call
    // three numbers in turn: consecutive rows of a number are on lines of alternating parity
    std::string csv = "phone_number,first_name\n";
    for (int i = 1; i <= 4; ++i)
        for (int n = 0; n < 3; ++n) csv += number(n) + ",V" + std::to_string(i) + "\n";
    const auto r = run(o, csv);
    EXPECT_EQ(count(r.records, Outcome::updated), 12u) << r.report.summary();
    EXPECT_EQ(status_count(server.stats(), 429), 0u) << "no number was sent more than its budget";
    EXPECT_GE(r.report.elapsed_s, 1.4) << "each number's third call waited for its window";
    for (int n = 0; n < 3; ++n) EXPECT_EQ(cards(server).at(number(n)).first, "V4");
}

// The outlet (engine) a number goes to with `threads` engines.
std::size_t engine_of(const std::string& phone, std::size_t threads) {
    cardsync::RowPrefetcher::CheckedRow row{2, phone, cardsync::ContactUpdate{2, phone, {}}};
    return cardsync::RowPrefetcher::outlet_of(row, threads);
}

TEST(EngineThreads, AnEngineThatStopsTheRunStopsTheOthers) {
    // Engine 0 gets only numbers the API rejects (a flood of 403/2005: it stops the run); engine 1
    // gets only good ones, and must stop too instead of sending the rest.
    auto m = mock_options();
    m.outside_prefixes = {"+1666"};
    m.latency_ms = 5;
    MockServer server(m);
    auto o = options_for(server);
    o.threads = 2;
    std::string csv = "phone_number,first_name\n";
    int bad = 0, good = 0;
    for (int i = 0; (bad < 1500 || good < 1500) && i < 100'000; ++i) {
        const std::string rejected = "+1666" + std::to_string(1000000 + i);
        const std::string accepted = number(i);
        if (bad < 1500 && engine_of(rejected, 2) == 0) csv += rejected + ",A\n", ++bad;
        if (good < 1500 && engine_of(accepted, 2) == 1) csv += accepted + ",A\n", ++good;
    }
    ASSERT_EQ(bad + good, 3000) << "numbers for each engine";
    const auto r = run(o, csv);
    EXPECT_TRUE(r.report.aborted);
    EXPECT_NE(r.report.abort_reason.find("HTTP 403 (2005)"), std::string::npos) << r.report.abort_reason;
    EXPECT_EQ(r.records.size(), r.report.rows_read);
    EXPECT_LT(count(r.records, Outcome::updated), 1000u) << "the good engine stopped early too";
    EXPECT_LT(server.stats().requests, 1200u);
    std::size_t stopped = 0;
    for (const auto& rec : r.records)
        if (rec.outcome == Outcome::failed && rec.message.find("not sent: the run stopped (") == 0) ++stopped;
    EXPECT_GT(stopped, 0u) << "the good engine's queued rows say why they were not sent";
}

// Rows, then a broken input: the error must reach the caller (no thread left waiting for rows).
class BreakingReader final : public cardsync::RowReader {
public:
    explicit BreakingReader(int rows) : rows_(rows) {}
    bool next(cardsync::InputRow& row) override {
        if (given_ == rows_) throw cardsync::InputError("input:77: broken on purpose");
        ++given_;
        row = cardsync::InputRow{};
        row.line = static_cast<std::uint64_t>(given_ + 1);
        row.phone_number = number(given_);
        row.fields.first_name = "Ann";
        return true;
    }
    std::uint64_t bytes_read() const noexcept override { return static_cast<std::uint64_t>(given_) * 20; }

private:
    int rows_;
    int given_ = 0;
};

// Runs `o` over `reader`, whose read fails at input:77, expecting that InputError to reach the
// caller; returns the records written.
std::vector<ResultRecord> run_expecting_input_error(const ApplyOptions& o, cardsync::RowReader& reader) {
    TempDir dir;
    {
        cardsync::ResultsWriter writer(dir.file("results.ndjson"), cardsync::ResultsFormat::ndjson);
        cardsync::StopSignal stop;
        try {
            (void)cardsync::run_apply(o, reader, writer, stop);
            ADD_FAILURE() << "no InputError";
        } catch (const cardsync::InputError& e) {
            EXPECT_NE(std::string(e.what()).find("input:77"), std::string::npos) << e.what();
        }
        writer.close();
    }
    return read_records(dir.file("results.ndjson"));
}

TEST(Engine, AnInputErrorPartWayRecordsEveryRowReadThenReachesTheCaller) {
    // The read fails after 50 rows, while many of them are still in flight (50 ms answers, 8
    // connections): they finish and are recorded, the rest are recorded as not sent, and only
    // then does the error reach the caller (a bad file: exit 2).
    auto m = mock_options();
    m.latency_ms = 50;
    MockServer server(m);
    auto o = options_for(server);
    o.connections = 8;
    BreakingReader reader(50);
    const auto records = run_expecting_input_error(o, reader);
    ASSERT_EQ(records.size(), 50u) << "one record for every row read";
    std::set<std::uint64_t> lines;
    for (const auto& rec : records) {
        lines.insert(rec.line);
        if (rec.outcome != Outcome::updated) {
            EXPECT_EQ(rec.outcome, Outcome::failed);
            EXPECT_NE(rec.message.find("reading the input failed (input:77"), std::string::npos) << rec.message;
        }
    }
    EXPECT_EQ(lines.size(), 50u);
    EXPECT_GE(count(records, Outcome::updated), 8u) << "the rows in flight were answered and recorded";
}

TEST(EngineThreads, AnInputErrorReachesTheCaller) {
    MockServer server(mock_options());
    auto o = options_for(server);
    o.threads = 3;
    o.connections = 3;
    BreakingReader reader(50);
    // (an engine stopped by another's error may leave rows it never took: those are the run's
    // rows not reached, so not every row read need have a record here)
    (void)run_expecting_input_error(o, reader);
}

TEST(EngineThreads, ProgressIsSummedAndReportedOnTheCallersThread) {
    auto m = mock_options();
    m.latency_ms = 20;
    MockServer server(m);
    auto o = options_for(server);
    o.threads = 2;
    o.progress_interval = 50ms;
    const auto caller = std::this_thread::get_id();
    std::vector<cardsync::ProgressSnapshot> seen;
    bool other_thread = false;
    o.progress = [&](const cardsync::ProgressSnapshot& s) {
        other_thread = other_thread || std::this_thread::get_id() != caller;
        seen.push_back(s);
    };
    const auto r = run(o, distinct_rows(300));
    EXPECT_EQ(count(r.records, Outcome::updated), 300u);
    EXPECT_FALSE(other_thread);
    ASSERT_GE(seen.size(), 2u) << "300 rows at 20 ms over 4 connections take ~1.5 s";
    std::uint64_t before = 0;
    for (const auto& s : seen) {
        EXPECT_GE(s.rows_done, before);
        EXPECT_LE(s.rows_done, 300u);
        EXPECT_LE(s.rows_done, s.rows_read);
        EXPECT_EQ(s.updated, s.rows_done);
        before = s.rows_done;
    }
    EXPECT_GT(seen.back().rows_done, 0u);
}

TEST(EngineThreads, MoreThreadsThanConnectionsIsRefused) {
    MockServer server(mock_options());
    auto o = options_for(server);
    o.threads = 5;
    o.connections = 4;
    try {
        (void)run(o, distinct_rows(3));
        ADD_FAILURE() << "accepted";
    } catch (const std::invalid_argument& e) {
        EXPECT_NE(std::string(e.what()).find("--threads 5"), std::string::npos) << e.what();
    }
    EXPECT_EQ(server.stats().requests, 0u);
}

}  // namespace
