#include "cardsync/retry_policy.hpp"

#include <gtest/gtest.h>

using namespace cardsync;
using namespace std::chrono_literals;

namespace {

AttemptResult http(int status, int code = 0, std::string_view message = {}) {
    AttemptResult r;
    r.http_status = status;
    r.api_code = code;
    r.api_message = message;
    return r;
}

AttemptResult transport(TransportError error, std::string_view detail = {}) {
    AttemptResult r;
    r.transport = error;
    r.transport_detail = detail;
    return r;
}

const Random half = [] { return 0.5; };

}  // namespace

// Every status and code of the API table, on the first of 3 attempts, random fixed at 0.5.
TEST(RetryPolicy, ClassifiesEveryAnswer) {
    struct Case {
        AttemptResult result;
        Verdict verdict;
        Duration delay;
        bool throttled;
        bool per_number;
        std::string reason;
    };
    const Case cases[] = {
        {http(200), Verdict::success, 0s, false, false, ""},
        {http(201), Verdict::success, 0s, false, false, ""},
        {http(204), Verdict::success, 0s, false, false, ""},
        {http(401, 2004, "Unauthorized"), Verdict::abort_run, 0s, false, false,
         "HTTP 401 (2004): missing or invalid API key; check the API key (run stopped)"},
        {http(401), Verdict::abort_run, 0s, false, false, "HTTP 401 Unauthorized; check the API key (run stopped)"},
        {http(400, 1002), Verdict::permanent, 0s, false, false, "HTTP 400 (1002): phone number must be in E.164 format"},
        {http(403, 2005), Verdict::permanent, 0s, false, false, "HTTP 403 (2005): access denied to this number"},
        {http(404, 2001, "Resource not found"), Verdict::permanent, 0s, false, false,
         "HTTP 404 (2001): no contact card for this number"},
        {http(409, 2014), Verdict::permanent, 0s, false, false, "HTTP 409 (2014): contact card already exists"},
        {http(422, 1234, "image_url is not reachable"), Verdict::permanent, 0s, false, false,
         "HTTP 422 (1234): image_url is not reachable"},
        {http(405), Verdict::permanent, 0s, false, false, "HTTP 405 Method Not Allowed"},
        {http(418), Verdict::permanent, 0s, false, false, "HTTP 418"},
        {http(451, 0, "legal"), Verdict::permanent, 0s, false, false, "HTTP 451: legal"},
        {http(501), Verdict::permanent, 0s, false, false, "HTTP 501 Not Implemented"},
        {http(505), Verdict::permanent, 0s, false, false, "HTTP 505 HTTP Version Not Supported"},
        {http(100), Verdict::permanent, 0s, false, false, "HTTP 100"},
        {http(408), Verdict::retry, 250ms, false, false, "HTTP 408 Request Timeout"},
        {http(500, 3006), Verdict::retry, 250ms, false, false, "HTTP 500 (3006): internal server error"},
        {http(500, 2022), Verdict::retry, 250ms, false, false, "HTTP 500 (2022): update did not complete"},
        {http(500), Verdict::retry, 250ms, false, false, "HTTP 500 Internal Server Error"},
        {http(502), Verdict::retry, 250ms, false, false, "HTTP 502 Bad Gateway"},
        {http(504), Verdict::retry, 250ms, false, false, "HTTP 504 Gateway Timeout"},
        {http(520), Verdict::retry, 250ms, false, false, "HTTP 520"},
        {http(429, 1007), Verdict::retry, 2500ms, true, true, "HTTP 429 (1007): rate limit exceeded"},
        {http(503, 4004), Verdict::retry, 2500ms, true, false, "HTTP 503 (4004): upstream write rate-limited"},
        {http(503), Verdict::retry, 2500ms, true, false, "HTTP 503 Service Unavailable"},
        {transport(TransportError::connect, "Connection refused"), Verdict::retry, 250ms, false, false,
         "connect: Connection refused"},
        {transport(TransportError::tls), Verdict::retry, 250ms, false, false, "tls: TLS handshake failed"},
        {transport(TransportError::write), Verdict::retry, 250ms, false, false, "write: sending the request failed"},
        {transport(TransportError::read), Verdict::retry, 250ms, false, false, "read: reading the answer failed"},
        {transport(TransportError::timeout, "no answer within 60 s"), Verdict::retry, 250ms, false, false,
         "timeout: no answer within 60 s"},
        {transport(TransportError::truncated), Verdict::retry, 250ms, false, false, "truncated: the answer ended early"},
        {transport(TransportError::garbled), Verdict::retry, 250ms, false, false,
         "garbled: the answer was not valid HTTP or not the documented JSON"},
        {http(0), Verdict::retry, 250ms, false, false, "transport: no answer"},
    };
    const RetryPolicy policy;
    for (const auto& c : cases) {
        const Decision d = policy.classify(c.result, 1, half);
        EXPECT_EQ(to_string(d.verdict), to_string(c.verdict)) << c.reason;
        EXPECT_EQ(d.delay, c.delay) << c.reason;
        EXPECT_EQ(d.throttled, c.throttled) << c.reason;
        EXPECT_EQ(d.per_number, c.per_number) << c.reason;
        EXPECT_FALSE(d.server_hint) << c.reason;
        EXPECT_EQ(d.reason, c.reason);
    }
}

