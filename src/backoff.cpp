#include "cardsync/backoff.hpp"

#include <algorithm>
#include <cmath>

namespace cardsync {

Duration backoff_ceiling(const BackoffSchedule& schedule, int retry) noexcept {
    const Duration base = std::max(schedule.base, Duration::zero());
    const Duration cap = std::max(schedule.cap, Duration::zero());
    const int shift = std::max(retry, 1) - 1;
    // base << shift would overflow (or pass the cap) when base > cap >> shift.
    if (shift >= 63 || base.count() > (cap.count() >> shift)) return cap;
    return Duration(base.count() << shift);
}

Duration backoff_delay(const BackoffSchedule& schedule, int retry, double uniform) noexcept {
    if (!(uniform > 0)) return Duration::zero();  // also NaN
    const Duration ceiling = backoff_ceiling(schedule, retry);
    if (uniform >= 1) return ceiling;
    return Duration(static_cast<Duration::rep>(std::llround(uniform * static_cast<double>(ceiling.count()))));
}

}  // namespace cardsync
