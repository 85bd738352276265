#include "cardsync/retry_after.hpp"

#include <gtest/gtest.h>

using namespace cardsync;
using namespace std::chrono;
using namespace std::chrono_literals;

namespace {
system_clock::time_point utc(int y, unsigned mo, unsigned d, int h = 0, int mi = 0, int s = 0) {
    return sys_days(year{y} / mo / d) + hours(h) + minutes(mi) + seconds(s);
}
// Sun, 06 Nov 1994 08:49:37 GMT, the RFC's example date.
const auto rfc_date = utc(1994, 11, 6, 8, 49, 37);
}  // namespace

TEST(RetryAfter, DeltaSeconds) {
    const auto now = utc(2025, 1, 1);
    struct Case { const char* value; std::optional<Duration> want; };
    const Case cases[] = {
        {"0", 0s}, {"1", 1s}, {"120", 120s}, {"600", 600s}, {" 30 ", 30s}, {"\t7", 7s},
        {"1.5", 1500ms}, {"0.25", 250ms}, {".5", 500ms}, {"5.", 5s}, {"007", 7s},
        {"1000000000", 1'000'000'000s},
        // garbage
        {"", std::nullopt}, {"   ", std::nullopt}, {"-1", std::nullopt}, {"+1", std::nullopt},
        {"1e3", std::nullopt}, {"1.2.3", std::nullopt}, {".", std::nullopt}, {"12abc", std::nullopt},
        {"1 2", std::nullopt}, {"inf", std::nullopt}, {"nan", std::nullopt}, {"0x10", std::nullopt},
        {"1000000001", std::nullopt}, {"99999999999999999999999999", std::nullopt},
    };
    for (const auto& c : cases) EXPECT_EQ(parse_retry_after(c.value, now), c.want) << '"' << c.value << '"';
}

TEST(RetryAfter, HttpDateForms) {
    struct Case { const char* value; std::optional<system_clock::time_point> want; };
    const auto now = utc(2025, 6, 1);
    const Case cases[] = {
        {"Sun, 06 Nov 1994 08:49:37 GMT", rfc_date},      // IMF-fixdate
        {"Sunday, 06-Nov-94 08:49:37 GMT", rfc_date},     // RFC 850
        {"Sun Nov  6 08:49:37 1994", rfc_date},           // asctime
        {"Sun Nov 16 08:49:37 1994", utc(1994, 11, 16, 8, 49, 37)},
        {"sun, 06 nov 1994 08:49:37 GMT", rfc_date},      // names in any case
        {"Wed, 31 Dec 2025 23:59:60 GMT", utc(2026, 1, 1)},  // leap second
        {"Thu, 29 Feb 2024 12:00:00 GMT", utc(2024, 2, 29, 12)},
        {"Tuesday, 01-Jan-30 00:00:00 GMT", utc(2030, 1, 1)},  // two-digit years near now
        {"Wednesday, 01-Jan-75 00:00:00 GMT", utc(2075, 1, 1)},  // 50 years ahead: still ahead
        {"Thursday, 01-Jan-76 00:00:00 GMT", utc(1976, 1, 1)},   // over 50 years ahead: the past century
        // sad
        {"Sun, 6 Nov 1994 08:49:37 GMT", std::nullopt},   // one-digit day in IMF-fixdate
        {"Sun, 06 Nov 1994 08:49:37 UTC", std::nullopt},
        {"Sun, 06 Nov 1994 08:49:37", std::nullopt},
        {"Sun, 06 Nov 1994 08:49:37 GMT x", std::nullopt},
        {"Sun, 31 Feb 1994 08:49:37 GMT", std::nullopt},
        {"Sun, 06 Nov 1994 24:00:00 GMT", std::nullopt},
        {"Sun, 06 Nov 1994 08:60:00 GMT", std::nullopt},
        {"Sun, 06 Foo 1994 08:49:37 GMT", std::nullopt},
        {"Xyz, 06 Nov 1994 08:49:37 GMT", std::nullopt},
        {"Sun, 06 Nov 9999 08:49:37 GMT", std::nullopt},  // outside 1900..2200
        {"Sun Nov 6 08:49:37 1994", std::nullopt},        // asctime pads the day with a space
        {"2025-06-01T00:00:00Z", std::nullopt},
        {"", std::nullopt},
    };
    for (const auto& c : cases) {
        const auto got = parse_http_date(c.value, now);
        EXPECT_EQ(got.has_value(), c.want.has_value()) << c.value;
        if (got && c.want) {
            EXPECT_EQ((*got - *c.want).count(), 0) << c.value;
        }
    }
}

TEST(RetryAfter, TwoDigitYearFollowsNow) {
    // Near the end of a century, "01" is three years ahead, not 97 years back.
    EXPECT_EQ(parse_http_date("Monday, 01-Jan-01 00:00:00 GMT", utc(2098, 6, 1)), utc(2101, 1, 1));
    EXPECT_EQ(parse_http_date("Monday, 01-Jan-99 00:00:00 GMT", utc(2002, 6, 1)), utc(1999, 1, 1));
}

TEST(RetryAfter, DateIsMeasuredFromNow) {
    const auto now = utc(2025, 3, 10, 12, 0, 0) + 250ms;
    EXPECT_EQ(parse_retry_after("Mon, 10 Mar 2025 12:00:30 GMT", now), 29750ms);
    EXPECT_EQ(parse_retry_after("Monday, 10-Mar-25 12:10:00 GMT", now), 599750ms);
    EXPECT_EQ(parse_retry_after("Mon Mar 10 13:00:00 2025", now), 3599750ms);
    EXPECT_EQ(parse_retry_after("Mon, 10 Mar 2025 11:00:00 GMT", now), 0s);  // past: no wait
    EXPECT_EQ(parse_retry_after("Mon, 10 Mar 2025 12:00:00 GMT", now), 0s);
    EXPECT_EQ(parse_retry_after("Mon, 10 Mar 2025 99:00:00 GMT", now), std::nullopt);
    EXPECT_EQ(parse_retry_after("Sun, 01 Jan 2190 00:00:00 GMT", now), std::nullopt);  // over 1e9 s
}

TEST(RetryAfter, Milliseconds) {
    struct Case { const char* value; std::optional<Duration> want; };
    const Case cases[] = {
        {"0", 0ms}, {"250", 250ms}, {"12.5", 12500us}, {" 1000 ", 1s}, {"0.001", 1us},
        {"-5", std::nullopt}, {"", std::nullopt}, {"5ms", std::nullopt}, {"1e3", std::nullopt},
        {"1000000000000", 1'000'000'000s}, {"1000000000001", std::nullopt},
    };
    for (const auto& c : cases) EXPECT_EQ(parse_retry_after_ms(c.value), c.want) << c.value;
}
