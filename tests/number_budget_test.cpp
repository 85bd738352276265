#include "cardsync/number_budget.hpp"

#include <gtest/gtest.h>

#include <string>

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
