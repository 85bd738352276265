// `cardsync apply` sending for real, as a user runs it: where the key comes from, the usage errors
// of the sending options, and that the key never shows in any output.
#include "cardsync/apply_command.hpp"

#include "cardsync/cli.hpp"
#include "cardsync/mock_server.hpp"
#include "support/subprocess.hpp"
#include "support/temp_dir.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <string>

namespace {

using cardsync::test::run_process;
using cardsync::test::TempDir;
const std::string bin = CARDSYNC_BINARY;

const std::string secret = "sk-live-DO-NOT-PRINT-4242";

cardsync::MockOptions mock() {
    cardsync::MockOptions m;
    m.api_key = secret;
    m.every_number_has_card = true;
    return m;
}

std::string rows(int n) {
    std::string csv = "phone_number,first_name\n";
    for (int i = 0; i < n; ++i) csv += "+1555" + std::to_string(2000000 + i) + ",Ann\n";
    return csv;
}

std::size_t lines(const std::string& s) { return static_cast<std::size_t>(std::count(s.begin(), s.end(), '\n')); }

TEST(ApplyCommand, KeyFromTheEnvironmentOrAFileAndNeverPrinted) {
    cardsync::MockServer server(mock());
    TempDir dir;
    cardsync::test::write_file(dir.file("key"), secret + "\n");
    const auto by_env = run_process({bin, "apply", "--format", "csv", "--base-url", server.api_url(), "-v", "-"},
                                    rows(5), {"LINQ_API_V3_API_KEY=" + secret});
    EXPECT_EQ(by_env.exit_code, cardsync::exit_ok) << by_env.err;
    EXPECT_EQ(lines(by_env.out), 5u);
    const auto by_file = run_process({bin, "apply", "--format", "csv", "--base-url", server.api_url(), "--api-key-file",
                                      dir.file("key"), "-v", "-"},
                                     rows(5));
    EXPECT_EQ(by_file.exit_code, cardsync::exit_ok) << by_file.err;
    const auto wrong = run_process({bin, "apply", "--format", "csv", "--base-url", server.api_url(), "-v", "-"},
                                   rows(5), {"LINQ_API_V3_API_KEY=" + secret + "x"});
    EXPECT_EQ(wrong.exit_code, cardsync::exit_aborted);
    EXPECT_NE(wrong.err.find("API key"), std::string::npos) << wrong.err;
    for (const auto* r : {&by_env, &by_file, &wrong}) {
        EXPECT_EQ(r->out.find("DO-NOT-PRINT"), std::string::npos);
        EXPECT_EQ(r->err.find("DO-NOT-PRINT"), std::string::npos) << r->err;
    }
}

TEST(ApplyCommand, SendingOptionsThatCannotWorkAreUsageErrors) {
    cardsync::MockServer server(mock());
    TempDir dir;
    cardsync::test::write_file(dir.file("empty-key"), "\n");
    const std::string url = server.api_url();
    struct Case {
        std::vector<std::string> args;
        std::vector<std::string> env;
        const char* says;
    };
    const Case cases[] = {
        {{"--base-url", url}, {}, "LINQ_API_V3_API_KEY"},
        {{"--base-url", url, "--api-key-file", dir.file("missing")}, {}, "--api-key-file"},
        {{"--base-url", url, "--api-key-file", dir.file("empty-key")}, {}, "is empty"},
        {{"--base-url", "http://api.example.com/api/partner"}, {"LINQ_API_V3_API_KEY=k"}, "clear text"},
        {{"--base-url", "ftp://x/"}, {"LINQ_API_V3_API_KEY=k"}, "scheme"},
        {{"--base-url", url, "--resume"}, {"LINQ_API_V3_API_KEY=k"}, "--resume needs --results"},
        {{"--base-url", url, "--budget", "lots"}, {"LINQ_API_V3_API_KEY=k"}, "--budget"},
        {{"--base-url", url, "--number-budget", "3/0m"}, {"LINQ_API_V3_API_KEY=k"}, "--budget"},
        {{"--base-url", url, "--connections", "0"}, {"LINQ_API_V3_API_KEY=k"}, "connections"},
        {{"--base-url", url, "--threads", "0"}, {"LINQ_API_V3_API_KEY=k"}, "threads"},
        {{"--base-url", url, "--threads", "5", "--connections", "4"}, {"LINQ_API_V3_API_KEY=k"}, "--threads 5 needs"},
        {{"--base-url", url}, {"LINQ_API_V3_API_KEY=two words"}, "blank"},
    };
    for (const auto& c : cases) {
        std::vector<std::string> argv = {bin, "apply", "--format", "csv"};
        argv.insert(argv.end(), c.args.begin(), c.args.end());
        argv.push_back("-");
        SCOPED_TRACE(c.says);
        const auto r = run_process(argv, rows(1), c.env);
        EXPECT_EQ(r.exit_code, cardsync::exit_usage) << r.err;
        EXPECT_NE(r.err.find(c.says), std::string::npos) << r.err;
        EXPECT_TRUE(r.out.empty()) << "nothing recorded, nothing sent";
    }
    EXPECT_EQ(server.stats().requests, 0u);
}

TEST(ApplyCommand, BaseUrlFromTheEnvironment) {
    cardsync::MockServer server(mock());
    const auto r = run_process({bin, "apply", "--format", "csv", "-"}, rows(3),
                               {"LINQ_API_V3_API_KEY=" + secret, "LINQ_API_V3_BASE_URL=" + server.api_url()});
    EXPECT_EQ(r.exit_code, cardsync::exit_ok) << r.err;
    EXPECT_EQ(server.stats().requests, 3u);
}

TEST(ApplyCommand, ResumeRepairsATornLastRecordAndSkipsWhatWasUpdated) {
    cardsync::MockServer server(mock());
    TempDir dir;
    const auto input = dir.file("rows.csv");
    cardsync::test::write_file(input, rows(4));
    const auto results = dir.file("results.ndjson");
    // An earlier run recorded line 2 updated and line 3 failed, then died mid-record.
    cardsync::test::write_file(results,
                               R"({"line":2,"phone_number":"+15552000000","outcome":"updated","http_status":200,"error_code":"","message":"","attempts":1,"latency_ms":1.0,"is_active":true})"
                               "\n"
                               R"({"line":3,"phone_number":"+15552000001","outcome":"failed","http_status":500,"error_code":"3006","message":"x","attempts":3,"latency_ms":1.0})"
                               "\n"
                               R"({"line":4,"phone_number":"+155)");
    const auto r = run_process({bin, "apply", input, "--base-url", server.api_url(), "--results", results, "--resume"}, {},
                               {"LINQ_API_V3_API_KEY=" + secret});
    EXPECT_EQ(r.exit_code, cardsync::exit_ok) << r.err;
    EXPECT_NE(r.err.find("cut short"), std::string::npos) << r.err;
    EXPECT_EQ(server.stats().requests, 3u) << "line 2 is not sent again";
    const auto text = cardsync::test::read_file(results);
    EXPECT_EQ(lines(text), 2u + 4u) << text;
    EXPECT_EQ(text.find("{\"line\":4,\"phone_number\":\"+155{"), std::string::npos) << "no record glued to the torn one";
    EXPECT_NE(text.find(R"("line":2,"phone_number":"+15552000000","outcome":"skipped")"), std::string::npos) << text;
}

}  // namespace

