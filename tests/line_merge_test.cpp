#include "cardsync/line_merge.hpp"

#include <gtest/gtest.h>

#include <random>
#include <stdexcept>
#include <string>
#include <vector>

namespace {

using namespace cardsync;

ResultRecord rec(std::uint64_t line, std::string tag = {}) {
    ResultRecord r;
    r.line = line;
    r.phone_number = "+1555" + std::to_string(1000000 + line);
    r.message = std::move(tag);
    return r;
}

std::vector<std::pair<std::uint64_t, std::size_t>> drain(LineMerge& merge) {
    std::vector<std::pair<std::uint64_t, std::size_t>> out;
    ResultRecord r;
    std::size_t from = 0;
    while (merge.next(r, from)) out.emplace_back(r.line, from);
    return out;
}

TEST(LineMerge, InterleavesStreamsByLine) {
    VectorRecordStream a({rec(2), rec(5), rec(9)});
    VectorRecordStream b({rec(3), rec(4), rec(10), rec(11)});
    VectorRecordStream empty({});
    VectorRecordStream c({rec(1)});
    LineMerge merge({&a, &b, &empty, &c});
    using P = std::pair<std::uint64_t, std::size_t>;
    EXPECT_EQ(drain(merge), (std::vector<P>{{1, 3}, {2, 0}, {3, 1}, {4, 1}, {5, 0}, {9, 0}, {10, 1}, {11, 1}}));
}

TEST(LineMerge, EqualLinesComeOutInStreamOrder) {
    VectorRecordStream a({rec(4, "a")});
    VectorRecordStream b({rec(4, "b")});
    VectorRecordStream c({rec(4, "c"), rec(4, "c2")});
    LineMerge merge({&c, &a, &b});
    std::vector<std::string> tags;
    ResultRecord r;
    std::size_t from = 0;
    while (merge.next(r, from)) tags.push_back(r.message);
    EXPECT_EQ(tags, (std::vector<std::string>{"c", "c2", "a", "b"}));
}

TEST(LineMerge, KeepsEveryRecordOfManyRandomStreams) {
    std::mt19937 random(7);
    for (int round = 0; round < 20; ++round) {
        const std::size_t k = 1 + random() % 9;
        std::vector<std::vector<ResultRecord>> parts(k);
        for (std::uint64_t line = 1; line <= 500; ++line) parts[random() % k].push_back(rec(line));
        std::vector<VectorRecordStream> streams;
        streams.reserve(k);
        for (auto& p : parts) streams.emplace_back(p);
        std::vector<RecordStream*> ptrs;
        for (auto& s : streams) ptrs.push_back(&s);
        LineMerge merge(ptrs);
        const auto out = drain(merge);
        ASSERT_EQ(out.size(), 500u);
        for (std::size_t i = 0; i < out.size(); ++i) EXPECT_EQ(out[i].first, i + 1);
    }
}

TEST(LineMerge, RefusesAStreamThatGoesBack) {
    VectorRecordStream a({rec(1), rec(5), rec(3)});
    LineMerge merge({&a});
    ResultRecord r;
    std::size_t from = 0;
    EXPECT_TRUE(merge.next(r, from));
    EXPECT_THROW(merge.next(r, from), std::runtime_error);  // pulling 3 after 5
}

}  // namespace
