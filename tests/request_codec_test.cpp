#include "cardsync/request_codec.hpp"

#include <gtest/gtest.h>
#include <simdjson.h>

#include <string>

namespace {

using namespace cardsync;

int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
}

// Percent-decoding as RFC 3986 does it (a '+' stays '+'), or as application/x-www-form-urlencoded
// does it (a '+' is a space): the two ways a server may read our query.
std::string decode(std::string_view s, bool form) {
    std::string out;
    for (std::size_t i = 0; i < s.size(); ++i) {
        if (s[i] == '%' && i + 2 < s.size() && hex_value(s[i + 1]) >= 0 && hex_value(s[i + 2]) >= 0) {
            out.push_back(static_cast<char>(hex_value(s[i + 1]) * 16 + hex_value(s[i + 2])));
            i += 2;
        } else if (form && s[i] == '+') {
            out.push_back(' ');
        } else {
            out.push_back(s[i]);
        }
    }
    return out;
}

std::string encoded(std::string_view value) {
    std::string out;
    append_query_value(out, value);
    return out;
}

TEST(QueryValue, PlusIsEncodedSoBothDecodersAgree) {
    EXPECT_EQ(encoded("+15551234567"), "%2B15551234567");
    EXPECT_EQ(decode(encoded("+15551234567"), false), "+15551234567");
    EXPECT_EQ(decode(encoded("+15551234567"), true), "+15551234567");
    // What a naive client sends, and why it fails: form decoding turns '+' into a space.
    EXPECT_EQ(decode("+15551234567", true), " 15551234567");
}

TEST(QueryValue, UnreservedKeptEverythingElseUppercaseHex) {
    EXPECT_EQ(encoded("AZaz09-._~"), "AZaz09-._~");
    EXPECT_EQ(encoded(" &=?#/%+"), "%20%26%3D%3F%23%2F%25%2B");
    EXPECT_EQ(encoded("é"), "%C3%A9");
    EXPECT_EQ(encoded(std::string_view("\0\xff", 2)), "%00%FF");
}

TEST(QueryValue, EveryByteRoundTripsUnderBothDecoders) {
    std::string all;
    for (int b = 0; b < 256; ++b) all.push_back(static_cast<char>(b));
    const std::string enc = encoded(all);
    EXPECT_EQ(enc.find('+'), std::string::npos);
    EXPECT_EQ(decode(enc, false), all);
    EXPECT_EQ(decode(enc, true), all);
}

TEST(HeaderValue, RejectsWhatWouldSplitTheRequest) {
    EXPECT_TRUE(is_valid_header_value("sk_live_abc123"));
    EXPECT_TRUE(is_valid_header_value("127.0.0.1:8080"));
    EXPECT_TRUE(is_valid_header_value("a\tb"));
    EXPECT_TRUE(is_valid_header_value(""));
    using sv = std::string_view;
    for (sv bad : {sv("key\n"), sv("key\r\nX-Evil: 1"), sv("k\0y", 3), sv("k\x7f"), sv("\x01")}) {
        EXPECT_FALSE(is_valid_header_value(bad)) << bad;
    }
}

TEST(Target, ContactCardPath) {
    EXPECT_EQ(contact_card_target("/api/partner", "+15551234567"),
              "/api/partner/v3/contact_card?phone_number=%2B15551234567");
    EXPECT_EQ(contact_card_target("", "+44207"), "/v3/contact_card?phone_number=%2B44207");
    EXPECT_EQ(contact_card_target("/api/partner", ""), "/api/partner/v3/contact_card");
}

// Parses a JSON body and returns its fields (missing ones as nullopt); fails on invalid JSON.
CardFields parse_body(const std::string& body, std::string* phone = nullptr) {
    simdjson::ondemand::parser parser;
    simdjson::padded_string padded(body);
    simdjson::ondemand::document doc;
    simdjson::ondemand::object obj;
    CardFields f;
    EXPECT_EQ(parser.iterate(padded).get(doc), simdjson::SUCCESS);
    EXPECT_EQ(doc.get_object().get(obj), simdjson::SUCCESS) << body;
    for (auto result : obj) {
        simdjson::ondemand::field field;
        std::string_view key, value;
        EXPECT_EQ(std::move(result).get(field), simdjson::SUCCESS) << body;
        EXPECT_EQ(field.unescaped_key().get(key), simdjson::SUCCESS);
        EXPECT_EQ(field.value().get_string().get(value), simdjson::SUCCESS) << body;
        if (key == "first_name") f.first_name = std::string(value);
        else if (key == "last_name") f.last_name = std::string(value);
        else if (key == "image_url") f.image_url = std::string(value);
        else if (key == "phone_number" && phone) *phone = std::string(value);
        else ADD_FAILURE() << "unexpected key " << key;
    }
    return f;
}

