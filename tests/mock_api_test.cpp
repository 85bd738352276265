// MockApi: the simulator's contract, request by request, with an injected clock (no sockets).
#include "cardsync/mock_api.hpp"

#include "cardsync/response_parser.hpp"

#include "support/temp_dir.hpp"

#include <gtest/gtest.h>
#include <simdjson.h>

#include <set>

namespace cardsync {
namespace {

using namespace std::chrono_literals;
using Clock = MockApi::Clock;
using Transport = ApiAnswer::Transport;

const Clock::time_point t0 = Clock::time_point{} + 1h;

constexpr const char* seed_csv =
    "phone_number,first_name,last_name,image_url,is_active\n"
    "+14155550101,Avery,Jonson,https://cdn.example.com/old/avery.jpg,true\n"
    "+14155550102,Bri,,,\n"
    "+14155550103,Carl,Inactive,,false\n";

// error.code of an envelope, or 0 when the body is not one.
int code_of(const std::string& body) {
    simdjson::dom::parser parser;
    simdjson::dom::element doc;
    if (parser.parse(body).get(doc)) return -1;
    int64_t code = 0;
    if (doc["error"]["code"].get(code)) return 0;
    return static_cast<int>(code);
}

int64_t retry_after_of(const std::string& body) {
    simdjson::dom::parser parser;
    int64_t n = -1;
    if (parser.parse(body)["error"]["retry_after"].get(n)) return -1;
    return n;
}

// One simulator, driven request by request at chosen times.
struct Sim {
    explicit Sim(MockOptions o = {}, bool seed = true) {
        if (seed) {
            test::write_file(dir.file("cards.csv"), seed_csv);
            o.seed_cards_csv = dir.file("cards.csv");
        }
        api = std::make_unique<MockApi>(std::move(o), t0);
    }
    const ApiAnswer& call(std::string method, std::string target, std::string body_text = {},
                          Clock::duration at = {}, std::string auth = "Bearer mock-key") {
        method_ = std::move(method);
        target_ = std::move(target);
        auth_ = std::move(auth);
        body = std::move(body_text);
        api->handle(ApiRequest{method_, target_, auth_, &body}, t0 + at, answer);
        return answer;
    }
    const ApiAnswer& patch(std::string number_query, std::string json, Clock::duration at = {}) {
        return call("PATCH", "/api/partner/v3/contact_card?phone_number=" + number_query, std::move(json), at);
    }
    std::string card(std::string_view number) const {
        const Card* c = api->cards().find(number);
        if (!c) return "none";
        std::string out;
        append_card_json(out, *c);
        return out;
    }