TEST(RetryPolicy, TransportFailureWinsOverAStatus) {
    AttemptResult r = http(200);
    r.transport = TransportError::truncated;
    r.transport_detail = "connection closed after 12 of 80 body bytes";
    const Decision d = RetryPolicy{}.classify(r, 1, half);
    EXPECT_EQ(d.verdict, Verdict::retry);
    EXPECT_EQ(d.reason, "HTTP 200, then truncated: connection closed after 12 of 80 body bytes");
}

TEST(RetryPolicy, RedirectsArePermanentAndSayWhere) {
    AttemptResult r = http(301);
    r.location = "https://api.example.com/v3/contact_card";
    EXPECT_EQ(RetryPolicy{}.classify(r, 1, half).verdict, Verdict::permanent);
    EXPECT_EQ(RetryPolicy{}.classify(r, 1, half).reason,
              "HTTP 301 Moved Permanently; redirect to https://api.example.com/v3/contact_card not followed");
    EXPECT_EQ(RetryPolicy{}.classify(http(307), 1, half).reason, "HTTP 307 Temporary Redirect; redirect not followed");
}

TEST(RetryPolicy, BackoffGrowsPerAttemptAndGivesUpAtMaxAttempts) {
    RetryPolicy policy;
    policy.max_attempts = 5;
    const Random one = [] { return 1.0; };
    const Random zero = [] { return 0.0; };
    struct Case { AttemptResult result; int attempt; const Random* random; Verdict verdict; Duration delay; };
    const Case cases[] = {
        {http(500, 3006), 1, &one, Verdict::retry, 500ms}, {http(500, 3006), 2, &one, Verdict::retry, 1s},
        {http(500, 3006), 3, &one, Verdict::retry, 2s},    {http(500, 3006), 4, &one, Verdict::retry, 4s},
        {http(500, 3006), 4, &zero, Verdict::retry, 0s},   {http(500, 3006), 5, &one, Verdict::failed, 0s},
        {http(503, 4004), 1, &one, Verdict::retry, 5s},    {http(503, 4004), 2, &one, Verdict::retry, 10s},
        {http(503, 4004), 4, &one, Verdict::retry, 40s},   {http(503, 4004), 4, &half, Verdict::retry, 20s},
        {http(503, 4004), 9, &one, Verdict::failed, 0s},
    };
    for (const auto& c : cases) {
        const Decision d = policy.classify(c.result, c.attempt, *c.random);
        EXPECT_EQ(d.verdict, c.verdict) << c.result.http_status << " attempt " << c.attempt;
        EXPECT_EQ(d.delay, c.delay) << c.result.http_status << " attempt " << c.attempt;
    }
    EXPECT_EQ(policy.classify(http(503, 4004), 5, one).reason,
              "HTTP 503 (4004): upstream write rate-limited; gave up after 5 attempts");
}

TEST(RetryPolicy, MaxAttemptsOneNeverRetries) {
    RetryPolicy policy;
    policy.max_attempts = 1;
    EXPECT_EQ(policy.classify(http(502), 1, half).reason, "HTTP 502 Bad Gateway; gave up after 1 attempt");
    policy.max_attempts = 0;  // taken as 1
    EXPECT_EQ(policy.classify(http(502), 1, half).verdict, Verdict::failed);
    RetryPolicy three;
    EXPECT_EQ(three.classify(http(500, 2022), 3, half).reason,
              "HTTP 500 (2022): update did not complete; gave up after 3 attempts");
    EXPECT_EQ(three.classify(http(500, 2022), 0, half).verdict, Verdict::retry);  // attempt below 1 taken as 1
}

