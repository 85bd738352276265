#include "cardsync/token_bucket.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <vector>

using namespace cardsync;
using namespace std::chrono_literals;

namespace {
const TimePoint t0 = TimePoint{} + 1000h;  // an arbitrary origin
}

TEST(TokenBucket, StartsFullAndRefusesWhenEmpty) {
    TokenBucket bucket(1, 5, t0);
    for (int i = 0; i < 5; ++i) EXPECT_TRUE(bucket.try_take(t0)) << i;
    EXPECT_FALSE(bucket.try_take(t0));
    EXPECT_EQ(bucket.time_until(t0), 1s);
    EXPECT_EQ(bucket.time_until(t0, 2), 2s);
    EXPECT_FALSE(bucket.try_take(t0 + 999ms));
    EXPECT_TRUE(bucket.try_take(t0 + 1s));
}

TEST(TokenBucket, FractionalRefillAndTakes) {
    TokenBucket bucket(4, 1, t0);
    ASSERT_TRUE(bucket.try_take(t0));
    EXPECT_DOUBLE_EQ(bucket.available(t0 + 125ms), 0.5);
    EXPECT_TRUE(bucket.try_take(t0 + 125ms, 0.5));
    EXPECT_FALSE(bucket.try_take(t0 + 125ms, 0.5));
    EXPECT_EQ(bucket.time_until(t0 + 125ms, 0.25), 62500us);
}

TEST(TokenBucket, NeverExceedsBurstAfterIdle) {
    TokenBucket bucket(100, 3, t0);
    for (int i = 0; i < 3; ++i) ASSERT_TRUE(bucket.try_take(t0));
    EXPECT_DOUBLE_EQ(bucket.available(t0 + 1h), 3);
    for (int i = 0; i < 3; ++i) EXPECT_TRUE(bucket.try_take(t0 + 1h)) << i;
    EXPECT_FALSE(bucket.try_take(t0 + 1h));
}

TEST(TokenBucket, MoreThanBurstNeverSucceeds) {
    TokenBucket bucket(10, 2, t0);
    EXPECT_FALSE(bucket.try_take(t0 + 1h, 2.5));
    EXPECT_EQ(bucket.time_until(t0, 2.5), Duration::max());
    EXPECT_DOUBLE_EQ(bucket.available(t0), 2);  // the failed take took nothing
}

TEST(TokenBucket, BurstBelowOneIsOne) {
    TokenBucket bucket(10, 0, t0);
    EXPECT_DOUBLE_EQ(bucket.burst(), 1);
    EXPECT_TRUE(bucket.try_take(t0));
    EXPECT_FALSE(bucket.try_take(t0));
}

TEST(TokenBucket, ZeroRateIsUnlimited) {
    for (double rate : {0.0, -5.0}) {
        TokenBucket bucket(rate, 1, t0);
        EXPECT_TRUE(bucket.unlimited());
        for (int i = 0; i < 1000; ++i) ASSERT_TRUE(bucket.try_take(t0));
        EXPECT_EQ(bucket.time_until(t0, 1e9), 0ns);
    }
}

TEST(TokenBucket, StaleNowAddsNothing) {
    TokenBucket bucket(1, 1, t0);
    ASSERT_TRUE(bucket.try_take(t0));
    EXPECT_FALSE(bucket.try_take(t0 - 10s));
    EXPECT_EQ(bucket.time_until(t0 - 10s), 1s);  // measured from what the bucket knows
    EXPECT_TRUE(bucket.try_take(t0 + 1s));
}

TEST(TokenBucket, SetRateKeepsAccruedTokens) {
    TokenBucket bucket(10, 1, t0);
    ASSERT_TRUE(bucket.try_take(t0));
    bucket.set_rate(1, t0 + 50ms);  // 0.5 token accrued at 10/s
    EXPECT_DOUBLE_EQ(bucket.available(t0 + 50ms), 0.5);
    EXPECT_EQ(bucket.time_until(t0 + 50ms), 500ms);
    bucket.set_rate(0, t0 + 60ms);
    EXPECT_TRUE(bucket.unlimited());
    EXPECT_TRUE(bucket.try_take(t0 + 60ms));
    bucket.set_rate(5, t0 + 70ms);  // limited again: starts full
    EXPECT_TRUE(bucket.try_take(t0 + 70ms));
    EXPECT_FALSE(bucket.try_take(t0 + 70ms));
    EXPECT_EQ(bucket.time_until(t0 + 70ms), 200ms);
    bucket.set_rate(5, t0 + 80ms);  // same rate: no change
    EXPECT_EQ(bucket.time_until(t0 + 80ms), 190ms);
}

// A sender that waits exactly time_until() and takes, over a simulated 10 s.
TEST(TokenBucket, PacedRateIsAccurateOver10Seconds) {
    for (double rate : {0.5, 1.0, 3.0, 7.0, 100.0, 333.0, 1000.0, 12345.0, 100000.0}) {
        for (double burst : {1.0, 10.0}) {
            TokenBucket bucket(rate, burst, t0);
            TimePoint t = t0;
            long taken = 0;
            for (;;) {
                t += bucket.time_until(t);
                if (t > t0 + 10s) break;
                ASSERT_TRUE(bucket.try_take(t)) << rate;
                ++taken;
            }
            const double expected = burst + rate * 10;
            EXPECT_LE(std::abs(taken - expected), std::max(1.0, expected * 0.01))
                << "rate " << rate << " burst " << burst << " took " << taken;
        }
    }
}