namespace {

// The README's first command: the samples against the in-process simulator, no key anywhere.
// The same job gives the same records and the same cards on one sending thread or several.
TEST(ApplyCommand, MockRunsTheSamplesWithoutAKey) {
  for (const char* threads : {"1", "3"}) {
    SCOPED_TRACE(std::string("--threads ") + threads);
    TempDir dir;
    const std::string samples = CARDSYNC_SAMPLES;
    const auto state = dir.file("state.ndjson");
    const auto r = run_process({bin, "apply", "--mock", "--mock-seed-cards", samples + "/mock-cards.csv",
                                "--mock-outside-prefix", "+1800", "--mock-state-out", state, "--rate", "0",
                                "--threads", threads, samples + "/contacts.csv"});
    EXPECT_EQ(r.exit_code, cardsync::exit_rows_failed) << r.err;  // the samples hold invalid rows on purpose
    const auto count = [&](const std::string& needle) {
        std::size_t n = 0;
        for (auto at = r.out.find(needle); at != std::string::npos; at = r.out.find(needle, at + 1)) ++n;
        return n;
    };
    EXPECT_EQ(lines(r.out), 34u);
    EXPECT_EQ(count("\"outcome\":\"updated\""), 23u) << r.out;
    EXPECT_EQ(count("\"outcome\":\"invalid\""), 7u);
    EXPECT_EQ(count("\"http_status\":403"), 2u);  // +1800... is outside the account
    EXPECT_EQ(count("\"http_status\":404"), 2u);  // numbers without a card
    // What the simulator holds afterwards: the updates, merged into the seeded cards.
    const auto cards = cardsync::test::read_file(state);
    EXPECT_NE(cards.find("\"first_name\":\"Zoë\",\"last_name\":\"Lefèvre\""), std::string::npos) << cards;
    EXPECT_NE(cards.find("\"last_name\":\"Johnson-Park\""), std::string::npos) << cards;  // the later row wins
    EXPECT_NE(r.err.find("simulator"), std::string::npos) << r.err;
  }
}

TEST(ApplyCommand, MockWithoutSeedCardsGivesEveryNumberACard) {
    const auto r = run_process({bin, "apply", "--mock", "--format", "csv", "--rate", "0", "-"}, rows(20));
    EXPECT_EQ(r.exit_code, cardsync::exit_ok) << r.err;
    EXPECT_EQ(lines(r.out), 20u);
}

TEST(ApplyCommand, MockOverTlsTrustsItsOwnCertificate) {
    const auto r = run_process({bin, "apply", "--mock", "--mock-tls", "--format", "csv", "--rate", "0", "-"}, rows(5));
    EXPECT_EQ(r.exit_code, cardsync::exit_ok) << r.err;
    EXPECT_NE(r.err.find("https://127.0.0.1:"), std::string::npos) << r.err;
}

TEST(ApplyCommand, MockRefusesAKeyOrUrlGivenToo) {
    const auto r = run_process({bin, "apply", "--mock", "--base-url", "https://api.linqapp.com/api/partner",
                                "--format", "csv", "-"},
                               rows(1));
    EXPECT_EQ(r.exit_code, cardsync::exit_usage);
    EXPECT_NE(r.err.find("--mock"), std::string::npos) << r.err;
}

TEST(ApplyCommand, SnapshotRefusedStopsBeforeAnyWriteAndKeepsTheResults) {
    cardsync::MockServer server(mock());
    TempDir dir;
    const auto results = dir.file("results.ndjson");
    cardsync::test::write_file(results, "earlier run\n");
    cardsync::test::write_file(dir.file("wrong.key"), "not-the-key-77\n");
    const auto r = run_process({bin, "apply", "--format", "csv", "--base-url", server.api_url(), "--api-key-file",
                                dir.file("wrong.key"), "--skip-unchanged", "--results", results, "-"},
                               rows(3));
    EXPECT_EQ(r.exit_code, cardsync::exit_aborted) << r.err;
    EXPECT_NE(r.err.find("GET /v3/contact_card"), std::string::npos) << r.err;
    EXPECT_EQ(r.err.find("not-the-key-77"), std::string::npos) << r.err;
    EXPECT_EQ(cardsync::test::read_file(results), "earlier run\n") << "the earlier results file is left alone";
    const auto s = server.stats();
    EXPECT_EQ(s.requests, 1u);
    EXPECT_EQ(s.by_method.at("GET"), 1u);
}

TEST(ApplyCommand, MockWithSnapshotFlagsStartsWithoutCards) {
    const auto r = run_process({bin, "apply", "--mock", "--format", "csv", "--rate", "0", "--create-missing", "-"},
                               "phone_number,first_name\n+15552000001,Ann\n+15552000001,Ann\n");
    EXPECT_EQ(r.exit_code, cardsync::exit_ok) << r.err;
    EXPECT_NE(r.out.find("created (POST)"), std::string::npos) << r.out;
    EXPECT_EQ(r.out.find("skipped"), std::string::npos) << "no --skip-unchanged: the repeat is sent too: " << r.out;
    EXPECT_NE(r.err.find("1 cards created with POST"), std::string::npos) << r.err;
}

}  // namespace
