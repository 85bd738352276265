#include "cardsync/number_lanes.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <string>
#include <vector>

using namespace cardsync;

namespace {

ContactUpdate row(std::uint64_t line, std::string number, std::optional<std::string> first,
                  std::optional<std::string> last = std::nullopt, std::optional<std::string> image = std::nullopt) {
    return ContactUpdate{line, std::move(number), CardFields{std::move(first), std::move(last), std::move(image)}};
}

using Lines = LineList;

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

TEST(Lanes, ANumberCompletedThenAdmittedAgainRunsAtOnce) {
    Lanes lanes;
    ASSERT_TRUE(lanes.admit(row(2, "+15551234567", "Ann")));
    EXPECT_FALSE(lanes.complete("+15551234567"));
    EXPECT_TRUE(lanes.empty());
    auto again = lanes.admit(row(3, "+15551234567", "Bea"));
    ASSERT_TRUE(again);
    EXPECT_EQ(again->lines, Lines{3});
    EXPECT_EQ(again->fields.first_name, "Bea");

    // The same after merged work: the lane empties only when its last work completes.
    EXPECT_FALSE(lanes.admit(row(4, "+15551234567", "Cat")));
    EXPECT_FALSE(lanes.admit(row(5, "+15551234567", std::nullopt, "Lee")));
    auto merged = lanes.complete("+15551234567");
    ASSERT_TRUE(merged);
    EXPECT_EQ(merged->lines, (Lines{4, 5}));
    EXPECT_EQ(merged->fields, (CardFields{"Cat", "Lee", std::nullopt}));
    EXPECT_FALSE(lanes.complete("+15551234567"));
    EXPECT_TRUE(lanes.empty());
    EXPECT_EQ(lanes.waiting(), 0u);
    auto third = lanes.admit(row(6, "+15551234567", "Dee"));
    ASSERT_TRUE(third);
    EXPECT_EQ(third->lines, Lines{6});
    EXPECT_EQ(third->fields, (CardFields{"Dee", std::nullopt, std::nullopt}));  // nothing left from before
    EXPECT_EQ(lanes.rows(), 1u);
}

// Strings that are not E.164 numbers have lanes of their own, distinct from each other and from
// the numbers they resemble, and are forgotten when idle like any number.
TEST(Lanes, StringsThatAreNotNumbersHaveLanesOfTheirOwn) {
    const std::vector<std::string> keys = {
        "", "+", "+0", "+01", "1", "+1 ", " +1", "abc", "+1234567890123456" /* 16 digits */, "+12a", "+1",
        "+123456789012345" /* 15 digits: E.164 */};
    for (int round = 0; round < 2; ++round) {
        Lanes lanes;
        std::uint64_t line = 2;
        for (const auto& k : keys) {
            auto w = lanes.admit(row(line++, k, "A" + k));
            ASSERT_TRUE(w) << "'" << k << "' was held up by another key";
            EXPECT_EQ(w->number, k);
        }
        for (const auto& k : keys) EXPECT_FALSE(lanes.admit(row(line++, k, "B" + k))) << k;
        EXPECT_EQ(lanes.busy(), keys.size());
        EXPECT_EQ(lanes.waiting(), keys.size());
        EXPECT_FALSE(lanes.complete("nobody"));
        EXPECT_FALSE(lanes.complete("+10"));
        EXPECT_EQ(lanes.rows(), 2 * keys.size());
        // complete in reverse (round 1) or in order (round 0); each hands back its own queued row
        for (std::size_t n = 0; n < keys.size(); ++n) {
            const std::string& k = round == 0 ? keys[n] : keys[keys.size() - 1 - n];
            auto next = lanes.complete(k);
            ASSERT_TRUE(next) << k;
            EXPECT_EQ(next->number, k);
            EXPECT_EQ(next->fields.first_name, "B" + k);
        }
        EXPECT_EQ(lanes.waiting(), 0u);
        for (const auto& k : keys) EXPECT_FALSE(lanes.complete(k)) << k;
        EXPECT_TRUE(lanes.empty());
        EXPECT_EQ(lanes.rows(), 0u);
        for (const auto& k : keys) EXPECT_FALSE(lanes.complete(k)) << k << ": idle, completes nothing";
        auto back = lanes.admit(row(line++, "abc", "C"));
        ASSERT_TRUE(back);
        EXPECT_EQ(back->fields.first_name, "C");
    }
}

namespace {

// The lanes' former implementation, in the plainest terms: the model the table must match.
struct ModelLanes {
    struct Lane {
        std::size_t in_flight_rows = 0;
        std::optional<LaneWork> queued;
    };
    std::map<std::string, Lane> lanes;
    std::size_t waiting = 0, rows = 0;