TEST(JsonBody, OnlyPresentFieldsInFixedOrder) {
    const struct {
        CardFields fields;
        std::string_view json;
    } cases[] = {
        {{"Zoë", std::nullopt, std::nullopt}, R"({"first_name":"Zoë"})"},
        {{std::nullopt, "Lee", std::nullopt}, R"({"last_name":"Lee"})"},
        {{std::nullopt, std::nullopt, "https://x.io/a.jpg"}, R"({"image_url":"https://x.io/a.jpg"})"},
        {{"Ann", "Lee", "https://x.io/a.jpg"}, R"({"first_name":"Ann","last_name":"Lee","image_url":"https://x.io/a.jpg"})"},
        {{"Ann", std::nullopt, "u"}, R"({"first_name":"Ann","image_url":"u"})"},
        {{}, "{}"},
    };
    for (const auto& c : cases) {
        std::string out;
        append_json_body(out, c.fields);
        EXPECT_EQ(out, c.json);
    }
}

TEST(JsonBody, EscapingRoundTripsThroughSimdjson) {
    const CardFields nasty{"Quote \" backslash \\ tab \t newline \n nul " + std::string(1, '\0') + " end",
                           "שלום 👩‍👩‍👧 \u202E", "https://x.io/a.jpg?q=\"<>\"&b=\\"};
    std::string body;
    append_json_body(body, nasty);
    EXPECT_EQ(parse_body(body), nasty);
}

RequestTemplate tmpl(bool keep_alive = true) {
    return {"api.linqapp.com", "/api/partner", "sk_test_123", keep_alive};
}

ContactUpdate update() { return {3, "+15551234567", {"Zoë", std::nullopt, std::nullopt}}; }

// The exact bytes tmpl() gives for a PATCH of `number_query` (already percent-encoded) and for a GET.
std::string expected_patch(std::string_view number_query, const std::string& body) {
    return "PATCH /api/partner/v3/contact_card?phone_number=" + std::string(number_query) + " HTTP/1.1\r\n"
           "Host: api.linqapp.com\r\n"
           "Authorization: Bearer sk_test_123\r\n"
           "Content-Type: application/json\r\n"
           "Accept: application/json\r\n"
           "User-Agent: cardsync/" CARDSYNC_VERSION "\r\n"
           "Content-Length: " + std::to_string(body.size()) + "\r\n"
           "\r\n" + body;
}

std::string expected_get(std::string_view number_query) {
    return "GET /api/partner/v3/contact_card?phone_number=" + std::string(number_query) + " HTTP/1.1\r\n"
           "Host: api.linqapp.com\r\n"
           "Authorization: Bearer sk_test_123\r\n"
           "Accept: application/json\r\n"
           "User-Agent: cardsync/" CARDSYNC_VERSION "\r\n"
           "\r\n";
}

TEST(Requests, PatchExactBytes) {
    std::string out = "previous bytes|";
    append_patch_request(out, tmpl(), update());
    const std::string body = R"({"first_name":"Zoë"})";
    EXPECT_EQ(out, "previous bytes|" + expected_patch("%2B15551234567", body));
    EXPECT_NE(out.find("\r\nContent-Length: 21\r\n"), std::string::npos);  // it counts bytes: ë is two
}

TEST(Requests, OneEncoderServesARunsRequests) {
    const RequestEncoder encoder(tmpl());
    std::string out;
    encoder.append_patch(out, "+15551234567", update().fields);
    const std::size_t first = out.size();
    encoder.append_patch(out, "+442079460958", {std::nullopt, "Lee", std::nullopt});
    encoder.append_get(out, "+15551234567");
    EXPECT_EQ(out.substr(first), expected_patch("%2B442079460958", R"({"last_name":"Lee"})") +
                                     expected_get("%2B15551234567"));
}

TEST(Requests, ConnectionCloseWhenNotKeepAlive) {
    std::string out;
    append_patch_request(out, tmpl(false), update());
    EXPECT_NE(out.find("Content-Length: 21\r\nConnection: close\r\n\r\n{\"first_name\""), std::string::npos) << out;
    out.clear();
    append_get_request(out, tmpl(false));
    EXPECT_TRUE(out.ends_with("Connection: close\r\n\r\n")) << out;
}

TEST(Requests, PostHasNumberInBody) {
    std::string out;
    ContactUpdate u{1, "+442079460958", {"Ann", "Lee", std::nullopt}};
    append_post_request(out, tmpl(), u);
    const std::string body = R"({"phone_number":"+442079460958","first_name":"Ann","last_name":"Lee"})";
    EXPECT_TRUE(out.starts_with("POST /api/partner/v3/contact_card HTTP/1.1\r\n")) << out;
    EXPECT_NE(out.find("Content-Type: application/json\r\n"), std::string::npos);
    EXPECT_TRUE(out.ends_with("Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body)) << out;
    std::string phone;
    EXPECT_EQ(parse_body(out.substr(out.find("\r\n\r\n") + 4), &phone), u.fields);
    EXPECT_EQ(phone, u.phone_number);
}

TEST(Requests, GetHasNoBodyHeaders) {
    std::string out;
    append_get_request(out, tmpl(), "+15551234567");
    EXPECT_EQ(out, expected_get("%2B15551234567"));
    out.clear();
    append_get_request(out, tmpl());
    EXPECT_TRUE(out.starts_with("GET /api/partner/v3/contact_card HTTP/1.1\r\n")) << out;
}

TEST(Requests, ContentLengthMatchesBodyForManyShapes) {
    // A body whose length crosses 1-, 2-, 3- and 4-digit Content-Length values.
    for (std::size_t n : {0u, 1u, 80u, 999u, 5000u}) {
        ContactUpdate u{1, "+15551234567", {std::string(n, 'x'), "\"\n", std::nullopt}};
        std::string out;
        append_patch_request(out, tmpl(), u);
        const auto head_end = out.find("\r\n\r\n");
        ASSERT_NE(head_end, std::string::npos);
        const auto cl = out.find("Content-Length: ");
        ASSERT_LT(cl, head_end);
        const std::size_t declared = std::stoul(out.substr(cl + 16));
        EXPECT_EQ(declared, out.size() - head_end - 4) << n;
        EXPECT_EQ(parse_body(out.substr(head_end + 4)), u.fields);
    }
}

}  // namespace
