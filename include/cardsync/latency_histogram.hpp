#pragma once
// A bounded, mergeable latency histogram (log-linear, like HdrHistogram at about two significant
// digits). Values are microseconds. Values below 64 are counted exactly; above, each power of two
// [2^k, 2^(k+1)) is split into 64 linear sub-buckets, so a value is known within 1/64 (1.6 %) of
// itself. Trackable up to 2^32 - 1 us (about 71 minutes); larger values count in the top bucket
// (max() stays exact). Fixed size: 1,728 counters (14 KB), no allocation.

#include "cardsync/clock.hpp"

#include <array>
#include <cstddef>
#include <cstdint>

namespace cardsync {

class LatencyHistogram {
public:
    static constexpr int sub_bucket_bits = 6;                        ///< 64 sub-buckets per power of two
    static constexpr std::uint64_t highest_trackable = (std::uint64_t{1} << 32) - 1;  ///< in us
    static constexpr std::size_t bucket_count = 64 + (32 - sub_bucket_bits) * 64;    ///< 1,728

    /// Records one value in microseconds.
    void record(std::uint64_t us) noexcept;
    /// Records a Duration (truncated to microseconds; negative as 0).
    void record(Duration d) noexcept;
    /// Adds every value recorded in `other`.
    void merge(const LatencyHistogram& other) noexcept;
    /// Adds `n` values known only to lie in the bucket holding `us` (rebuilding a histogram from
    /// exported buckets). min, max and mean then follow the bucket's bounds and `us`: set_exact()
    /// puts back exact ones when they are known.
    void record_in_bucket(std::uint64_t us, std::uint64_t n) noexcept;
    /// Replaces min, max and the sum of the values with figures known from elsewhere (an exported
    /// summary); ignored when empty.
    void set_exact(std::uint64_t min, std::uint64_t max, std::uint64_t sum) noexcept;
    /// Forgets everything.
    void reset() noexcept;

    /// The value at percentile `p` (0..100): the largest value of the bucket holding the
    /// ceil(p% x count)-th smallest value, clamped to [min(), max()]. 0 when empty.
    std::uint64_t percentile(double p) const noexcept;

    std::uint64_t count() const noexcept { return count_; }
    std::uint64_t min() const noexcept { return count_ ? min_ : 0; }  ///< exact; 0 when empty
    std::uint64_t max() const noexcept { return max_; }               ///< exact; 0 when empty
    double mean() const noexcept;                                     ///< exact; 0 when empty

    /// Bucket index of a value, and the smallest / largest values of a bucket (for tests, export).
    static std::size_t bucket_of(std::uint64_t us) noexcept;
    static std::uint64_t bucket_low(std::size_t index) noexcept;
    static std::uint64_t bucket_high(std::size_t index) noexcept;
    /// Count in bucket `index`.
    std::uint64_t bucket(std::size_t index) const noexcept { return counts_[index]; }

private:
    std::array<std::uint64_t, bucket_count> counts_{};
    std::uint64_t count_ = 0;
    std::uint64_t min_ = ~std::uint64_t{0};
    std::uint64_t max_ = 0;
    std::uint64_t sum_ = 0;  ///< exact up to ~5e9 hour-long values; saturates beyond
};

}  // namespace cardsync
