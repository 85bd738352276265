#include "cardsync/results_writer.hpp"

#include "support/temp_dir.hpp"

#include <gtest/gtest.h>
#include <simdjson.h>

#include <cmath>
#include <csignal>
#include <functional>
#include <limits>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace {

using namespace cardsync;
using test::TempDir;

std::string slurp(const std::string& path) { return test::read_file(path); }

ResultRecord sample(std::uint64_t line = 12) {
    ResultRecord r;
    r.line = line;
    r.phone_number = "+15551234567";
    r.outcome = Outcome::updated;
    r.http_status = 200;
    r.attempts = 1;
    r.latency_ms = 12.3456;
    r.is_active = true;
    return r;
}

std::string encode(const ResultRecord& r, ResultsFormat f) {
    std::string out;
    append_record(out, r, f);
    return out;
}

TEST(ResultsFormat, FromPath) {
    EXPECT_EQ(results_format_from_path("-"), ResultsFormat::ndjson);
    EXPECT_EQ(results_format_from_path(""), ResultsFormat::ndjson);
    EXPECT_EQ(results_format_from_path("out/results.csv"), ResultsFormat::csv);
    EXPECT_EQ(results_format_from_path("RESULTS.CSV"), ResultsFormat::csv);
    EXPECT_EQ(results_format_from_path("r.ndjson"), ResultsFormat::ndjson);
    EXPECT_EQ(results_format_from_path("r.jsonl"), ResultsFormat::ndjson);
    EXPECT_EQ(results_format_from_path("/dev/null"), ResultsFormat::ndjson);
    EXPECT_EQ(results_format_from_path("/dev/fd/3"), ResultsFormat::ndjson);
    for (std::string_view bad : {"results.txt", "results", "results.json", "csv"}) {
        EXPECT_THROW(results_format_from_path(bad), std::invalid_argument) << bad;
    }
    try {
        results_format_from_path("out.txt");
    } catch (const std::invalid_argument& e) {
        EXPECT_NE(std::string(e.what()).find("'out.txt'"), std::string::npos) << e.what();
        EXPECT_NE(std::string(e.what()).find(".csv, .ndjson or .jsonl"), std::string::npos) << e.what();
    }
}

TEST(AppendRecord, NdjsonExactBytes) {
    EXPECT_EQ(encode(sample(), ResultsFormat::ndjson),
              R"({"line":12,"phone_number":"+15551234567","outcome":"updated","http_status":200,"error_code":"",)"
              R"("message":"","attempts":1,"latency_ms":12.346,"is_active":true})"
              "\n");
    ResultRecord r;
    r.line = 3;
    r.phone_number = "555";
    r.message = "phone_number: expected E.164";
    EXPECT_EQ(encode(r, ResultsFormat::ndjson),
              R"({"line":3,"phone_number":"555","outcome":"invalid","http_status":0,"error_code":"",)"
              R"("message":"phone_number: expected E.164","attempts":0,"latency_ms":0,"is_active":null})"
              "\n");
}

TEST(AppendRecord, CsvExactBytes) {
    EXPECT_EQ(csv_header(), "line,phone_number,outcome,http_status,error_code,message,attempts,latency_ms,is_active\n");
    EXPECT_EQ(encode(sample(), ResultsFormat::csv), "12,+15551234567,updated,200,,,1,12.346,true\n");
    ResultRecord r = sample(4);
    r.outcome = Outcome::rejected;
    r.http_status = 404;
    r.error_code = "2001";
    r.is_active.reset();
    r.latency_ms = 7;
    EXPECT_EQ(encode(r, ResultsFormat::csv), "4,+15551234567,rejected,404,2001,,1,7,\n");
    r.is_active = false;
    EXPECT_EQ(encode(r, ResultsFormat::csv), "4,+15551234567,rejected,404,2001,,1,7,false\n");
}

