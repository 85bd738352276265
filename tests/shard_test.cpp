#include "cardsync/shard.hpp"

#include "cardsync/row_reader.hpp"

#include <gtest/gtest.h>

#include <map>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

namespace {

using namespace cardsync;

// FNV-1a 64 test vectors from the algorithm's reference (Fowler/Noll/Vo), and a phone number checked
// with an independent implementation (the Python lines in README "Running at scale").
TEST(Shard, HashIsFnv1a64) {
    EXPECT_EQ(fnv1a64(""), 0xcbf29ce484222325ULL);
    EXPECT_EQ(fnv1a64("a"), 0xaf63dc4c8601ec8cULL);
    EXPECT_EQ(fnv1a64("foobar"), 0x85944171f73967e8ULL);
    EXPECT_EQ(fnv1a64("+15551234567"), 0x5c7b129949cbd436ULL);
    EXPECT_EQ(shard_of("+15551234567", 4), 2u);   // 0x5c7b129949cbd436 % 4
    EXPECT_EQ(shard_of("+15551234567", 7), 0u);
    EXPECT_EQ(shard_of("+447700900123", 4), 1u);  // 0x7f988318911eed4d % 4
}

TEST(Shard, KeyIsTheNormalisedNumberElseTheTextAsRead) {
    EXPECT_EQ(shard_key("+1 (555) 123-4567"), "+15551234567");
    EXPECT_EQ(shard_key("  +1.555.123.4567 "), "+15551234567");
    EXPECT_EQ(shard_key("5551234567"), "5551234567");  // invalid: no '+'
    EXPECT_EQ(shard_key(""), "");
    for (std::uint32_t n : {1u, 2u, 3u, 5u, 16u, 1000u}) {
        EXPECT_EQ(shard_of("+1 (555) 123-4567", n), shard_of("+15551234567", n)) << n;
        EXPECT_EQ(shard_of("not a number", n), static_cast<std::uint32_t>(fnv1a64("not a number") % n)) << n;
    }
    EXPECT_EQ(shard_of("+15551234567", 1), 0u);
}

TEST(Shard, OwnsExactlyOneShardPerNumber) {
    for (std::uint32_t n : {1u, 2u, 3u, 5u, 8u}) {
        for (const char* number : {"+15551234567", "+44 20 7946 0104", "bad", "", "+81 3-1234-5678"}) {
            int owners = 0;
            for (std::uint32_t i = 0; i < n; ++i) owners += ShardSpec{i, n}.owns(number);
            EXPECT_EQ(owners, 1) << number << " over " << n;
        }
    }
}

TEST(Shard, SpreadsNumbersEvenly) {
    for (std::uint32_t n : {2u, 3u, 5u, 16u}) {
        std::vector<int> per(n);
        const int total = 50'000;
        for (int i = 0; i < total; ++i) ++per[shard_of("+1555" + std::to_string(1'000'000 + i), n)];
        for (std::uint32_t s = 0; s < n; ++s) {
            const double share = static_cast<double>(per[s]) * n / total;
            EXPECT_NEAR(share, 1.0, 0.08) << "shard " << s << "/" << n;
        }
    }
}

TEST(Shard, ParsesIndexSlashCount) {
    EXPECT_EQ(parse_shard("0/1"), (ShardSpec{0, 1}));
    EXPECT_EQ(parse_shard("3/4"), (ShardSpec{3, 4}));
    EXPECT_EQ(parse_shard("0/1000000"), (ShardSpec{0, 1'000'000}));
    for (const char* bad : {"", "1", "/4", "1/", "4/4", "5/4", "0/0", "-1/4", "1/-4", "a/4", "1/4x", " 1/4",
                            "1/1000001", "99999999999999999999/4", "1//4"}) {
        EXPECT_THROW(parse_shard(bad), std::invalid_argument) << bad;
    }
    try {
        parse_shard("4/4");
        FAIL();
    } catch (const std::invalid_argument& e) {
        EXPECT_NE(std::string(e.what()).find("'4/4'"), std::string::npos) << e.what();
        EXPECT_NE(std::string(e.what()).find("below the count"), std::string::npos) << e.what();
    }
}

struct FakeEnv {
    std::map<std::string, std::string> vars;
    EnvLookup lookup() const {
        return [this](const char* name) -> const char* {
            auto it = vars.find(name);
            return it == vars.end() ? nullptr : it->second.c_str();
        };
    }
};

std::string message_of(std::string_view shard, std::uint32_t count, const FakeEnv& env) {
    try {
        resolve_shard(shard, count, env.lookup());
    } catch (const std::invalid_argument& e) {
        return e.what();
    }
    return "no error";
}

TEST(Shard, ResolvesFromOptionsAndJobEngineVariables) {
    FakeEnv none;
    EXPECT_EQ(resolve_shard("", 0, none.lookup()), std::nullopt);
    EXPECT_EQ(resolve_shard("1/3", 0, none.lookup()), (ShardSpec{1, 3}));

    FakeEnv k8s{{{"JOB_COMPLETION_INDEX", "2"}, {"SLURM_ARRAY_TASK_ID", "0"}}};
    EXPECT_EQ(resolve_shard("", 4, k8s.lookup()), (ShardSpec{2, 4}));  // Kubernetes first
    EXPECT_EQ(resolve_shard("1/3", 0, k8s.lookup()), (ShardSpec{1, 3}));  // an explicit --shard wins

    FakeEnv slurm{{{"SLURM_ARRAY_TASK_ID", "3"}}};
    EXPECT_EQ(resolve_shard("", 4, slurm.lookup()), (ShardSpec{3, 4}));
    FakeEnv slurm_from_one{{{"SLURM_ARRAY_TASK_ID", "4"}, {"SLURM_ARRAY_TASK_MIN", "1"}}};  // --array=1-4
    EXPECT_EQ(resolve_shard("", 4, slurm_from_one.lookup()), (ShardSpec{3, 4}));

    EXPECT_NE(message_of("", 4, none).find("JOB_COMPLETION_INDEX"), std::string::npos);
    EXPECT_NE(message_of("1/4", 4, none).find("one or the other"), std::string::npos);
    EXPECT_NE(message_of("", 2, k8s).find("JOB_COMPLETION_INDEX gives shard index 2, not below --shard-count 2"),
              std::string::npos)
        << message_of("", 2, k8s);
    FakeEnv junk{{{"JOB_COMPLETION_INDEX", "two"}}};
    EXPECT_NE(message_of("", 4, junk).find("JOB_COMPLETION_INDEX='two' is not a whole number"), std::string::npos);
    FakeEnv below{{{"SLURM_ARRAY_TASK_ID", "0"}, {"SLURM_ARRAY_TASK_MIN", "1"}}};
    EXPECT_NE(message_of("", 4, below).find("below SLURM_ARRAY_TASK_MIN"), std::string::npos);
}

std::string sample_csv() {
    std::string csv = "phone_number,first_name\n";
    for (int i = 0; i < 300; ++i) {
        csv += "+1 555 " + std::to_string(3000000 + i % 120) + ",N" + std::to_string(i) + "\n";  // repeats
        if (i % 17 == 0) csv += "555" + std::to_string(i) + ",NoPlus\n";                        // invalid number
        if (i % 29 == 0) csv += "+1555" + std::to_string(4000000 + i) + ",A" + std::string(1, '\0') + "B\n";  // malformed
        if (i % 31 == 0) csv += ",Nobody\n";                                                      // no number
    }
    return csv;
}

TEST(Shard, ShardedReadersTogetherSeeEveryRowOnce) {
    const std::string csv = sample_csv();
    std::vector<std::uint64_t> all_lines;
    {
        auto reader = make_row_reader(InputFormat::csv, memory_source(csv, 97));
        InputRow row;
        while (reader->next(row)) all_lines.push_back(row.line);
    }
    ASSERT_GT(all_lines.size(), 300u);
    for (std::uint32_t n : {1u, 2u, 3u, 5u, 7u}) {
        std::map<std::uint64_t, int> seen;
        std::map<std::string, std::set<std::uint32_t>> shards_of_number;
        std::uint64_t others = 0;
        for (std::uint32_t i = 0; i < n; ++i) {
            ShardedReader reader(make_row_reader(InputFormat::csv, memory_source(csv, 97)), ShardSpec{i, n});
            InputRow row;
            std::uint64_t mine = 0;
            while (reader.next(row)) {
                ++seen[row.line];
                ++mine;
                shards_of_number[shard_key(row.phone_number)].insert(i);
            }
            EXPECT_EQ(mine + reader.rows_other_shards(), all_lines.size());
            others += reader.rows_other_shards();
        }
        EXPECT_EQ(others, all_lines.size() * (n - 1));
        ASSERT_EQ(seen.size(), all_lines.size()) << n;
        for (auto line : all_lines) EXPECT_EQ(seen[line], 1) << "line " << line << " over " << n;
        for (const auto& [number, shards] : shards_of_number) EXPECT_EQ(shards.size(), 1u) << number;
    }
}

TEST(Shard, ShardedReaderPassesTheHeaderWarningsOn) {
    ShardedReader reader(make_row_reader(InputFormat::csv, memory_source("phone_number,colour\n+15551234567,red\n")),
                         ShardSpec{0, 2});
    ASSERT_EQ(reader.warnings().size(), 1u);
    EXPECT_NE(reader.warnings()[0].find("colour"), std::string::npos);
}

}  // namespace
