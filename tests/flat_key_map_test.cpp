#include "cardsync/flat_key_map.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <map>
#include <string>

using namespace cardsync;

namespace {

// Hashes that make keys collide, so probe runs are long, merge and wrap around the table's end.
struct FewHomes {  // three home buckets: 0, a quarter and half way
    std::uint64_t operator()(std::uint64_t key) const noexcept { return (key % 3) << 62; }
};
struct LastBucket {  // every key's home is the last bucket: every run wraps
    std::uint64_t operator()(std::uint64_t) const noexcept { return ~std::uint64_t{0}; }
};
struct TwoHomesAtTheEnd {  // two homes near the end: the runs meet and wrap
    std::uint64_t operator()(std::uint64_t key) const noexcept { return ~std::uint64_t{0} - ((key & 1) << 59); }
};

std::uint64_t next_random(std::uint64_t& state) {  // splitmix64
    std::uint64_t z = (state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

// Random inserts, updates and erases against std::map, in phases that fill the table up to
// thousands of entries and drain it to empty again. After every operation the sizes agree; now
// and then every model key is found with its value, and no bucket holds a key the model lacks.
template <class Hash>
void model_test(std::uint64_t seed, std::uint64_t key_range) {
    FlatKeyMap<std::string, Hash> table;
    std::map<std::uint64_t, std::string> model;
    std::uint64_t state = seed;
    auto check_all = [&] {
        for (const auto& [key, value] : model) {
            const std::size_t i = table.find(key);
            ASSERT_NE(i, table.npos) << key;
            EXPECT_EQ(table.key_at(i), key);
            EXPECT_EQ(table.value_at(i), value) << key;
        }
        std::size_t held = 0;
        for (std::size_t i = 0; i < table.capacity(); ++i) {
            if (table.key_at(i) == 0) {
                EXPECT_EQ(table.value_at(i), std::string()) << "an empty bucket keeps a value";
                continue;
            }
            ++held;
            EXPECT_TRUE(model.count(table.key_at(i))) << table.key_at(i);
        }
        EXPECT_EQ(held, model.size());
        EXPECT_LE(table.size() * 5, table.capacity() * 4);
    };
    for (int phase = 0; phase < 6; ++phase) {
        const bool filling = phase % 2 == 0;
        for (int op = 0; op < 4000; ++op) {
            const std::uint64_t r = next_random(state);
            const std::uint64_t key = 1 + r % key_range;
            table.prefetch(key);  // a hint only: the model still decides every answer
            if ((r >> 40) % 10 < (filling ? 7u : 2u)) {
                const auto [i, added] = table.try_emplace(key);
                const bool model_added = !model.count(key);
                EXPECT_EQ(added, model_added) << key;
                if (added) {
                    EXPECT_EQ(table.value_at(i), std::string()) << "a new entry starts empty";
                }
                EXPECT_EQ(table.value_at(i), model[key]);
                table.value_at(i) = std::to_string(r % 1000);
                model[key] = table.value_at(i);
            } else {
                EXPECT_EQ(table.erase(key), model.erase(key) == 1) << key;
            }
            ASSERT_EQ(table.size(), model.size());
            if (op % 500 == 0) check_all();
        }
        check_all();
        if (!filling) {  // drain what is left: erase_at on found indexes
            while (!model.empty()) {
                const std::size_t i = table.find(model.begin()->first);
                ASSERT_NE(i, table.npos);
                table.erase_at(i);
                model.erase(model.begin());
            }
            EXPECT_TRUE(table.empty());
            check_all();
        }
    }
}

}  // namespace

TEST(FlatKeyMap, MatchesAModelWithTheDefaultHash) { model_test<KeyMix>(1, 5000); }
TEST(FlatKeyMap, MatchesAModelWhenKeysShareThreeHomes) { model_test<FewHomes>(2, 3000); }
TEST(FlatKeyMap, MatchesAModelWhenEveryRunWrapsAround) { model_test<LastBucket>(3, 600); }
TEST(FlatKeyMap, MatchesAModelWithTwoRunsMeetingAtTheEnd) { model_test<TwoHomesAtTheEnd>(4, 600); }

TEST(FlatKeyMap, PackedNumbersMatchAModel) {
    // Keys as the lanes make them: E.164 values that differ only in their low digits.
    FlatKeyMap<int> table;
    std::map<std::uint64_t, int> model;
    for (std::uint64_t k = 0; k < 20'000; ++k) {
        const std::uint64_t key = 15'550'000'000 + k * 1000;
        table.value_at(table.try_emplace(key).first) = static_cast<int>(k);
        model[key] = static_cast<int>(k);
    }
    for (auto it = model.begin(); it != model.end();) {  // every other one goes
        EXPECT_TRUE(table.erase(it->first));
        it = model.erase(it);
        if (it != model.end()) ++it;
    }
    EXPECT_EQ(table.size(), model.size());
    for (const auto& [key, value] : model) {
        const std::size_t i = table.find(key);
        ASSERT_NE(i, table.npos);
        EXPECT_EQ(table.value_at(i), value);
    }
    EXPECT_EQ(table.find(15'550'000'000), table.npos);
    EXPECT_EQ(table.find(15'550'001'000 + 1), table.npos);
}

TEST(FlatKeyMap, GrowsByDoublingAtFourFifthsFull) {
    FlatKeyMap<int> table;
    EXPECT_EQ(table.capacity(), 0u);
    EXPECT_EQ(table.find(7), table.npos);
    EXPECT_FALSE(table.erase(7));
    std::size_t capacity = 0;
    for (std::uint64_t key = 1; key <= 1000; ++key) {
        table.try_emplace(key * 977);
        if (table.capacity() != capacity) {
            EXPECT_EQ(table.capacity(), capacity == 0 ? 16u : capacity * 2) << key;
            // it grew for this key: the one before fit within 80 %, this one would not have
            if (capacity != 0) {
                EXPECT_GT(table.size() * 5, capacity * 4) << key;
            }
            capacity = table.capacity();
        }
        EXPECT_LE(table.size() * 5, table.capacity() * 4);
    }
    EXPECT_EQ(table.capacity(), 2048u);
    EXPECT_EQ(table.size(), 1000u);
}

TEST(FlatKeyMap, AnEntryErasedAndAddedAgainStartsAfresh) {
    FlatKeyMap<int> table;
    table.value_at(table.try_emplace(42).first) = 5;
    const auto [again, added] = table.try_emplace(42);
    EXPECT_FALSE(added);
    EXPECT_EQ(table.value_at(again), 5);
    EXPECT_TRUE(table.erase(42));
    EXPECT_FALSE(table.erase(42));
    EXPECT_EQ(table.find(42), table.npos);
    const auto [fresh, added_again] = table.try_emplace(42);
    EXPECT_TRUE(added_again);
    EXPECT_EQ(table.value_at(fresh), 0);
}

TEST(FlatKeyMap, ShrinksOnlyWhenATenthFullAndKeepsEveryEntry) {
    FlatKeyMap<std::uint64_t, FewHomes> table;  // colliding keys: the rehash must rebuild long runs
    for (std::uint64_t k = 1; k <= 1000; ++k) table.value_at(table.try_emplace(k).first) = k * 7;
    const std::size_t full = table.capacity();
    ASSERT_EQ(full, 2048u);
    for (std::uint64_t k = 1; k <= 790; ++k) ASSERT_TRUE(table.erase(k));
    table.shrink_if_sparse();  // 210 of 2048: over a tenth, kept
    EXPECT_EQ(table.capacity(), full);
    for (std::uint64_t k = 791; k <= 850; ++k) ASSERT_TRUE(table.erase(k));
    table.shrink_if_sparse();  // 150 of 2048: halved until 20-40 % full
    EXPECT_EQ(table.capacity(), 512u);
    ASSERT_EQ(table.size(), 150u);
    for (std::uint64_t k = 851; k <= 1000; ++k) {
        const std::size_t i = table.find(k);
        ASSERT_NE(i, table.npos) << k;
        EXPECT_EQ(table.value_at(i), k * 7);
    }
    for (std::uint64_t k = 851; k <= 1000; ++k) ASSERT_TRUE(table.erase(k));
    table.shrink_if_sparse();
    EXPECT_EQ(table.capacity(), 16u);  // never below 16
    EXPECT_TRUE(table.empty());
}