TEST(AppendRecord, CsvQuoting) {
    const struct {
        std::string_view message, cell;
    } cases[] = {
        {"plain text", "plain text"},
        {"a, b", "\"a, b\""},
        {"say \"hi\"", "\"say \"\"hi\"\"\""},
        {"two\nlines", "\"two\nlines\""},
        {"cr\rhere", "\"cr\rhere\""},
        {"\"", "\"\"\"\""},
        {"semi;colon 'single'", "semi;colon 'single'"},
    };
    for (const auto& c : cases) {
        ResultRecord r = sample(1);
        r.message = c.message;
        EXPECT_EQ(encode(r, ResultsFormat::csv), "1,+15551234567,updated,200,," + std::string(c.cell) + ",1,12.346,true\n");
    }
}

TEST(AppendRecord, CsvFieldsOfAnyLengthAndMixOfQuoting) {
    // Plain cells are composed in a buffer and the others appended around it: every size and
    // order must give the same bytes as writing the cells one by one.
    for (const std::size_t n : {0u, 1u, 300u, 399u, 400u, 450u, 511u, 512u, 5000u}) {
        for (const std::string_view code : {"", "1007", "a,b"}) {
            ResultRecord r = sample(7);
            r.error_code = code;
            r.message = std::string(n, 'm');
            r.phone_number = n % 2 ? "+15551234567" : std::string(n, '5');
            const std::string quoted_code = code == "a,b" ? "\"a,b\"" : std::string(code);
            EXPECT_EQ(encode(r, ResultsFormat::csv), "7," + r.phone_number + ",updated,200," + quoted_code + "," +
                                                         r.message + ",1,12.346,true\n")
                << n << " " << code;
        }
    }
}

TEST(AppendRecord, LatencyHasAtMostThreeDecimals) {
    const std::pair<double, std::string_view> cases[] = {
        {0, "0"},          {12.5, "12.5"},   {1.23456, "1.235"}, {1000, "1000"},       {0.0004, "0"},
        {-0.0004, "0"},    {99.999, "99.999"}, {0.1, "0.1"},     {123456.7, "123456.7"}, {std::nan(""), "0"},
        {std::numeric_limits<double>::infinity(), "0"},
    };
    for (auto [ms, text] : cases) {
        ResultRecord r = sample(1);
        r.latency_ms = ms;
        EXPECT_EQ(encode(r, ResultsFormat::csv), "1,+15551234567,updated,200,,,1," + std::string(text) + ",true\n") << ms;
    }
}

TEST(AppendRecord, NdjsonEscapingParsesBack) {
    ResultRecord r = sample(99);
    r.phone_number = "+1 555 \"quoted\"";
    r.error_code = "1002";
    r.message = "tab\there, newline\nthere, nul " + std::string(1, '\0') + ", backslash \\, \x01, Zoë 👩‍👩‍👧 שלום";
    r.is_active = false;
    std::string line = encode(r, ResultsFormat::ndjson);
    ASSERT_EQ(line.back(), '\n');
    ASSERT_EQ(line.find('\n'), line.size() - 1) << "one object per line";
    simdjson::ondemand::parser parser;
    simdjson::padded_string padded(line);
    simdjson::ondemand::document doc;
    ASSERT_EQ(parser.iterate(padded).get(doc), simdjson::SUCCESS);
    std::string_view s;
    ASSERT_EQ(doc["phone_number"].get_string().get(s), simdjson::SUCCESS);
    EXPECT_EQ(s, r.phone_number);
    ASSERT_EQ(doc["error_code"].get_string().get(s), simdjson::SUCCESS);
    EXPECT_EQ(s, "1002");
    ASSERT_EQ(doc["message"].get_string().get(s), simdjson::SUCCESS);
    EXPECT_EQ(s, r.message);
    bool active = true;
    ASSERT_EQ(doc["is_active"].get_bool().get(active), simdjson::SUCCESS);
    EXPECT_FALSE(active);
}

