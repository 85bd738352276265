#pragma once
// Time and randomness as the pure policy objects see them: both are injected, so tests run in
// microseconds with a fake clock and a fixed random value.

#include <chrono>
#include <cstdint>
#include <functional>

namespace cardsync {

/// The monotonic clock every policy object measures with; callers pass `now` explicitly.
using Clock = std::chrono::steady_clock;
/// A point on Clock (nanosecond resolution).
using TimePoint = Clock::time_point;
/// A span on Clock: signed 64-bit nanoseconds (about ±292 years).
using Duration = Clock::duration;

/// A source of uniform random numbers in [0, 1). Tests pass `[] { return 0.5; }`.
using Random = std::function<double()>;

/// Seconds (possibly fractional) as a Duration, rounded to the nanosecond. Saturates at
/// Duration::max(); NaN and negative values give zero.
Duration seconds_to_duration(double seconds) noexcept;

/// A Duration as fractional seconds.
inline double to_seconds(Duration d) noexcept { return std::chrono::duration<double>(d).count(); }

/// A deterministic Random (64-bit Mersenne Twister seeded with `seed`); copies share one state.
Random seeded_random(std::uint64_t seed);

/// A Random seeded from std::random_device, for real runs.
Random system_random();

}  // namespace cardsync
