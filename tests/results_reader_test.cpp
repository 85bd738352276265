#include "cardsync/results_reader.hpp"

#include "cardsync/results_writer.hpp"

#include "support/temp_dir.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>
#include <string>
#include <vector>

namespace {

using namespace cardsync;
using test::TempDir;

using test::write_file;
std::string slurp(const std::string& path) { return test::read_file(path); }

bool same(const ResultRecord& a, const ResultRecord& b) {
    return a.line == b.line && a.phone_number == b.phone_number && a.outcome == b.outcome &&
           a.http_status == b.http_status && a.error_code == b.error_code && a.message == b.message &&
           a.attempts == b.attempts && a.latency_ms == b.latency_ms && a.is_active == b.is_active;
}

std::vector<ResultRecord> nasty_records() {
    const std::string messages[] = {
        "",
        "plain",
        "comma, inside",
        "\"quoted\" and \"\"doubled\"\"",
        "two\nlines",
        "crlf\r\nline",
        "ends with newline\n",
        "\n",
        "\"",
        ",",
        "tab\tand nul " + std::string(1, '\0') + " and \x01",
        "Zoë 👩‍👩‍👧 שלום مرحبا",
        "backslash \\ and slash /",
        "true",
        "null",
        std::string(70000, 'x'),  // longer than one read chunk
    };
    std::vector<ResultRecord> out;
    std::uint64_t line = 2;
    for (const auto& m : messages) {
        ResultRecord r;
        r.line = line++;
        r.phone_number = line % 2 ? "+15551234567" : "555 \"not\", e164";
        r.outcome = static_cast<Outcome>(line % 6);
        r.http_status = line % 3 ? 200 : 0;
        r.error_code = line % 4 ? "" : "1002";
        r.message = m;
        r.attempts = static_cast<int>(line % 5);
        r.latency_ms = line % 3 ? 12.345 : 0;
        if (line % 3 == 1) r.is_active = true;
        if (line % 3 == 2) r.is_active = false;
        out.push_back(r);
    }
    return out;
}

std::vector<ResultRecord> read_all(const std::string& path, bool* torn = nullptr) {
    ResultsReader reader(path);
    std::vector<ResultRecord> out;
    ResultRecord r;
    while (reader.next(r)) out.push_back(r);
    if (torn) *torn = reader.torn_tail();
    return out;
}

class Formats : public ::testing::TestWithParam<const char*> {};

TEST_P(Formats, RoundTripThroughWriterAndReader) {
    TempDir dir;
    const std::string path = dir.file(std::string("results.") + GetParam());
    auto records = nasty_records();
    for (int i = 0; i < 3000; ++i) {  // enough to cross many read chunks
        ResultRecord r;
        r.line = 100 + i;
        r.phone_number = "+1555000" + std::to_string(i);
        r.outcome = Outcome::updated;
        r.http_status = 200;
        r.attempts = 1;
        r.latency_ms = i / 1000.0;
        r.is_active = true;
        r.message = i % 7 ? "" : "a, \"b\"\nc";
        records.push_back(r);
    }
    {
        ResultsWriter w(path, results_format_from_path(path));
        for (const auto& r : records) w.write(r);
        w.close();
    }
    ResultsReader reader(path);
    EXPECT_EQ(reader.format(), results_format_from_path(path));
    ResultRecord got;
    std::size_t n = 0;
    std::uint64_t expected_line = std::string(GetParam()) == "csv" ? 2 : 1;
    while (reader.next(got)) {
        ASSERT_LT(n, records.size());
        EXPECT_TRUE(same(got, records[n])) << "record " << n << ": message '" << got.message.substr(0, 40) << "'";
        EXPECT_EQ(reader.line(), expected_line) << "record " << n;
        expected_line += 1 + (std::string(GetParam()) == "csv"
                                  ? static_cast<std::uint64_t>(std::count(records[n].message.begin(),
                                                                          records[n].message.end(), '\n'))
                                  : 0);
        ++n;
    }
    EXPECT_EQ(n, records.size());
    EXPECT_FALSE(reader.torn_tail());
    EXPECT_EQ(reader.complete_bytes(), std::filesystem::file_size(path));
}

TEST_P(Formats, TornTailIsToleratedAndCanBeCutOff) {
    TempDir dir;
    const std::string path = dir.file(std::string("results.") + GetParam());
    auto records = nasty_records();
    records.resize(8);  // the last one has a message with a newline and quotes
    records.back().message = "torn \"here\"\nand, there";
    {
        ResultsWriter w(path, results_format_from_path(path));
        for (const auto& r : records) w.write(r);
    }
    const std::string whole = slurp(path);
    const std::string last = [&] {
        std::string s;
        append_record(s, records.back(), results_format_from_path(path));
        return s;
    }();
    const std::size_t last_start = whole.size() - last.size();
    for (std::size_t cut = last_start; cut <= whole.size(); ++cut) {
        write_file(path, whole.substr(0, cut));
        ResultsReader reader(path);
        std::vector<ResultRecord> got;
        ResultRecord r;
        while (reader.next(r)) got.push_back(r);
        const bool complete = cut == whole.size() || cut == last_start;
        ASSERT_EQ(got.size(), cut == whole.size() ? records.size() : records.size() - 1) << "cut at " << cut;
        EXPECT_EQ(reader.torn_tail(), !complete) << "cut at " << cut;
        EXPECT_EQ(reader.complete_bytes(), cut == whole.size() ? whole.size() : last_start) << "cut at " << cut;
    }
    // Resume: cut the torn record off, append, and the file reads cleanly again.
    write_file(path, whole.substr(0, whole.size() - 5));
    std::uint64_t keep = 0;
    {
        ResultsReader reader(path);
        ResultRecord r;
        while (reader.next(r)) {
        }
        ASSERT_TRUE(reader.torn_tail());
        keep = reader.complete_bytes();
    }
    std::filesystem::resize_file(path, keep);
    {
        ResultsWriter w(path, results_format_from_path(path), true);
        w.write(records.back());
    }
    bool torn = true;
    const auto got = read_all(path, &torn);
    EXPECT_FALSE(torn);
    ASSERT_EQ(got.size(), records.size());
    EXPECT_TRUE(same(got.back(), records.back()));
}

TEST_P(Formats, EmptyFileHasNoRecords) {
    TempDir dir;
    const std::string path = dir.file(std::string("results.") + GetParam());
    write_file(path, "");
    bool torn = true;
    EXPECT_TRUE(read_all(path, &torn).empty());
    EXPECT_FALSE(torn);
    { ResultsWriter w(path, results_format_from_path(path)); }  // CSV: just the header
    EXPECT_TRUE(read_all(path, &torn).empty());
    EXPECT_FALSE(torn);
}

INSTANTIATE_TEST_SUITE_P(ResultsReader, Formats, ::testing::Values("csv", "ndjson"));

void expect_error(const std::string& path, const std::string& content, std::initializer_list<std::string_view> parts) {
    write_file(path, content);
    try {
        read_all(path);
        ADD_FAILURE() << "no exception for: " << content;
    } catch (const std::runtime_error& e) {
        for (auto part : parts) EXPECT_NE(std::string(e.what()).find(part), std::string::npos) << e.what();
    }
}

TEST(ResultsReader, MalformedNdjsonNamesFileAndLine) {
    TempDir dir;
    const std::string p = dir.file("r.ndjson");
    const std::string good = R"({"line":2,"phone_number":"+1555","outcome":"updated"})"
                             "\n";
    expect_error(p, good + "{not json}\n" + good, {"'" + p + "' line 2", "not a JSON record"});
    expect_error(p, good + good + "[1,2]\n", {"line 3", "not a JSON object"});
    expect_error(p, R"({"line":2,"phone_number":"+1555","outcome":"done"})" "\n", {"line 1", "unknown outcome 'done'"});
    expect_error(p, R"({"line":2,"outcome":"updated"})" "\n", {"line 1", "without \"phone_number\""});
    expect_error(p, R"({"line":"2","phone_number":"+1555","outcome":"updated"})" "\n", {"line is not an integer"});
    expect_error(p, R"({"line":-2,"phone_number":"+1555","outcome":"updated"})" "\n", {"line is not an integer in range"});
    expect_error(p, R"({"line":2,"phone_number":"+1555","outcome":"updated","is_active":1})" "\n", {"is_active"});
    expect_error(p, R"({"line":2,"phone_number":"+1555","outcome":"updated"} x)" "\n", {"line 1"});
}

TEST(ResultsReader, NdjsonIsLenientAboutOrderUnknownKeysAndBlankLines) {
    TempDir dir;
    const std::string p = dir.file("r.jsonl");
    write_file(p, "\n" R"({"is_active":null,"outcome":"rejected","extra":{"a":[1]},"error_code":2001,)"
                  R"("phone_number":"+1555","line":9,"latency_ms":3})" "\r\n\n");
    ResultsReader reader(p);
    ResultRecord r;
    ASSERT_TRUE(reader.next(r));
    EXPECT_EQ(reader.line(), 2u);
    EXPECT_EQ(r.line, 9u);
    EXPECT_EQ(r.outcome, Outcome::rejected);
    EXPECT_EQ(r.error_code, "2001");
    EXPECT_EQ(r.latency_ms, 3.0);
    EXPECT_FALSE(r.is_active);
    EXPECT_FALSE(reader.next(r));
    EXPECT_FALSE(reader.torn_tail());
}

TEST(ResultsReader, MalformedCsvNamesFileAndLine) {
    TempDir dir;
    const std::string p = dir.file("r.csv");
    const std::string header(csv_header());
    const std::string good = "2,+1555,updated,200,,,1,5,true\n";
    expect_error(p, "line,phone\n" + good, {"'" + p + "' line 1", "expected the header"});
    expect_error(p, header + good + "3,+1555,updated,200,,1,5,true\n", {"line 3", "8 fields, expected 9"});
    expect_error(p, header + "x,+1555,updated,200,,,1,5,true\n", {"line 2", "line 'x' is not a number"});
    expect_error(p, header + "2,+1555,sent,200,,,1,5,true\n", {"unknown outcome 'sent'"});
    expect_error(p, header + "2,+1555,updated,200,,,1,5,yes\n", {"is_active 'yes'"});
    expect_error(p, header + "2,+1555,updated,200,,\"a\"b,1,5,true\n", {"text after a closing quote"});
    expect_error(p, header + "2,+1555,updated,200,,a\"b,1,5,true\n", {"quote inside an unquoted field"});
    expect_error(p, header + "2,+1555,updated,2x0,,,1,5,true\n", {"http_status '2x0'"});
    expect_error(p, header + "2,+1555,updated,200,,\"multi\nline\",1,5,true\n4,+1,updated,200,,,1,5\n",
                 {"line 4", "8 fields"});
}

TEST(ResultsReader, OpenErrors) {
    TempDir dir;
    EXPECT_THROW(ResultsReader(dir.file("missing.csv")), std::runtime_error);
    try {
        ResultsReader r(dir.file("missing.ndjson"));
    } catch (const std::runtime_error& e) {
        EXPECT_NE(std::string(e.what()).find("No such file or directory"), std::string::npos) << e.what();
    }
    EXPECT_THROW(ResultsReader(dir.file("r.txt")), std::invalid_argument);
}

}  // namespace
