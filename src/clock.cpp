#include "cardsync/clock.hpp"

#include <cmath>
#include <memory>
#include <random>

namespace cardsync {

Duration seconds_to_duration(double seconds) noexcept {
    if (!(seconds > 0)) return Duration::zero();  // also NaN
    const double ns = std::round(seconds * 1e9);
    // The largest double below 2^63 is safe to convert; anything above saturates.
    if (ns >= 9.2e18) return Duration::max();
    return Duration(static_cast<Duration::rep>(ns));
}

Random seeded_random(std::uint64_t seed) {
    auto engine = std::make_shared<std::mt19937_64>(seed);
    return [engine] { return std::generate_canonical<double, 53>(*engine); };
}

Random system_random() {
    std::random_device device;
    return seeded_random((std::uint64_t{device()} << 32) ^ device());
}

}  // namespace cardsync
