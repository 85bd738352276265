#include "cardsync/text.hpp"

#include <gtest/gtest.h>

#include <string>

namespace {

using namespace cardsync;

TEST(Quoted, ShowsPrintableTextAsIs) {
    EXPECT_EQ(quoted("5551234567"), "'5551234567'");
    EXPECT_EQ(quoted("Zoë 👋"), "'Zoë 👋'");
    EXPECT_EQ(quoted(""), "''");
}

TEST(Quoted, EscapesControlAndInvalidBytes) {
    EXPECT_EQ(quoted("a\tb\n"), "'a\\x09b\\x0A'");
    EXPECT_EQ(quoted("x\x7f"), "'x\\x7F'");
    EXPECT_EQ(quoted("c1\xC2\x85"), "'c1\\xC2\\x85'");  // U+0085 NEXT LINE
    EXPECT_EQ(quoted("bad\xFF\xC3"), "'bad\\xFF\\xC3'");
}

TEST(Quoted, CutsLongValuesAtACharacterBoundary) {
    EXPECT_EQ(quoted(std::string(100, 'x'), 10), "'xxxxxxxxxx...'");
    EXPECT_EQ(quoted("ab€", 4), "'ab...'");  // € is 3 bytes: not split
    EXPECT_EQ(quoted("abcd", 4), "'abcd'");
}

TEST(Utf8, SequenceLengths) {
    const struct {
        std::string_view bytes;
        std::size_t length;
    } cases[] = {
        {"a", 1},          {"\xC3\xA9", 2},     {"\xE2\x82\xAC", 3}, {"\xF0\x9F\x98\x80", 4},
        {"\x80", 0},       {"\xC0\xAF", 0},     {"\xC1\xBF", 0},     // overlong
        {"\xE0\x80\xAF", 0}, {"\xED\xA0\x80", 0}, // overlong, surrogate
        {"\xF4\x90\x80\x80", 0},                   // > U+10FFFF
        {"\xF5\x80\x80\x80", 0}, {"\xE2\x82", 0},  // invalid lead, cut short
    };
    for (const auto& c : cases) EXPECT_EQ(utf8_sequence_length(c.bytes, 0), c.length) << quoted(c.bytes);
}

TEST(Utf8, LossyReplacesEachBadByte) {
    std::string out;
    append_utf8_lossy(out, "ok Zoë");
    EXPECT_EQ(out, "ok Zoë");
    out.clear();
    append_utf8_lossy(out, "a\xFF" "b\xE2\x82");
    EXPECT_EQ(out, "a\xEF\xBF\xBD" "b\xEF\xBF\xBD\xEF\xBF\xBD");
}

}  // namespace

TEST(RedactSecret, ReplacesEveryOccurrence) {
    EXPECT_EQ(redact_secret("Bearer s3cret and s3cret again", "s3cret"), "Bearer [API key] and [API key] again");
    EXPECT_EQ(redact_secret("s3crets3cret", "s3cret"), "[API key][API key]");
    EXPECT_EQ(redact_secret("nothing here", "s3cret"), "nothing here");
    EXPECT_EQ(redact_secret("an empty key hides nothing", ""), "an empty key hides nothing");
}

// A key that occurs in the marker once looped for ever (the search restarted inside the marker).
TEST(RedactSecret, KeysInsideTheMarkerAreReplacedOnce) {
    EXPECT_EQ(redact_secret("key k", "k"), "[API key]ey [API key]");
    EXPECT_EQ(redact_secret("API", "API"), "[API key]");
    EXPECT_EQ(redact_secret("x[API key]x", "[API key]"), "x[API key]x");
    EXPECT_EQ(redact_secret("e", "e"), "[API key]");
}
