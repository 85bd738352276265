// The end-of-run report: text, JSON (parsed back with simdjson and checked against the schema),
// Prometheus text, what to do next, and the atomic file write.
#include "cardsync/run_summary.hpp"

#include "cardsync/mock_server.hpp"
#include "cardsync/results_reader.hpp"
#include "support/subprocess.hpp"
#include "support/temp_dir.hpp"

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <simdjson.h>

#include <algorithm>
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>
#include <regex>
#include <set>
#include <sstream>
#include <string>

namespace {

using cardsync::ApplyReport;
using cardsync::Outcome;
using cardsync::RunContext;
using cardsync::TransportError;

void set(ApplyReport& r, Outcome o, std::uint64_t n) { r.outcomes[static_cast<std::size_t>(o)] = n; }

// A run with a bit of everything: 100 rows, retries, a 429, 5xx, a timeout, a truncated answer.
ApplyReport sample_report() {
    ApplyReport r;
    set(r, Outcome::updated, 80);
    set(r, Outcome::skipped, 2);
    set(r, Outcome::invalid, 7);
    set(r, Outcome::rejected, 6);
    set(r, Outcome::failed, 5);
    r.rows_read = 100;
    r.requests = 110;
    r.resends = 1;
    r.retries = 18;
    r.throttled = 2;
    r.coalesced = 1;
    r.statuses = {{200, 80}, {404, 6}, {429, 2}, {500, 12}, {503, 4}};
    r.api_codes = {{2001, 6}, {1007, 2}, {3006, 12}, {4004, 4}};
    r.transport_errors[static_cast<std::size_t>(TransportError::timeout)] = 3;
    r.transport_errors[static_cast<std::size_t>(TransportError::truncated)] = 2;
    r.transport_errors[static_cast<std::size_t>(TransportError::read)] = 1;
    r.transport_errors[static_cast<std::size_t>(TransportError::connect)] = 4;
    r.retries_exhausted = 5;
    r.input_exhausted = true;
    r.last_line_read = 101;
    r.elapsed_s = 10;
    r.target_rate = 20;
    r.final_rate = 15;
    for (std::uint64_t us : {900, 1000, 1100, 5000, 250000}) r.latency.record(us);
    for (std::uint64_t us : {900, 1000, 1200, 9000, 400000}) r.intended_latency.record(us);
    r.pool.connects = 3;
    r.pool.connect_failures = 4;
    r.input = {"contacts.csv", 4096, std::string(64, 'a'), true};
    return r;
}

TEST(RunSummary, ErrorStagesFromTheReport) {
    const auto e = cardsync::error_stages(sample_report());
    EXPECT_EQ(e.connect, 4u);
    EXPECT_EQ(e.tls, 0u);
    EXPECT_EQ(e.read, 3u);  // read + truncated
    EXPECT_EQ(e.timeout, 3u);
    EXPECT_EQ(e.http_4xx, 8u);
    EXPECT_EQ(e.http_5xx, 16u);
    EXPECT_EQ(e.retries_exhausted, 5u);
}

TEST(RunSummary, TextHasEveryFigure) {
    RunContext ctx;
    ctx.resume_command = "cardsync apply in.csv --results out.ndjson --resume";
    const std::string t = cardsync::summary_text(sample_report(), ctx);
    for (const char* part :
         {"100 rows: 80 updated, 2 skipped, 7 invalid, 6 rejected, 5 failed", "110 requests (109 attempts, 18 retries, 1 free resends)",
          "11.0/s achieved of 20/s target", "throttled 2 times", "HTTP 200 x80 404 x6 429 x2 500 x12 503 x4",
          "API error codes 1007 x2 2001 x6 3006 x12 4004 x4",
          "errors: connect 4, read 3, timeout 3, 4xx 8, 5xx 16, retries exhausted 5",
          "from the actual send: p50 1.1", "max 250.0", "from the intended send:", "max 400.0",
          "to retry the 5 failed rows", "cardsync apply in.csv --results out.ndjson --resume"})
        EXPECT_NE(t.find(part), std::string::npos) << part << "\n" << t;
    std::istringstream lines(t);
    for (std::string line; std::getline(lines, line);) EXPECT_EQ(line.rfind("cardsync: ", 0), 0u) << line;
}

TEST(RunSummary, RowsNeverReachedAfterAStop) {
    ApplyReport r;
    r.interrupted = true;
    r.last_line_read = 40;
    r.first_line_not_reached = 41;
    EXPECT_NE(cardsync::summary_text(r, {}).find("rows from line 41 on were never read"), std::string::npos);
    // several engines (--threads): one stopped at line 12, another had read up to line 40
    r.first_line_not_reached = 12;
    const std::string t = cardsync::summary_text(r, {});
    EXPECT_NE(t.find("rows from line 12 on were not all reached: those up to line 40 with a record were"),
              std::string::npos) << t;
    r.first_line_not_reached.reset();
    EXPECT_NE(cardsync::summary_text(r, {}).find("rows after line 40 were never read"), std::string::npos);
}

TEST(RunSummary, NextSteps) {
    RunContext ctx;
    ctx.resume_command = "cardsync apply x.csv --results r.csv --resume";
    ApplyReport ok;
    set(ok, Outcome::updated, 3);
    ok.input_exhausted = true;
    EXPECT_TRUE(cardsync::next_steps(ok, ctx).empty());

    ApplyReport stopped = ok;
    stopped.interrupted = true;
    stopped.input_exhausted = false;
    auto steps = cardsync::next_steps(stopped, ctx);
    ASSERT_EQ(steps.size(), 1u);
    EXPECT_NE(steps[0].find("to finish the run"), std::string::npos);
    EXPECT_NE(steps[0].find(ctx.resume_command), std::string::npos);
    EXPECT_EQ(steps[0].find("stdin"), std::string::npos);

    RunContext from_stdin = ctx;
    from_stdin.input_from_stdin = true;
    steps = cardsync::next_steps(stopped, from_stdin);
    ASSERT_EQ(steps.size(), 1u);
    EXPECT_NE(steps[0].find(ctx.resume_command + " < the same input as this run (it read stdin)"), std::string::npos) << steps[0];

    ApplyReport aborted = ok;
    aborted.aborted = true;
    aborted.abort_reason = "the API refused the key";
    steps = cardsync::next_steps(aborted, ctx);
    ASSERT_EQ(steps.size(), 2u);
    EXPECT_NE(steps[0].find("the API refused the key"), std::string::npos);

    ApplyReport rejected = ok;
    set(rejected, Outcome::rejected, 2);
    steps = cardsync::next_steps(rejected, RunContext{});  // records on stdout: nothing to resume from
    ASSERT_EQ(steps.size(), 2u);
    EXPECT_NE(steps[0].find("2 rows were rejected"), std::string::npos);
    EXPECT_NE(steps[1].find("--results FILE"), std::string::npos);
}

TEST(RunSummary, ResumeCommandQuotesAndNeverEchoesAToken) {
    EXPECT_EQ(cardsync::resume_command({"cardsync", "apply", "my file.csv", "--results", "r.ndjson"}),
              "cardsync apply 'my file.csv' --results r.ndjson --resume");
    EXPECT_EQ(cardsync::resume_command({"cardsync", "apply", "a.csv", "--resume", "--results", "r.csv"}),
              "cardsync apply a.csv --resume --results r.csv");
    EXPECT_EQ(cardsync::resume_command({"cardsync", "apply", "--mock", "--mock-api-key", "tok123", "--mock-api-key=tok456", "a.csv"}),
              "cardsync apply --mock a.csv --resume");
    EXPECT_EQ(cardsync::resume_command({}), "");
    EXPECT_EQ(cardsync::shell_quote("it's"), "'it'\\''s'");
    EXPECT_EQ(cardsync::shell_quote(""), "''");
    EXPECT_EQ(cardsync::shell_quote("a;b"), "'a;b'");
    EXPECT_EQ(cardsync::shell_quote("+1/x=2,y@z:%"), "+1/x=2,y@z:%");
}

std::uint64_t u(simdjson::ondemand::value v) { return std::uint64_t(v.get_uint64()); }

// Checks one exported histogram against the one it came from: same figures, buckets that add up,
// and a histogram rebuilt from the buckets gives the same percentiles (so shard summaries merge).
void expect_histogram(simdjson::ondemand::object h, const cardsync::LatencyHistogram& want) {
    EXPECT_EQ(u(h["count"]), want.count());
    EXPECT_EQ(u(h["min"]), want.min());
    EXPECT_EQ(u(h["p50"]), want.percentile(50));
    EXPECT_EQ(u(h["p90"]), want.percentile(90));
    EXPECT_EQ(u(h["p99"]), want.percentile(99));
    EXPECT_EQ(u(h["max"]), want.max());
    EXPECT_NEAR(double(h["mean"]), want.mean(), 0.1);
    cardsync::LatencyHistogram rebuilt;
    std::uint64_t total = 0, last_high = 0;
    for (auto bucket : h["buckets"].get_array()) {
        std::vector<std::uint64_t> b;
        for (auto x : bucket.get_array()) b.push_back(u(x.value()));
        ASSERT_EQ(b.size(), 3u);
        EXPECT_LE(b[0], b[1]);
        EXPECT_GT(b[0], last_high == 0 && total == 0 ? 0 : last_high) << "sorted, disjoint";
        EXPECT_EQ(cardsync::LatencyHistogram::bucket_of(b[0]), cardsync::LatencyHistogram::bucket_of(b[1]));
        EXPECT_GT(b[2], 0u) << "sparse: no empty bucket";
        last_high = b[1];
        total += b[2];
        for (std::uint64_t i = 0; i < b[2]; ++i) rebuilt.record(b[1]);
    }
    EXPECT_EQ(total, want.count());
    for (double p : {50.0, 90.0, 99.0})
        EXPECT_EQ(cardsync::LatencyHistogram::bucket_of(rebuilt.percentile(p)),
                  cardsync::LatencyHistogram::bucket_of(want.percentile(p)));
}

TEST(RunSummary, JsonParsesAndFollowsTheSchema) {
    ApplyReport r = sample_report();
    r.shard = cardsync::ShardSpec{2, 8};
    r.rows_other_shards = 300;
    r.unchanged = 7;
    r.creates = 5;
    r.create_conflicts = 2;
    RunContext ctx;
    ctx.resume_command = "cardsync apply 'a b.csv' --results r.ndjson --resume";
    const std::string text = cardsync::summary_json(r, ctx);
    ASSERT_EQ(text.back(), '\n');
    EXPECT_EQ(text.find('\n'), text.size() - 1) << "one line";
    simdjson::ondemand::parser parser;
    simdjson::padded_string json(text);
    simdjson::ondemand::document doc = parser.iterate(json);
    simdjson::ondemand::object o = doc.get_object();

    // Every top-level key of schema 1, in order (the README documents them in this order).
    const std::vector<std::string> keys = {
        "schema_version", "tool", "version", "input", "shard", "state", "exit_status", "abort_reason",
        "input_exhausted", "last_line_read", "first_line_not_reached", "rows", "requests", "http_status",
        "api_error_code", "errors", "wall_time_s", "rate", "latency_us", "intended_latency_us", "connections",
        "peak_rss_kib", "resume_command", "next_steps"};
    std::vector<std::string> seen;
    for (auto field : o) seen.emplace_back(std::string_view(field.unescaped_key()));
    EXPECT_EQ(seen, keys);

    o.reset();
    EXPECT_EQ(u(o["schema_version"]), std::uint64_t(cardsync::summary_schema_version));
    EXPECT_EQ(std::string_view(o["tool"]), "cardsync");
    auto input = o["input"].get_object();
    EXPECT_EQ(std::string_view(input["name"]), "contacts.csv");
    EXPECT_EQ(u(input["bytes"]), 4096u);
    EXPECT_EQ(std::string_view(input["sha256"]), std::string(64, 'a'));
    EXPECT_TRUE(bool(input["complete"]));
    auto shard = o["shard"].get_object();
    EXPECT_EQ(u(shard["index"]), 2u);
    EXPECT_EQ(u(shard["count"]), 8u);
    EXPECT_EQ(std::string_view(o["state"]), "completed");
    EXPECT_EQ(u(o["exit_status"]), 1u);
    EXPECT_TRUE(o["abort_reason"].is_null().value());
    EXPECT_TRUE(bool(o["input_exhausted"]));
    EXPECT_EQ(u(o["last_line_read"]), 101u);
    EXPECT_TRUE(o["first_line_not_reached"].is_null().value());
    auto rows = o["rows"].get_object();
    EXPECT_EQ(u(rows["read"]), 100u);
    EXPECT_EQ(u(rows["recorded"]), r.records());
    for (auto out : {Outcome::updated, Outcome::skipped, Outcome::invalid, Outcome::rejected, Outcome::failed})
        EXPECT_EQ(u(rows[cardsync::to_string(out)]), r.count(out)) << cardsync::to_string(out);
    EXPECT_EQ(u(rows["coalesced"]), 1u);
    EXPECT_EQ(u(rows["other_shards"]), 300u);
    EXPECT_EQ(u(rows["unchanged"]), 7u);
    auto req = o["requests"].get_object();
    EXPECT_EQ(u(req["sent"]), 110u);
    EXPECT_EQ(u(req["attempts"]), 109u);
    EXPECT_EQ(u(req["retries"]), 18u);
    EXPECT_EQ(u(req["resends"]), 1u);
    EXPECT_EQ(u(req["throttled"]), 2u);
    EXPECT_EQ(u(req["creates"]), 5u);
    EXPECT_EQ(u(req["create_conflicts"]), 2u);
    const std::string said = cardsync::summary_text(r, ctx);
    EXPECT_NE(said.find("7 unchanged rows not sent"), std::string::npos) << said;
    EXPECT_NE(said.find("5 cards created with POST (2 existed already: sent as PATCH)"), std::string::npos) << said;
    const std::string metrics = cardsync::metrics_text(r, ctx);
    EXPECT_NE(metrics.find("cardsync_rows_unchanged{shard=\"2\",shard_count=\"8\"} 7\n"), std::string::npos) << metrics;
    EXPECT_NE(metrics.find("cardsync_create_conflicts{shard=\"2\",shard_count=\"8\"} 2\n"), std::string::npos) << metrics;
    std::map<int, std::uint64_t> statuses, codes;
    for (auto f : o["http_status"].get_object()) statuses[std::stoi(std::string(std::string_view(f.unescaped_key())))] = u(f.value());
    EXPECT_EQ(statuses, r.statuses);
    for (auto f : o["api_error_code"].get_object()) codes[std::stoi(std::string(std::string_view(f.unescaped_key())))] = u(f.value());
    EXPECT_EQ(codes, r.api_codes);
    auto errors = o["errors"].get_object();
    const auto e = cardsync::error_stages(r);
    EXPECT_EQ(u(errors["connect"]), e.connect);
    EXPECT_EQ(u(errors["tls"]), e.tls);
    EXPECT_EQ(u(errors["write"]), e.write);
    EXPECT_EQ(u(errors["read"]), e.read);
    EXPECT_EQ(u(errors["timeout"]), e.timeout);
    EXPECT_EQ(u(errors["http_4xx"]), e.http_4xx);
    EXPECT_EQ(u(errors["http_5xx"]), e.http_5xx);
    EXPECT_EQ(u(errors["parse"]), e.parse);
    EXPECT_EQ(u(errors["retries_exhausted"]), e.retries_exhausted);
    EXPECT_DOUBLE_EQ(double(o["wall_time_s"]), 10.0);
    auto rate = o["rate"].get_object();
    EXPECT_DOUBLE_EQ(double(rate["target"]), 20.0);
    EXPECT_DOUBLE_EQ(double(rate["achieved"]), 11.0);
    EXPECT_DOUBLE_EQ(double(rate["final"]), 15.0);
    expect_histogram(o["latency_us"].get_object(), r.latency);
    expect_histogram(o["intended_latency_us"].get_object(), r.intended_latency);
    auto conns = o["connections"].get_object();
    EXPECT_EQ(u(conns["opened"]), 3u);
    EXPECT_EQ(u(conns["failed"]), 4u);
    EXPECT_EQ(std::string_view(o["resume_command"]), ctx.resume_command);
    std::size_t steps = 0;
    for (auto step : o["next_steps"].get_array()) {
        (void)std::string_view(step);
        ++steps;
    }
    EXPECT_EQ(steps, cardsync::next_steps(r, ctx).size());
}

TEST(RunSummary, JsonOfAnInterruptedRunWithoutShardOrAnswers) {
    ApplyReport r;
    r.interrupted = true;
    r.first_line_not_reached = 42;
    r.aborted = true;
    r.abort_reason = "said \"no\"";
    const std::string text = cardsync::summary_json(r, RunContext{});
    simdjson::ondemand::parser parser;
    simdjson::padded_string json(text);
    auto doc = parser.iterate(json);
    auto o = doc.get_object();
    EXPECT_TRUE(o["shard"].is_null().value());
    EXPECT_EQ(std::string_view(o["state"]), "interrupted");
    EXPECT_EQ(u(o["exit_status"]), 130u);
    EXPECT_EQ(std::string_view(o["abort_reason"]), "said \"no\"");
    EXPECT_EQ(u(o["first_line_not_reached"]), 42u);
    EXPECT_EQ(u(o["latency_us"]["count"]), 0u);
    simdjson::ondemand::array buckets = o["latency_us"]["buckets"].get_array();
    EXPECT_EQ(buckets.count_elements().value(), 0u);
    EXPECT_TRUE(o["resume_command"].is_null().value());
}

TEST(RunSummary, PrometheusTextIsWellFormed) {
    ApplyReport r = sample_report();
    RunContext ctx;
    ctx.finished_unix_s = 1'700'000'000.5;
    const std::string m = cardsync::metrics_text(r, ctx);
    const std::regex sample_re(R"(^([a-z_]+)(\{([a-z_]+="[^"\\\n]*")(,[a-z_]+="[^"\\\n]*")*\})? (-?[0-9.e+]+)$)");
    const std::regex help_re(R"(^# HELP ([a-z_]+) .+$)");
    const std::regex type_re(R"(^# TYPE ([a-z_]+) (gauge|counter|summary)$)");
    std::set<std::string> typed;
    std::istringstream lines(m);
    std::smatch match;
    std::size_t samples = 0;
    for (std::string line; std::getline(lines, line);) {
        if (std::regex_match(line, match, type_re)) {
            EXPECT_TRUE(typed.insert(match[1]).second) << "TYPE once per family: " << line;
        } else if (!std::regex_match(line, help_re)) {
            ASSERT_TRUE(std::regex_match(line, match, sample_re)) << line;
            std::string family = match[1];
            for (const char* suffix : {"_sum", "_count"})
                if (!typed.count(family) && family.size() > 4 && family.ends_with(suffix))
                    family.resize(family.size() - std::string_view(suffix).size());
            EXPECT_TRUE(typed.count(family)) << "sample after its TYPE: " << line;
            ++samples;
        }
    }
    EXPECT_GT(samples, 30u);
    for (const char* want : {"cardsync_rows{outcome=\"updated\"} 80\n", "cardsync_rows{outcome=\"failed\"} 5\n",
                             "cardsync_attempts 109\n", "cardsync_http_responses{status=\"500\"} 12\n",
                             "cardsync_api_errors{code=\"2001\"} 6\n", "cardsync_errors{stage=\"http_5xx\"} 16\n",
                             "cardsync_errors{stage=\"retries_exhausted\"} 5\n", "cardsync_rate_target 20\n",
                             "cardsync_rate_achieved 11\n", "cardsync_latency_seconds{from=\"sent\",quantile=\"1\"} 0.25\n",
                             "cardsync_latency_seconds_count{from=\"intended\"} 5\n", "cardsync_run_exit_status 1\n",
                             "cardsync_run_finished_timestamp_seconds 1700000000.5\n"})
        EXPECT_NE(m.find(want), std::string::npos) << want;
    r.shard = cardsync::ShardSpec{1, 4};
    EXPECT_NE(cardsync::metrics_text(r, ctx).find("cardsync_rows{shard=\"1\",shard_count=\"4\",outcome=\"updated\"} 80\n"),
              std::string::npos);
}

// End to end: the built binary against the simulator in this process, with faults. The summary's
// figures must agree with the records written and with what the simulator counted.
TEST(RunSummaryEndToEnd, FiguresAgreeWithTheRecordsAndWithTheSimulator) {
    cardsync::MockOptions m;
    m.api_key = "sk-report-SECRET-77";
    m.every_number_has_card = true;
    m.outside_prefixes = {"+1800"};
    m.fail_500 = 0.25;
    m.fail_503 = 0.1;
    m.fail_503_retry_after_s = 0;
    m.seed = 7;
    m.budget_calls = 0;
    cardsync::MockServer server(m);
    cardsync::test::TempDir dir;
    std::string csv = "phone_number,first_name\n";
    for (int i = 0; i < 150; ++i) csv += "+1555" + std::to_string(3000000 + i) + ",Ann\n";
    for (int i = 0; i < 5; ++i) csv += "+1800555010" + std::to_string(i) + ",Bob\n";  // 403
    csv += "not-a-number,Eve\n+15551112222,\n";                                     // 2 invalid
    cardsync::test::write_file(dir.file("in.csv"), csv);
    const std::string results = dir.file("out.ndjson"), summary = dir.file("summary.json"),
                      metrics = dir.file("cardsync.prom");
    const auto r = cardsync::test::run_process(
        {CARDSYNC_BINARY, "apply", dir.file("in.csv"), "--base-url", server.api_url(), "--rate", "0", "--budget", "off",
         "--max-attempts", "2", "--results", results, "--summary-json", summary, "--metrics-file", metrics, "-v"},
        {}, {"LINQ_API_V3_API_KEY=" + m.api_key});
    ASSERT_EQ(r.exit_code, 1) << r.err;  // 403s, invalid rows, some failed after 2 attempts
    EXPECT_TRUE(r.out.empty()) << "records went to the file: stdout stays clean";
    for (const auto* text : {&r.err, &r.out}) EXPECT_EQ(text->find("SECRET"), std::string::npos);

    // The records.
    std::map<std::string, std::uint64_t> outcomes;
    std::uint64_t record_attempts = 0, records = 0;
    {
        cardsync::ResultsReader in(results);
        cardsync::ResultRecord rec;
        while (in.next(rec)) {
            ++outcomes[std::string(cardsync::to_string(rec.outcome))];
            record_attempts += static_cast<std::uint64_t>(rec.attempts);
            ++records;
        }
    }
    ASSERT_EQ(records, 157u);
    ASSERT_GT(outcomes["failed"], 0u) << "the seed should leave some rows failed";

    // The JSON summary against the records and the simulator.
    const cardsync::MockStats seen = server.stats();
    const std::string text = cardsync::test::read_file(summary);
    EXPECT_EQ(text.find("SECRET"), std::string::npos);
    simdjson::ondemand::parser parser;
    simdjson::padded_string json(text);
    auto doc = parser.iterate(json);
    auto o = doc.get_object();
    EXPECT_EQ(std::string_view(o["state"]), "completed");
    EXPECT_EQ(u(o["exit_status"]), 1u);
    auto rows = o["rows"].get_object();
    EXPECT_EQ(u(rows["read"]), records);
    EXPECT_EQ(u(rows["recorded"]), records);
    for (const char* name : {"updated", "skipped", "invalid", "rejected", "failed"})
        EXPECT_EQ(u(rows[name]), outcomes[name]) << name;
    EXPECT_EQ(outcomes["rejected"], 5u);
    EXPECT_EQ(outcomes["invalid"], 2u);
    auto req = o["requests"].get_object();
    const std::uint64_t sent = u(req["sent"]), attempts = u(req["attempts"]), retries = u(req["retries"]);
    EXPECT_EQ(sent, seen.requests) << "every request sent reached the simulator, and only those";
    EXPECT_EQ(attempts, record_attempts) << "no duplicate numbers: the records' attempts add up";
    EXPECT_EQ(attempts, 155 + retries) << "one first attempt per valid row, plus the retries";
    std::map<int, std::uint64_t> statuses, codes;
    for (auto f : o["http_status"].get_object()) statuses[std::stoi(std::string(std::string_view(f.unescaped_key())))] = u(f.value());
    for (auto f : o["api_error_code"].get_object()) codes[std::stoi(std::string(std::string_view(f.unescaped_key())))] = u(f.value());
    EXPECT_EQ(statuses, seen.by_status);
    EXPECT_EQ(codes, seen.by_code);
    auto errors = o["errors"].get_object();
    std::uint64_t seen_5xx = 0;
    for (const auto& [status, n] : seen.by_status) seen_5xx += status >= 500 ? n : 0;
    EXPECT_GT(seen_5xx, 0u);
    EXPECT_EQ(u(errors["http_5xx"]), seen_5xx);
    EXPECT_EQ(u(errors["http_4xx"]), 5u);
    EXPECT_EQ(u(errors["retries_exhausted"]), outcomes["failed"]);
    EXPECT_EQ(u(o["latency_us"]["count"]), sent);
    EXPECT_EQ(u(o["intended_latency_us"]["count"]), sent);
    // Each answer's latency from the intended send is at least the one from the actual send.
    EXPECT_GE(u(o["intended_latency_us"]["p50"]), u(o["latency_us"]["p50"]));
    EXPECT_GE(u(o["intended_latency_us"]["max"]), u(o["latency_us"]["max"]));
    const std::string resume = std::string(std::string_view(o["resume_command"]));
    EXPECT_NE(resume.find("--results " + results), std::string::npos) << resume;
    EXPECT_NE(resume.find(" --resume"), std::string::npos) << resume;

    // The text summary says the same, with the command to retry the failed rows.
    EXPECT_NE(r.err.find(fmt::format("{} rows: {} updated, 0 skipped, 2 invalid, 5 rejected, {} failed", records,
                                     outcomes["updated"], outcomes["failed"])),
              std::string::npos) << r.err;
    EXPECT_NE(r.err.find(fmt::format("to retry the {} failed rows", outcomes["failed"])), std::string::npos) << r.err;
    EXPECT_NE(r.err.find(resume), std::string::npos);
    // -v: one line per attempt (resends included), never the key.
    std::size_t attempt_lines = 0;
    for (std::size_t at = r.err.find("cardsync: attempt line="); at != std::string::npos;
         at = r.err.find("cardsync: attempt line=", at + 1))
        ++attempt_lines;
    EXPECT_EQ(attempt_lines, sent);

    // The metrics file, written whole.
    const std::string prom = cardsync::test::read_file(metrics);
    EXPECT_NE(prom.find(fmt::format("cardsync_rows{{outcome=\"failed\"}} {}\n", outcomes["failed"])), std::string::npos) << prom;
    EXPECT_NE(prom.find(fmt::format("cardsync_requests {}\n", sent)), std::string::npos);
    EXPECT_NE(prom.find("cardsync_http_responses{status=\"403\"} 5\n"), std::string::npos);
    EXPECT_EQ(prom.find("SECRET"), std::string::npos);
}

TEST(RunSummaryEndToEnd, RecordsOnStdoutStayCleanAndTheSummaryFileIsStillWritten) {
    cardsync::test::TempDir dir;
    const auto r = cardsync::test::run_process({CARDSYNC_BINARY, "apply", CARDSYNC_SAMPLES "/contacts.csv", "--mock",
                                                "--progress-interval", "0.05", "--mock-latency", "30",
                                                "--summary-json", dir.file("s.json")});
    ASSERT_EQ(r.exit_code, 1) << r.err;  // the samples hold invalid rows
    std::istringstream lines(r.out);
    std::size_t n = 0;
    for (std::string line; std::getline(lines, line); ++n)
        EXPECT_EQ(line.rfind("{\"line\":", 0), 0u) << "only records on stdout: " << line;
    EXPECT_EQ(n, 34u);
    const std::string text = cardsync::test::read_file(dir.file("s.json"));
    simdjson::ondemand::parser parser;
    simdjson::padded_string json(text);
    auto doc = parser.iterate(json);
    EXPECT_EQ(u(doc["rows"]["recorded"]), 34u);
    EXPECT_EQ(std::string_view(doc["input"]["name"]), CARDSYNC_SAMPLES "/contacts.csv");
    EXPECT_EQ(u(doc["input"]["bytes"]), std::filesystem::file_size(CARDSYNC_SAMPLES "/contacts.csv"));
    EXPECT_EQ(std::string_view(doc["input"]["sha256"]).size(), 64u);
    EXPECT_TRUE(doc["input"]["complete"].get_bool().value());
    EXPECT_TRUE(doc["shard"].is_null().value());
    EXPECT_TRUE(doc["resume_command"].is_null().value()) << "records on stdout: nothing to resume from";
    EXPECT_NE(r.err.find("--results FILE"), std::string::npos) << r.err;

    const auto missing = cardsync::test::run_process({CARDSYNC_BINARY, "apply", CARDSYNC_SAMPLES "/contacts.csv",
                                                      "--mock", "--summary-json", dir.file("no/such/dir/s.json")});
    EXPECT_EQ(missing.exit_code, 2);
    EXPECT_NE(missing.err.find("does not exist"), std::string::npos) << missing.err;
    EXPECT_TRUE(missing.out.empty()) << "refused before any row was sent";
}

// A server slower than the schedule: one connection, 20 requests/s wanted, 100 ms per answer. Each
// answer takes ~100 ms from its actual send, but the k-th request was due at k x 50 ms: latency
// from the intended send grows with the backlog (wrk2's correction for coordinated omission).
TEST(RunSummaryEndToEnd, IntendedSendLatencyCountsAStalledServer) {
    cardsync::test::TempDir dir;
    std::string csv = "phone_number,first_name\n";
    for (int i = 0; i < 20; ++i) csv += "+1555" + std::to_string(5000000 + i) + ",Ann\n";
    cardsync::test::write_file(dir.file("in.csv"), csv);
    const auto r = cardsync::test::run_process({CARDSYNC_BINARY, "apply", dir.file("in.csv"), "--mock", "--mock-latency",
                                                "100", "--connections", "1", "--rate", "20", "--burst", "1", "--results",
                                                dir.file("out.ndjson"), "--summary-json", dir.file("s.json"), "-q"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const std::string text = cardsync::test::read_file(dir.file("s.json"));
    simdjson::ondemand::parser parser;
    simdjson::padded_string json(text);
    auto doc = parser.iterate(json);
    auto o = doc.get_object();
    const std::uint64_t sent_p90 = u(o["latency_us"]["p90"]);
    const std::uint64_t intended_p90 = u(o["intended_latency_us"]["p90"]);
    EXPECT_GE(sent_p90, 100'000u);
    EXPECT_LT(sent_p90, 400'000u) << "each answer alone is about 100 ms";
    // The 18th request (p90 of 20) was due at ~0.85 s and answered at ~1.8 s or later.
    EXPECT_GE(intended_p90, 700'000u) << text;
    EXPECT_GT(intended_p90, 2 * sent_p90) << text;
}

// Interrupted mid-run: the summary says so, and the command it prints finishes the job.
TEST(RunSummaryEndToEnd, TheResumeCommandOfAnInterruptedRunFinishesIt) {
    cardsync::test::TempDir dir;
    std::string csv = "phone_number,first_name\n";
    for (int i = 0; i < 400; ++i) csv += "+1555" + std::to_string(6000000 + i) + ",Ann\n";
    cardsync::test::write_file(dir.file("in.csv"), csv);
    const std::string results = dir.file("out.ndjson"), summary = dir.file("s.json");
    const std::vector<std::string> args = {CARDSYNC_BINARY, "apply", dir.file("in.csv"), "--mock", "--rate", "200",
                                           "--results", results, "--summary-json", summary};
    const pid_t pid = cardsync::test::start_process(args);
    ASSERT_GE(pid, 0);
    const auto lines_in = [](const std::string& path) {
        const std::string t = std::filesystem::exists(path) ? cardsync::test::read_file(path) : std::string();
        return static_cast<std::size_t>(std::count(t.begin(), t.end(), '\n'));
    };
    for (int i = 0; i < 1000 && lines_in(results) < 50; ++i) usleep(10'000);
    kill(pid, SIGINT);
    ASSERT_EQ(cardsync::test::wait_process(pid).code, 130);

    std::string resume;
    {
        const std::string text = cardsync::test::read_file(summary);
        simdjson::ondemand::parser parser;
        simdjson::padded_string json(text);
        auto doc = parser.iterate(json);
        auto o = doc.get_object();
        EXPECT_EQ(std::string_view(o["state"]), "interrupted");
        EXPECT_EQ(u(o["exit_status"]), 130u);
        EXPECT_EQ(u(o["rows"]["recorded"]), lines_in(results)) << "one record per row read, all counted";
        EXPECT_LT(u(o["rows"]["recorded"]), 400u);
        EXPECT_FALSE(o["input_exhausted"].get_bool().value());
        resume = std::string(std::string_view(o["resume_command"]));
        bool finish_step = false;
        for (auto step : o["next_steps"].get_array())
            finish_step |= std::string_view(step).find("to finish the run") != std::string_view::npos;
        EXPECT_TRUE(finish_step) << text;
    }
    ASSERT_NE(resume.find(" --resume"), std::string::npos) << resume;
    const auto again = cardsync::test::run_process({"/bin/sh", "-c", resume});
    ASSERT_EQ(again.exit_code, 0) << again.err;
    // Every row now has an updated (or skipped: updated before) record as its last word.
    std::map<std::uint64_t, Outcome> last;
    cardsync::ResultsReader in(results);
    cardsync::ResultRecord rec;
    while (in.next(rec)) last[rec.line] = rec.outcome;
    ASSERT_EQ(last.size(), 400u);
    for (const auto& [line, outcome] : last)
        EXPECT_TRUE(outcome == Outcome::updated || outcome == Outcome::skipped) << "line " << line;
}

}  // namespace
