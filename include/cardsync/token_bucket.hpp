#pragma once
// The send-rate limiter: a token bucket that answers "may I send now?" and "when is the next
// token?" for an injected `now` (the async shell waits on a timer). Pure: no clock reads, no I/O.
//
// Tokens refill continuously at `rate` per second (fractional refill, kept as a double together
// with the exact nanosecond time of the last refill, so there is no drift over long runs) and never
// exceed `burst`. The bucket starts full. rate 0 means unlimited: every take succeeds.
//
// AdaptiveRate steers the rate after throttling answers (AIMD, AWS adaptive mode's beta = 0.7):
//     bucket.set_rate(adaptive.on_throttle(now, measured), now);  // on 429 / 503
//     bucket.set_rate(adaptive.rate(now), now);                   // before each take (cheap)

#include "cardsync/clock.hpp"

namespace cardsync {

class TokenBucket {
public:
    /// `rate` tokens per second (0 or negative: unlimited); `burst` the most tokens held (values
    /// below 1 are treated as 1). The bucket is full at `now`.
    TokenBucket(double rate, double burst, TimePoint now) noexcept;

    /// Takes `n` tokens if they are available at `now`; false (and nothing taken) otherwise.
    /// A request for more than burst() tokens never succeeds (unless unlimited).
    bool try_take(TimePoint now, double n = 1) noexcept;

    /// How long from `now` until `n` tokens are available: zero when they are now (or unlimited),
    /// Duration::max() when n > burst(). Rounded up, so try_take(now + time_until(now, n), n) succeeds.
    Duration time_until(TimePoint now, double n = 1) const noexcept;

    /// Changes the refill rate from `now` on (0 = unlimited); tokens accrued so far at the old rate
    /// are kept. Setting the current rate again is a no-op. Going from unlimited to limited starts full.
    void set_rate(double rate, TimePoint now) noexcept;

    /// Tokens available at `now` (burst() when unlimited).
    double available(TimePoint now) const noexcept;

    double rate() const noexcept { return rate_; }    ///< tokens per second; 0 = unlimited
    double burst() const noexcept { return burst_; }  ///< capacity
    bool unlimited() const noexcept { return rate_ <= 0; }

private:
    void refill(TimePoint now) noexcept;

    double rate_;
    double burst_;
    double tokens_;
    TimePoint last_;  ///< when tokens_ was last brought up to date
};

/// Additive-increase / multiplicative-decrease of the whole run's send rate.
/// On a throttling answer (429, 503) the rate becomes `decrease` x the current rate (or x the
/// measured send rate when that is lower, or when the run is unlimited), at most once per
/// `cooldown` — the answers to requests already in flight count as one signal. After each full
/// second without a throttling answer the rate grows by `recovery` (default: 5 % of the ceiling)
/// up to the ceiling: the configured rate, or, when the run is unlimited, the highest measured
/// rate at which it was throttled; reaching that ceiling makes an unlimited run unlimited again.
/// The rate never drops below `floor`. An unlimited run throttled with no measured rate drops to
/// `floor` and climbs by `floor` per clean second (pass `measured`).
class AdaptiveRate {
public:
    struct Options {
        double decrease = 0.7;        ///< multiplicative factor on throttling (AWS adaptive beta)
        double recovery = 0;          ///< tokens/s added per clean second; 0 = 5 % of the ceiling
        double floor = 0.2;           ///< lowest rate, per second (one request per 5 s)
        Duration cooldown = std::chrono::seconds(1);  ///< minimum time between two decreases
    };

    /// `configured` is the user's rate (0 = unlimited).
    explicit AdaptiveRate(double configured) noexcept : AdaptiveRate(configured, Options{}) {}
    AdaptiveRate(double configured, Options options) noexcept;

    /// Records a throttling answer at `now`; `measured` is the run's recent send rate per second
    /// (0 if unknown). Returns the new rate (0 = unlimited).
    double on_throttle(TimePoint now, double measured = 0) noexcept;

    /// Applies the recovery due up to `now` and returns the current rate (0 = unlimited).
    double rate(TimePoint now) noexcept;

    double configured() const noexcept { return configured_; }
    /// True while the rate is below the ceiling because of throttling.
    bool slowed() const noexcept { return current_ > 0; }

private:
    double configured_;
    Options options_;
    double ceiling_ = 0;   ///< what recovery climbs back to
    double current_ = 0;   ///< the slowed rate; 0 = not slowed (configured rate applies)
    TimePoint last_decrease_{};
    TimePoint last_step_{};  ///< start of the current clean second
    bool ever_throttled_ = false;
};

}  // namespace cardsync
