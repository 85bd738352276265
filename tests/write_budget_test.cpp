// WriteBudget: the sliding per-number window, with times chosen by the test.
#include "cardsync/write_budget.hpp"

#include <gtest/gtest.h>

namespace cardsync {
namespace {

using namespace std::chrono_literals;
using Clock = WriteBudget::Clock;
const Clock::time_point t0 = Clock::time_point{} + 1h;

TEST(WriteBudget, AllowsCallsUpToTheBudgetThenSaysHowLongToWait) {
    WriteBudget budget(3, 10s);
    struct Step {
        Clock::duration at;
        std::optional<Clock::duration> wait;  // expected answer of wait_needed; record when allowed
    } steps[] = {
        {0s, std::nullopt}, {2s, std::nullopt}, {3s, std::nullopt},
        {4s, 6s},                  // the call at 0 s leaves at 10 s
        {9999ms, 1ms},
        {10s, std::nullopt},       // exactly window later: the 0 s call is out
        {10s, 2s},                 // now 2 s, 3 s, 10 s are in: the 2 s call leaves at 12 s
        {12s, std::nullopt},
    };
    for (const auto& s : steps) {
        const auto wait = budget.wait_needed("+14155550101", t0 + s.at);
        EXPECT_EQ(wait, s.wait) << "at " << std::chrono::duration<double>(s.at).count() << " s";
        if (!wait) budget.record("+14155550101", t0 + s.at);
    }
}

TEST(WriteBudget, NumbersAreIndependentAndZeroDisables) {
    WriteBudget budget(1, 600s);
    budget.record("+14155550101", t0);
    EXPECT_TRUE(budget.wait_needed("+14155550101", t0 + 1s));
    EXPECT_FALSE(budget.wait_needed("+14155550102", t0 + 1s));
    budget.clear();
    EXPECT_FALSE(budget.wait_needed("+14155550101", t0 + 1s));

    WriteBudget off(0, 600s);
    for (int i = 0; i < 10; ++i) {
        EXPECT_FALSE(off.wait_needed("+14155550101", t0));
        off.record("+14155550101", t0);
    }
    EXPECT_EQ(off.tracked_numbers(), 0u);
}

TEST(WriteBudget, ForgetsNumbersWhoseCallsLeftTheWindow) {
    WriteBudget budget(3, 1s);
    for (int i = 0; i < 5000; ++i) budget.record("+1415555" + std::to_string(1000 + i), t0 + std::chrono::milliseconds(i));
    EXPECT_LT(budget.tracked_numbers(), 3000u) << "swept as it grew";
    EXPECT_TRUE(budget.wait_needed("+14155555999", t0 + 4999ms) == std::nullopt);
}

}  // namespace
}  // namespace cardsync
