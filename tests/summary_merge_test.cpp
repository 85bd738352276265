#include "cardsync/summary_merge.hpp"

#include "cardsync/cli.hpp"
#include "cardsync/run_summary.hpp"

#include <gtest/gtest.h>
#include <simdjson.h>

#include <random>
#include <string>

namespace {

using namespace cardsync;

const std::string digest(64, 'c');

// A shard's report as run_apply would fill it, with latencies drawn from `rng`.
ApplyReport shard_report(std::uint32_t index, std::uint32_t count, std::mt19937_64& rng, double median_us,
                         LatencyHistogram& all, LatencyHistogram& all_intended) {
    ApplyReport r;
    r.input = InputIdentity{"in.csv", 5000, digest, true};
    r.shard = ShardSpec{index, count};
    r.input_exhausted = true;
    r.last_line_read = 1001;
    r.outcomes[static_cast<std::size_t>(Outcome::updated)] = 100 + index;
    r.outcomes[static_cast<std::size_t>(Outcome::invalid)] = 3 * index;
    r.outcomes[static_cast<std::size_t>(Outcome::failed)] = index;
    r.rows_read = 103 + 4 * index;
    r.rows_other_shards = 500;
    r.requests = 120 + index;
    r.retries = 10 + index;
    r.resends = 2;
    r.throttled = index;
    r.coalesced = 1;
    r.statuses = {{200, 100 + index}, {429, 5}, {500 + index, 7}};
    r.api_codes = {{1007 + static_cast<int>(index), 4}};
    r.transport_errors[static_cast<std::size_t>(TransportError::timeout)] = 3;
    r.transport_errors[static_cast<std::size_t>(TransportError::truncated)] = 1 + index;
    r.retries_exhausted = index;
    r.elapsed_s = 10.0 + index;
    r.target_rate = 50;
    r.final_rate = 40;
    r.pool.connects = 8;
    r.peak_rss_kib = 1000 * (index + 1);
    std::lognormal_distribution<double> dist(std::log(median_us), 0.8);
    for (std::uint64_t i = 0; i < r.requests; ++i) {
        const auto us = static_cast<std::uint64_t>(dist(rng));
        r.latency.record(us);
        all.record(us);
        r.intended_latency.record(us + 1000);
        all_intended.record(us + 1000);
    }
    return r;
}

RunContext shard_context() {
    RunContext ctx;
    ctx.resume_command = "cardsync apply in.csv --resume";
    return ctx;
}

std::string written(const ApplyReport& r) { return summary_json(r, shard_context()); }

std::string refusal(const std::string& json, const std::string& source = "s.json") {
    try {
        parse_run_summary(json, source);
    } catch (const std::runtime_error& e) {
        return e.what();
    }
    return "accepted";
}

std::string replaced(std::string s, const std::string& from, const std::string& to) {
    const auto at = s.find(from);
    EXPECT_NE(at, std::string::npos) << from;
    if (at != std::string::npos) s.replace(at, from.size(), to);
    return s;
}

TEST(SummaryMerge, ParsesWhatTheWriterWrites) {
    std::mt19937_64 rng(1);
    LatencyHistogram all, all_intended;
    const auto r = shard_report(1, 3, rng, 20'000, all, all_intended);
    const auto json = written(r);
    const auto back = parse_run_summary(json, "s.json");
    EXPECT_EQ(back.source, "s.json");
    EXPECT_EQ(back.report.outcomes, r.outcomes);
    EXPECT_EQ(back.report.statuses, r.statuses);
    EXPECT_EQ(back.report.api_codes, r.api_codes);
    EXPECT_EQ(back.report.shard, r.shard);
    EXPECT_TRUE(back.report.input.same_content(r.input));
    EXPECT_EQ(back.report.latency.count(), r.latency.count());
    EXPECT_EQ(back.report.latency.percentile(99), r.latency.percentile(99));
    EXPECT_NEAR(back.achieved_rate, 121.0 / 11.0, 1e-3);
    EXPECT_EQ(back.next_steps, next_steps(r, shard_context()));
    EXPECT_FALSE(back.next_steps.empty());
    // Written again from what was read: the same summary (error stages, 4xx/5xx, percentiles).
    RunContext ctx = shard_context();
    ctx.achieved_rate = back.achieved_rate;
    EXPECT_EQ(summary_json(back.report, ctx), json);
}

TEST(SummaryMerge, SumsCountsAndRecomputesPercentilesFromAllAnswers) {
    std::mt19937_64 rng(42);
    LatencyHistogram all, all_intended;
    // Different latency ranges, so that merged percentiles differ from either shard's.
    const auto a = shard_report(0, 2, rng, 5'000, all, all_intended);
    const auto b = shard_report(1, 2, rng, 80'000, all, all_intended);
    const auto merged = merge_summaries({parse_run_summary(written(b), "b.json"), parse_run_summary(written(a), "a.json")});
    const auto& m = merged.report;
    EXPECT_EQ(m.records(), a.records() + b.records());
    EXPECT_EQ(m.count(Outcome::updated), 201u);
    EXPECT_EQ(m.count(Outcome::invalid), 3u);
    EXPECT_EQ(m.rows_read, a.rows_read + b.rows_read);
    EXPECT_EQ(m.rows_other_shards, 0u);
    EXPECT_EQ(m.requests, 241u);
    EXPECT_EQ(m.retries, 21u);
    EXPECT_EQ(m.resends, 4u);
    EXPECT_EQ(m.statuses, (std::map<int, std::uint64_t>{{200, 201}, {429, 10}, {500, 7}, {501, 7}}));
    EXPECT_EQ(m.api_codes, (std::map<int, std::uint64_t>{{1007, 4}, {1008, 4}}));
    const auto e = error_stages(m);
    EXPECT_EQ(e.timeout, 6u);
    EXPECT_EQ(e.read, 3u);  // truncated answers count as read errors
    EXPECT_EQ(e.http_4xx, 10u);
    EXPECT_EQ(e.http_5xx, 14u);
    EXPECT_EQ(e.retries_exhausted, 1u);
    EXPECT_EQ(m.pool.connects, 16u);
    EXPECT_DOUBLE_EQ(m.elapsed_s, 11.0);         // the longest shard
    EXPECT_EQ(m.peak_rss_kib, 2000u);            // the largest process
    EXPECT_DOUBLE_EQ(m.target_rate, 100.0);      // limits side by side add up
    ASSERT_TRUE(merged.context.achieved_rate);
    EXPECT_NEAR(*merged.context.achieved_rate, 120.0 / 10 + 121.0 / 11, 2e-3);
    EXPECT_FALSE(m.shard);
    EXPECT_TRUE(m.input.same_content(a.input));
    EXPECT_TRUE(m.input.complete);
    EXPECT_EQ(m.exit_status(), 1);  // invalid and failed rows

    // Percentiles as a histogram holding every answer of both shards has them.
    ASSERT_EQ(m.latency.count(), all.count());
    EXPECT_NE(a.latency.percentile(50), all.percentile(50));
    for (double p : {50.0, 90.0, 99.0}) {
        EXPECT_EQ(m.latency.percentile(p), all.percentile(p)) << p;
        EXPECT_EQ(m.intended_latency.percentile(p), all_intended.percentile(p)) << p;
    }
    EXPECT_EQ(m.latency.min(), all.min());
    EXPECT_EQ(m.latency.max(), all.max());
    EXPECT_NEAR(m.latency.mean(), all.mean(), 0.1);

    // Written in the same schema, and readable again.
    const auto json = summary_json(m, merged.context);
    simdjson::dom::parser parser;
    simdjson::dom::element root;
    ASSERT_FALSE(parser.parse(json).get(root)) << json;
    EXPECT_EQ(std::int64_t(root["schema_version"]), summary_schema_version);
    EXPECT_TRUE(root["shard"].is_null());
    EXPECT_TRUE(root["resume_command"].is_null());
    EXPECT_EQ(std::uint64_t(root["latency_us"]["p99"]), all.percentile(99));
    EXPECT_EQ(std::uint64_t(root["rows"]["recorded"]), a.records() + b.records());
    EXPECT_NEAR(double(root["rate"]["achieved"]), *merged.context.achieved_rate, 1e-3);
    // Each shard's next steps, naming it (shard 0/2 had none: every row updated).
    const auto b_steps = next_steps(b, shard_context());
    ASSERT_EQ(merged.context.next_steps->size(), b_steps.size());
    ASSERT_FALSE(b_steps.empty());
    for (std::size_t i = 0; i < b_steps.size(); ++i) EXPECT_EQ((*merged.context.next_steps)[i], "shard 1/2: " + b_steps[i]);
    EXPECT_NE(json.find("\"next_steps\":[\"shard 1/2: "), std::string::npos) << json;
    EXPECT_NO_THROW(parse_run_summary(json, "merged.json"));
}

TEST(SummaryMerge, StateIsTheWorstOfTheShards) {
    std::mt19937_64 rng(3);
    LatencyHistogram all, all_intended;
    auto done = shard_report(0, 3, rng, 1000, all, all_intended);
    done.outcomes = {};
    done.outcomes[static_cast<std::size_t>(Outcome::updated)] = 5;
    auto stopped = shard_report(1, 3, rng, 1000, all, all_intended);
    stopped.interrupted = true;
    stopped.input_exhausted = false;
    stopped.input.complete = false;
    stopped.last_line_read = 400;
    stopped.first_line_not_reached = 402;
    auto broken = shard_report(2, 3, rng, 1000, all, all_intended);
    broken.aborted = true;
    broken.abort_reason = "401 Unauthorized";
    broken.input_exhausted = false;
    broken.input.complete = false;
    broken.last_line_read = 700;
    broken.first_line_not_reached = 701;
    const auto parse = [](const ApplyReport& r) { return parse_run_summary(written(r), "x.json"); };

    const auto m3 = merge_summaries({parse(done), parse(stopped), parse(broken)}).report;
    EXPECT_TRUE(m3.aborted);
    EXPECT_FALSE(m3.interrupted);
    EXPECT_EQ(m3.abort_reason, "shard 2/3: 401 Unauthorized");
    EXPECT_EQ(m3.exit_status(), exit_aborted);
    EXPECT_FALSE(m3.input_exhausted);
    EXPECT_FALSE(m3.input.complete);
    EXPECT_TRUE(m3.input.same_content(done.input));  // the shard that read all of it
    EXPECT_EQ(m3.last_line_read, 400u);               // every line up to here was reached by every shard
    EXPECT_EQ(m3.first_line_not_reached, 402u);

    const auto m2 = merge_summaries({parse(done), parse(stopped)}).report;
    EXPECT_TRUE(m2.interrupted);
    EXPECT_EQ(m2.exit_status(), exit_interrupted);

    const auto m1 = merge_summaries({parse(done)});
    EXPECT_FALSE(m1.report.aborted || m1.report.interrupted);
    EXPECT_EQ(m1.report.exit_status(), exit_ok);
    EXPECT_EQ(m1.report.last_line_read, 1001u);
    EXPECT_TRUE(m1.context.next_steps->empty());

    auto unlimited = done;
    unlimited.target_rate = 0;
    EXPECT_EQ(merge_summaries({parse(done), parse(unlimited)}).report.target_rate, 0.0);  // one without a limit
    EXPECT_THROW(merge_summaries({}), std::invalid_argument);
}

TEST(SummaryMerge, RefusesAnotherSchemaOrMissingFieldsNamingTheFile) {
    std::mt19937_64 rng(5);
    LatencyHistogram all, all_intended;
    const auto json = written(shard_report(0, 2, rng, 3000, all, all_intended));
    EXPECT_EQ(refusal(json), "accepted");
    EXPECT_EQ(refusal("{\"schema", "run/s-0.json").rfind("summary 'run/s-0.json': not JSON", 0), 0u);
    EXPECT_EQ(refusal(replaced(json, "\"schema_version\":1", "\"schema_version\":2"), "s-0.json"),
              "summary 's-0.json': schema_version 2 is not 1 (written by another version of cardsync)");
    EXPECT_EQ(refusal(replaced(json, "\"schema_version\":1,", "")),
              "summary 's.json': no schema_version (not a cardsync summary, or a truncated one)");
    EXPECT_EQ(refusal(replaced(json, "\"rows\":{", "\"rowz\":{")).rfind("summary 's.json': no rows/read", 0), 0u);
    EXPECT_EQ(refusal(replaced(json, "\"peak_rss_kib\"", "\"peak_rss\"")).rfind("summary 's.json': no peak_rss_kib", 0), 0u);
    EXPECT_EQ(refusal(replaced(json, "\"intended_latency_us\":{\"count\"", "\"intended_latency_us\":{\"n\""))
                  .rfind("summary 's.json': no intended_latency_us/count", 0), 0u);
    EXPECT_EQ(refusal(replaced(json, "\"state\":\"completed\"", "\"state\":\"done\"")),
              "summary 's.json': state 'done' is not completed, interrupted or aborted");
    EXPECT_EQ(refusal(replaced(json, "\"http_status\":{\"200\"", "\"http_status\":{\"ok\"")).rfind(
                  "summary 's.json': http_status has \"ok\"", 0), 0u);
    // Buckets that do not add up to the count: a hand-edited or damaged file.
    const auto at = json.find("\"latency_us\":{\"count\":") + 22;
    EXPECT_NE(refusal(json.substr(0, at) + "9" + json.substr(at)).find("latency_us: its buckets hold"),
              std::string::npos);
    EXPECT_NE(refusal(replaced(json, "\"recorded\":", "\"recorded\":1")).find("rows/recorded is"), std::string::npos);
}

}  // namespace
