// The binary as a user runs it: help, version, exit statuses, dry runs from files and stdin.
#include "cardsync/cli.hpp"
#include "support/subprocess.hpp"
#include "support/temp_dir.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <string>

namespace {

using cardsync::test::run_process;
const std::string bin = CARDSYNC_BINARY;
const std::string samples = CARDSYNC_SAMPLES;

std::size_t count_lines(const std::string& s) { return static_cast<std::size_t>(std::count(s.begin(), s.end(), '\n')); }

TEST(Cli, VersionAndHelp) {
    auto v = run_process({bin, "--version"});
    EXPECT_EQ(v.exit_code, 0);
    EXPECT_NE(v.out.find("cardsync " CARDSYNC_VERSION), std::string::npos);

    auto h = run_process({bin, "--help"});
    EXPECT_EQ(h.exit_code, 0);
    EXPECT_NE(h.out.find("apply"), std::string::npos);

    auto ah = run_process({bin, "apply", "--help"});
    EXPECT_EQ(ah.exit_code, 0);
    for (const char* opt : {"--dry-run", "--results", "--format"}) EXPECT_NE(ah.out.find(opt), std::string::npos) << opt;
}

TEST(Cli, UsageErrorsExitTwo) {
    EXPECT_EQ(run_process({bin}).exit_code, cardsync::exit_usage);
    EXPECT_EQ(run_process({bin, "apply"}).exit_code, cardsync::exit_usage);
    EXPECT_EQ(run_process({bin, "apply", "--no-such-option", "x.csv"}).exit_code, cardsync::exit_usage);
    auto missing = run_process({bin, "apply", "--dry-run", "/nonexistent/rows.csv"});
    EXPECT_EQ(missing.exit_code, cardsync::exit_usage);
    EXPECT_NE(missing.err.find("/nonexistent/rows.csv"), std::string::npos) << missing.err;
    for (const char* flag : {"--skip-unchanged", "--create-missing"}) {
        // a dry run reads no live cards, so it cannot honour these: refused, not ignored
        auto both = run_process({bin, "apply", "--dry-run", flag, std::string(CARDSYNC_SAMPLES) + "/contacts.csv"});
        EXPECT_EQ(both.exit_code, cardsync::exit_usage) << flag;
        EXPECT_NE(both.err.find("--dry-run"), std::string::npos) << both.err;
        EXPECT_TRUE(both.out.empty());
    }
}

TEST(Cli, MissingPhoneColumnIsAUsageErrorBeforeAnythingIsWritten) {
    cardsync::test::TempDir dir;
    const auto input = dir.file("rows.csv");
    cardsync::test::write_file(input, "first_name,last_name\nAda,Lovelace\n");
    auto r = run_process({bin, "apply", "--dry-run", input});
    EXPECT_EQ(r.exit_code, cardsync::exit_usage);
    EXPECT_NE(r.err.find("phone_number"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find(input + ":1:"), std::string::npos) << r.err;  // file:line
    EXPECT_TRUE(r.out.empty());
}

TEST(Cli, DryRunOnSamplesRecordsEveryRow) {
    for (const char* name : {"contacts.csv", "contacts.ndjson"}) {
        auto r = run_process({bin, "apply", "--dry-run", samples + "/" + name});
        // the samples hold invalid rows on purpose
        EXPECT_EQ(r.exit_code, cardsync::exit_rows_failed) << name << r.err;
        EXPECT_EQ(count_lines(r.out), name == std::string("contacts.csv") ? 35u - 1u : 36u) << name;
        EXPECT_NE(r.out.find("\"outcome\":\"planned\""), std::string::npos);
        EXPECT_NE(r.out.find("\"outcome\":\"invalid\""), std::string::npos);
        EXPECT_NE(r.err.find("planned"), std::string::npos) << r.err;
    }
}

TEST(Cli, DryRunFromStdinNeedsFormat) {
    const std::string csv = "phone_number,first_name\n+15551234567,Ada\n";
    auto without = run_process({bin, "apply", "--dry-run", "-"}, csv);
    EXPECT_EQ(without.exit_code, cardsync::exit_usage);
    EXPECT_NE(without.err.find("--format"), std::string::npos) << without.err;

    auto with = run_process({bin, "apply", "--dry-run", "--format", "csv", "-"}, csv);
    EXPECT_EQ(with.exit_code, 0) << with.err;
    EXPECT_NE(with.out.find("\"phone_number\":\"+15551234567\""), std::string::npos) << with.out;
}

TEST(Cli, CsvResultsFile) {
    cardsync::test::TempDir dir;
    const auto results = dir.file("out.csv");
    auto r = run_process({bin, "apply", "--dry-run", "--format", "ndjson", "--results", results, "-"},
                         "{\"phone_number\":\"+1 (555) 123-4567\",\"first_name\":\"Zoë\"}\n"
                         "{\"phone_number\":\"5551234567\",\"first_name\":\"x\"}\n");
    EXPECT_EQ(r.exit_code, cardsync::exit_rows_failed) << r.err;
    EXPECT_TRUE(r.out.empty());
    const auto text = cardsync::test::read_file(results);
    EXPECT_EQ(text.rfind("line,phone_number,outcome,http_status,error_code,message,attempts,latency_ms,is_active\n", 0), 0u)
        << text;
    EXPECT_NE(text.find("1,+15551234567,planned"), std::string::npos) << text;
    EXPECT_NE(text.find("2,5551234567,invalid"), std::string::npos) << text;
}

}  // namespace
