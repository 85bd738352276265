#include "cardsync/token_bucket.hpp"

#include <algorithm>
#include <cmath>

namespace cardsync {

namespace {
// Slack for floating-point rounding: a wait computed by time_until() must make try_take() succeed.
constexpr double epsilon = 1e-9;
}  // namespace

TokenBucket::TokenBucket(double rate, double burst, TimePoint now) noexcept
    : rate_(rate > 0 ? rate : 0), burst_(std::max(burst, 1.0)), tokens_(burst_), last_(now) {}

void TokenBucket::refill(TimePoint now) noexcept {
    if (now <= last_) return;  // a stale `now` never adds tokens
    tokens_ = std::min(burst_, tokens_ + to_seconds(now - last_) * rate_);
    last_ = now;
}

double TokenBucket::available(TimePoint now) const noexcept {
    if (unlimited()) return burst_;
    if (now <= last_) return tokens_;
    return std::min(burst_, tokens_ + to_seconds(now - last_) * rate_);
}

bool TokenBucket::try_take(TimePoint now, double n) noexcept {
    if (unlimited()) return true;
    if (n > burst_) return false;
    refill(now);
    if (tokens_ + epsilon * std::max(1.0, n) < n) return false;
    tokens_ -= n;
    return true;
}

Duration TokenBucket::time_until(TimePoint now, double n) const noexcept {
    if (unlimited()) return Duration::zero();
    if (n > burst_) return Duration::max();
    const double missing = n - available(now);
    if (missing <= epsilon * std::max(1.0, n)) return Duration::zero();
    const double ns = std::ceil(missing / rate_ * 1e9);
    return ns >= 9.2e18 ? Duration::max() : Duration(static_cast<Duration::rep>(ns));
}

void TokenBucket::set_rate(double rate, TimePoint now) noexcept {
    rate = rate > 0 ? rate : 0;
    if (rate == rate_) return;
    if (unlimited()) {
        tokens_ = burst_;
        last_ = now;
    } else {
        refill(now);  // what accrued at the old rate is kept
    }
    rate_ = rate;
}

AdaptiveRate::AdaptiveRate(double configured, Options options) noexcept
    : configured_(configured > 0 ? configured : 0), options_(options), ceiling_(configured_) {}

double AdaptiveRate::on_throttle(TimePoint now, double measured) noexcept {
    const double before = rate(now);
    if (current_ > 0) last_step_ = now;  // this second is not clean
    if (ever_throttled_ && now - last_decrease_ < options_.cooldown) return before;

    double base = before;  // 0 = unlimited
    if (measured > 0 && (base == 0 || measured < base)) base = measured;
    if (configured_ == 0 && measured > 0) ceiling_ = std::max(ceiling_, measured);
    current_ = std::max(options_.floor, base * options_.decrease);
    if (configured_ > 0) current_ = std::min(current_, configured_);
    last_decrease_ = now;
    last_step_ = now;
    ever_throttled_ = true;
    return current_;
}

double AdaptiveRate::rate(TimePoint now) noexcept {
    if (current_ <= 0) return configured_;
    if (now > last_step_) {
        const auto steps = (now - last_step_) / std::chrono::seconds(1);
        if (steps > 0) {
            // An unlimited run throttled without a measurement has no known ceiling: climb by the floor.
            const double step = options_.recovery > 0 ? options_.recovery
                                : ceiling_ > 0        ? ceiling_ * 0.05
                                                      : options_.floor;
            current_ += static_cast<double>(steps) * step;
            last_step_ += steps * std::chrono::seconds(1);
            if (ceiling_ > 0 && current_ >= ceiling_) current_ = 0;  // recovered
        }
    }
    return current_ > 0 ? current_ : configured_;
}

}  // namespace cardsync