// A sender that polls at a fixed or irregular tick and takes all it may: no drift, and in any
// interval [a, b] it never takes more than burst + rate x (b - a).
TEST(TokenBucket, PolledRateIsAccurateAndBurstBounded) {
    struct Case { double rate; double burst; Duration tick; };
    const Case cases[] = {
        {100, 3, 1ms}, {100, 3, 7300us}, {1000, 25, 1ms}, {1000, 25, 13ms}, {50, 2, 3ms}, {3, 1, 1ms}, {5000, 100, 10ms},
    };
    for (const auto& c : cases) {
        TokenBucket bucket(c.rate, c.burst, t0);
        std::vector<TimePoint> takes;
        for (TimePoint t = t0; t <= t0 + 10s; t += c.tick)
            while (bucket.try_take(t)) takes.push_back(t);
        const double expected = c.burst + c.rate * 10;
        EXPECT_LE(std::abs(static_cast<double>(takes.size()) - expected), std::max(1.0, expected * 0.01))
            << c.rate << " " << c.burst << " took " << takes.size();
        // takes in [i, j] = j - i + 1 <= burst + rate (t_j - t_i)  <=>  (j + 1 - rate t_j) - (i - rate t_i) <= burst
        double lowest = 1e300;
        for (std::size_t j = 0; j < takes.size(); ++j) {
            const double at = c.rate * to_seconds(takes[j] - t0);
            lowest = std::min(lowest, static_cast<double>(j) - at);
            ASSERT_LE(static_cast<double>(j + 1) - at - lowest, c.burst + 1e-6) << c.rate << " at take " << j;
        }
    }
}

TEST(AdaptiveRate, DecreasesOncePerCooldownAndRecoversAdditively) {
    AdaptiveRate adaptive(100);
    EXPECT_DOUBLE_EQ(adaptive.rate(t0), 100);
    EXPECT_FALSE(adaptive.slowed());
    EXPECT_DOUBLE_EQ(adaptive.on_throttle(t0), 70);
    EXPECT_DOUBLE_EQ(adaptive.on_throttle(t0 + 300ms), 70);  // same burst of answers: counted once
    EXPECT_TRUE(adaptive.slowed());
    // The throttle at 0.3 s restarts the clean second; +5/s (5 % of 100) per clean second.
    EXPECT_DOUBLE_EQ(adaptive.rate(t0 + 1299ms), 70);
    EXPECT_DOUBLE_EQ(adaptive.rate(t0 + 1300ms), 75);
    EXPECT_DOUBLE_EQ(adaptive.rate(t0 + 3300ms), 85);
    EXPECT_DOUBLE_EQ(adaptive.on_throttle(t0 + 3300ms), 59.5);
    EXPECT_DOUBLE_EQ(adaptive.rate(t0 + 3300ms + 8s), 99.5);
    EXPECT_DOUBLE_EQ(adaptive.rate(t0 + 3300ms + 9s), 100);  // capped at the configured rate
    EXPECT_FALSE(adaptive.slowed());
}

TEST(AdaptiveRate, UsesTheMeasuredRateWhenLower) {
    AdaptiveRate adaptive(100);
    EXPECT_DOUBLE_EQ(adaptive.on_throttle(t0, 40), 28);
    AdaptiveRate other(100);
    EXPECT_DOUBLE_EQ(other.on_throttle(t0, 400), 70);
}

TEST(AdaptiveRate, NeverBelowTheFloor) {
    AdaptiveRate adaptive(10, {.decrease = 0.5, .recovery = 0, .floor = 1, .cooldown = 1s});
    double rate = 10;
    for (int i = 0; i < 20; ++i) rate = adaptive.on_throttle(t0 + i * 1s);
    EXPECT_DOUBLE_EQ(rate, 1);
}

TEST(AdaptiveRate, UnlimitedRunSlowsToTheMeasuredRateAndReturnsToUnlimited) {
    AdaptiveRate adaptive(0);
    EXPECT_DOUBLE_EQ(adaptive.rate(t0), 0);
    EXPECT_DOUBLE_EQ(adaptive.on_throttle(t0, 200), 140);
    EXPECT_DOUBLE_EQ(adaptive.rate(t0 + 5s), 190);  // +10/s: 5 % of the 200/s ceiling
    EXPECT_DOUBLE_EQ(adaptive.rate(t0 + 6s), 0);    // back at the ceiling: unlimited again
    EXPECT_FALSE(adaptive.slowed());
}

TEST(AdaptiveRate, CustomRecoveryStep) {
    AdaptiveRate adaptive(10, {.decrease = 0.7, .recovery = 1, .floor = 0.2, .cooldown = 1s});
    EXPECT_DOUBLE_EQ(adaptive.on_throttle(t0), 7);
    EXPECT_DOUBLE_EQ(adaptive.rate(t0 + 2s), 9);
}

TEST(AdaptiveRate, SteersABucket) {
    AdaptiveRate adaptive(10);
    TokenBucket bucket(adaptive.rate(t0), 1, t0);
    ASSERT_TRUE(bucket.try_take(t0));
    bucket.set_rate(adaptive.on_throttle(t0, 10), t0);
    EXPECT_EQ(bucket.time_until(t0), std::chrono::nanoseconds(142857143));  // 1/7 s
}
