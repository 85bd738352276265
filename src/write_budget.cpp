#include "cardsync/write_budget.hpp"

#include <algorithm>

namespace cardsync {

WriteBudget::WriteBudget(int calls, Clock::duration window) : calls_(calls), window_(window) {}

std::optional<WriteBudget::Clock::duration> WriteBudget::wait_needed(std::string_view number, Clock::time_point now) {
    if (calls_ <= 0) return std::nullopt;
    auto it = calls_by_number_.find(number);
    if (it == calls_by_number_.end()) return std::nullopt;
    auto& times = it->second;  // ascending
    const auto horizon = now - window_;
    times.erase(times.begin(), std::find_if(times.begin(), times.end(), [&](auto t) { return t > horizon; }));
    if (static_cast<int>(times.size()) < calls_) return std::nullopt;
    // The call that must leave the window before another fits.
    return times[times.size() - static_cast<std::size_t>(calls_)] + window_ - now;
}

void WriteBudget::record(std::string_view number, Clock::time_point now) {
    if (calls_ <= 0) return;
    if (calls_by_number_.size() >= sweep_at_) sweep(now);
    auto it = calls_by_number_.find(number);
    if (it == calls_by_number_.end()) it = calls_by_number_.emplace(std::string(number), std::vector<Clock::time_point>{}).first;
    auto& times = it->second;
    times.push_back(now);
    if (times.size() > static_cast<std::size_t>(calls_)) times.erase(times.begin());  // only the last `calls_` matter
}

void WriteBudget::sweep(Clock::time_point now) {
    const auto horizon = now - window_;
    std::erase_if(calls_by_number_, [&](const auto& entry) { return entry.second.empty() || entry.second.back() <= horizon; });
    sweep_at_ = std::max<std::size_t>(1024, calls_by_number_.size() * 2);
}

}  // namespace cardsync
