#include "cardsync/ndjson_reader.hpp"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace cardsync {
namespace {

// One row as text, so whole tables compare at once: line|phone|first|last|image|error, "~" = omitted.
std::string show(const InputRow& row) {
    const auto opt = [](const std::optional<std::string>& v) { return v ? *v : std::string("~"); };
    return std::to_string(row.line) + "|" + row.phone_number + "|" + opt(row.fields.first_name) + "|" +
           opt(row.fields.last_name) + "|" + opt(row.fields.image_url) + "|" + row.error;
}

// A string literal with its embedded NUL bytes.
template <std::size_t N>
std::string bytes(const char (&text)[N]) {
    return std::string(text, N - 1);
}

std::vector<std::string> read_all(const std::string& input, std::size_t chunk = 1 << 16,
                                  std::uint64_t* bytes = nullptr) {
    NdjsonReader reader(memory_source(input, chunk));
    std::vector<std::string> rows;
    InputRow row;  // reused on purpose: a reader must clear what the previous row left
    while (reader.next(row)) rows.push_back(show(row));
    EXPECT_TRUE(reader.warnings().empty());
    if (bytes) *bytes = reader.bytes_read();
    return rows;
}

struct Case {
    const char* name;
    std::string input;
    std::vector<std::string> rows;
};

const std::vector<Case>& cases() {
    static const std::vector<Case> all = {
        {"simple",
         R"({"phone_number":"+15550001","first_name":"Avery","last_name":"Johnson","image_url":"https://x/a.jpg"})"
         "\n{\"image_url\": \"u\", \"phone_number\" : \"+2\"}\n",
         {"1|+15550001|Avery|Johnson|https://x/a.jpg|", "2|+2|~|~|u|"}},
        {"null, absent and empty are omitted",
         R"({"phone_number":"+1","first_name":null,"last_name":"","image_url":null})" "\n"
         R"({"first_name":"A"})" "\n" R"({"phone_number":"","last_name":"B"})" "\n{}\n",
         {"1|+1|~|~|~|", "2||A|~|~|", "3||~|B|~|", "4||~|~|~|"}},
        {"other keys ignored whatever their value",
         R"({"id":7,"phone_number":"+1","tags":["a",{"b":[1,2.5e3,-0.5,true,false,null]}],"x":{}})" "\n",
         {"1|+1|~|~|~|"}},
        {"wrong types name the key and the type",
         R"({"phone_number":"+1","first_name":5})" "\n" R"({"phone_number":"+2","last_name":true})" "\n"
         R"({"phone_number":"+3","image_url":["u"]})" "\n" R"({"phone_number":"+4","first_name":{"a":1}})" "\n"
         R"({"phone_number":15550001,"first_name":"A"})" "\n",
         {"1|+1|~|~|~|'first_name' must be a string or null, found a number",
          "2|+2|~|~|~|'last_name' must be a string or null, found a boolean",
          "3|+3|~|~|~|'image_url' must be a string or null, found an array",
          "4|+4|~|~|~|'first_name' must be a string or null, found an object",
          "5||A|~|~|'phone_number' must be a string or null, found a number"}},
        {"invalid JSON", "not json at all\n{\n{\"phone_number\":}\n{\"phone_number\":\"+1\",}\n{\"a\":tru}\n"
                         "{\"a\":01}\n{\"a\":\"\\x\"}\n{\"phone_number\":\"+1\"\n{'a':1}\n",
         {"1||~|~|~|invalid JSON: unknown word (not true, false or null)",
          "2||~|~|~|invalid JSON: the object is not closed, or text follows it",
          "3||~|~|~|invalid JSON: The JSON document has an improper structure: missing or superfluous commas, braces, missing keys, etc.",
          "4|+1|~|~|~|invalid JSON: The JSON document has an improper structure: missing or superfluous commas, braces, missing keys, etc.",
          "5||~|~|~|invalid JSON: unknown word (not true, false or null)",
          "6||~|~|~|invalid JSON: bad number",
          "7||~|~|~|invalid JSON: bad string (invalid escape?)",
          "8||~|~|~|invalid JSON: the object is not closed, or text follows it",
          "9||~|~|~|invalid JSON: The JSON document has an improper structure: missing or superfluous commas, braces, missing keys, etc."}},
        {"not an object", "[1,2]\n\"+15550001\"\n42\ntrue\nnull\n-1.5e3\n",
         {"1||~|~|~|expected a JSON object, found an array", "2||~|~|~|expected a JSON object, found a string",
          "3||~|~|~|expected a JSON object, found a number", "4||~|~|~|expected a JSON object, found a boolean",
          "5||~|~|~|expected a JSON object, found null", "6||~|~|~|expected a JSON object, found a number"}},
        {"duplicate known keys",
         R"({"phone_number":"+1","first_name":"A","first_name":"B"})" "\n"
         R"({"phone_number":"+2","phone_number":null})" "\n" R"({"phone_number":"+3","x":1,"x":2})" "\n",
         {"1|+1|B|~|~|duplicate key 'first_name'", "2|+2|~|~|~|duplicate key 'phone_number'", "3|+3|~|~|~|"}},
        {"trailing garbage", R"({"phone_number":"+1"} x)" "\n" R"({"phone_number":"+2"}{})" "\n"
                             R"({"phone_number":"+3"}})" "\n" R"({"phone_number":"+4"}   )" "\n",
         {"1||~|~|~|invalid JSON: the object is not closed, or text follows it",
          "2|+2|~|~|~|unexpected text after the JSON object",
          "3|+3|~|~|~|unexpected text after the JSON object", "4|+4|~|~|~|"}},
        {"blank lines skipped, line numbers physical",
         "\n  \n" R"({"phone_number":"+1"})" "\n\t\r\n\n" R"({"phone_number":"+2"})" "\n\n",
         {"3|+1|~|~|~|", "6|+2|~|~|~|"}},
        {"UTF-8 BOM skipped", "\xEF\xBB\xBF{\"phone_number\":\"+1\"}\n\xEF\xBB\xBF{}\n",
         {"1|+1|~|~|~|", "2||~|~|~|invalid JSON: The JSON document has an improper structure: missing or "
                         "superfluous commas, braces, missing keys, etc."}},
        {"crlf", "{\"phone_number\":\"+1\"}\r\n{\"phone_number\":\"+2\"}\r\n", {"1|+1|~|~|~|", "2|+2|~|~|~|"}},
        {"no trailing newline", "{\"phone_number\":\"+1\"}\n{\"phone_number\":\"+2\"}", {"1|+1|~|~|~|", "2|+2|~|~|~|"}},
        {"escapes become UTF-8",
         R"({"phone_number":"\u002b1","first_name":"Ren\u00e9e","last_name":"O\"Neil \\ \/","image_url":"\ud83d\ude80"})" "\n",
         {"1|+1|Renée|O\"Neil \\ /|🚀|"}},
        {"escaped key names match", R"({"phone\u005fnumber":"+1"})" "\n", {"1|+1|~|~|~|"}},
        {"emoji and right-to-left kept byte-exact",
         R"({"phone_number":"+1","first_name":"Sam 🚀","last_name":"العلي"})" "\n"
         R"({"phone_number":"+2","first_name":"נועה","last_name":"山田"})" "\n",
         {"1|+1|Sam 🚀|العلي|~|", "2|+2|נועה|山田|~|"}},
        {"invalid UTF-8 makes the line invalid",
         "{\"phone_number\":\"+1\",\"first_name\":\"\xff\"}\n{\"phone_number\":\"+2\",\"x\":\"\xed\xa0\x80\"}\n"
         "{\"phone_number\":\"+3\"}\n",
         {"1||~|~|~|invalid JSON: not valid UTF-8", "2||~|~|~|invalid JSON: not valid UTF-8", "3|+3|~|~|~|"}},
        {"escaped control characters pass through (validation decides)",
         R"({"phone_number":"+1","first_name":"a\u0001b","last_name":"c\td"})" "\n", {"1|+1|a\x01" "b|c\td|~|"}},
        {"NUL byte", bytes("{\"phone_number\":\"+1\"}\0\n{\"phone_number\":\"+2\"}\n"),
         {"1||~|~|~|invalid JSON: the object is not closed, or text follows it", "2|+2|~|~|~|"}},
        {"NUL inside a string", bytes("{\"phone_number\":\"+1\",\"first_name\":\"a\0b\"}\n"),
         {"1||~|~|~|invalid JSON: unescaped control character in a string"}},
        {"raw control characters in a string", "{\"phone_number\":\"+1\",\"first_name\":\"a\tb\x01\"}\n",
         {"1||~|~|~|invalid JSON: unescaped control character in a string"}},
        {"huge valid number in an ignored key", R"({"n":123456789012345678901234567890e400,"phone_number":"+1"})" "\n",
         {"1|+1|~|~|~|"}},
        {"deep nesting in an ignored key",
         "{\"phone_number\":\"+1\",\"deep\":" + std::string(300, '[') + std::string(300, ']') + "}\n",
         {"1|+1|~|~|~|"}},
        {"empty input", "", {}},
        {"only blank lines", "\n\r\n  \n", {}},
    };
    return all;
}

