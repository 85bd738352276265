#include "cardsync/response_parser.hpp"

#include <gtest/gtest.h>

#include <random>
#include <string>

namespace {

using namespace cardsync;

ApiResponse parse(std::string body) {
    ResponseParser parser;
    return parser.parse(body);
}

constexpr std::string_view full_card =
    R"({"phone_number":"+15551234567","first_name":"John","last_name":"Doe",)"
    R"("image_url":"https://cdn.linqapp.com/contact-card/example.jpg","is_active":true})";

TEST(ResponseParser, FullCard) {
    const auto r = parse(std::string(full_card));
    ASSERT_EQ(r.kind, BodyKind::card) << r.error_message;
    EXPECT_EQ(r.card.phone_number, "+15551234567");
    EXPECT_EQ(r.card.first_name, "John");
    EXPECT_EQ(r.card.last_name, "Doe");
    EXPECT_EQ(r.card.image_url, "https://cdn.linqapp.com/contact-card/example.jpg");
    EXPECT_TRUE(r.card.is_active);
    EXPECT_EQ(r.error_message, "");
}

TEST(ResponseParser, CardShapes) {
    const struct {
        std::string_view body;
        std::optional<std::string> last, image;
        bool active;
    } cases[] = {
        {R"({"phone_number":"+1555","first_name":"A","is_active":false})", {}, {}, false},
        {R"({"phone_number":"+1555","first_name":"A","last_name":null,"image_url":null,"is_active":true})", {}, {}, true},
        {R"({"is_active":true,"image_url":"u","first_name":"A","last_name":"L","phone_number":"+1555"})", "L", "u", true},
        {R"( {"id":"c_1","phone_number":"+1555","meta":{"x":[1,{"y":null}],"z":"}"},"first_name":"A",)"
         R"("is_active":true,"created_at":"2026-01-01T00:00:00Z","n":-1.5e3}  )", {}, {}, true},
        {"{\"phone_number\":\"+1555\",\"first_name\":\"A\",\"is_active\":true}\r\n", {}, {}, true},
    };
    for (const auto& c : cases) {
        const auto r = parse(std::string(c.body));
        ASSERT_EQ(r.kind, BodyKind::card) << c.body << ": " << r.error_message;
        EXPECT_EQ(r.card.phone_number, "+1555");
        EXPECT_EQ(r.card.first_name, "A");
        EXPECT_EQ(r.card.last_name, c.last) << c.body;
        EXPECT_EQ(r.card.image_url, c.image) << c.body;
        EXPECT_EQ(r.card.is_active, c.active);
    }
}

TEST(ResponseParser, CardTextCheckedOnlyClassifiesTheSameAndCopiesNothing) {
    const std::string_view bodies[] = {
        full_card,
        R"({"phone_number":"+1555","first_name":"A","last_name":null,"image_url":null,"is_active":false})",
        R"({"phone_number":"+1555","first_name":"A\u00e9\"","is_active":true})",
        R"({"phone_number":"+1555","first_name":null,"is_active":true})",
        R"({"phone_number":"+1555","first_name":"A","image_url":{},"is_active":true})",
        R"({"phone_number":"+1555","first_name":"A","last_name":7,"is_active":true})",
        R"({"phone_number":"+1555","first_name":"A\x","is_active":true})",         // a bad escape
        "{\"phone_number\":\"+1555\",\"first_name\":\"\xff\",\"is_active\":true}",  // invalid UTF-8
        R"({"success":false,"error":{"status":404,"code":2001,"message":"Not found"}})",
        R"({"phone_number":"+1555")",
    };
    for (const auto body : bodies) {
        ResponseParser parser;
        std::string kept_body(body), checked_body(body);
        const ApiResponse kept = parser.parse(kept_body);
        const ApiResponse checked = parser.parse(checked_body, CardText::checked);
        EXPECT_EQ(checked.kind, kept.kind) << body;
        EXPECT_EQ(checked.error_message, kept.error_message) << body;
        EXPECT_EQ(checked.error_code, kept.error_code) << body;
        EXPECT_EQ(checked.card.is_active, kept.card.is_active) << body;
        EXPECT_EQ(checked.card.phone_number, "") << body;
        EXPECT_EQ(checked.card.first_name, "") << body;
        EXPECT_EQ(checked.card.last_name.value_or(""), "") << body;
        EXPECT_EQ(checked.card.image_url.value_or(""), "") << body;
    }
}

