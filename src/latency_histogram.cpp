#include "cardsync/latency_histogram.hpp"

#include <algorithm>
#include <bit>
#include <cmath>

namespace cardsync {

namespace {
constexpr std::uint64_t sub_buckets = std::uint64_t{1} << LatencyHistogram::sub_bucket_bits;

std::uint64_t saturating_add(std::uint64_t a, std::uint64_t b) noexcept {
    return a + b < a ? ~std::uint64_t{0} : a + b;
}
}  // namespace

std::size_t LatencyHistogram::bucket_of(std::uint64_t us) noexcept {
    us = std::min(us, highest_trackable);
    if (us < sub_buckets) return static_cast<std::size_t>(us);
    // [2^msb, 2^(msb+1)) is split into 64 sub-buckets of width 2^(msb-6).
    const int shift = std::bit_width(us) - 1 - sub_bucket_bits;
    return static_cast<std::size_t>(sub_buckets * (static_cast<std::uint64_t>(shift) + 1) + ((us >> shift) - sub_buckets));
}

std::uint64_t LatencyHistogram::bucket_low(std::size_t index) noexcept {
    if (index < sub_buckets) return index;
    const std::uint64_t shift = index / sub_buckets - 1;
    return (sub_buckets + index % sub_buckets) << shift;
}

std::uint64_t LatencyHistogram::bucket_high(std::size_t index) noexcept {
    if (index < sub_buckets) return index;
    const std::uint64_t shift = index / sub_buckets - 1;
    return bucket_low(index) + (std::uint64_t{1} << shift) - 1;
}

void LatencyHistogram::record(std::uint64_t us) noexcept {
    ++counts_[bucket_of(us)];
    ++count_;
    min_ = std::min(min_, us);
    max_ = std::max(max_, us);
    sum_ = saturating_add(sum_, us);
}

void LatencyHistogram::record(Duration d) noexcept {
    const auto us = std::chrono::duration_cast<std::chrono::microseconds>(d).count();
    record(static_cast<std::uint64_t>(std::max<decltype(us)>(us, 0)));
}

void LatencyHistogram::merge(const LatencyHistogram& other) noexcept {
    if (other.count_ == 0) return;
    for (std::size_t i = 0; i < bucket_count; ++i) counts_[i] += other.counts_[i];
    count_ += other.count_;
    min_ = std::min(min_, other.min_);
    max_ = std::max(max_, other.max_);
    sum_ = saturating_add(sum_, other.sum_);
}

void LatencyHistogram::record_in_bucket(std::uint64_t us, std::uint64_t n) noexcept {
    if (n == 0) return;
    const std::size_t b = bucket_of(us);
    counts_[b] += n;
    count_ += n;
    min_ = std::min(min_, bucket_low(b));
    max_ = std::max(max_, b == bucket_count - 1 ? std::max(us, bucket_high(b)) : bucket_high(b));
    const std::uint64_t total = n > ~std::uint64_t{0} / std::max<std::uint64_t>(us, 1) ? ~std::uint64_t{0} : us * n;
    sum_ = saturating_add(sum_, total);
}

void LatencyHistogram::set_exact(std::uint64_t min, std::uint64_t max, std::uint64_t sum) noexcept {
    if (count_ == 0) return;
    min_ = min;
    max_ = max;
    sum_ = sum;
}

void LatencyHistogram::reset() noexcept { *this = LatencyHistogram{}; }

double LatencyHistogram::mean() const noexcept {
    return count_ ? static_cast<double>(sum_) / static_cast<double>(count_) : 0.0;
}

std::uint64_t LatencyHistogram::percentile(double p) const noexcept {
    if (count_ == 0) return 0;
    p = std::clamp(std::isnan(p) ? 0.0 : p, 0.0, 100.0);
    // The rank of the value wanted; the epsilon keeps 0.29 x 100 from rounding up to 30.
    const double exact = p / 100.0 * static_cast<double>(count_);
    const auto rank = std::max<std::uint64_t>(1, static_cast<std::uint64_t>(std::ceil(exact - 1e-9)));
    std::uint64_t seen = 0;
    for (std::size_t i = 0; i < bucket_count; ++i) {
        seen += counts_[i];
        if (seen >= rank) {
            if (i == bucket_count - 1) return max_;  // the top bucket also holds untrackable values
            return std::clamp(bucket_high(i), min_, max_);
        }
    }
    return max_;
}

}  // namespace cardsync
