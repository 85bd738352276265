#include "cardsync/validate.hpp"

#include <boost/url/parse.hpp>
#include <gtest/gtest.h>

#include <random>

#include <string>

namespace {

using namespace cardsync;

TEST(NormalizeE164, AcceptsAndNormalises) {
    const struct {
        std::string_view raw, expected;
    } cases[] = {
        {"+15551234567", "+15551234567"},
        {"+1 (555) 123-4567", "+15551234567"},
        {"+44 20 7946 0958", "+442079460958"},
        {"+33.1.23.45.67.89", "+33123456789"},
        {"  +15551234567\t", "+15551234567"},
        {"+12", "+12"},                           // shortest: 2 digits
        {"+123456789012345", "+123456789012345"},  // longest: 15 digits
        {"(+1) 555 123 4567", "+15551234567"},
    };
    for (const auto& c : cases) {
        std::string reason;
        const auto n = normalize_e164(c.raw, &reason);
        ASSERT_TRUE(n) << c.raw << ": " << reason;
        EXPECT_EQ(*n, c.expected);
        EXPECT_TRUE(is_e164(*n));
    }
}

TEST(NormalizeE164, RejectsWithAReasonThatQuotesTheValue) {
    const struct {
        std::string_view raw, reason_has;
    } cases[] = {
        {"5551234567", "expected E.164: '+' followed by country code and number, e.g. +15551234567"},
        {"5551234567", "'5551234567'"},
        {"+0123", "starts with 0"},
        {"+1", "has 1 digit;"},
        {"+1234567890123456", "has 16 digits"},
        {"++1555", "'+' that is not at the start"},
        {"+1555+1234", "'+' that is not at the start"},
        {"+1-555-abc", "contains 'a'"},
        {"+1-555-abc", "'+1-555-abc'"},
        {"+1_555_1234", "contains '_'"},
        {"+1\t555", "contains a tab"},
        {"+1\x01" "555", "contains a control character"},
        {"+1 555\xC2\xA0" "1234", "the character '\xC2\xA0'"},  // no-break space is not a separator
        {"+1555\xFF", "not UTF-8"},
        {"+", "has 0 digits"},
        {"   ", "empty"},
        {"+1 (555) 123-4567 ext. 89", "contains 'e'"},
    };
    for (const auto& c : cases) {
        std::string reason;
        EXPECT_FALSE(normalize_e164(c.raw, &reason)) << c.raw;
        EXPECT_NE(reason.find(c.reason_has), std::string::npos) << c.raw << " -> " << reason;
    }
    EXPECT_FALSE(normalize_e164("123"));  // reason is optional
}

TEST(NormalizeE164, LongValuesAreCutInTheReason) {
    std::string reason;
    EXPECT_FALSE(normalize_e164(std::string(5000, '9'), &reason));
    EXPECT_LT(reason.size(), 300u);
    EXPECT_NE(reason.find("..."), std::string::npos);
}

TEST(IsE164, ExactFormOnly) {
    EXPECT_TRUE(is_e164("+15551234567"));
    EXPECT_TRUE(is_e164("+12"));
    EXPECT_TRUE(is_e164("+123456789012345"));
    for (std::string_view bad : {"", "+", "+1", "15551234567", "+0555", "+1 555", "+1234567890123456", "+1555a",
                                 " +15551234567"}) {
        EXPECT_FALSE(is_e164(bad)) << bad;
    }
}

TEST(IsValidUtf8, Samples) {
    EXPECT_TRUE(is_valid_utf8(""));
    EXPECT_TRUE(is_valid_utf8("Zoë 李 👩‍👩‍👧 שלום"));
    EXPECT_FALSE(is_valid_utf8("\xFF"));
    EXPECT_FALSE(is_valid_utf8("\xC0\xAF"));  // overlong '/'
    EXPECT_FALSE(is_valid_utf8("\xED\xA0\x80"));  // surrogate
}

InputRow row(std::string phone, std::optional<std::string> first = "Ann", std::optional<std::string> last = {},
             std::optional<std::string> url = {}) {
    InputRow r;
    r.line = 7;
    r.phone_number = std::move(phone);
    r.fields = {std::move(first), std::move(last), std::move(url)};
    return r;
}

std::string invalid(const InputRow& r) {
    const auto v = validate(r);
    if (const auto* bad = std::get_if<InvalidRow>(&v)) return bad->message;
    return "";
}

ContactUpdate valid(const InputRow& r) {
    auto v = validate(r);
    if (auto* bad = std::get_if<InvalidRow>(&v)) {
        ADD_FAILURE() << "unexpectedly invalid: " << bad->message;
        return {};
    }
    return std::get<ContactUpdate>(std::move(v));
}

TEST(Validate, ValidRowIsNormalisedAndKeepsItsLine) {
    const auto u = valid(row("+1 (555) 123-4567", "Zoë", "O'Brien", "https://cdn.example.com/a.jpg?size=200&v=2"));
    EXPECT_EQ(u.line, 7u);
    EXPECT_EQ(u.phone_number, "+15551234567");
    EXPECT_EQ(u.fields.first_name, "Zoë");
    EXPECT_EQ(u.fields.last_name, "O'Brien");
    EXPECT_EQ(u.fields.image_url, "https://cdn.example.com/a.jpg?size=200&v=2");
}

TEST(Validate, TakingTheRowGivesTheSameAnswerAndLeavesItsNumberAndLine) {
    InputRow r = row(" +1 555 123 4567 ", "Zoë", std::nullopt, "  https://cdn.example.com/a.jpg  ");
    const auto copied = validate(r);
    auto taken = validate(std::move(r));
    ASSERT_TRUE(std::holds_alternative<ContactUpdate>(taken));
    const auto& u = std::get<ContactUpdate>(taken);
    const auto& c = std::get<ContactUpdate>(copied);
    EXPECT_EQ(u.phone_number, c.phone_number);
    EXPECT_EQ(u.fields.first_name, c.fields.first_name);
    EXPECT_EQ(u.fields.last_name, std::nullopt);
    EXPECT_EQ(u.fields.image_url, "https://cdn.example.com/a.jpg");
    EXPECT_EQ(r.phone_number, " +1 555 123 4567 ");  // NOLINT(bugprone-use-after-move): documented as kept
    EXPECT_EQ(r.line, 7u);

    InputRow bad = row("+15551234567", "Ann\tLee");
    EXPECT_EQ(std::get<InvalidRow>(validate(std::move(bad))).message, invalid(row("+15551234567", "Ann\tLee")));
}

TEST(Validate, ReaderErrorAndMissingNumberAndNothingToUpdate) {
    InputRow r = row("+15551234567");
    r.error = "unclosed quote";
    EXPECT_EQ(invalid(r), "unclosed quote");
    EXPECT_EQ(invalid(row("")), "missing phone_number");
    EXPECT_EQ(invalid(row("  ")), "missing phone_number");
    EXPECT_EQ(invalid(row("+15551234567", std::nullopt)), "nothing to update: set first_name, last_name or image_url");
    EXPECT_NE(invalid(row("5551234567")).find("phone_number: expected E.164"), std::string::npos);
}

std::string repeat(std::string_view s, int n) {
    std::string out;
    while (n-- > 0) out += s;
    return out;
}

TEST(Validate, Names) {
    const struct {
        std::string name;
        std::string_view problem;  // empty: valid
    } cases[] = {
        {"Zoë", ""},
        {"李小龙", ""},
        {"שלום", ""},
        {"محمد", ""},
        {"Ann 👩‍💻", ""},
        {" Ann ", ""},  // kept byte-exact, spaces included
        {std::string(max_name_bytes, 'x'), ""},
        {std::string(max_name_bytes + 1, 'x'), "257 bytes long; the limit is 256"},
        {repeat("€", 86), "258 bytes long"},  // 3-byte characters: the limit counts bytes
        {"", "is empty"},
        {"Ann\xFF", "not valid UTF-8 (at byte 4)"},
        {"\xC3", "not valid UTF-8 (at byte 1)"},
        {"Ann\tLee", "control character (byte 4)"},
        {"Ann\n", "control character"},
        {"Ann\x7f", "control character"},
        {"Ann\xC2\x85", "control character"},      // C1 NEXT LINE
        {"Ann\xC2\xA0Lee", ""},                   // no-break space is printable text
        {std::string("A\0B", 3), "control character (byte 2)"},
    };
    for (const auto& c : cases) {
        for (bool last : {false, true}) {
            const auto r = last ? row("+15551234567", std::nullopt, c.name) : row("+15551234567", c.name);
            const std::string msg = invalid(r);
            if (c.problem.empty()) {
                EXPECT_EQ(msg, "") << c.name;
                if (msg.empty()) {
                    EXPECT_EQ(last ? valid(r).fields.last_name : valid(r).fields.first_name, c.name);
                }
            } else {
                EXPECT_NE(msg.find(c.problem), std::string::npos) << c.name << " -> " << msg;
                EXPECT_EQ(msg.rfind(last ? "last_name" : "first_name", 0), 0u) << msg;
            }
        }
    }
}

TEST(Validate, ImageUrls) {
    const struct {
        std::string url;
        std::string_view problem;  // empty: valid
    } cases[] = {
        {"https://cdn.example.com/p/1.jpg", ""},
        {"http://example.com", ""},
        {"HTTPS://EXAMPLE.COM/A.JPG", ""},
        {"https://example.com:8443/a.jpg?w=1&h=2#frag", ""},
        {"https://[2001:db8::1]/a.png", ""},
        {"https://example.com/caf%C3%A9.jpg", ""},
        {"ftp://example.com/a.jpg", "scheme 'ftp'"},
        {"file:///etc/passwd", "scheme 'file'"},
        {"/images/a.jpg", "not an absolute URL"},
        {"example.com/a.jpg", "not an absolute URL"},
        {"http://", "has no host"},
        {"https:///a.jpg", "has no host"},
        {"http:a.jpg", "has no host"},
        {"https://example.com/a b.jpg", "contains a space"},
        {"https://example.com/a\tb.jpg", "control character"},
        {"https://example.com/café.jpg", "non-ASCII"},
        {"https://exa mple.com", "contains a space"},
        {"https://example.com/" + std::string(max_url_bytes, 'a'), "bytes long; the limit is 2048"},
        {"   ", "blank"},
    };
    for (const auto& c : cases) {
        const auto r = row("+15551234567", std::nullopt, std::nullopt, c.url);
        const std::string msg = invalid(r);
        if (c.problem.empty()) {
            EXPECT_EQ(msg, "") << c.url;
        } else {
            EXPECT_NE(msg.find(c.problem), std::string::npos) << c.url << " -> " << msg;
        }
    }
}

TEST(Validate, ImageUrlIsTrimmed) {
    const auto u = valid(row("+15551234567", std::nullopt, std::nullopt, "  https://example.com/a.jpg \r\n"));
    EXPECT_EQ(u.fields.image_url, "https://example.com/a.jpg");
    EXPECT_FALSE(u.fields.first_name);
}

TEST(Validate, FirstProblemIsReported) {
    // number before names, first_name before last_name before image_url
    EXPECT_NE(invalid(row("123", "\xFF")).find("phone_number"), std::string::npos);
    EXPECT_EQ(invalid(row("+15551234567", "\t", "\t", "ftp://x")).rfind("first_name", 0), 0u);
    EXPECT_EQ(invalid(row("+15551234567", "Ann", "\t", "ftp://x")).rfind("last_name", 0), 0u);
}

}  // namespace