TEST(ResponseParser, EscapedStringsAndKeysAreDecoded) {
    const auto r = parse(R"({"phone_\u006eumber":"+1555","first_name":"Zo\u00eb \"Z\"","is_active":true})");
    ASSERT_EQ(r.kind, BodyKind::card) << r.error_message;
    EXPECT_EQ(r.card.first_name, "Zoë \"Z\"");

    // In the error envelope too, a key written with escapes names its field.
    const auto env = parse(R"({"success":false,"error":{"st\u0061tus":429,"code":1007,"m\u0065ssage":"slow"}})");
    ASSERT_EQ(env.kind, BodyKind::error_envelope) << env.error_message;
    EXPECT_EQ(env.error_status, 429);
    EXPECT_EQ(env.error_message, "slow");
}

std::string envelope(int status, int code, std::string_view extra = "") {
    return R"({"success":false,"error":{"status":)" + std::to_string(status) + R"(,"code":)" + std::to_string(code) +
           R"(,"message":"m)" + std::to_string(code) + "\"" + std::string(extra) + R"(},"trace_id":"tr-)" +
           std::to_string(code) + "\"}";
}

TEST(ResponseParser, EveryDocumentedErrorEnvelope) {
    const std::pair<int, int> documented[] = {{400, 1002}, {401, 2004}, {403, 2005}, {404, 2001}, {409, 2014},
                                              {429, 1007}, {500, 3006}, {500, 2022}, {503, 4004}};
    for (auto [status, code] : documented) {
        const auto r = parse(envelope(status, code));
        ASSERT_EQ(r.kind, BodyKind::error_envelope) << r.error_message;
        EXPECT_EQ(r.error_status, status);
        EXPECT_EQ(r.error_code, code);
        std::string message = "m";  // (built in steps: g++ 12 gives a false -Wrestrict on "m" + string)
        message += std::to_string(code);
        EXPECT_EQ(r.error_message, message);
        EXPECT_EQ(r.trace_id, "tr-" + std::to_string(code));
        EXPECT_FALSE(r.retry_after_s);
    }
}

TEST(ResponseParser, RetryAfterIntegerOrFractional) {
    auto r = parse(envelope(429, 1007, R"(,"retry_after":587)"));
    ASSERT_EQ(r.kind, BodyKind::error_envelope) << r.error_message;
    EXPECT_EQ(r.retry_after_s, 587.0);
    r = parse(envelope(429, 1007, R"(,"retry_after":1.25)"));
    EXPECT_EQ(r.retry_after_s, 1.25);
    r = parse(envelope(429, 1007, R"(,"retry_after":null)"));
    EXPECT_EQ(r.kind, BodyKind::error_envelope);
    EXPECT_FALSE(r.retry_after_s);
    r = parse(envelope(429, 1007, R"(,"retry_after":"soon")"));
    EXPECT_EQ(r.kind, BodyKind::unexpected);
    EXPECT_NE(r.error_message.find("error.retry_after is a string"), std::string::npos) << r.error_message;
}

TEST(ResponseParser, EnvelopeVariants) {
    // success omitted, trace_id absent, extra doc_url, fields reordered
    auto r = parse(R"({"error":{"doc_url":"https://d/1002","message":"Phone number must be in E.164 format",)"
                   R"("code":1002,"status":400}})");
    ASSERT_EQ(r.kind, BodyKind::error_envelope) << r.error_message;
    EXPECT_EQ(r.error_code, 1002);
    EXPECT_EQ(r.error_message, "Phone number must be in E.164 format");
    EXPECT_EQ(r.trace_id, "");
    // success: true with an error object is not an envelope
    r = parse(R"({"success":true,"error":{"status":400,"code":1,"message":"x"}})");
    EXPECT_EQ(r.kind, BodyKind::unexpected);
    // required error fields missing or mistyped
    r = parse(R"({"success":false,"error":{"status":400}})");
    EXPECT_EQ(r.kind, BodyKind::unexpected);
    EXPECT_NE(r.error_message.find("without error.code, error.message"), std::string::npos) << r.error_message;
    r = parse(R"({"success":false,"error":{"status":"400","code":1002,"message":"x"}})");
    EXPECT_EQ(r.kind, BodyKind::unexpected);
    EXPECT_NE(r.error_message.find("error.status is a string, expected an integer"), std::string::npos);
    r = parse(R"({"success":false,"error":{"status":400.5,"code":1002,"message":"x"}})");
    EXPECT_EQ(r.kind, BodyKind::unexpected);
    r = parse(R"({"success":false,"error":{"status":400,"code":99999999999,"message":"x"}})");
    EXPECT_EQ(r.kind, BodyKind::unexpected);
    r = parse(R"({"success":false,"error":"bad request"})");
    EXPECT_EQ(r.kind, BodyKind::unexpected);
    EXPECT_NE(r.error_message.find("error is a string, expected an object"), std::string::npos);
}

