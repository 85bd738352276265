// The progress line: share done and ETA without a pre-pass, the refreshing terminal form, the plain
// log form, colours only where allowed.
#include "cardsync/progress.hpp"

#include <gtest/gtest.h>

#include <string>

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
    for (const char* part : {"elapsed_s=10.0", "rows_done=500", "rows_read=600", "done_pct=25.0", "rows_per_s=50.0",
                             "eta_s=30", "updated=480", "skipped=0", "rejected=5", "failed=3", "invalid=12",
                             "requests=520", "in_flight=16", "waiting=4"})
        EXPECT_NE(line.find(std::string(" ") + part), std::string::npos) << part << " in " << line;
    ProgressSnapshot stdin_run = midway();
    stdin_run.bytes_total = 0;
    const std::string unknown = cardsync::log_line(stdin_run);
    EXPECT_EQ(unknown.find("done_pct"), std::string::npos);
    EXPECT_EQ(unknown.find("eta_s"), std::string::npos);
}

}  // namespace