TEST(AppendRecord, InvalidUtf8BecomesReplacementCharacter) {
    ResultRecord r = sample(5);
    r.phone_number = "+1555\xFF";
    r.message = "name 'Ann\xC3' bad";
    for (auto format : {ResultsFormat::ndjson, ResultsFormat::csv}) {
        const std::string out = encode(r, format);
        EXPECT_TRUE(simdjson::validate_utf8(out)) << out;
        EXPECT_NE(out.find("+1555\xEF\xBF\xBD"), std::string::npos) << out;
        EXPECT_NE(out.find("Ann\xEF\xBF\xBD' bad"), std::string::npos) << out;
    }
}

off_t file_size(int fd) {
    struct stat st {};
    ::fstat(fd, &st);
    return st.st_size;
}

TEST(ResultsWriter, BuffersUntilThresholdOrFlush) {
    TempDir dir;
    const std::string path = dir.file("r.ndjson");
    const int fd = ::open(path.c_str(), O_CREAT | O_RDWR | O_TRUNC, 0644);
    ASSERT_GE(fd, 0);
    {
        ResultsWriter w(fd, ResultsFormat::ndjson);
        const std::size_t record_size = encode(sample(), ResultsFormat::ndjson).size();
        const std::size_t below = (ResultsWriter::flush_threshold - 1) / record_size;
        for (std::size_t i = 0; i < below; ++i) w.write(sample());
        EXPECT_EQ(file_size(fd), 0) << "nothing is written before the threshold";
        w.write(sample());  // passes the threshold
        EXPECT_EQ(static_cast<std::size_t>(file_size(fd)), (below + 1) * record_size);
        w.write(sample());
        EXPECT_EQ(static_cast<std::size_t>(file_size(fd)), (below + 1) * record_size);
        w.flush();
        EXPECT_EQ(static_cast<std::size_t>(file_size(fd)), (below + 2) * record_size);
        EXPECT_EQ(w.records_written(), below + 2);
        w.write(sample());
    }  // the destructor flushes, and leaves a descriptor it does not own open
    const std::size_t record_size = encode(sample(), ResultsFormat::ndjson).size();
    EXPECT_EQ(static_cast<std::size_t>(file_size(fd)) % record_size, 0u);
    EXPECT_EQ(::close(fd), 0) << "the writer must not close a descriptor it was given";
}

TEST(ResultsWriter, BatchesFromSeveralThreadsStayWholeRecords) {
    // what the engines of --threads N do: encode records themselves, hand them over in batches
    TempDir dir;
    const std::string path = dir.file("r.csv");
    constexpr int threads = 3, batches = 400, per_batch = 7;
    {
        ResultsWriter w(path, ResultsFormat::csv);
        std::vector<std::thread> workers;
        for (int t = 0; t < threads; ++t) {
            workers.emplace_back([&w, t] {
                std::string batch;
                for (int b = 0; b < batches; ++b) {
                    batch.clear();
                    for (int i = 0; i < per_batch; ++i)
                        append_record(batch, sample(static_cast<std::uint64_t>((t * batches + b) * per_batch + i)), w.format());
                    w.write_encoded(batch, per_batch);
                    if (b % 50 == 0) w.write(sample(1'000'000 + static_cast<std::uint64_t>(t * batches + b)));
                }
            });
        }
        for (auto& t : workers) t.join();
        EXPECT_EQ(w.records_written(), static_cast<std::uint64_t>(threads * batches * per_batch + threads * batches / 50));
    }
    std::istringstream text(slurp(path));
    std::string line;
    ASSERT_TRUE(std::getline(text, line));
    EXPECT_EQ(line + "\n", csv_header()) << "the header once, first";
    std::set<std::uint64_t> lines;
    std::size_t n = 0;
    const std::string tail = encode(sample(0), ResultsFormat::csv).substr(1);  // ",+1555…" after the line number
    while (std::getline(text, line)) {
        ++n;
        const auto comma = line.find(',');
        ASSERT_NE(comma, std::string::npos) << line;
        EXPECT_EQ(line.substr(comma) + "\n", tail) << "a whole record: " << line;
        EXPECT_TRUE(lines.insert(std::stoull(line.substr(0, comma))).second) << line;
    }
    EXPECT_EQ(n, static_cast<std::size_t>(threads * batches * per_batch + threads * batches / 50));
}