    std::optional<LaneWork> admit(const ContactUpdate& u) {
        ++rows;
        auto it = lanes.find(u.phone_number);
        if (it == lanes.end()) {
            lanes[u.phone_number].in_flight_rows = 1;
            return LaneWork{u.phone_number, u.fields, {u.line}};
        }
        auto& q = it->second.queued;
        if (!q) {
            q = LaneWork{u.phone_number, u.fields, {u.line}};
            ++waiting;
        } else {
            merge_fields(q->fields, u.fields);
            q->lines.push_back(u.line);
        }
        return std::nullopt;
    }
    std::optional<LaneWork> complete(const std::string& number) {
        auto it = lanes.find(number);
        if (it == lanes.end()) return std::nullopt;
        rows -= it->second.in_flight_rows;
        if (!it->second.queued) {
            lanes.erase(it);
            return std::nullopt;
        }
        std::optional<LaneWork> next = std::move(it->second.queued);
        it->second.queued.reset();
        --waiting;
        it->second.in_flight_rows = next->lines.size();
        return next;
    }
};

void expect_same(const std::optional<LaneWork>& got, const std::optional<LaneWork>& want, const std::string& what) {
    ASSERT_EQ(got.has_value(), want.has_value()) << what;
    if (!got) return;
    EXPECT_EQ(got->number, want->number) << what;
    EXPECT_EQ(got->fields, want->fields) << what;
    EXPECT_EQ(std::vector<std::uint64_t>(got->lines.begin(), got->lines.end()),
              std::vector<std::uint64_t>(want->lines.begin(), want->lines.end()))
        << what;
}

}  // namespace

// Thousands of numbers busy at once and then none, over and over: the table grows, and erases
// from long probe runs, while every answer matches the model's. The numbers differ only in their
// low digits (as real ones do), and some strings are not E.164 numbers at all.
TEST(Lanes, ManyNumbersMatchAModel) {
    std::vector<std::string> numbers;
    for (std::uint64_t i = 0; i < 3000; ++i) numbers.push_back("+1" + std::to_string(2'015'550'000 + i * 1024));
    for (std::uint64_t i = 0; i < 40; ++i) numbers.push_back("+4915" + std::to_string(i));  // short ones
    for (std::uint64_t i = 0; i < 40; ++i) numbers.push_back("not-e164-" + std::to_string(i));
    numbers.insert(numbers.end(), {"", "+", "+0", "+01", "+1234567890123456", "15551234567"});

    Lanes lanes;
    ModelLanes model;
    std::vector<std::string> busy;  // numbers the model has in flight, for picking completions
    std::uint64_t state = 99, line = 2;
    auto next = [&] {
        state = state * 6364136223846793005ull + 1442695040888963407ull;
        return state >> 33;
    };
    std::size_t peak = 0, merged = 0;
    for (int phase = 0; phase < 8; ++phase) {
        const bool filling = phase % 2 == 0;
        for (int op = 0; op < 5000; ++op) {
            const auto r = next();
            if (busy.empty() || r % 10 < (filling ? 7u : 2u)) {
                // a few numbers get repeats soon after each other, so rows queue and merge
                const std::string& number = numbers[r % 16 == 0 ? (r >> 8) % 50 : (r >> 8) % numbers.size()];
                ContactUpdate u{line++, number, CardFields{}};
                if (r & 0x100000) u.fields.first_name = "f" + std::to_string(line);
                if (r & 0x200000) u.fields.last_name = "l" + std::to_string(line);
                if (!(r & 0x300000)) u.fields.image_url = "https://x/" + std::to_string(line);
                const bool idle = !model.lanes.count(number);
                auto want = model.admit(u);
                auto got = lanes.admit(u);
                expect_same(got, want, "admit line " + std::to_string(u.line) + " " + number);
                if (idle) busy.push_back(number);
            } else if (r % 97 == 0) {  // a number that is not busy: nothing changes
                const std::string& number = numbers[(r >> 8) % numbers.size()];
                if (model.lanes.count(number)) continue;
                EXPECT_FALSE(lanes.complete(number)) << number;
            } else {
                const std::size_t pick = (r >> 8) % busy.size();
                const std::string number = busy[pick];
                auto want = model.complete(number);
                auto got = lanes.complete(number);
                if (want) ++merged;
                expect_same(got, want, "complete " + number);
                if (!want) {
                    busy[pick] = busy.back();
                    busy.pop_back();
                }
            }
            ASSERT_EQ(lanes.busy(), model.lanes.size());
            ASSERT_EQ(lanes.waiting(), model.waiting);
            ASSERT_EQ(lanes.rows(), model.rows);
            ASSERT_EQ(lanes.empty(), model.lanes.empty());
            peak = std::max(peak, lanes.busy());
        }
        if (!filling) {  // drain
            while (!busy.empty()) {
                const std::string number = busy.back();
                auto want = model.complete(number);
                expect_same(lanes.complete(number), want, "drain " + number);
                if (!want) busy.pop_back();
            }
            ASSERT_TRUE(lanes.empty());
            ASSERT_EQ(lanes.rows(), 0u);
            ASSERT_EQ(lanes.waiting(), 0u);
        }
    }
    EXPECT_GT(peak, 1000u);   // the table grew well past its first sizes
    EXPECT_GT(merged, 100u);  // and queued work was merged and handed back
}
