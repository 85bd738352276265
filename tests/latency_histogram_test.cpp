#include "cardsync/latency_histogram.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

using namespace cardsync;
using namespace std::chrono_literals;

static_assert(LatencyHistogram::bucket_count == 1728);
static_assert(sizeof(LatencyHistogram) < 14 * 1024);

TEST(LatencyHistogram, BucketsCoverEveryValueWithinOneSixtyFourth) {
    std::vector<std::uint64_t> values;
    for (std::uint64_t v = 0; v < 70'000; ++v) values.push_back(v);
    for (int k = 16; k < 32; ++k)
        for (std::uint64_t d : {0ull, 1ull, 12345ull}) {
            values.push_back((std::uint64_t{1} << k) - 1 - d);
            values.push_back((std::uint64_t{1} << k) + d);
        }
    values.push_back(LatencyHistogram::highest_trackable);
    std::size_t previous = 0;
    std::sort(values.begin(), values.end());
    for (std::uint64_t v : values) {
        const std::size_t i = LatencyHistogram::bucket_of(v);
        ASSERT_LT(i, LatencyHistogram::bucket_count) << v;
        ASSERT_LE(LatencyHistogram::bucket_low(i), v) << v;
        ASSERT_GE(LatencyHistogram::bucket_high(i), v) << v;
        ASSERT_GE(i, previous) << v;  // monotonic
        previous = i;
        if (v < 128) {
            ASSERT_EQ(LatencyHistogram::bucket_low(i), LatencyHistogram::bucket_high(i)) << v;  // exact
        } else {
            const double width = static_cast<double>(LatencyHistogram::bucket_high(i) - LatencyHistogram::bucket_low(i) + 1);
            ASSERT_LE(width / static_cast<double>(LatencyHistogram::bucket_low(i)), 1.0 / 64) << v;
        }
    }
    EXPECT_EQ(LatencyHistogram::bucket_of(LatencyHistogram::highest_trackable), LatencyHistogram::bucket_count - 1);
    EXPECT_EQ(LatencyHistogram::bucket_high(LatencyHistogram::bucket_count - 1), LatencyHistogram::highest_trackable);
    // Consecutive buckets tile the range without gaps.
    for (std::size_t i = 1; i < LatencyHistogram::bucket_count; ++i)
        ASSERT_EQ(LatencyHistogram::bucket_low(i), LatencyHistogram::bucket_high(i - 1) + 1) << i;
}

TEST(LatencyHistogram, EmptyIsAllZero) {
    LatencyHistogram h;
    EXPECT_EQ(h.count(), 0u);
    EXPECT_EQ(h.min(), 0u);
    EXPECT_EQ(h.max(), 0u);
    EXPECT_EQ(h.mean(), 0.0);
    EXPECT_EQ(h.percentile(50), 0u);
}

TEST(LatencyHistogram, SmallValuesAreExact) {
    LatencyHistogram h;
    for (std::uint64_t v = 1; v <= 100; ++v) h.record(v);
    struct Case { double p; std::uint64_t want; };
    const Case cases[] = {{0, 1}, {1, 1}, {10, 10}, {50, 50}, {90, 90}, {99, 99}, {99.5, 100}, {100, 100}, {29, 29}, {57, 57}};
    for (const auto& c : cases) EXPECT_EQ(h.percentile(c.p), c.want) << c.p;
    EXPECT_DOUBLE_EQ(h.mean(), 50.5);
    EXPECT_EQ(h.min(), 1u);
    EXPECT_EQ(h.max(), 100u);
}

// Percentiles of known distributions against the exact sorted samples: never below the true
// value, and above it by at most the bucket width (1/64 of the value).
TEST(LatencyHistogram, PercentilesOfKnownDistributionsWithinBucketPrecision) {
    std::mt19937_64 random(2024);
    struct Distribution { const char* name; std::function<std::uint64_t()> draw; };
    std::uniform_int_distribution<std::uint64_t> uniform(1, 100'000);
    std::exponential_distribution<double> exponential(1.0 / 20'000);  // mean 20 ms
    std::lognormal_distribution<double> lognormal(std::log(50'000.0), 1.0);
    const Distribution distributions[] = {
        {"uniform 1us..100ms", [&] { return uniform(random); }},
        {"exponential mean 20ms", [&] { return static_cast<std::uint64_t>(exponential(random)) + 1; }},
        {"lognormal median 50ms", [&] { return static_cast<std::uint64_t>(lognormal(random)) + 1; }},
    };
    for (const auto& d : distributions) {
        LatencyHistogram h;
        std::vector<std::uint64_t> samples(100'000);
        double sum = 0;
        for (auto& s : samples) {
            s = d.draw();
            h.record(s);
            sum += static_cast<double>(s);
        }
        std::sort(samples.begin(), samples.end());
        for (double p : {0.0, 1.0, 25.0, 50.0, 75.0, 90.0, 99.0, 99.9, 99.99, 100.0}) {
            const std::size_t rank = std::max<std::size_t>(1, static_cast<std::size_t>(std::ceil(p / 100 * samples.size() - 1e-9)));
            const std::uint64_t exact = samples[rank - 1];
            const std::uint64_t got = h.percentile(p);
            EXPECT_GE(got, exact) << d.name << " p" << p;
            EXPECT_LE(static_cast<double>(got - exact), static_cast<double>(exact) / 64) << d.name << " p" << p;
        }
        EXPECT_EQ(h.min(), samples.front());
        EXPECT_EQ(h.max(), samples.back());
        EXPECT_NEAR(h.mean(), sum / samples.size(), 1e-6 * sum / samples.size());
        EXPECT_EQ(h.count(), samples.size());
    }
}

TEST(LatencyHistogram, MergeEqualsRecordingEverything) {
    LatencyHistogram a, b, all;
    std::mt19937_64 random(7);
    std::uniform_int_distribution<std::uint64_t> fast(50, 5'000), slow(100'000, 3'000'000);
    for (int i = 0; i < 10'000; ++i) {
        const auto x = fast(random), y = slow(random);
        a.record(x);
        b.record(y);
        all.record(x);
        all.record(y);
    }
    LatencyHistogram merged = a;
    merged.merge(b);
    merged.merge(LatencyHistogram{});  // merging an empty one changes nothing
    EXPECT_EQ(merged.count(), all.count());
    EXPECT_EQ(merged.min(), all.min());
    EXPECT_EQ(merged.max(), all.max());
    EXPECT_DOUBLE_EQ(merged.mean(), all.mean());
    for (std::size_t i = 0; i < LatencyHistogram::bucket_count; ++i) ASSERT_EQ(merged.bucket(i), all.bucket(i)) << i;
    for (double p : {50.0, 90.0, 99.0}) EXPECT_EQ(merged.percentile(p), all.percentile(p));
    EXPECT_LT(merged.percentile(49), 5'000u);  // half fast, half slow
    EXPECT_GT(merged.percentile(51), 100'000u);
    LatencyHistogram empty;
    empty.merge(a);
    EXPECT_EQ(empty.min(), a.min());
}

TEST(LatencyHistogram, DurationsAndOutOfRangeValues) {
    LatencyHistogram h;
    h.record(1500us);
    h.record(2ms + 999ns);   // truncated to 2000 us
    h.record(-5ms);          // negative: 0
    h.record(std::chrono::duration_cast<Duration>(10h));  // beyond ~71 minutes: top bucket, exact max
    EXPECT_EQ(h.count(), 4u);
    EXPECT_EQ(h.min(), 0u);
    EXPECT_EQ(h.max(), 36'000'000'000u);
    EXPECT_EQ(h.bucket(LatencyHistogram::bucket_count - 1), 1u);
    EXPECT_EQ(h.percentile(100), 36'000'000'000u);
    EXPECT_EQ(h.percentile(50), 1503u);  // 1500 lies in the bucket [1488, 1503]
    EXPECT_EQ(h.percentile(0), 0u);
    h.reset();
    EXPECT_EQ(h.count(), 0u);
    EXPECT_EQ(h.percentile(99), 0u);
}

TEST(LatencyHistogram, RebuiltFromBucketsGivesTheSamePercentiles) {
    std::mt19937_64 rng(7);
    std::lognormal_distribution<double> dist(9.0, 1.2);
    LatencyHistogram original;
    for (int i = 0; i < 5000; ++i) original.record(static_cast<std::uint64_t>(dist(rng)));
    LatencyHistogram rebuilt;
    for (std::size_t i = 0; i < LatencyHistogram::bucket_count; ++i)
        rebuilt.record_in_bucket(LatencyHistogram::bucket_low(i), original.bucket(i));
    EXPECT_EQ(rebuilt.count(), original.count());
    // Bucket bounds only: min and max within their buckets until the exact ones are put back.
    EXPECT_EQ(LatencyHistogram::bucket_of(rebuilt.min()), LatencyHistogram::bucket_of(original.min()));
    EXPECT_EQ(LatencyHistogram::bucket_of(rebuilt.max()), LatencyHistogram::bucket_of(original.max()));
    const auto sum = static_cast<std::uint64_t>(std::llround(original.mean() * static_cast<double>(original.count())));
    rebuilt.set_exact(original.min(), original.max(), sum);
    EXPECT_EQ(rebuilt.min(), original.min());
    EXPECT_EQ(rebuilt.max(), original.max());
    EXPECT_DOUBLE_EQ(rebuilt.mean(), original.mean());
    for (double p : {0.0, 1.0, 50.0, 90.0, 99.0, 99.9, 100.0}) EXPECT_EQ(rebuilt.percentile(p), original.percentile(p)) << p;
    for (std::size_t i = 0; i < LatencyHistogram::bucket_count; ++i) ASSERT_EQ(rebuilt.bucket(i), original.bucket(i)) << i;

    LatencyHistogram empty;
    empty.record_in_bucket(100, 0);
    empty.set_exact(1, 2, 3);
    EXPECT_EQ(empty.count(), 0u);
    EXPECT_EQ(empty.max(), 0u);
}
