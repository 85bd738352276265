#pragma once
// The per-number write budget of the contact-card API: POST and PATCH on one phone number share
// `calls` per sliding `window`; beyond it the API answers 429 with Retry-After. Pure: the caller
// passes the time, so tests need no clock.

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace cardsync {

class WriteBudget {
public:
    using Clock = std::chrono::steady_clock;

    /// `calls` <= 0 disables the budget (every call is allowed).
    WriteBudget(int calls, Clock::duration window);

    /// nullopt when a call on `number` at `now` is within the budget; otherwise how long until the
    /// oldest counted call leaves the window (> 0).
    std::optional<Clock::duration> wait_needed(std::string_view number, Clock::time_point now);
    /// Counts a call on `number` at `now` (call only for calls that were let through).
    void record(std::string_view number, Clock::time_point now);
    /// Forgets every call.
    void clear() noexcept { calls_by_number_.clear(); }
    /// Numbers with calls still inside the window (or not yet swept).
    std::size_t tracked_numbers() const noexcept { return calls_by_number_.size(); }

private:
    struct Hash {
        using is_transparent = void;
        std::size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
    };
    void sweep(Clock::time_point now);  // drops numbers whose calls all left the window
    int calls_;
    Clock::duration window_;
    std::size_t sweep_at_ = 1024;       // sweep when the map grows past this
    std::unordered_map<std::string, std::vector<Clock::time_point>, Hash, std::equal_to<>> calls_by_number_;
};

}  // namespace cardsync