TEST(RetryPolicy, ServerHintPrecedence) {
    struct Case {
        std::optional<Duration> ms, header, body;
        Duration want;
        bool hint;
    };
    const Case cases[] = {
        {1500ms, 30s, 40s, 1500ms, true},       // retry-after-ms first
        {std::nullopt, 30s, 40s, 30s, true},    // then Retry-After
        {std::nullopt, std::nullopt, 40s, 40s, true},  // then error.retry_after
        {0ms, 30s, std::nullopt, 30s, true},    // a zero hint is skipped
        {0ms, 0s, 0s, 2500ms, false},           // all zero: throttle backoff
        {std::nullopt, std::nullopt, std::nullopt, 2500ms, false},
        {std::nullopt, 600s, std::nullopt, 600s, true},  // the 10-minute budget: waited in full
    };
    for (int status : {429, 503}) {
        for (const auto& c : cases) {
            AttemptResult r = http(status, status == 429 ? 1007 : 4004);
            r.retry_after_ms = c.ms;
            r.retry_after = c.header;
            r.body_retry_after = c.body;
            const Decision d = RetryPolicy{}.classify(r, 1, half);
            EXPECT_EQ(d.verdict, Verdict::retry);
            EXPECT_EQ(d.delay, c.want) << status;
            EXPECT_EQ(d.server_hint, c.hint) << status;
            EXPECT_TRUE(d.throttled);
        }
    }
    AttemptResult r = http(500, 3006);  // transient answers honour a hint too
    r.retry_after = 3s;
    EXPECT_EQ(RetryPolicy{}.classify(r, 1, half).delay, 3s);
}

TEST(RetryPolicy, RandomIsDrawnOnlyForBackoff) {
    int draws = 0;
    const Random counting = [&] { ++draws; return 0.5; };
    AttemptResult hinted = http(429, 1007);
    hinted.retry_after = 10s;
    RetryPolicy{}.classify(hinted, 1, counting);
    RetryPolicy{}.classify(http(404, 2001), 1, counting);
    RetryPolicy{}.classify(http(500), 3, counting);
    EXPECT_EQ(draws, 0);
    RetryPolicy{}.classify(http(500), 1, counting);
    EXPECT_EQ(draws, 1);
    EXPECT_EQ(RetryPolicy{}.classify(http(500), 1, Random{}).delay, 500ms);  // no random: the ceiling
}

TEST(RetryPolicy, WaitOverMaxWaitFails) {
    RetryPolicy policy;
    policy.max_wait = 60s;
    AttemptResult r = http(429, 1007);
    r.retry_after = 600s;
    const Decision d = policy.classify(r, 1, half);
    EXPECT_EQ(d.verdict, Verdict::failed);
    EXPECT_TRUE(d.per_number);
    EXPECT_EQ(d.reason, "HTTP 429 (1007): rate limit exceeded; the server asked to wait 600 s, over the 60 s limit (1 attempt)");
    r.retry_after = 59500ms;
    EXPECT_EQ(policy.classify(r, 1, half).verdict, Verdict::retry);
    policy.max_wait = 1s;
    EXPECT_EQ(policy.classify(http(503), 1, half).reason,
              "HTTP 503 Service Unavailable; backoff asked to wait 2.5 s, over the 1 s limit (1 attempt)");
}

TEST(RetryPolicy, ShouldRetryFalseStops) {
    AttemptResult r = http(500, 3006);
    r.should_retry = false;
    const Decision d = RetryPolicy{}.classify(r, 1, half);
    EXPECT_EQ(d.verdict, Verdict::failed);
    EXPECT_EQ(d.reason, "HTTP 500 (3006): internal server error; the server said not to retry (x-should-retry: false)");
    r.should_retry = true;  // does not make a permanent answer retryable, nor change a retryable one
    EXPECT_EQ(RetryPolicy{}.classify(r, 1, half).verdict, Verdict::retry);
    AttemptResult rejected = http(404, 2001);
    rejected.should_retry = true;
    EXPECT_EQ(RetryPolicy{}.classify(rejected, 1, half).verdict, Verdict::permanent);
}

TEST(RetryPolicy, ServerTextIsCleanedAndBounded) {
    const std::string message = "line one\nline\ttwo\r" + std::string(300, 'x');
    const std::string reason = describe(http(422, 0, message));
    EXPECT_EQ(reason.substr(0, 32), "HTTP 422: line one line two xxxx");
    EXPECT_EQ(reason.size(), std::string_view("HTTP 422: ").size() + 200 + 3);
    EXPECT_EQ(reason.substr(reason.size() - 3), "...");
    // A cut never splits a UTF-8 sequence: 199 ASCII bytes then a 2-byte letter straddling the limit.
    const std::string accented = std::string(199, 'a') + "\xC3\xA9" + "tail";
    const std::string cut = describe(http(422, 0, accented));
    EXPECT_EQ(cut, "HTTP 422: " + std::string(199, 'a') + "...");
}

TEST(RetryPolicy, NamesAreStable) {
    EXPECT_EQ(to_string(Verdict::abort_run), "abort_run");
    EXPECT_EQ(to_string(TransportError::timeout), "timeout");
}
