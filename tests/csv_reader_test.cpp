#include "cardsync/csv_reader.hpp"
#include "cardsync/input_error.hpp"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace cardsync {
namespace {

const std::string header = "phone_number,first_name,last_name,image_url\n";

// One row as text, so whole tables compare at once: line|phone|first|last|image|error, "~" = omitted.
std::string show(const InputRow& row) {
    const auto opt = [](const std::optional<std::string>& v) { return v ? *v : std::string("~"); };
    return std::to_string(row.line) + "|" + row.phone_number + "|" + opt(row.fields.first_name) + "|" +
           opt(row.fields.last_name) + "|" + opt(row.fields.image_url) + "|" + row.error;
}

struct Read {
    std::vector<std::string> rows;
    std::vector<std::string> warnings;
    std::uint64_t bytes = 0;
};

Read read_all(const std::string& input, std::size_t chunk = 1 << 16) {
    CsvReader reader(memory_source(input, chunk));
    Read out;
    InputRow row;  // reused on purpose: a reader must clear what the previous row left
    while (reader.next(row)) out.rows.push_back(show(row));
    out.warnings = reader.warnings();
    out.bytes = reader.bytes_read();
    return out;
}

struct Case {
    const char* name;
    std::string input;
    std::vector<std::string> rows;
};

const std::vector<Case>& cases() {
    static const std::vector<Case> all = {
        {"simple", header + "+15550001,Avery,Johnson,https://x/a.jpg\n+15550002,Bo,Li,\n",
         {"2|+15550001|Avery|Johnson|https://x/a.jpg|", "3|+15550002|Bo|Li|~|"}},
        {"crlf", "phone_number,first_name,last_name,image_url\r\n+1,A,B,C\r\n+2,D,E,F\r\n",
         {"2|+1|A|B|C|", "3|+2|D|E|F|"}},
        {"bom", "\xEF\xBB\xBF" + header + "+1,A,B,C\n", {"2|+1|A|B|C|"}},
        {"no trailing newline", header + "+1,A,B,C\n+2,D,E,F", {"2|+1|A|B|C|", "3|+2|D|E|F|"}},
        {"no trailing newline, crlf before", header + "+1,A,B,C\r\n+2,D,E,F\r", {"2|+1|A|B|C|", "3|+2|D|E|F|"}},
        {"blank lines are not rows", "\n\n" + header + "\n+1,A,B,C\n   \n\t\n\r\n+2,D,E,F\n\n",
         {"5|+1|A|B|C|", "9|+2|D|E|F|"}},
        {"quoted comma and doubled quotes",
         header + "+1,João,\"Silva, Jr.\",\"https://x/a,b\"\n+2,Olivia,\"Nguyen \"\"Liv\"\"\",\"\"\"\"\n",
         {"2|+1|João|Silva, Jr.|https://x/a,b|", "3|+2|Olivia|Nguyen \"Liv\"|\"|"}},
        {"quoted newlines keep line numbers physical",
         header + "+1,Renée,\"Multi\nLine\",x\n+2,\"a\r\nb\r\n\",\"\n\n\",y\n+3,C,D,E\n",
         {"2|+1|Renée|Multi\nLine|x|", "4|+2|a\r\nb\r\n|\n\n|y|", "9|+3|C|D|E|"}},
        {"empty cells are omitted", header + "+1,,,\n,A,,\n+3,\"\",\"\",\"\"\n+4,,B,\n",
         {"2|+1|~|~|~|", "3||A|~|~|", "4|+3|~|~|~|", "5|+4|~|B|~|"}},
        {"unquoted cells trimmed, quoted kept",
         header + "  +1 , Avery ,\tJohnson\t, x \n+2,\" A \", \"B\" ,\"  \"\n",
         {"2|+1|Avery|Johnson|x|", "3|+2| A |B|  |"}},
        {"emoji and right-to-left kept byte-exact",
         header + "+1,Sam 🚀,Lee,\n+2,محمد,العلي,\n+3,נועה,כהן,\n+4,裕子,山田,\n",
         {"2|+1|Sam 🚀|Lee|~|", "3|+2|محمد|العلي|~|", "4|+3|נועה|כהן|~|", "5|+4|裕子|山田|~|"}},
        {"invalid UTF-8 passes through", header + "+1,\xff\xfe,\xc3(,\xed\xa0\x80\n",
         {"2|+1|\xff\xfe|\xc3(|\xed\xa0\x80|"}},
        {"control characters pass through", header + "+1,a\x01" "b,\"c\td\",\x7f\n", {"2|+1|a\x01" "b|c\td|\x7f|"}},
        {"field count mismatch keeps the number",
         header + "+1,A,B,C,D\n+2,A\n+3\n,A,B,C,D\n",
         {"2|+1|A|B|C|expected 4 fields, found 5", "3|+2|A|~|~|expected 4 fields, found 2",
          "4|+3|~|~|~|expected 4 fields, found 1", "5||A|B|C|expected 4 fields, found 5"}},
        {"stray quote in an unquoted field", header + "+1,O\"Neil,B,C\n+2,A,B,C\n",
         {"2|+1|O\"Neil|B|C|stray quote in field 2 (a field containing quotes must be quoted, with its quotes "
          "doubled)",
          "3|+2|A|B|C|"}},
        {"text after a closing quote", header + "+1,\"A\"x,B,C\n+2,\"A\" \"B\",C,D\n+3,A,B,C\n",
         {"2|+1|A|B|C|unexpected text after the closing quote of field 2",
          "3|+2|A|C|D|unexpected text after the closing quote of field 2", "4|+3|A|B|C|"}},
        {"NUL byte", header + std::string("+1,A\0B,C,D\n+2,A,B,C\n", 20),
         {"2|+1|" + std::string("A\0B", 3) + "|C|D|binary data (NUL byte)", "3|+2|A|B|C|"}},
        {"unclosed quote at end of input, then recovery",
         header + "+1,A,B,C\n+2,\"unclosed,B,C\n+3,D,E,F\n+4,G,H,I\n",
         {"2|+1|A|B|C|", "3|+2|~|~|~|unclosed quote starting at line 3", "4|+3|D|E|F|", "5|+4|G|H|I|"}},
        {"unclosed quote on the last line", header + "+1,A,B,C\n+2,A,\"B", {"2|+1|A|B|C|", "3|+2|~|~|~|unclosed quote starting at line 3"}},
        {"quote opened on a continuation line",
         header + "+1,\"a\nb\",\"c\n+2,D,E,F\n",
         {"2|+1|~|~|~|unclosed quote starting at line 3", "4|+2|D|E|F|"}},
        {"quote right at the end closes", header + "+1,A,B,\"C\"", {"2|+1|A|B|C|"}},
        {"quote split from its double at the end", header + "+1,A,B,\"C\"\"\"", {"2|+1|A|B|C\"|"}},
        {"only a header", header, {}},
        {"one column", "phone_number\n+1\n\n+2\n", {"2|+1|~|~|~|", "4|+2|~|~|~|"}},
        {"commas only", header + ",,,\n", {"2||~|~|~|"}},
    };
    return all;
}

TEST(CsvReader, Table) {
    for (const auto& c : cases()) {
        const Read got = read_all(c.input);
        EXPECT_EQ(got.rows, c.rows) << c.name;
        EXPECT_TRUE(got.warnings.empty()) << c.name;
        EXPECT_EQ(got.bytes, c.input.size()) << c.name;
    }
}

// The property that makes chunked reading trustworthy: chunking never changes what is read.
TEST(CsvReader, SameRowsForEveryChunkSize) {
    for (const auto& c : cases()) {
        for (std::size_t chunk : {1, 2, 3, 7, 64, 1 << 20}) {
            EXPECT_EQ(read_all(c.input, chunk).rows, c.rows) << c.name << " chunk " << chunk;
        }
    }
}

TEST(CsvReader, HeaderVariants) {
    const Read got = read_all(" Phone_Number ,LAST_NAME,\"first_name\"\n+1,Lee,Sam\n");
    EXPECT_EQ(got.rows, std::vector<std::string>{"2|+1|Sam|Lee|~|"});
    EXPECT_TRUE(got.warnings.empty());
}

TEST(CsvReader, UnknownColumnsGiveOneWarningAndAreIgnored) {
    const Read got = read_all("id,phone_number,Notes,first_name,\n7,+1,hello,Ann,z\n8,+2,,Bo,\n");
    EXPECT_EQ(got.rows, (std::vector<std::string>{"2|+1|Ann|~|~|", "3|+2|Bo|~|~|"}));
    ASSERT_EQ(got.warnings.size(), 1u);
    EXPECT_EQ(got.warnings[0], "input:1: ignoring unknown columns 'id', 'Notes', column 5 (no name) "
                               "(cardsync reads phone_number, first_name, last_name, image_url)");
}

std::string header_error(const std::string& input, std::uint64_t* line = nullptr) {
    try {
        CsvReader reader(memory_source(input, 3));
    } catch (const InputError& e) {
        if (line) *line = e.line();
        return e.what();
    }
    return "no error";
}

TEST(CsvReader, MissingPhoneColumnNamesWhatWasFound) {
    std::uint64_t line = 0;
    EXPECT_EQ(header_error("name, Surname\nA,B\n", &line),
              "input:1: the header has no phone_number column (found 'name', 'Surname'); the first line must "
              "name the columns, e.g. phone_number,first_name,last_name,image_url");
    EXPECT_EQ(line, 1u);
    // A file without a header: the first data row is taken for one, and the message shows it.
    EXPECT_NE(header_error("+15550001,Ann,Lee,\n").find("found '+15550001', 'Ann', 'Lee', ''"), std::string::npos);
}

TEST(CsvReader, DuplicateKnownColumnIsRefused) {
    std::uint64_t line = 0;
    EXPECT_EQ(header_error("phone_number,first_name,First_Name\n", &line),
              "input:1: the header names column first_name twice (columns 2 and 3): keep one");
    EXPECT_EQ(line, 1u);
}

TEST(CsvReader, EmptyInputIsRefused) {
    for (const std::string input : {"", "\n\n", "\xEF\xBB\xBF", "  \r\n"}) {
        EXPECT_NE(header_error(input).find("the input is empty"), std::string::npos) << header_error(input);
    }
}

TEST(CsvReader, MalformedHeaderIsRefused) {
    EXPECT_NE(header_error("phone_number,\"first_name\n").find("header row is malformed: unclosed quote"),
              std::string::npos);
    EXPECT_NE(header_error(std::string("phone_number,a\0b\n", 17)).find("NUL"), std::string::npos);
    EXPECT_NE(header_error("phone\"number\n").find("stray quote"), std::string::npos);
}

TEST(CsvReader, TooLongRecordThenRecovery) {
    const std::string big(max_record_bytes + 10, 'x');
    const std::string input = header + "+1,A,B,C\n+2," + big + ",B,C\n+3,D,E,F\n";
    for (std::size_t chunk : {7, 4096, 1 << 20}) {
        EXPECT_EQ(read_all(input, chunk).rows,
                  (std::vector<std::string>{"2|+1|A|B|C|", "3|+2|~|~|~|record longer than 1 MiB", "4|+3|D|E|F|"}))
            << chunk;
    }
}

TEST(CsvReader, RecordOfExactlyTheLimitIsAccepted) {
    const std::string prefix = "+1,A,B,";
    const std::string url(max_record_bytes - prefix.size(), 'u');
    const Read got = read_all(header + prefix + url + "\n+2,D,E,F\n", 4096);
    ASSERT_EQ(got.rows.size(), 2u);
    EXPECT_EQ(got.rows[0], "2|+1|A|B|" + url + "|");
    // One byte more is too long.
    const Read over = read_all(header + prefix + url + "u\n+2,D,E,F\n", 4096);
    EXPECT_EQ(over.rows, (std::vector<std::string>{"2|+1|~|~|~|record longer than 1 MiB", "3|+2|D|E|F|"}));
}

TEST(CsvReader, QuoteNeverClosedWithinTheLimitThenRecovery) {
    // The quote swallows more than 1 MiB of following lines; the reader gives up at the limit and
    // resumes at the line after the one the record started on, so no following row is lost.
    std::string input = header + "+1,A,B,C\n+2,\"never closed,B,C\n";
    const std::size_t filler = max_record_bytes / 20 + 10;
    for (std::size_t i = 0; i < filler; ++i) input += "+3,abcdefghijklmnop\n";  // 20 bytes, 2 fields
    input += "+4,D,E,F\n";
    for (std::size_t chunk : {4096, 1 << 16}) {
        const Read got = read_all(input, chunk);
        ASSERT_EQ(got.rows.size(), filler + 3) << chunk;
        EXPECT_EQ(got.rows[0], "2|+1|A|B|C|");
        EXPECT_EQ(got.rows[1], "3|+2|~|~|~|unclosed quote starting at line 3 (no closing quote within 1 MiB)");
        EXPECT_EQ(got.rows[2], "4|+3|abcdefghijklmnop|~|~|expected 4 fields, found 2");
        EXPECT_EQ(got.rows.back(), std::to_string(filler + 4) + "|+4|D|E|F|");
    }
}

TEST(CsvReader, ReusedRowIsClearedBetweenRecords) {
    CsvReader reader(memory_source(header + "+1,A,B,C\n+2,,,\n+3,\"x\n"));
    InputRow row;
    ASSERT_TRUE(reader.next(row));
    ASSERT_TRUE(reader.next(row));
    EXPECT_EQ(show(row), "3|+2|~|~|~|");
    ASSERT_TRUE(reader.next(row));
    EXPECT_EQ(show(row), "4|+3|~|~|~|unclosed quote starting at line 4");
    EXPECT_FALSE(reader.next(row));
    EXPECT_FALSE(reader.next(row));  // stays at the end
}

TEST(CsvReader, SampleFileReadsEveryRow) {
    std::ifstream in(CARDSYNC_SAMPLES "/contacts.csv", std::ios::binary);
    ASSERT_TRUE(in) << CARDSYNC_SAMPLES;
    std::stringstream ss;
    ss << in.rdbuf();
    const Read got = read_all(ss.str(), 5);
    ASSERT_EQ(got.rows.size(), 34u);  // 35 lines after the header, one record spans two
    EXPECT_EQ(got.rows[10], "12|+61412345611|Olivia|Nguyen \"Liv\"|https://cdn.example.com/cards/olivia.jpg|");
    EXPECT_EQ(got.rows[18], "20|+14155550118|Renée|Multi\nLine|https://cdn.example.com/cards/renee.jpg|");
    EXPECT_EQ(got.rows[19].substr(0, 15), "22|+14155550119");  // after the two-line record
    EXPECT_EQ(got.rows.back(), "36||No|Number|~|");
    EXPECT_EQ(got.bytes, ss.str().size());
}

TEST(CsvReader, LargeInputStreams) {
    constexpr int n = 200000;
    std::string input = header;
    input.reserve(n * 64);
    for (int i = 0; i < n; ++i) {
        const std::string num = std::to_string(1000000 + i);
        if (i % 1000 == 7) input += "+1555" + num + ",\"Multi\nline\",O'Neil,https://cdn.example.com/" + num + ".jpg\n";
        else input += "+1555" + num + ",Zoë,O'Neil,https://cdn.example.com/" + num + ".jpg\n";
    }
    CsvReader reader(memory_source(input, 65536 + 13));
    InputRow row;
    int count = 0;
    std::uint64_t expected_line = 2;
    while (reader.next(row)) {
        ASSERT_EQ(row.line, expected_line) << count;
        ASSERT_TRUE(row.error.empty()) << row.error;
        const std::string num = std::to_string(1000000 + count);
        if (count == 0 || count == 7007 || count == n - 1) {
            EXPECT_EQ(row.phone_number, "+1555" + num);
            EXPECT_EQ(row.fields.image_url, "https://cdn.example.com/" + num + ".jpg");
        }
        expected_line += count % 1000 == 7 ? 2 : 1;
        ++count;
    }
    EXPECT_EQ(count, n);
    EXPECT_EQ(reader.bytes_read(), input.size());
}

}  // namespace
}  // namespace cardsync
