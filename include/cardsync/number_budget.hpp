#pragma once
// The per-number write budget the client knows of: the API allows 3 POST+PATCH calls per phone
// number per 10 minutes and answers 429 beyond it. Pacing each number's calls here saves those
// 429s, which would otherwise waste attempts. Pure: times are passed in.
//
// Memory: for each number called within the last window the budget holds its last `calls` call
// times, plus one expiry-queue entry per call and per server wait, until they pass. Numbers whose
// window and wait have passed are forgotten by expire(), which record_call() also runs. A fast run
// over millions of distinct numbers could still hold millions in one window, so at most
// `max_tracked` numbers are kept: beyond it the earliest to expire are forgotten first (see
// evict_oldest), and a forgotten number that comes back too soon meets the server's 429 and its
// Retry-After instead. A number with one call in its window and no server wait (nearly every
// number of a bulk run) costs 16 bytes in a flat table kept at most 80 % full (21 bytes a number
// at the default cap; shrunk when a tenth full); one called again or told to wait moves to a
// second table at 48 bytes (63 at the cap); every call and wait also holds a 16-byte expiry entry.
// About 42 bytes a number in a fast run over distinct numbers at the cap, 85 when every number is
// called more than once (calls > 3: every number is in the second table, its times in a vector).

#include "cardsync/clock.hpp"

#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace cardsync {

/// A budget of `calls` per `window`; calls == 0 means no budget (off).
struct BudgetSpec {
    int calls = 3;
    Duration window = std::chrono::minutes(10);

    bool enabled() const noexcept { return calls > 0; }
    friend bool operator==(const BudgetSpec&, const BudgetSpec&) = default;
};

/// Parses "3/10m", "3/600s", "5/1h", "3/600" (seconds), or "0" / "off" (no budget).
/// nullopt for garbage, signs, zero windows, windows over 30 days, or more than 1,000,000 calls.
std::optional<BudgetSpec> parse_budget(std::string_view text);

/// "3/600s", or "off".
std::string to_string(const BudgetSpec& spec);

class NumberBudget {
public:
    static constexpr std::size_t default_max_tracked = 100'000;

    explicit NumberBudget(BudgetSpec spec = {});
    ~NumberBudget();
    NumberBudget(NumberBudget&&) noexcept;
    NumberBudget& operator=(NumberBudget&&) noexcept;

    /// When the next call for `number` may be made: `now` if it may be made now, otherwise the
    /// later of the moment the oldest of its last `calls` calls leaves the window and any wait the
    /// server announced.
    TimePoint when_allowed(std::string_view number, TimePoint now) const;

    /// Asks for the memory when_allowed(number) will read: called a few rows ahead, it takes a
    /// cache miss off the row's path. Changes nothing.
    void prefetch(std::string_view number) const noexcept;
    /// Records a call (an attempt sent) for `number` at `now`.
    void record_call(std::string_view number, TimePoint now);

    /// The server said (429 + Retry-After) that `number` may not be called before `until`.
    /// Honoured even when the budget is off.
    void note_server_wait(std::string_view number, TimePoint until);

    /// Forgets the numbers whose window and server wait have passed at `now`; returns how many.
    std::size_t expire(TimePoint now);

    /// Numbers currently remembered.
    std::size_t tracked() const noexcept;
    /// Numbers forgotten before their window passed, to stay within max_tracked.
    std::size_t evicted() const noexcept { return evicted_; }
    /// Caps the numbers remembered (at least 1).
    void set_max_tracked(std::size_t n) noexcept { max_tracked_ = n ? n : 1; }

    const BudgetSpec& spec() const noexcept;

private:
    void evict_oldest();

    struct Impl;
    std::unique_ptr<Impl> impl_;
    std::size_t max_tracked_ = default_max_tracked;
    std::size_t evicted_ = 0;
};

}  // namespace cardsync
