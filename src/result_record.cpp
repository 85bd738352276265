#include "cardsync/result_record.hpp"

#include <array>

namespace cardsync {

namespace {
constexpr std::array<std::string_view, 6> outcome_names = {"updated", "invalid", "rejected",
                                                           "failed",  "skipped", "planned"};
}

std::string_view to_string(Outcome outcome) noexcept {
    const auto i = static_cast<std::size_t>(outcome);
    return i < outcome_names.size() ? outcome_names[i] : "unknown";
}

std::optional<Outcome> parse_outcome(std::string_view name) noexcept {
    for (std::size_t i = 0; i < outcome_names.size(); ++i)
        if (outcome_names[i] == name) return static_cast<Outcome>(i);
    return std::nullopt;
}

}  // namespace cardsync