TEST(ResponseParser, EmptyAndOversized) {
    for (std::string_view body : {"", " ", "\r\n\t "}) {
        const auto r = parse(std::string(body));
        EXPECT_EQ(r.kind, BodyKind::empty);
        EXPECT_EQ(r.error_message, "empty body");
    }
    std::string big = R"({"phone_number":"+1555","first_name":")" + std::string(max_response_body, 'x') +
                      R"(","is_active":true})";
    const auto r = parse(big);
    EXPECT_EQ(r.kind, BodyKind::too_large);
    EXPECT_NE(r.error_message.find("over the limit of 1048576 bytes"), std::string::npos) << r.error_message;
    // just under the limit still parses
    std::string fits = R"({"phone_number":"+1555","first_name":")";
    fits += std::string(max_response_body - fits.size() - 20, 'x') + R"(","is_active":true})";
    ASSERT_LE(fits.size(), max_response_body);
    EXPECT_EQ(parse(fits).kind, BodyKind::card);
}

TEST(ResponseParser, NotJson) {
    const struct {
        std::string_view body, message_has;
    } cases[] = {
        {"<html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>",
         "not JSON (starts with '<html><head><title>502 Bad Gateway</titl...')"},
        {"Bad Gateway", "not JSON (starts with 'Bad Gateway')"},
        {"upstream connect error\nor disconnect", "starts with 'upstream connect error or disconnect'"},
        {R"({"phone_number":"+1555","first_name":"A","is_ac)", "truncated or malformed JSON (starts with"},
        {R"({"phone_number":"+1555","first_name":"A","is_active":true)", "JSON"},
        {R"({"phone_number":"+1555","first_name":"A","is_active":true}})", "trailing content"},
        {R"({"phone_number":"+1555","first_name":"A","is_active":true} trailing)", "JSON (starts with"},
        {R"({"phone_number":"+1555","first_name":"A","is_active":tru})", "JSON (starts with"},
        {R"({'phone_number':'+1555'})", "not JSON (starts with '{'phone_number'"},
        {R"({"phone_number":"+1555","first_name":"A","is_active":true,"x\q":1})", "JSON (starts with"},  // bad escape in a key
        {R"({"phone\qnumber":"+1555","first_name":"A","is_active":true})", "JSON (starts with"},
        {"{\"phone_number\":\"+1555\xFF\",\"first_name\":\"A\",\"is_active\":true}", "JSON (starts with"},  // bad UTF-8
        {"\x1f\x8b\x08 gzip", "not JSON (starts with '??? gzip')"},
    };
    for (const auto& c : cases) {
        const auto r = parse(std::string(c.body));
        EXPECT_EQ(r.kind, BodyKind::not_json) << c.body << " -> " << to_string(r.kind) << ": " << r.error_message;
        EXPECT_NE(r.error_message.find(c.message_has), std::string::npos) << c.body << " -> " << r.error_message;
    }
}

TEST(ResponseParser, EveryPrefixOfACardIsNotACard) {
    const std::string whole(full_card);
    for (std::size_t n = 0; n < whole.size(); ++n) {
        const auto r = parse(whole.substr(0, n));
        EXPECT_TRUE(r.kind == BodyKind::not_json || r.kind == BodyKind::empty)
            << "prefix " << n << " '" << whole.substr(0, n) << "' -> " << to_string(r.kind);
    }
}

TEST(ResponseParser, UnexpectedShapes) {
    const struct {
        std::string_view body, message_has;
    } cases[] = {
        {R"([{"phone_number":"+1555","first_name":"A","is_active":true}])", "the body is an array, expected a JSON object"},
        {R"("ok")", "the body is a string"},
        {"42", "the body is a number"},
        {"null", "the body is null"},
        {"true", "the body is a boolean"},
        {"{}", "JSON object without phone_number, first_name, is_active"},
        {R"({"phone_number":"+1555"})", "without first_name, is_active"},
        {R"({"contact_cards":[]})", "neither a contact card nor an error envelope"},
        {R"({"phone_number":15551234567,"first_name":"A","is_active":true})", "phone_number is a number, expected a string"},
        {R"({"phone_number":"+1555","first_name":null,"is_active":true})", "first_name is null, expected a string"},
        {R"({"phone_number":"+1555","first_name":"A","is_active":"true"})", "is_active is a string, expected true or false"},
        {R"({"phone_number":"+1555","first_name":"A","last_name":7,"is_active":true})", "last_name is a number, expected a string or null"},
        {R"({"phone_number":"+1555","first_name":"A","image_url":{},"is_active":true})", "image_url is an object"},
    };
    for (const auto& c : cases) {
        const auto r = parse(std::string(c.body));
        EXPECT_EQ(r.kind, BodyKind::unexpected) << c.body << " -> " << to_string(r.kind) << ": " << r.error_message;
        EXPECT_NE(r.error_message.find(c.message_has), std::string::npos) << r.error_message;
    }
}

TEST(ResponseParser, TruncatedArrayIsNotJson) {
    EXPECT_EQ(parse(R"([{"phone_number":"+1555"},)").kind, BodyKind::not_json);
    EXPECT_EQ(parse(R"("unterminated)").kind, BodyKind::not_json);
}

TEST(ResponseParser, ParserAndBodyReused) {
    ResponseParser parser;
    std::string body(full_card);
    const std::string original = body;
    for (int i = 0; i < 2; ++i) {
        const auto r = parser.parse(body);
        ASSERT_EQ(r.kind, BodyKind::card) << i;
        EXPECT_EQ(r.card.first_name, "John");
        EXPECT_EQ(body, original) << "parse must not change the contents";
        EXPECT_GE(body.capacity() - body.size(), 64u);
    }
    std::string error = envelope(503, 4004);
    EXPECT_EQ(parser.parse(error).kind, BodyKind::error_envelope);
    std::string html = "<html>";
    EXPECT_EQ(parser.parse(html).kind, BodyKind::not_json);
    body = original;
    EXPECT_EQ(parser.parse(body).kind, BodyKind::card) << "a failed parse must not poison the parser";
    ResponseParser moved = std::move(parser);
    EXPECT_EQ(moved.parse(body).kind, BodyKind::card);
}

TEST(ResponseParser, KindNames) {
    EXPECT_EQ(to_string(BodyKind::card), "card");
    EXPECT_EQ(to_string(BodyKind::error_envelope), "error_envelope");
    EXPECT_EQ(to_string(BodyKind::empty), "empty");
    EXPECT_EQ(to_string(BodyKind::not_json), "not_json");
    EXPECT_EQ(to_string(BodyKind::unexpected), "unexpected");
    EXPECT_EQ(to_string(BodyKind::too_large), "too_large");
}

// A small deterministic mutation run (the libFuzzer target in tests/fuzz goes further): flipped,
// dropped and duplicated bytes in valid bodies never crash and always get one of the kinds.
TEST(ResponseParser, MutatedBodiesNeverCrash) {
    const std::string seeds[] = {std::string(full_card), envelope(429, 1007, R"(,"retry_after":3)"),
                                 R"([{"a":[1,2,{"b":null}]},"x"])"};
    std::mt19937 rng(12345);
    ResponseParser parser;
    int kinds[6] = {};
    for (int i = 0; i < 20000; ++i) {
        std::string body = seeds[i % 3];
        const int edits = 1 + static_cast<int>(rng() % 4);
        for (int e = 0; e < edits && !body.empty(); ++e) {
            const std::size_t at = rng() % body.size();
            switch (rng() % 3) {
            case 0: body[at] = static_cast<char>(rng()); break;
            case 1: body.erase(at, 1 + rng() % 8); break;
            default: body.insert(at, body.substr(at, 1 + rng() % 8)); break;
            }
        }
        const auto r = parser.parse(body);
        ASSERT_GE(static_cast<int>(r.kind), 0);
        ASSERT_LT(static_cast<int>(r.kind), 6);
        ++kinds[static_cast<int>(r.kind)];
        if (r.kind != BodyKind::card && r.kind != BodyKind::error_envelope) {
            EXPECT_FALSE(r.error_message.empty()) << body;
        }
    }
    EXPECT_GT(kinds[static_cast<int>(BodyKind::not_json)], 0);
    EXPECT_GT(kinds[static_cast<int>(BodyKind::card)], 0);
}

}  // namespace