TEST(ResultsWriter, CsvFileHeaderAndTruncate) {
    TempDir dir;
    const std::string path = dir.file("r.csv");
    {
        std::ofstream(path) << "old content that must go\n";
        ResultsWriter w(path, ResultsFormat::csv);
        w.write(sample(2));
        w.close();
        w.close();  // idempotent
    }
    EXPECT_EQ(slurp(path), std::string(csv_header()) + "2,+15551234567,updated,200,,,1,12.346,true\n");
    struct stat st {};
    ASSERT_EQ(::stat(path.c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777 & ~0022u, 0644u & ~0022u);
}

TEST(ResultsWriter, AppendModeKeepsContentAndWritesHeaderOnce) {
    TempDir dir;
    const std::string csv = dir.file("r.csv");
    { ResultsWriter(csv, ResultsFormat::csv, true).write(sample(2)); }  // new file: header
    { ResultsWriter(csv, ResultsFormat::csv, true).write(sample(3)); }  // existing: no second header
    EXPECT_EQ(slurp(csv), std::string(csv_header()) + "2,+15551234567,updated,200,,,1,12.346,true\n" +
                              "3,+15551234567,updated,200,,,1,12.346,true\n");
    const std::string empty = dir.file("empty.csv");
    std::ofstream(empty).close();
    { ResultsWriter(empty, ResultsFormat::csv, true).write(sample(4)); }  // exists but empty: header
    EXPECT_EQ(slurp(empty), std::string(csv_header()) + "4,+15551234567,updated,200,,,1,12.346,true\n");
    const std::string nd = dir.file("r.ndjson");
    { ResultsWriter(nd, ResultsFormat::ndjson, true).write(sample(2)); }
    { ResultsWriter(nd, ResultsFormat::ndjson, true).write(sample(3)); }
    EXPECT_EQ(slurp(nd), encode(sample(2), ResultsFormat::ndjson) + encode(sample(3), ResultsFormat::ndjson));
}

void expect_error(const std::function<void()>& f, std::initializer_list<std::string_view> parts) {
    try {
        f();
        ADD_FAILURE() << "no exception";
    } catch (const std::runtime_error& e) {
        for (auto part : parts) EXPECT_NE(std::string(e.what()).find(part), std::string::npos) << e.what();
    }
}

TEST(ResultsWriter, OpenErrorsNameThePathAndReason) {
    TempDir dir;
    const std::string missing = dir.file("no/such/dir/r.csv");
    expect_error([&] { ResultsWriter w(missing, ResultsFormat::csv); }, {"'" + missing + "'", "No such file or directory"});
    const std::string directory = dir.file("");
    expect_error([&] { ResultsWriter w(directory, ResultsFormat::ndjson); }, {"Is a directory"});
}

TEST(ResultsWriter, WriteErrorsAreReported) {
    // A pipe nobody reads any more.
    std::signal(SIGPIPE, SIG_IGN);  // as the CLI must: otherwise the process dies instead of reporting
    int fds[2];
    ASSERT_EQ(::pipe(fds), 0);
    ::close(fds[0]);
    {
        ResultsWriter w(fds[1], ResultsFormat::ndjson);
        w.write(sample());
        expect_error([&] { w.flush(); }, {"cannot write results to file descriptor", "Broken pipe"});
        expect_error([&] { w.flush(); }, {"Broken pipe"});  // still buffered, still failing
    }  // the destructor swallows the error
    ::close(fds[1]);
    // A full disk.
    if (::access("/dev/full", W_OK) == 0) {
        ResultsWriter w("/dev/full", ResultsFormat::csv);
        w.write(sample());
        expect_error([&] { w.close(); }, {"'/dev/full'", "No space left on device"});
    }
}

}  // namespace
