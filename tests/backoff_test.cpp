#include "cardsync/backoff.hpp"

#include <gtest/gtest.h>

#include <climits>
#include <cmath>
#include <vector>

using namespace cardsync;
using namespace std::chrono_literals;

TEST(Backoff, CeilingsDoubleUpToTheCap) {
    struct Case { BackoffSchedule schedule; int retry; Duration want; };
    const Case cases[] = {
        {transient_backoff, 1, 500ms}, {transient_backoff, 2, 1s}, {transient_backoff, 3, 2s},
        {transient_backoff, 4, 4s},    {transient_backoff, 5, 8s}, {transient_backoff, 6, 8s},
        {throttle_backoff, 1, 5s},     {throttle_backoff, 2, 10s}, {throttle_backoff, 3, 20s},
        {throttle_backoff, 5, 80s},    {throttle_backoff, 6, 120s}, {throttle_backoff, 7, 120s},
        // retry numbers below 1 are the first retry; huge ones never overflow
        {transient_backoff, 0, 500ms}, {transient_backoff, -7, 500ms},
        {transient_backoff, 62, 8s},   {transient_backoff, 63, 8s}, {transient_backoff, 64, 8s},
        {transient_backoff, 1000, 8s}, {throttle_backoff, INT_MAX, 120s},
        {{1ns, Duration::max()}, 63, Duration(Duration::rep{1} << 62)},
        {{1ns, Duration::max()}, 64, Duration::max()},
        {{3s, 1s}, 1, 1s},  // base above the cap
    };
    for (const auto& c : cases)
        EXPECT_EQ(backoff_ceiling(c.schedule, c.retry), c.want)
            << "base " << c.schedule.base.count() << " retry " << c.retry;
}

TEST(Backoff, FullJitterWithFixedRandom) {
    struct Case { BackoffSchedule schedule; int retry; double uniform; Duration want; };
    const Case cases[] = {
        {transient_backoff, 1, 0.0, 0ms},   {transient_backoff, 1, 0.5, 250ms}, {transient_backoff, 1, 1.0, 500ms},
        {transient_backoff, 2, 0.0, 0ms},   {transient_backoff, 2, 0.5, 500ms}, {transient_backoff, 2, 1.0, 1s},
        {transient_backoff, 9, 0.5, 4s},    {transient_backoff, 9, 1.0, 8s},
        {throttle_backoff, 1, 0.0, 0s},     {throttle_backoff, 1, 0.5, 2500ms}, {throttle_backoff, 1, 1.0, 5s},
        {throttle_backoff, 3, 0.5, 10s},    {throttle_backoff, 40, 1.0, 120s},  {throttle_backoff, 40, 0.25, 30s},
        // out-of-range random values are clamped
        {transient_backoff, 1, -0.5, 0ms},  {transient_backoff, 1, 7.0, 500ms}, {transient_backoff, 1, std::nan(""), 0ms},
    };
    for (const auto& c : cases)
        EXPECT_EQ(backoff_delay(c.schedule, c.retry, c.uniform), c.want) << c.retry << " " << c.uniform;
}

TEST(Backoff, SequenceDrawsFromTheInjectedRandom) {
    std::vector<double> draws{1.0, 0.5, 0.0, 1.0};
    std::size_t next = 0;
    Backoff backoff(transient_backoff, [&] { return draws[next++ % draws.size()]; });
    EXPECT_EQ(backoff.next(), 500ms);
    EXPECT_EQ(backoff.next(), 500ms);  // 0.5 x 1 s
    EXPECT_EQ(backoff.next(), 0ms);
    EXPECT_EQ(backoff.next(), 4s);
    EXPECT_EQ(backoff.retries(), 4);
    backoff.reset();
    EXPECT_EQ(backoff.retries(), 0);
    EXPECT_EQ(backoff.next(), 500ms);
}

TEST(Backoff, JitterSpreadsOverTheWholeRange) {
    Backoff backoff(throttle_backoff, seeded_random(7));
    Duration lo = Duration::max(), hi = Duration::zero();
    for (int i = 0; i < 2000; ++i) {
        backoff.reset();
        const Duration d = backoff.next();
        ASSERT_GE(d, 0s);
        ASSERT_LE(d, 5s);
        lo = std::min(lo, d);
        hi = std::max(hi, d);
    }
    EXPECT_LT(lo, 50ms);
    EXPECT_GT(hi, 4950ms);
}
