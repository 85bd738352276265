#include "cardsync/number_budget.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <random>
#include <string>
#include <vector>

using namespace cardsync;
using namespace std::chrono_literals;

namespace {
const TimePoint t0 = TimePoint{} + 1000h;
}

TEST(BudgetSpec, Parses) {
    struct Case { const char* text; std::optional<BudgetSpec> want; };
    const Case cases[] = {
        {"3/10m", BudgetSpec{3, 600s}}, {"3/600s", BudgetSpec{3, 600s}}, {"5/1h", BudgetSpec{5, 3600s}},
        {"3/600", BudgetSpec{3, 600s}}, {" 1/30s ", BudgetSpec{1, 30s}}, {"1000000/1s", BudgetSpec{1000000, 1s}},
        {"0", BudgetSpec{0, 600s}}, {"off", BudgetSpec{0, 600s}}, {"0/10m", BudgetSpec{0, 600s}},
        {"720/720h", BudgetSpec{720, 720h}},
        {"", std::nullopt}, {"3", std::nullopt}, {"3/", std::nullopt}, {"/10m", std::nullopt},
        {"3/0m", std::nullopt}, {"-3/10m", std::nullopt}, {"3/-10m", std::nullopt}, {"+3/10m", std::nullopt},
        {"3/10d", std::nullopt}, {"3/10 m", std::nullopt}, {"3.5/10m", std::nullopt}, {"3/1.5h", std::nullopt},
        {"1000001/1s", std::nullopt}, {"3/721h", std::nullopt}, {"3/99999999999999999999s", std::nullopt},
        {"three/10m", std::nullopt}, {"3/10m/2", std::nullopt},
    };
    for (const auto& c : cases) EXPECT_EQ(parse_budget(c.text), c.want) << '"' << c.text << '"';
    EXPECT_EQ(to_string(BudgetSpec{}), "3/600s");
    EXPECT_EQ(to_string(BudgetSpec{0, 600s}), "off");
    EXPECT_EQ(parse_budget(to_string(BudgetSpec{5, 3600s})), (BudgetSpec{5, 3600s}));
}

TEST(NumberBudget, SlidingWindowOfThreePerTenMinutes) {
    NumberBudget budget;  // 3 per 600 s
    const std::string a = "+15550000001";
    EXPECT_EQ(budget.when_allowed(a, t0), t0);
    budget.record_call(a, t0);
    budget.record_call(a, t0 + 10s);
    EXPECT_EQ(budget.when_allowed(a, t0 + 20s), t0 + 20s);  // third call still allowed
    budget.record_call(a, t0 + 20s);
    EXPECT_EQ(budget.when_allowed(a, t0 + 21s), t0 + 600s);  // the first call leaves the window
    EXPECT_EQ(budget.when_allowed(a, t0 + 600s), t0 + 600s);
    budget.record_call(a, t0 + 600s);
    EXPECT_EQ(budget.when_allowed(a, t0 + 600s), t0 + 610s);  // now the second one limits
    budget.record_call(a, t0 + 610s);
    EXPECT_EQ(budget.when_allowed(a, t0 + 611s), t0 + 620s);
    EXPECT_EQ(budget.when_allowed("+15550000002", t0 + 611s), t0 + 611s);  // numbers are independent
}

TEST(NumberBudget, TableOfSpecs) {
    struct Case { BudgetSpec spec; int calls_made; Duration spacing; Duration then; Duration want_wait; };
    const Case cases[] = {
        {{3, 600s}, 2, 1s, 2s, 0s},       {{3, 600s}, 3, 1s, 3s, 597s},
        {{1, 30s}, 1, 0s, 10s, 20s},      {{5, 3600s}, 5, 60s, 300s, 3300s},
        {{5, 3600s}, 4, 60s, 300s, 0s},   {{0, 600s}, 100, 0s, 0s, 0s},  // off: always allowed
    };
    for (const auto& c : cases) {
        NumberBudget budget(c.spec);
        for (int i = 0; i < c.calls_made; ++i) budget.record_call("+1555", t0 + i * c.spacing);
        EXPECT_EQ(budget.when_allowed("+1555", t0 + c.then) - (t0 + c.then), c.want_wait)
            << to_string(c.spec) << " after " << c.calls_made;
    }
}

