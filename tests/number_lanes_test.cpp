#include "cardsync/number_lanes.hpp"

#include <gtest/gtest.h>

#include <map>

using namespace cardsync;

namespace {

ContactUpdate row(std::uint64_t line, std::string number, std::optional<std::string> first,
                  std::optional<std::string> last = std::nullopt, std::optional<std::string> image = std::nullopt) {
    return ContactUpdate{line, std::move(number), CardFields{std::move(first), std::move(last), std::move(image)}};
}

using Lines = std::vector<std::uint64_t>;

}  // namespace

TEST(MergeFields, LaterPresentFieldsWin) {
    struct Case { CardFields earlier, later, want; };
    const Case cases[] = {
        {{"Ann", "Lee", std::nullopt}, {"Bea", std::nullopt, std::nullopt}, {"Bea", "Lee", std::nullopt}},
        {{"Ann", std::nullopt, std::nullopt}, {std::nullopt, std::nullopt, "https://x/p.png"}, {"Ann", std::nullopt, "https://x/p.png"}},
        {{"Ann", "Lee", "https://a"}, {"Bea", "Kim", "https://b"}, {"Bea", "Kim", "https://b"}},
        {{"Ann", "Lee", "https://a"}, {}, {"Ann", "Lee", "https://a"}},
        {{}, {std::nullopt, "", std::nullopt}, {std::nullopt, "", std::nullopt}},  // an empty string is present
    };
    for (const auto& c : cases) {
        CardFields merged = c.earlier;
        merge_fields(merged, c.later);
        EXPECT_EQ(merged, c.want);
    }
}

TEST(Lanes, IdleNumbersRunAtOnce) {
    Lanes lanes;
    auto a = lanes.admit(row(2, "+1", "Ann"));
    auto b = lanes.admit(row(3, "+2", "Bob"));
    ASSERT_TRUE(a && b);
    EXPECT_EQ(a->number, "+1");
    EXPECT_EQ(a->lines, Lines{2});
    EXPECT_EQ(a->fields.first_name, "Ann");
    EXPECT_EQ(lanes.busy(), 2u);
    EXPECT_EQ(lanes.rows(), 2u);
    EXPECT_EQ(lanes.waiting(), 0u);
    EXPECT_FALSE(lanes.complete("+1"));
    EXPECT_FALSE(lanes.complete("+2"));
    EXPECT_TRUE(lanes.empty());
    EXPECT_EQ(lanes.rows(), 0u);
}

TEST(Lanes, RowsBehindInFlightWorkAreCoalescedInOrder) {
    Lanes lanes;
    auto first = lanes.admit(row(2, "+1", "Ann", "Lee"));
    ASSERT_TRUE(first);
    EXPECT_FALSE(lanes.admit(row(3, "+1", "Bea")));
    EXPECT_TRUE(lanes.admit(row(4, "+2", "Other")));  // another number is not held up
    EXPECT_FALSE(lanes.admit(row(5, "+1", std::nullopt, "Kim", "https://x/k.png")));
    EXPECT_FALSE(lanes.admit(row(6, "+1", "Cat")));
    EXPECT_EQ(lanes.busy(), 2u);
    EXPECT_EQ(lanes.waiting(), 1u);
    EXPECT_EQ(lanes.rows(), 5u);

    auto merged = lanes.complete("+1");
    ASSERT_TRUE(merged);
    EXPECT_EQ(merged->number, "+1");
    EXPECT_EQ(merged->lines, (Lines{3, 5, 6}));
    EXPECT_EQ(merged->fields, (CardFields{"Cat", "Kim", "https://x/k.png"}));
    EXPECT_EQ(lanes.waiting(), 0u);
    EXPECT_EQ(lanes.rows(), 4u);  // 3 merged rows in flight + the other number's row

    // While the merged work is in flight, new rows queue again behind it.
    EXPECT_FALSE(lanes.admit(row(9, "+1", "Dee")));
    EXPECT_EQ(lanes.rows(), 5u);
    auto again = lanes.complete("+1");
    ASSERT_TRUE(again);
    EXPECT_EQ(again->lines, Lines{9});
    EXPECT_EQ(lanes.rows(), 2u);
    EXPECT_FALSE(lanes.complete("+1"));
    EXPECT_FALSE(lanes.complete("+2"));
    EXPECT_EQ(lanes.rows(), 0u);
    EXPECT_TRUE(lanes.empty());
}

TEST(Lanes, CompletingAnUnknownNumberChangesNothing) {
    Lanes lanes;
    EXPECT_FALSE(lanes.complete("+9"));
    ASSERT_TRUE(lanes.admit(row(2, "+1", "Ann")));
    EXPECT_FALSE(lanes.complete("+9"));
    EXPECT_EQ(lanes.busy(), 1u);
    EXPECT_EQ(lanes.rows(), 1u);
}

// Simulated engine: rows for a few numbers, completions in an arbitrary order. For each number,
// the sent work never overlaps, every line is sent exactly once, and lines go out in input order.
TEST(Lanes, EveryLineOnceAndInOrderPerNumber) {
    Lanes lanes;
    std::vector<LaneWork> in_flight;
    std::map<std::string, Lines> sent;
    std::map<std::string, int> running;
    std::map<std::string, std::string> last_admitted, last_sent;  // first_name: the latest must win
    std::size_t sends = 0;
    auto start = [&](LaneWork w) {
        EXPECT_EQ(running[w.number]++, 0) << w.number << " ran twice at once";
        auto& lines = sent[w.number];
        lines.insert(lines.end(), w.lines.begin(), w.lines.end());
        last_sent[w.number] = *w.fields.first_name;
        ++sends;
        in_flight.push_back(std::move(w));
    };
    unsigned seed = 12345;
    auto next = [&] { seed = seed * 1103515245 + 12345; return (seed >> 16) & 0x7fff; };
    std::uint64_t line = 2;
    for (int step = 0; step < 5000; ++step) {
        if (next() % 3 != 0 || in_flight.empty()) {
            std::string number = "+1";
            number += std::to_string(next() % 7);
            std::string name = "n";
            name += std::to_string(line);
            last_admitted[number] = name;
            if (auto w = lanes.admit(row(line, number, name))) start(std::move(*w));
            ++line;
        } else {
            const std::size_t pick = next() % in_flight.size();
            LaneWork done = std::move(in_flight[pick]);
            in_flight.erase(in_flight.begin() + static_cast<std::ptrdiff_t>(pick));
            --running[done.number];
            if (auto w = lanes.complete(done.number)) start(std::move(*w));
        }
    }
    while (!in_flight.empty()) {
        LaneWork done = std::move(in_flight.back());
        in_flight.pop_back();
        --running[done.number];
        if (auto w = lanes.complete(done.number)) start(std::move(*w));
    }
    EXPECT_TRUE(lanes.empty());
    EXPECT_EQ(lanes.rows(), 0u);
    std::size_t total = 0;
    for (const auto& [number, lines] : sent) {
        EXPECT_TRUE(std::is_sorted(lines.begin(), lines.end())) << number;
        total += lines.size();
    }
    EXPECT_EQ(total, line - 2);
    EXPECT_EQ(last_sent, last_admitted);
    EXPECT_LT(sends, total);  // rows were coalesced
}
