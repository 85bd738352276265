#include "cardsync/clock.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>

using namespace cardsync;
using namespace std::chrono_literals;

TEST(SecondsToDuration, ConvertsAndSaturates) {
    struct Case { double seconds; Duration want; };
    const Case cases[] = {
        {0, 0ns}, {1, 1s}, {0.5, 500ms}, {1.25, 1250ms}, {1e-9, 1ns}, {0.4e-9, 0ns},
        {-1, 0ns}, {-0.0, 0ns}, {std::nan(""), 0ns},
        {1e12, Duration::max()}, {std::numeric_limits<double>::infinity(), Duration::max()},
        {9e9, Duration(9'000'000'000'000'000'000)},
    };
    for (const auto& c : cases) EXPECT_EQ(seconds_to_duration(c.seconds), c.want) << c.seconds;
}

TEST(SeededRandom, IsDeterministicUniformAndShared) {
    auto a = seeded_random(42), b = seeded_random(42);
    double sum = 0;
    for (int i = 0; i < 10000; ++i) {
        const double x = a();
        EXPECT_EQ(x, b());
        ASSERT_GE(x, 0.0);
        ASSERT_LT(x, 1.0);
        sum += x;
    }
    EXPECT_NEAR(sum / 10000, 0.5, 0.02);
    auto copy = a;  // copies draw from one sequence
    const double next = copy();
    EXPECT_NE(a(), next);
}
