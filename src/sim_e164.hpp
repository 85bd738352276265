#pragma once
// Temporary E.164 check for the simulator until cardsync::is_e164 (src/validate.cpp) lands on main:
// '+', then 2 to 15 digits, the first 1-9 (the contract in include/cardsync/validate.hpp).
#include <string_view>

namespace cardsync::detail {

inline bool sim_is_e164(std::string_view s) noexcept {
    if (s.size() < 3 || s.size() > 16 || s[0] != '+' || s[1] < '1' || s[1] > '9') return false;
    for (std::size_t i = 2; i < s.size(); ++i)
        if (s[i] < '0' || s[i] > '9') return false;
    return true;
}

}  // namespace cardsync::detail