TEST(NumberBudget, ServerWaitExtendsAndIsHonouredWhenOff) {
    NumberBudget budget;
    budget.record_call("+1", t0);
    budget.note_server_wait("+1", t0 + 900s);
    EXPECT_EQ(budget.when_allowed("+1", t0 + 1s), t0 + 900s);
    budget.note_server_wait("+1", t0 + 100s);  // an earlier wait does not shorten it
    EXPECT_EQ(budget.when_allowed("+1", t0 + 1s), t0 + 900s);

    NumberBudget off(BudgetSpec{0, 600s});
    off.record_call("+2", t0);
    EXPECT_EQ(off.tracked(), 0u);  // nothing remembered while off...
    off.note_server_wait("+2", t0 + 60s);
    EXPECT_EQ(off.when_allowed("+2", t0), t0 + 60s);  // ...but the server's word stands
    EXPECT_EQ(off.expire(t0 + 60s), 1u);
    EXPECT_EQ(off.when_allowed("+2", t0 + 30s), t0 + 30s);
}

TEST(NumberBudget, ExpireForgetsOnlyPassedNumbers) {
    NumberBudget budget(BudgetSpec{3, 600s});
    budget.record_call("+1", t0);
    budget.record_call("+1", t0 + 100s);
    budget.record_call("+2", t0 + 50s);
    budget.note_server_wait("+3", t0 + 1000s);
    EXPECT_EQ(budget.tracked(), 3u);
    EXPECT_EQ(budget.expire(t0 + 600s), 0u);   // +1 has a call at 100 s still in window
    EXPECT_EQ(budget.expire(t0 + 650s), 1u);   // +2 gone
    EXPECT_EQ(budget.tracked(), 2u);
    EXPECT_EQ(budget.when_allowed("+1", t0 + 650s), t0 + 650s);
    EXPECT_EQ(budget.expire(t0 + 700s), 1u);   // +1 gone
    EXPECT_EQ(budget.expire(t0 + 999s), 0u);   // +3 waits until 1000 s
    EXPECT_EQ(budget.when_allowed("+3", t0 + 999s), t0 + 1000s);
    EXPECT_EQ(budget.expire(t0 + 1000s), 1u);
    EXPECT_EQ(budget.tracked(), 0u);
}