    test::TempDir dir;
    std::unique_ptr<MockApi> api;
    ApiAnswer answer;
    std::string method_, target_, auth_, body;
};

constexpr const char* path = "/api/partner/v3/contact_card";

TEST(MockApiPatch, MergesOnlyThePresentFields) {
    Sim sim;
    const auto& a = sim.patch("%2B14155550101", R"({"last_name":"Johnson"})");
    EXPECT_EQ(a.status, 200);
    EXPECT_EQ(a.transport, Transport::whole);
    EXPECT_EQ(a.body,
              R"({"phone_number":"+14155550101","first_name":"Avery","last_name":"Johnson",)"
              R"("image_url":"https://cdn.example.com/old/avery.jpg","is_active":true})");
    EXPECT_EQ(sim.card("+14155550101"), a.body);
}

TEST(MockApiPatch, NullIsOmittedAndEmptyStringClears) {
    Sim sim;
    sim.patch("%2B14155550101", R"({"first_name":null,"last_name":"","image_url":null,"unknown":[1,{"x":2}]})");
    EXPECT_EQ(sim.answer.status, 200);
    EXPECT_EQ(sim.card("+14155550101"),
              R"({"phone_number":"+14155550101","first_name":"Avery","image_url":"https://cdn.example.com/old/avery.jpg","is_active":true})");
}

TEST(MockApiPatch, ActivatesAnInactiveCard) {
    Sim sim;
    sim.patch("%2B14155550103", R"({"first_name":"Carla"})");
    EXPECT_EQ(sim.answer.status, 200);
    EXPECT_EQ(sim.card("+14155550103"),
              R"({"phone_number":"+14155550103","first_name":"Carla","last_name":"Inactive","is_active":true})");
}

TEST(MockApiPatch, NoCardIs404UnlessEveryNumberHasOne) {
    Sim sim;
    sim.patch("%2B14155550190", R"({"first_name":"N"})");
    EXPECT_EQ(sim.answer.status, 404);
    EXPECT_EQ(code_of(sim.answer.body), 2001);
    EXPECT_EQ(sim.card("+14155550190"), "none");

    MockOptions o;
    o.every_number_has_card = true;
    Sim open(o);
    open.patch("%2B14155550190", R"({"last_name":"New"})");
    EXPECT_EQ(open.answer.status, 200);
    EXPECT_EQ(open.card("+14155550190"), R"({"phone_number":"+14155550190","first_name":"","last_name":"New","is_active":true})");
}

TEST(MockApiPatch, ControlCharactersAndUnicodeRoundTrip) {
    Sim sim;
    sim.patch("%2B14155550102", R"({"first_name":"Zo\u00eb \"Z\"\n","last_name":"山田 🚀"})");
    EXPECT_EQ(sim.answer.status, 200);
    EXPECT_EQ(sim.card("+14155550102"),
              "{\"phone_number\":\"+14155550102\",\"first_name\":\"Zo\xC3\xAB \\\"Z\\\"\\n\",\"last_name\":\"山田 🚀\",\"is_active\":true}");
}

TEST(MockApiBody, MalformedBodiesAre400With1003AndChangeNothing) {
    const std::string bodies[] = {"", "not json", "[]", "\"text\"", "42", R"({"first_name":1})",
                                  R"({"last_name":true})", R"({"image_url":{"a":1}})", R"({"first_name":"a"} x)",
                                  R"({"first_name":"a")", R"({"first_name":"a",})", "{\"first_name\":\"\xff\"}"};
    for (const auto& body : bodies) {
        Sim sim;
        const auto before = sim.card("+14155550101");
        sim.patch("%2B14155550101", body);
        EXPECT_EQ(sim.answer.status, 400) << body;
        EXPECT_EQ(code_of(sim.answer.body), 1003) << body;
        EXPECT_EQ(sim.card("+14155550101"), before) << body;
    }
}

TEST(MockApiQuery, NumbersAreFormDecoded) {
    struct Case {
        const char* query;
        int status;
        int code;
    } cases[] = {
        {"%2B14155550101", 200, 0},
        {"%2b14155550101", 200, 0},           // lower-case hex
        {"+14155550101", 400, 1002},          // a bare '+' is a space
        {"%2B1415555010%", 400, 1002},        // malformed escape
        {"%2B1415555010%G1", 400, 1002},
        {"", 400, 1002},
        {"%2B0123456789", 400, 1002},         // leading zero
        {"%2B1", 400, 1002},                  // too short
        {"%2B1234567890123456", 400, 1002},   // 16 digits
        {"%2B1%20415%20555%200101", 400, 1002},  // separators are the client's job
    };
    for (const auto& c : cases) {
        Sim sim;
        sim.patch(c.query, R"({"first_name":"A"})");
        EXPECT_EQ(sim.answer.status, c.status) << c.query;
        if (c.code) {
            EXPECT_EQ(code_of(sim.answer.body), c.code) << c.query;
        }
    }
    Sim sim;
    sim.call("PATCH", std::string(path) + "?x=1&phone%5Fnumber=%2B14155550101&phone_number=bad", R"({"first_name":"A"})");
    EXPECT_EQ(sim.answer.status, 200) << "the first phone_number wins, and keys are decoded too";
    sim.call("PATCH", path, R"({"first_name":"A"})");
    EXPECT_EQ(sim.answer.status, 400);
    EXPECT_EQ(code_of(sim.answer.body), 1002);
}

TEST(MockApiAuth, TokenIsCheckedFirst) {
    struct Case {
        const char* header;
        int status;
    } cases[] = {{"Bearer mock-key", 200}, {"bearer mock-key", 200}, {"BEARER  mock-key", 200},
                 {"", 401},  {"Bearer", 401}, {"Bearer wrong", 401}, {"Bearer mock-key2", 401},
                 {"Basic mock-key", 401}, {"mock-key", 401}};
    for (const auto& c : cases) {
        Sim sim;
        sim.call("PATCH", std::string(path) + "?phone_number=%2B14155550101", R"({"first_name":"A"})", {}, c.header);
        EXPECT_EQ(sim.answer.status, c.status) << c.header;
        if (c.status == 401) {
            EXPECT_EQ(code_of(sim.answer.body), 2004);
            EXPECT_EQ(sim.answer.body.find("mock-key"), std::string::npos) << "the key never appears in answers";
        }
    }
    Sim sim;  // 401 before 404 and 400
    sim.call("GET", "/nowhere", {}, {}, "");
    EXPECT_EQ(sim.answer.status, 401);
    sim.patch("+1", "nonsense", {});
    EXPECT_EQ(sim.answer.status, 400);

    MockOptions open;
    open.api_key = "";
    Sim no_auth(open);
    no_auth.call("GET", path, {}, {}, "");
    EXPECT_EQ(no_auth.answer.status, 200) << "an empty api_key disables the check";
}

TEST(MockApiRouting, UnknownPathsAre404OtherMethods405) {
    Sim sim;
    for (const char* target : {"/", "/api/partner/v3/contact_cards", "/api/partner/v3/contact_card/", "/v3/contact_card"}) {
        sim.call("GET", target);
        EXPECT_EQ(sim.answer.status, 404) << target;
        EXPECT_EQ(code_of(sim.answer.body), 2001) << target;
    }
    for (const char* method : {"DELETE", "PUT", "HEAD", "OPTIONS"}) {
        sim.call(method, std::string(path) + "?phone_number=%2B14155550101");
        EXPECT_EQ(sim.answer.status, 405) << method;
        EXPECT_STREQ(sim.answer.allow, "GET, POST, PATCH");
        EXPECT_EQ(code_of(sim.answer.body), 1005);
    }
    MockOptions o;
    o.base_path = "/sandbox/";
    Sim moved(o);
    moved.call("GET", "/sandbox/v3/contact_card");
    EXPECT_EQ(moved.answer.status, 200);
    moved.call("GET", path);
    EXPECT_EQ(moved.answer.status, 404);
}

TEST(MockApiPost, CreatesConflictsAndSetsUpInactiveCards) {
    Sim sim;
    sim.call("POST", path, R"({"phone_number":"+14155550190","first_name":"New","image_url":"https://x/y.jpg"})");
    EXPECT_EQ(sim.answer.status, 200);
    EXPECT_EQ(sim.answer.body, R"({"phone_number":"+14155550190","first_name":"New","image_url":"https://x/y.jpg","is_active":true})");
    EXPECT_EQ(sim.card("+14155550190"), sim.answer.body);

    sim.call("POST", path, R"({"phone_number":"+14155550190","first_name":"Again"})");
    EXPECT_EQ(sim.answer.status, 409);
    EXPECT_EQ(code_of(sim.answer.body), 2014);
    EXPECT_NE(sim.card("+14155550190").find("New"), std::string::npos) << "409 never overwrites";

    sim.call("POST", path, R"({"phone_number":"+14155550103","first_name":"Carla"})");
    EXPECT_EQ(sim.answer.status, 200) << "an inactive card can be set up again";
    EXPECT_EQ(sim.card("+14155550103"), R"({"phone_number":"+14155550103","first_name":"Carla","is_active":true})");
}

TEST(MockApiPost, ValidatesTheBody) {
    struct Case {
        const char* body;
        int status;
        int code;
    } cases[] = {
        {R"({"first_name":"A"})", 400, 1001},
        {R"({"phone_number":"+14155550190"})", 400, 1001},
        {R"({"phone_number":"+14155550190","first_name":null})", 400, 1001},
        {R"({"phone_number":"14155550190","first_name":"A"})", 400, 1002},
        {R"({"phone_number":14155550190,"first_name":"A"})", 400, 1003},
        {"nope", 400, 1003},
    };
    for (const auto& c : cases) {
        Sim sim;
        sim.call("POST", path, c.body);
        EXPECT_EQ(sim.answer.status, c.status) << c.body;
        EXPECT_EQ(code_of(sim.answer.body), c.code) << c.body;
    }
}

TEST(MockApiGet, OneOrAllActiveCards) {
    Sim sim;
    sim.call("GET", std::string(path) + "?phone_number=%2B14155550102");
    EXPECT_EQ(sim.answer.status, 200);
    EXPECT_EQ(sim.answer.body, R"({"contact_cards":[{"phone_number":"+14155550102","first_name":"Bri","is_active":true}]})");

    for (const char* n : {"%2B14155550190", "%2B14155550103"}) {  // no card; an inactive card
        sim.call("GET", std::string(path) + "?phone_number=" + n);
        EXPECT_EQ(sim.answer.status, 404) << n;
        EXPECT_EQ(code_of(sim.answer.body), 2001) << n;
    }
    sim.call("GET", path);
    EXPECT_EQ(sim.answer.status, 200);
    EXPECT_EQ(sim.answer.body,
              R"({"contact_cards":[{"phone_number":"+14155550101","first_name":"Avery","last_name":"Jonson",)"
              R"("image_url":"https://cdn.example.com/old/avery.jpg","is_active":true},)"
              R"({"phone_number":"+14155550102","first_name":"Bri","is_active":true}]})");
    Sim empty({}, false);
    empty.call("GET", path);
    EXPECT_EQ(empty.answer.body, R"({"contact_cards":[]})");
}

TEST(MockApiAccount, OutsidePrefixesAre403AndDoNotCount) {
    MockOptions o;
    o.outside_prefixes = {"+1800", "+44"};
    o.budget_calls = 1;
    Sim sim(o);
    for (int i = 0; i < 3; ++i) {
        sim.patch("%2B18005550199", R"({"first_name":"A"})");
        EXPECT_EQ(sim.answer.status, 403);
        EXPECT_EQ(code_of(sim.answer.body), 2005);
    }
    sim.call("GET", std::string(path) + "?phone_number=%2B442079460104");
    EXPECT_EQ(sim.answer.status, 403);
    sim.patch("%2B14155550101", R"({"first_name":"A"})");
    EXPECT_EQ(sim.answer.status, 200);
}

TEST(MockApiBudget, ThreeWritesPerWindowThen429UntilTheOldestLeaves) {
    MockOptions o;
    o.budget_calls = 3;
    o.budget_window_s = 10;
    Sim sim(o);
    const auto number = "%2B14155550101";
    EXPECT_EQ(sim.patch(number, R"({"first_name":"A"})", 0s).status, 200);
    EXPECT_EQ(sim.call("POST", path, R"({"phone_number":"+14155550101","first_name":"A"})", 1500ms).status, 409)
        << "POST shares the budget (and a 409 counts)";
    EXPECT_EQ(sim.patch(number, R"({"first_name":"B"})", 2s).status, 200);

    const auto& limited = sim.patch(number, R"({"first_name":"C"})", 3s);
    EXPECT_EQ(limited.status, 429);
    EXPECT_EQ(code_of(limited.body), 1007);
    EXPECT_EQ(limited.retry_after_s, 7);
    EXPECT_EQ(retry_after_of(limited.body), 7);
    EXPECT_EQ(sim.patch(number, R"({"first_name":"C"})", 3100ms).retry_after_s, 7) << "6.9 s rounds up";
    EXPECT_EQ(sim.patch(number, R"({"first_name":"C"})", 9999ms).retry_after_s, 1);
    EXPECT_EQ(sim.patch(number, R"({"first_name":"C"})", 10001ms).status, 200) << "429s did not count";
    EXPECT_EQ(sim.patch(number, R"({"first_name":"D"})", 10002ms).status, 429) << "1.5 s and 10.001 s still count";
    EXPECT_EQ(sim.patch("%2B14155550102", R"({"first_name":"E"})", 10002ms).status, 200) << "budgets are per number";
    EXPECT_NE(sim.card("+14155550101").find("\"C\""), std::string::npos);
}

TEST(MockApiBudget, RejectedCallsDoNotCountButFailedOnesDo) {
    MockOptions o;
    o.budget_calls = 1;
    o.budget_window_s = 600;
    Sim sim(o);
    sim.patch("%2B14155550101", "not json");
    EXPECT_EQ(sim.answer.status, 400);
    sim.patch("%2B14155550101", R"({"first_name":"A"})");
    EXPECT_EQ(sim.answer.status, 200) << "a 400 did not use the budget";

    sim.patch("%2B14155550190", R"({"first_name":"A"})");
    EXPECT_EQ(sim.answer.status, 404);
    sim.patch("%2B14155550190", R"({"first_name":"A"})");
    EXPECT_EQ(sim.answer.status, 429) << "a 404 did use it";

    MockOptions off;
    off.budget_calls = 0;
    Sim unlimited(off);
    for (int i = 0; i < 20; ++i) EXPECT_EQ(unlimited.patch("%2B14155550101", R"({"first_name":"A"})").status, 200);
}

TEST(MockApiAccountRate, TokenBucketAnswers429WithRetryAfter1) {
    MockOptions o;
    o.account_rate = 2;
    o.account_burst = 2;
    o.budget_calls = 0;
    Sim sim(o);
    EXPECT_EQ(sim.call("GET", path, {}, 0ms).status, 200);
    EXPECT_EQ(sim.patch("%2B14155550101", R"({"first_name":"A"})", 0ms).status, 200);
    const auto& limited = sim.call("GET", path, {}, 100ms);
    EXPECT_EQ(limited.status, 429);
    EXPECT_EQ(limited.retry_after_s, 1);
    EXPECT_EQ(code_of(limited.body), 1007);
    EXPECT_EQ(sim.call("GET", path, {}, 500ms).status, 200) << "one token back after 0.5 s at 2/s";
    EXPECT_EQ(sim.call("GET", path, {}, 600ms).status, 429);
    EXPECT_EQ(sim.api->stats().account_rate_rejected, 2u);
}

TEST(MockApiFaults, Error500IsHalf3006Half2022AndChangesNothing) {
    MockOptions o;
    o.fail_500 = 1;
    o.budget_calls = 0;
    Sim sim(o);
    const auto before = sim.card("+14155550101");
    std::map<int, int> codes;
    for (int i = 0; i < 200; ++i) {
        sim.patch("%2B14155550101", R"({"first_name":"Changed"})");
        EXPECT_EQ(sim.answer.status, 500);
        ++codes[code_of(sim.answer.body)];
    }
    EXPECT_EQ(codes.size(), 2u);
    EXPECT_GT(codes[3006], 60);
    EXPECT_GT(codes[2022], 60);
    EXPECT_EQ(sim.card("+14155550101"), before);
    for (int i = 0; i < 20; ++i) {
        sim.call("GET", path);
        EXPECT_EQ(code_of(sim.answer.body), 3006) << "a GET never gets 2022 (it updates nothing)";
    }
}

TEST(MockApiFaults, EachKindAnswersAsDocumented) {
    struct Case {
        double MockOptions::*knob;
        int status;
        int code;
        Transport transport;
        int retry_after;
    } cases[] = {
        {&MockOptions::fail_503, 503, 4004, Transport::whole, 3},
        {&MockOptions::fail_429, 429, 1007, Transport::whole, 1},
        {&MockOptions::drop, 0, 0, Transport::drop, -1},
        {&MockOptions::truncate, 200, 0, Transport::truncate, -1},
    };
    for (const auto& c : cases) {
        MockOptions o;
        o.*c.knob = 1;
        o.fail_503_retry_after_s = 2.5;
        Sim sim(o);
        const auto before = sim.card("+14155550101");
        const auto& a = sim.patch("%2B14155550101", R"({"first_name":"Changed"})");
        EXPECT_EQ(a.transport, c.transport) << c.status;
        if (c.transport != Transport::drop) {
            EXPECT_EQ(a.status, c.status);
            EXPECT_EQ(code_of(a.body), c.code);
            EXPECT_EQ(a.retry_after_s, c.retry_after);
        }
        if (c.transport == Transport::truncate) {
            EXPECT_NE(a.body.find("Changed"), std::string::npos) << "the answer it would have had";
        }
        EXPECT_EQ(sim.card("+14155550101"), before) << "faults never change the store";
    }
}

TEST(MockApiFaults, SameSeedSameSequenceOtherSeedOther) {
    auto run = [](std::uint64_t seed) {
        MockOptions o;
        o.seed = seed;
        o.budget_calls = 0;
        o.fail_500 = 0.1;
        o.fail_503 = 0.1;
        o.fail_429 = 0.1;
        o.drop = 0.1;
        o.truncate = 0.1;
        o.latency_ms = 1;
        o.latency_max_ms = 3;
        o.latency_tail_ms = 2;
        Sim sim(o);
        std::vector<std::tuple<int, Transport, std::int64_t>> seen;
        for (int i = 0; i < 300; ++i) {
            const auto& a = i % 3 ? sim.patch("%2B14155550101", R"({"first_name":"A"})") : sim.call("GET", path);
            seen.emplace_back(a.transport == Transport::drop ? 0 : a.status, a.transport, a.delay.count());
        }
        return seen;
    };
    const auto a = run(7), b = run(7), c = run(8);
    EXPECT_EQ(a, b);
    EXPECT_NE(a, c);
    std::set<int> statuses;
    for (const auto& s : a) statuses.insert(std::get<0>(s));
    EXPECT_EQ(statuses, (std::set<int>{0, 200, 429, 500, 503})) << "every fault kind shows up";
}

TEST(MockApiFaults, ResetReplaysTheSameFaults) {
    MockOptions o;
    o.fail_500 = 0.5;
    o.budget_calls = 0;
    Sim sim(o);
    std::vector<int> first, second;
    for (int i = 0; i < 50; ++i) first.push_back(sim.call("GET", path).status);
    sim.call("POST", "/__mock/reset");
    EXPECT_EQ(sim.answer.status, 200);
    for (int i = 0; i < 50; ++i) second.push_back(sim.call("GET", path).status);
    EXPECT_EQ(first, second);
}

TEST(MockApiLatency, FixedUniformAndTail) {
    MockOptions fixed;
    fixed.latency_ms = 5;
    Sim a(fixed);
    EXPECT_EQ(a.call("GET", path).delay, 5ms);

    MockOptions range;
    range.latency_ms = 10;
    range.latency_max_ms = 20;
    Sim b(range);
    for (int i = 0; i < 100; ++i) {
        const auto d = b.call("GET", path).delay;
        EXPECT_GE(d, 10ms);
        EXPECT_LE(d, 20ms);
    }
    MockOptions tail;
    tail.latency_tail_ms = 10;
    Sim c(tail);
    std::chrono::nanoseconds sum{0};
    for (int i = 0; i < 2000; ++i) sum += c.call("GET", path).delay;
    const double mean_ms = std::chrono::duration<double, std::milli>(sum).count() / 2000;
    EXPECT_GT(mean_ms, 8.5);
    EXPECT_LT(mean_ms, 11.5);
}

TEST(MockApiControl, StatsCardsAndResetNeedNoTokenAndAreNotCounted) {
    MockOptions o;
    o.fail_500 = 1;  // control paths have no faults
    Sim sim(o);
    sim.patch("%2B14155550101", R"({"first_name":"A"})", 250ms);
    sim.call("GET", "/nowhere", {}, 50ms);

    sim.call("GET", "/__mock/cards", {}, {}, "");
    EXPECT_EQ(sim.answer.status, 200);
    EXPECT_STREQ(sim.answer.content_type, "application/x-ndjson");
    EXPECT_EQ(sim.answer.body,
              "{\"phone_number\":\"+14155550101\",\"first_name\":\"Avery\",\"last_name\":\"Jonson\",\"image_url\":\"https://cdn.example.com/old/avery.jpg\",\"is_active\":true}\n"
              "{\"phone_number\":\"+14155550102\",\"first_name\":\"Bri\",\"is_active\":true}\n"
              "{\"phone_number\":\"+14155550103\",\"first_name\":\"Carl\",\"last_name\":\"Inactive\",\"is_active\":false}\n");

    sim.call("GET", "/__mock/stats", {}, {}, "");
    EXPECT_EQ(sim.answer.status, 200);
    const auto s = sim.api->stats();
    EXPECT_EQ(s.requests, 2u);
    EXPECT_EQ(s.by_method, (std::map<std::string, std::uint64_t>{{"GET", 1}, {"PATCH", 1}}));
    EXPECT_EQ(s.by_status, (std::map<int, std::uint64_t>{{500, 1}, {404, 1}}));
    EXPECT_EQ(s.by_code.size(), 2u);
    EXPECT_EQ(s.faults_500, 1u);
    EXPECT_EQ(s.requests_per_100ms, (std::vector<std::uint32_t>{1, 0, 1}));
    EXPECT_EQ(sim.answer.body, s.to_json());

    sim.call("GET", "/__mock/reset", {}, {}, "");
    EXPECT_EQ(sim.answer.status, 405);
    sim.call("GET", "/__mock/other", {}, {}, "");
    EXPECT_EQ(sim.answer.status, 404);
}

TEST(MockApiControl, ResetRestoresTheSeedCards) {
    Sim sim;
    sim.patch("%2B14155550101", R"({"first_name":"Changed"})");
    sim.call("POST", path, R"({"phone_number":"+14155550190","first_name":"New"})");
    EXPECT_EQ(sim.api->cards().size(), 4u);
    sim.call("POST", "/__mock/reset");
    EXPECT_EQ(sim.api->cards().size(), 3u);
    EXPECT_NE(sim.card("+14155550101").find("Avery"), std::string::npos);
}

TEST(MockApiStats, WritesPerNumber) {
    MockOptions o;
    o.budget_calls = 0;
    Sim sim(o);
    for (int i = 0; i < 3; ++i) sim.patch("%2B14155550101", R"({"first_name":"A"})");
    sim.patch("%2B14155550102", R"({"first_name":"A"})");
    const auto s = sim.api->stats();
    EXPECT_EQ(s.writes_applied, 4u);
    EXPECT_EQ(s.numbers_by_writes, (std::map<std::uint32_t, std::uint64_t>{{1, 1}, {3, 1}}));
}

TEST(MockApiStats, MalformedRequestsAreCounted) {
    Sim sim;
    sim.api->answer_malformed(413, "too big", sim.answer);
    EXPECT_EQ(sim.answer.status, 413);
    EXPECT_EQ(code_of(sim.answer.body), 1003);
    EXPECT_EQ(sim.api->stats().by_status.at(413), 1u);
}

TEST(MockApiInterop, AnswersParseWithTheClientsResponseParser) {
    MockOptions o;
    o.budget_calls = 1;
    o.outside_prefixes = {"+1800"};
    Sim sim(o);
    ResponseParser parser;
    sim.patch("%2B14155550101", R"({"last_name":"Johnson"})");
    auto r = parser.parse(sim.answer.body);
    ASSERT_EQ(r.kind, BodyKind::card) << r.error_message;
    EXPECT_EQ(r.card.phone_number, "+14155550101");
    EXPECT_EQ(r.card.last_name, "Johnson");
    EXPECT_TRUE(r.card.is_active);

    sim.patch("%2B14155550101", R"({"last_name":"Again"})");
    r = parser.parse(sim.answer.body);
    ASSERT_EQ(r.kind, BodyKind::error_envelope) << r.error_message;
    EXPECT_EQ(r.error_status, 429);
    EXPECT_EQ(r.error_code, 1007);
    EXPECT_EQ(r.retry_after_s, 600.0);
    EXPECT_EQ(r.trace_id.rfind("sim-", 0), 0u);

    for (const char* query : {"+1", "%2B18005550199", "%2B14155550190"}) {
        sim.patch(query, R"({"first_name":"A"})");
        r = parser.parse(sim.answer.body);
        EXPECT_EQ(r.kind, BodyKind::error_envelope) << query;
        EXPECT_EQ(r.error_status, sim.answer.status) << query;
    }
}

TEST(MockApiOptions, BadOptionsAreRefusedWithTheirName) {
    struct Case {
        void (*set)(MockOptions&);
        const char* mentions;
    } cases[] = {
        {[](MockOptions& o) { o.fail_500 = 1.5; }, "fail_500"},
        {[](MockOptions& o) { o.drop = -0.1; }, "drop"},
        {[](MockOptions& o) { o.fail_500 = 0.6, o.fail_503 = 0.6; }, "add up"},
        {[](MockOptions& o) { o.budget_window_s = 0; }, "budget_window_s"},
        {[](MockOptions& o) { o.latency_ms = -1; }, "latency_ms"},
        {[](MockOptions& o) { o.base_path = "api"; }, "base_path"},
        {[](MockOptions& o) { o.base_path = "/__mock"; }, "base_path"},
        {[](MockOptions& o) { o.close_every = -1; }, "close_every"},
        {[](MockOptions& o) { o.idle_timeout_s = -1; }, "idle_timeout"},
        {[](MockOptions& o) { o.idle_timeout_s = 1e300; }, "idle_timeout"},
    };
    for (const auto& c : cases) {
        MockOptions o;
        c.set(o);
        try {
            MockApi api(o, t0);
            ADD_FAILURE() << "accepted, expected an error about " << c.mentions;
        } catch (const std::invalid_argument& e) {
            EXPECT_NE(std::string(e.what()).find(c.mentions), std::string::npos) << e.what();
        }
    }
    MockOptions missing;
    missing.seed_cards_csv = "/nonexistent/cards.csv";
    EXPECT_THROW(MockApi(missing, t0), std::runtime_error);
}

}  // namespace
}  // namespace cardsync
