#include "cardsync/json_text.hpp"

#include <gtest/gtest.h>
#include <simdjson.h>

#include <string>

namespace {

using cardsync::append_json_string;

// Parses `json` (a string literal) back with simdjson; fails the test when it is not valid JSON.
std::string round_trip(const std::string& json) {
    simdjson::ondemand::parser parser;
    simdjson::padded_string padded(json);
    simdjson::ondemand::document doc;
    std::string_view s;
    EXPECT_EQ(parser.iterate(padded).get(doc), simdjson::SUCCESS) << json;
    EXPECT_EQ(doc.get_string().get(s), simdjson::SUCCESS) << json;
    return std::string(s);
}

std::string encoded(std::string_view text) {
    std::string out;
    append_json_string(out, text);
    return out;
}

TEST(JsonText, EveryAsciiByteRoundTrips) {
    for (int b = 0; b < 0x80; ++b) {
        const std::string text = std::string("a") + static_cast<char>(b) + "z";
        const std::string json = encoded(text);
        EXPECT_EQ(round_trip(json), text) << "byte " << b << " -> " << json;
        for (char c : json) EXPECT_GE(static_cast<unsigned char>(c), 0x20) << "raw control byte in " << json;
    }
}

// The 8-bytes-at-a-time scan must find a byte to escape wherever it sits in a word, and never
// mistake UTF-8 or plain bytes for one.
TEST(JsonText, EveryByteAtEveryPositionOfLongStringsRoundTrips) {
    for (std::size_t length = 1; length <= 24; ++length) {
        for (std::size_t at = 0; at < length; ++at) {
            for (int b = 0; b < 0x100; ++b) {
                std::string text(length, 'x');
                text[at] = static_cast<char>(b);
                if (b >= 0x80) text[at] = 'x';  // lone high bytes are not UTF-8; tried below in pairs
                const std::string json = encoded(text);
                ASSERT_EQ(round_trip(json), text) << "byte " << b << " at " << at << " of " << length;
                for (char c : json) ASSERT_GE(static_cast<unsigned char>(c), 0x20) << json;
            }
            std::string utf8(length, 'x');
            utf8.replace(at, 1, "\xc3\xa9");  // e-acute: high bytes need no escape
            EXPECT_EQ(encoded(utf8), '"' + utf8 + '"');
        }
    }
}

TEST(JsonText, AllAsciiInOneStringRoundTrips) {
    std::string text;
    for (int b = 0; b < 0x80; ++b) text.push_back(static_cast<char>(b));
    EXPECT_EQ(round_trip(encoded(text)), text);
}

TEST(JsonText, ShortEscapesAndUnicodeEscapes) {
    const struct {
        std::string_view text, json;
    } cases[] = {
        {"", R"("")"},
        {"plain", R"("plain")"},
        {"say \"hi\"", R"("say \"hi\"")"},
        {"back\\slash", R"("back\\slash")"},
        {"a\nb\rc\td\be\ff", R"("a\nb\rc\td\be\ff")"},
        {std::string_view("nul\0x", 5), R"("nul\u0000x")"},
        {"\x1f\x01", R"("\u001f\u0001")"},
        {"slash/ stays", R"("slash/ stays")"},
        {"\x7f", "\"\x7f\""},  // DEL is legal in a JSON string
    };
    for (const auto& c : cases) EXPECT_EQ(encoded(c.text), c.json);
}

TEST(JsonText, Utf8IsKeptAsIsAndRoundTrips) {
    const std::string samples[] = {
        "Zoë",                                   // Latin-1 range
        "Đặng Thị Ngọc Thịnh",                   // Vietnamese, combining-heavy
        "李小龙",                                // CJK
        "שלום עליכם",                            // Hebrew, right to left
        "مرحبا بالعالم",                         // Arabic, right to left
        "\u202Eevil\u202C",                      // RTL override characters
        "👩‍👩‍👧 family",                          // emoji with zero-width joiners
        "🏳️‍🌈",                                  // flag sequence with variation selector
        "\xF4\x8F\xBF\xBF",                      // U+10FFFF, the last code point
        "\u2028line\u2029sep",                   // legal raw in JSON, unlike in JavaScript
    };
    for (const auto& s : samples) {
        const std::string json = encoded(s);
        EXPECT_EQ(json, "\"" + s + "\"") << "non-ASCII must not be escaped";
        EXPECT_EQ(round_trip(json), s);
    }
}

TEST(JsonText, AppendsToExistingContent) {
    std::string out = "{\"k\":";
    append_json_string(out, "v\"");
    out += '}';
    EXPECT_EQ(out, R"({"k":"v\""})");
}

}  // namespace