TEST(NumberBudget, ManyDistinctNumbersStayBounded) {
    // 100 numbers a second for 10 minutes with a 1-minute window: only the last window's remain.
    NumberBudget budget(BudgetSpec{3, 60s});
    std::size_t most = 0;
    for (int i = 0; i < 60'000; ++i) {
        const TimePoint now = t0 + i * 10ms;
        budget.record_call("+1" + std::to_string(1'000'000'000 + i), now);
        most = std::max(most, budget.tracked());
    }
    EXPECT_LE(most, 6'001u);
    EXPECT_GE(most, 6'000u);
    const std::size_t left = budget.tracked();
    EXPECT_GE(left, 6'000u);
    EXPECT_EQ(budget.expire(t0 + 2h), left);
    EXPECT_EQ(budget.tracked(), 0u);
}

TEST(NumberBudget, StaleCallsKeepTheWindowOrdered) {
    NumberBudget budget(BudgetSpec{2, 100s});
    budget.record_call("+1", t0 + 50s);
    budget.record_call("+1", t0 + 10s);  // recorded late
    EXPECT_EQ(budget.when_allowed("+1", t0 + 60s), t0 + 110s);
    budget.record_call("+1", t0 + 120s);
    EXPECT_EQ(budget.when_allowed("+1", t0 + 121s), t0 + 150s);
}

TEST(NumberBudget, CapForgetsTheEarliestToExpireFirst) {
    // A fast run: every number within one window. The cap holds; the newest numbers stay exact.
    NumberBudget budget(BudgetSpec{1, 10min});
    budget.set_max_tracked(1'000);
    for (int i = 0; i < 5'000; ++i) budget.record_call("+1" + std::to_string(2'000'000'000 + i), t0 + i * 1ms);
    EXPECT_EQ(budget.tracked(), 1'000u);
    EXPECT_EQ(budget.evicted(), 4'000u);
    const TimePoint later = t0 + 6s;
    EXPECT_EQ(budget.when_allowed("+12000000000", later), later);             // forgotten: allowed (the server decides)
    EXPECT_EQ(budget.when_allowed("+12000004999", later), t0 + 4999ms + 10min);  // still paced
}

TEST(NumberBudget, DefaultCapHoldsOverALargeTable) {
    // At the default cap the table outgrows 2 MiB (its memory then comes on large pages where the
    // system gives them); growing, evicting and shrinking back must keep every answer exact.
    NumberBudget budget(BudgetSpec{1, 10min});  // one call: a number held is paced, one forgotten is not
    const auto number = [](int i) { return "+1" + std::to_string(2'000'000'000 + i); };
    for (int i = 0; i < 150'000; ++i) budget.record_call(number(i), t0 + i * 1ms);
    EXPECT_EQ(budget.tracked(), NumberBudget::default_max_tracked);
    EXPECT_EQ(budget.evicted(), 50'000u);
    const TimePoint later = t0 + 150s;
    EXPECT_EQ(budget.when_allowed(number(49'999), later), later);  // forgotten: the earliest went first
    EXPECT_EQ(budget.when_allowed(number(50'000), later), t0 + 50s + 10min);
    // A call at the cap evicts the earliest even for a number already held: then one is free.
    for (int i = 60'000; i < 150'000; i += 997) {
        budget.record_call(number(i), later);
        budget.record_call(number(i), later);
        EXPECT_EQ(budget.when_allowed(number(i), later), later + 10min) << i;
    }
    EXPECT_EQ(budget.evicted(), 50'001u);
    EXPECT_EQ(budget.tracked(), 99'999u);
    EXPECT_EQ(budget.when_allowed(number(50'000), later), later);
    EXPECT_EQ(budget.when_allowed(number(50'001), later), t0 + 50'001ms + 10min);
    EXPECT_EQ(budget.expire(later + 10min - 1ms), 99'999u - 91);  // all but the 91 called again
    EXPECT_EQ(budget.when_allowed(number(60'000), later), later + 10min);
    EXPECT_EQ(budget.expire(t0 + 1h), 91u);
    EXPECT_EQ(budget.tracked(), 0u);
}

TEST(NumberBudget, CapNeverForgetsANumberWithACallStillPendingElsewhere) {
    // Two calls of one number at the front of the queue: dropping its first entry must not free it.
    NumberBudget budget(BudgetSpec{2, 10min});
    budget.set_max_tracked(2);
    budget.record_call("+15550000001", t0);
    budget.record_call("+15550000001", t0 + 1ms);
    budget.record_call("+15550000002", t0 + 2ms);
    budget.record_call("+15550000003", t0 + 3ms);  // over the cap: +15550000001 goes (both its entries)
    EXPECT_EQ(budget.tracked(), 2u);
    EXPECT_EQ(budget.evicted(), 1u);
    EXPECT_EQ(budget.when_allowed("+15550000001", t0 + 4ms), t0 + 4ms);
    EXPECT_EQ(budget.expire(t0 + 1h), 2u);
}

TEST(NumberBudget, ANumberCalledOnceKeepsThatCallWhenCalledAgainOrToldToWait) {
    // A number with one call is held apart, as its key and that call's time; a wait or more calls
    // move it to the full table, and the first call must come along and keep limiting.
    NumberBudget budget(BudgetSpec{3, 100s});
    const std::string n = "+15550000001";
    budget.record_call(n, t0);
    EXPECT_EQ(budget.when_allowed(n, t0 + 1s), t0 + 1s);
    budget.note_server_wait(n, t0 + 50s);
    EXPECT_EQ(budget.when_allowed(n, t0 + 1s), t0 + 50s);
    budget.record_call(n, t0 + 1s);
    budget.record_call(n, t0 + 2s);
    EXPECT_EQ(budget.when_allowed(n, t0 + 60s), t0 + 100s);  // the first call's window
    EXPECT_EQ(budget.tracked(), 1u);
    EXPECT_EQ(budget.expire(t0 + 101s), 0u);  // the later calls are still in their window
    EXPECT_EQ(budget.expire(t0 + 102s), 1u);
    EXPECT_EQ(budget.tracked(), 0u);
}

TEST(NumberBudget, OtherStringsAreKeptExactlyBesideNumbers) {
    // Keys that are not E.164 numbers (no "+", a leading 0, 16 digits, spaces) are their own
    // numbers, never confused with one another or with the number they resemble.
    NumberBudget budget(BudgetSpec{1, 100s});
    const std::string keys[] = {"+15550000001", "15550000001", "+015550000001", "+1555000000100000",
                                "+1 5550000001", "", "+", "+999999999999999", "+9999999999999999"};
    for (std::size_t k = 0; k < std::size(keys); ++k) budget.record_call(keys[k], t0 + k * 1s);
    EXPECT_EQ(budget.tracked(), std::size(keys));
    for (std::size_t k = 0; k < std::size(keys); ++k)
        EXPECT_EQ(budget.when_allowed(keys[k], t0 + 20s), t0 + k * 1s + 100s) << '"' << keys[k] << '"';
    EXPECT_EQ(budget.when_allowed("+15550000002", t0 + 20s), t0 + 20s);
    EXPECT_EQ(budget.when_allowed("+1555000000", t0 + 20s), t0 + 20s);
    EXPECT_EQ(budget.expire(t0 + 102s), 3u);
    EXPECT_EQ(budget.when_allowed("15550000001", t0 + 102s), t0 + 102s);  // forgotten, then new again
    budget.record_call("15550000001", t0 + 103s);
    EXPECT_EQ(budget.when_allowed("15550000001", t0 + 104s), t0 + 203s);
    EXPECT_EQ(budget.when_allowed("+015550000001", t0 + 104s), t0 + 104s);
    EXPECT_EQ(budget.tracked(), std::size(keys) - 3);  // that call's expire() forgot the fourth key
    EXPECT_EQ(budget.expire(t0 + 1h), std::size(keys) - 3);
    EXPECT_EQ(budget.tracked(), 0u);
}

namespace {

// The budget's behaviour written plainly, to hold the fast one to: per number its last `calls`
// call times, the server's wait, and the moment it may be forgotten (its latest call's window end
// or its wait, whichever is later); the cap forgets the number with the earliest such moment.
class ReferenceBudget {
public:
    ReferenceBudget(BudgetSpec spec, std::size_t max_tracked) : spec_(spec), max_(max_tracked) {}

    TimePoint when_allowed(const std::string& number, TimePoint now) const {
        const auto it = numbers_.find(number);
        if (it == numbers_.end()) return now;
        TimePoint at = std::max(now, it->second.blocked_until);
        const auto limit = static_cast<std::size_t>(spec_.calls);
        const auto& calls = it->second.calls;
        if (spec_.enabled() && calls.size() >= limit) at = std::max(at, calls[calls.size() - limit] + spec_.window);
        return at;
    }
    void record_call(const std::string& number, TimePoint now) {
        expire(now);
        if (!spec_.enabled()) return;
        if (numbers_.size() >= max_) {
            auto oldest = numbers_.begin();
            for (auto it = numbers_.begin(); it != numbers_.end(); ++it)
                if (it->second.forget_at < oldest->second.forget_at) oldest = it;
            numbers_.erase(oldest);
            ++evicted_;
        }
        auto& n = numbers_[number];
        n.calls.insert(std::upper_bound(n.calls.begin(), n.calls.end(), now), now);
        if (n.calls.size() > static_cast<std::size_t>(spec_.calls)) n.calls.erase(n.calls.begin());
        n.forget_at = std::max(n.forget_at, now + spec_.window);
    }
    void note_server_wait(const std::string& number, TimePoint until) {
        auto& n = numbers_[number];
        n.blocked_until = std::max(n.blocked_until, until);
        n.forget_at = std::max(n.forget_at, until);
    }
    std::size_t expire(TimePoint now) {
        return std::erase_if(numbers_, [&](const auto& n) { return n.second.forget_at <= now; });
    }
    std::size_t tracked() const { return numbers_.size(); }
    std::size_t evicted() const { return evicted_; }

private:
    struct Number {
        std::vector<TimePoint> calls;
        TimePoint blocked_until{};
        TimePoint forget_at{};
    };
    BudgetSpec spec_;
    std::size_t max_;
    std::size_t evicted_ = 0;
    std::map<std::string, Number> numbers_;
};

}  // namespace

TEST(NumberBudget, BehavesAsThePlainModelUnderRandomUse) {
    // Random calls (some stamped late), server waits, expiries and a small cap, over numbers and
    // other strings; every answer compared with the plain model. Times are all distinct (calls at
    // 1 ns mod 4, waits at 3 ns mod 4), so which number the cap forgets is never a tie.
    const std::vector<std::string> names = {
        "+15550000001", "+15550000002", "+15550000003", "+447700900123", "+4915112345678", "+1",
        "+999999999999999", "+33612345678", "+61412345678", "+81312345678", "15550000001", "+015550000001",
        "+1555000000100000", "abc", "", "+1 5550000001"};
    const BudgetSpec specs[] = {{3, 100s}, {1, 40s}, {5, 100s}, {2, 1000s}, {0, 100s}};
    for (const BudgetSpec& spec : specs) {
        for (const std::size_t cap : {std::size_t{4}, std::size_t{1000}}) {
            std::mt19937 random(static_cast<unsigned>(spec.calls * 7919 + cap));
            NumberBudget budget(spec);
            budget.set_max_tracked(cap);
            ReferenceBudget model(spec, cap);
            Duration clock{};
            for (int k = 0; k < 4'000; ++k) {
                clock += std::chrono::seconds(random() % 8);
                const std::string& name = names[random() % names.size()];
                const Duration unique = std::chrono::nanoseconds(4 * k);
                const TimePoint now = t0 + clock + unique + 1ns;
                const TimePoint stale = now - std::chrono::seconds(random() % 60);
                const std::string at = to_string(spec) + " cap " + std::to_string(cap) + " step " + std::to_string(k);
                budget.prefetch(name);  // a hint only: it must change no answer
                switch (random() % 8) {
                    case 0: case 1: case 2: budget.record_call(name, now); model.record_call(name, now); break;
                    case 3: budget.record_call(name, stale); model.record_call(name, stale); break;
                    case 4: {
                        const TimePoint until = t0 + clock + std::chrono::seconds(random() % 300) + unique + 3ns;
                        budget.note_server_wait(name, until);
                        model.note_server_wait(name, until);
                        break;
                    }
                    case 5: ASSERT_EQ(budget.expire(now), model.expire(now)) << at; break;
                    default: break;
                }
                for (const std::string& n : names) ASSERT_EQ(budget.when_allowed(n, now), model.when_allowed(n, now)) << at << ' ' << n;
                ASSERT_EQ(budget.tracked(), model.tracked()) << at;
                ASSERT_EQ(budget.evicted(), model.evicted()) << at;
            }
            EXPECT_EQ(budget.expire(t0 + clock + 10'000s), model.expire(t0 + clock + 10'000s));
            EXPECT_EQ(budget.tracked(), 0u);
        }
    }
}
