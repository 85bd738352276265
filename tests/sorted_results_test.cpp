#include "cardsync/sorted_results.hpp"

#include "cardsync/results_writer.hpp"
#include "support/temp_dir.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

namespace {

using namespace cardsync;

ResultRecord rec(std::uint64_t line, Outcome outcome = Outcome::updated, std::string message = {}) {
    ResultRecord r;
    r.line = line;
    r.phone_number = "+1555" + std::to_string(1000000 + line);
    r.outcome = outcome;
    r.message = std::move(message);
    r.http_status = outcome == Outcome::updated ? 200 : 0;
    return r;
}

void write_records(const std::string& path, const std::vector<ResultRecord>& records) {
    ResultsWriter out(path, results_format_from_path(path));
    for (const auto& r : records) out.write(r);
    out.close();
}

std::vector<ResultRecord> drain(SortedResults& sorted) {
    std::vector<ResultRecord> out;
    ResultRecord r;
    while (sorted.next(r)) out.push_back(r);
    return out;
}

std::size_t entries(const std::filesystem::path& dir) {
    return static_cast<std::size_t>(std::distance(std::filesystem::directory_iterator(dir), {}));
}

TEST(SortedResults, SortsByLineInMemoryOrInSpilledRuns) {
    test::TempDir dir;
    std::vector<ResultRecord> records;
    for (std::uint64_t line = 2; line <= 1001; ++line) records.push_back(rec(line, Outcome::updated, "ok, \"fine\""));
    std::shuffle(records.begin(), records.end(), std::mt19937(3));
    for (const char* name : {"r.ndjson", "r.csv"}) {
        write_records(dir.file(name), records);
        for (std::size_t run : {std::size_t{1}, std::size_t{7}, std::size_t{999}, std::size_t{1000}, std::size_t{5000}}) {
            std::filesystem::create_directory(dir.file("spill"));
            {
                SortedResults sorted(dir.file(name), run, dir.file("spill"));
                EXPECT_EQ(sorted.spilled_runs(), (1000 - 1) / run)
                    << run;
                const auto out = drain(sorted);
                ASSERT_EQ(out.size(), 1000u) << name << " " << run;
                for (std::size_t i = 0; i < out.size(); ++i) {
                    EXPECT_EQ(out[i].line, i + 2);
                    EXPECT_EQ(out[i].phone_number, "+1555" + std::to_string(1000000 + i + 2));
                    EXPECT_EQ(out[i].message, "ok, \"fine\"");
                }
                EXPECT_EQ(sorted.records_in_file(), 1000u);
                EXPECT_EQ(sorted.superseded(), 0u);
                EXPECT_FALSE(sorted.torn_tail());
            }
            EXPECT_EQ(entries(dir.file("spill")), 0u) << "spill files left behind";
            std::filesystem::remove_all(dir.file("spill"));
        }
    }
}

// A resumed run appends a second record for lines it saw again: the later one is what happened.
TEST(SortedResults, TheLastRecordOfALineWins) {
    test::TempDir dir;
    std::vector<ResultRecord> records;
    for (std::uint64_t line = 1; line <= 50; ++line) records.push_back(rec(line, Outcome::failed, "first run"));
    for (std::uint64_t line = 50; line >= 1; --line)
        records.push_back(rec(line, line % 2 ? Outcome::updated : Outcome::skipped, "second run"));
    records.push_back(rec(7, Outcome::rejected, "third run"));
    write_records(dir.file("r.ndjson"), records);
    for (std::size_t run : {std::size_t{1}, std::size_t{3}, std::size_t{40}, std::size_t{1000}}) {
        SortedResults sorted(dir.file("r.ndjson"), run);
        const auto out = drain(sorted);
        ASSERT_EQ(out.size(), 50u) << run;
        for (std::size_t i = 0; i < out.size(); ++i) {
            const auto line = i + 1;
            EXPECT_EQ(out[i].line, line);
            EXPECT_EQ(out[i].message, line == 7 ? "third run" : "second run") << run << " line " << line;
        }
        EXPECT_EQ(sorted.records_in_file(), 101u);
        EXPECT_EQ(sorted.superseded(), 51u) << run;
    }
}

TEST(SortedResults, LeavesOutATornLastRecordAndSaysSo) {
    test::TempDir dir;
    write_records(dir.file("r.ndjson"), {rec(2), rec(1)});
    test::write_file(dir.file("t.ndjson"), test::read_file(dir.file("r.ndjson")) + "{\"line\":3,\"phone");
    SortedResults sorted(dir.file("t.ndjson"));
    EXPECT_TRUE(sorted.torn_tail());
    EXPECT_EQ(drain(sorted).size(), 2u);
}

TEST(SortedResults, NamesTheFileOfAMalformedRecord) {
    test::TempDir dir;
    test::write_file(dir.file("bad.ndjson"), "{\"line\":1,\"phone_number\":\"+1\",\"outcome\":\"nope\"}\n");
    try {
        SortedResults sorted(dir.file("bad.ndjson"));
        FAIL();
    } catch (const std::runtime_error& e) {
        EXPECT_NE(std::string(e.what()).find("bad.ndjson"), std::string::npos) << e.what();
    }
}

}  // namespace