TEST(NdjsonReader, Table) {
    for (const auto& c : cases()) {
        std::uint64_t bytes = 0;
        EXPECT_EQ(read_all(c.input, 1 << 16, &bytes), c.rows) << c.name;
        EXPECT_EQ(bytes, c.input.size()) << c.name;
    }
}

// The property that makes chunked reading trustworthy: chunking never changes what is read.
TEST(NdjsonReader, SameRowsForEveryChunkSize) {
    for (const auto& c : cases()) {
        for (std::size_t chunk : {1, 2, 3, 7, 64, 1 << 20}) {
            EXPECT_EQ(read_all(c.input, chunk), c.rows) << c.name << " chunk " << chunk;
        }
    }
}

TEST(NdjsonReader, TooLongLineThenRecovery) {
    const std::string big = "{\"phone_number\":\"+2\",\"x\":\"" + std::string(max_record_bytes, 'x') + "\"}";
    const std::string input = "{\"phone_number\":\"+1\"}\n" + big + "\n{\"phone_number\":\"+3\"}\n" + big;
    for (std::size_t chunk : {7, 4096, 1 << 20}) {
        EXPECT_EQ(read_all(input, chunk),
                  (std::vector<std::string>{"1|+1|~|~|~|", "2||~|~|~|line longer than 1 MiB", "3|+3|~|~|~|",
                                            "4||~|~|~|line longer than 1 MiB"}))
            << chunk;
    }
}