// The quick check must never accept a URL the full parse would refuse (it may send more to it).
TEST(Validate, PlainUrlCheckAcceptsOnlyWhatBoostUrlAccepts) {
    for (const char* ok : {"https://cdn.example.com/a.jpg", "http://h", "https://h:8080/p?q=1&r=%2F#frag",
                           "https://a-b.c/x/y;z=1,2@3~!$'()*+", "http://127.0.0.1/x?y?z/w"}) {
        EXPECT_TRUE(cardsync::is_plain_http_url(ok)) << ok;
    }
    for (const char* no : {"https:/h", "https://", "https://:80/", "ftp://h/", "HTTPS://h/", "https://u@h/",
                           "https://h:123456/", "https://h/%zz", "https://h/%2", "https://h/a#b#c",
                           "https://[::1]/", "https://h/a b", "https://h/\xc3\xa9", "https://h/<>"}) {
        EXPECT_FALSE(cardsync::is_plain_http_url(no)) << no;
    }
    std::mt19937 random(42);
    const std::string alphabet = "ab09.-_~:/?#@%[]!$&'()*+,;= \"<>\\^`{|}AF";
    const std::string prefixes[] = {"http://", "https://", "https://h", "http://a.b:", "https://x/"};
    int accepted = 0;
    for (int n = 0; n < 200'000; ++n) {
        std::string url = prefixes[random() % 5];
        const int length = static_cast<int>(random() % 12);
        for (int i = 0; i < length; ++i) url.push_back(alphabet[random() % alphabet.size()]);
        if (!cardsync::is_plain_http_url(url)) continue;
        ++accepted;
        const auto parsed = boost::urls::parse_uri(url);
        ASSERT_TRUE(parsed.has_value()) << url;
        EXPECT_TRUE(parsed->scheme_id() == boost::urls::scheme::http || parsed->scheme_id() == boost::urls::scheme::https);
        EXPECT_FALSE(parsed->encoded_host().empty()) << url;
    }
    EXPECT_GT(accepted, 10'000) << "the random URLs should exercise the quick check's accepting paths";
}
