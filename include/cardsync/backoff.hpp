#pragma once
// Full-jitter exponential backoff (AWS "Exponential Backoff and Jitter", Envoy's
// JitteredExponentialBackOffStrategy): the wait before retry k (1-based) is
//     uniform[0,1) x min(cap, base x 2^(k-1))
// Two schedules, chosen by the retry policy:
//   transient (5xx, transport failures): base 0.5 s, cap 8 s  -> ceilings 0.5, 1, 2, 4, 8, 8, ... s
//   throttle  (429 / 503 without a hint): base 5 s, cap 120 s -> ceilings 5, 10, 20, 40, 80, 120, ... s
//   (the API says repeated attempts extend its write limit, so a throttled row waits long).

#include "cardsync/clock.hpp"

namespace cardsync {

/// The two numbers of an exponential schedule.
struct BackoffSchedule {
    Duration base;  ///< ceiling of the first retry's wait
    Duration cap;   ///< largest ceiling
};

/// 5xx and transport failures.
inline constexpr BackoffSchedule transient_backoff{std::chrono::milliseconds(500), std::chrono::seconds(8)};
/// 429 and 503 when the server gave no wait.
inline constexpr BackoffSchedule throttle_backoff{std::chrono::seconds(5), std::chrono::seconds(120)};

/// The ceiling min(cap, base x 2^(retry-1)) for retry number `retry` (1-based; values below 1 are
/// taken as 1). Overflow-safe for any retry number.
Duration backoff_ceiling(const BackoffSchedule& schedule, int retry) noexcept;

/// The jittered wait: `uniform` x backoff_ceiling(). `uniform` is clamped to [0, 1], so a test may
/// pass 1.0 to get the ceiling exactly.
Duration backoff_delay(const BackoffSchedule& schedule, int retry, double uniform) noexcept;

/// A stateful sequence of waits for one retrying operation, drawing from an injected Random.
class Backoff {
public:
    Backoff(BackoffSchedule schedule, Random random) : schedule_(schedule), random_(std::move(random)) {}

    /// The wait before the next retry; advances the retry count.
    Duration next() { return backoff_delay(schedule_, ++retries_, random_()); }
    /// Starts over (after a success).
    void reset() noexcept { retries_ = 0; }
    /// Retries handed out since the last reset.
    int retries() const noexcept { return retries_; }

private:
    BackoffSchedule schedule_;
    Random random_;
    int retries_ = 0;
};

}  // namespace cardsync