TEST(NdjsonReader, LineOfExactlyTheLimitIsAccepted) {
    const std::string head = "{\"phone_number\":\"+1\",\"image_url\":\"";
    const std::string url(max_record_bytes - head.size() - 2, 'u');
    const std::string line = head + url + "\"}";
    ASSERT_EQ(line.size(), max_record_bytes);
    EXPECT_EQ(read_all(line + "\n{\"phone_number\":\"+2\"}\n", 4096),
              (std::vector<std::string>{"1|+1|~|~|" + url + "|", "2|+2|~|~|~|"}));
    EXPECT_EQ(read_all(line + " \n{\"phone_number\":\"+2\"}\n", 4096),
              (std::vector<std::string>{"1||~|~|~|line longer than 1 MiB", "2|+2|~|~|~|"}));
}

TEST(NdjsonReader, SampleFileReadsEveryLine) {
    std::ifstream in(CARDSYNC_SAMPLES "/contacts.ndjson", std::ios::binary);
    ASSERT_TRUE(in) << CARDSYNC_SAMPLES;
    std::stringstream ss;
    ss << in.rdbuf();
    const auto rows = read_all(ss.str(), 5);
    ASSERT_EQ(rows.size(), 36u);
    EXPECT_EQ(rows[10], "11|+61412345611|Olivia|Nguyen \"Liv\"|https://cdn.example.com/cards/olivia.jpg|");
    EXPECT_EQ(rows[18], "19|+14155550118|Renée|Multi\nLine|https://cdn.example.com/cards/renee.jpg|");
    EXPECT_EQ(rows[33], "34||No|Number|~|");
    EXPECT_EQ(rows[34], "35|+14155550127|~|~|~|'first_name' must be a string or null, found a number");
    EXPECT_EQ(rows[35].substr(0, 17), "36||~|~|~|invalid");
}

TEST(NdjsonReader, LargeInputStreams) {
    constexpr int n = 200000;
    std::string input;
    input.reserve(n * 100);
    for (int i = 0; i < n; ++i) {
        const std::string num = std::to_string(1000000 + i);
        input += R"({"phone_number":"+1555)" + num + R"(","first_name":"Zoë","last_name":"O'Neil","image_url":"https://cdn.example.com/)" +
                 num + ".jpg\"}\n";
        if (i % 1000 == 7) input += "\n";
    }
    NdjsonReader reader(memory_source(input, 65536 + 13));
    InputRow row;
    int count = 0;
    std::uint64_t expected_line = 1;
    while (reader.next(row)) {
        ASSERT_EQ(row.line, expected_line) << count;
        ASSERT_TRUE(row.error.empty()) << row.error;
        const std::string num = std::to_string(1000000 + count);
        if (count == 0 || count == 7008 || count == n - 1) {
            EXPECT_EQ(row.phone_number, "+1555" + num);
            EXPECT_EQ(row.fields.image_url, "https://cdn.example.com/" + num + ".jpg");
            EXPECT_EQ(row.fields.first_name, "Zoë");
        }
        expected_line += count % 1000 == 7 ? 2 : 1;
        ++count;
    }
    EXPECT_EQ(count, n);
    EXPECT_EQ(reader.bytes_read(), input.size());
}

}  // namespace
}  // namespace cardsync
