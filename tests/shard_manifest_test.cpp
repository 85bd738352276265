#include "cardsync/shard_manifest.hpp"

#include "support/temp_dir.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <stdexcept>
#include <string>
#include <vector>

namespace {

using namespace cardsync;

const std::string digest_a(64, 'a');
const std::string digest_b(64, 'b');

ShardManifest manifest(std::uint32_t index, std::uint32_t count, std::string digest = digest_a, bool complete = true,
                       std::uint64_t bytes = 1000) {
    ShardManifest m;
    m.input = InputIdentity{"in.csv", bytes, std::move(digest), complete};
    m.shard = ShardSpec{index, count};
    m.results_path = "out-" + std::to_string(index) + ".ndjson";
    m.records = 10 + index;
    m.rows_other_shards = 7;
    m.outcomes = {1, 2, 3, 4, 5, 6};
    return m;
}

TEST(ShardManifest, RoundTripsThroughJson) {
    auto m = manifest(2, 5);
    m.input.name = "we\"ird\\name\n.csv";
    m.results_format = ResultsFormat::csv;
    const std::string json = to_json(m);
    EXPECT_EQ(json.back(), '\n');
    const auto back = parse_shard_manifest(json, "x");
    EXPECT_EQ(back.input.name, m.input.name);
    EXPECT_EQ(back.input.bytes, 1000u);
    EXPECT_EQ(back.input.sha256, digest_a);
    EXPECT_TRUE(back.input.complete);
    EXPECT_EQ(back.shard, (ShardSpec{2, 5}));
    EXPECT_EQ(back.results_path, "out-2.ndjson");
    EXPECT_EQ(back.results_format, ResultsFormat::csv);
    EXPECT_EQ(back.records, 12u);
    EXPECT_EQ(back.rows_other_shards, 7u);
    EXPECT_EQ(back.outcomes, (OutcomeCounts{1, 2, 3, 4, 5, 6}));
    EXPECT_NE(json.find("\"shard\":{\"index\":2,\"count\":5}"), std::string::npos) << json;
    EXPECT_NE(json.find("\"outcomes\":{\"updated\":1,\"invalid\":2,"), std::string::npos) << json;
}

TEST(ShardManifest, RefusesWhatIsNotAManifest) {
    const std::string good = to_json(manifest(0, 2));
    const auto message = [](const std::string& json) {
        try {
            parse_shard_manifest(json, "m.json");
        } catch (const std::runtime_error& e) {
            return std::string(e.what());
        }
        return std::string("no error");
    };
    EXPECT_NE(message("not json").find("shard manifest 'm.json': not JSON"), std::string::npos);
    EXPECT_NE(message("{}").find("no cardsync_shard_manifest"), std::string::npos) << message("{}");
    auto replace = [&](const std::string& from, const std::string& to) {
        std::string j = good;
        j.replace(j.find(from), from.size(), to);
        return j;
    };
    EXPECT_NE(message(replace("\"cardsync_shard_manifest\":1", "\"cardsync_shard_manifest\":2")).find("version"),
              std::string::npos);
    EXPECT_NE(message(replace("\"index\":0", "\"index\":2")).find("shard 2/2 is not a shard"), std::string::npos);
    EXPECT_NE(message(replace("\"bytes\":1000", "\"bytes\":\"1000\"")).find("input/bytes is not a whole number"),
              std::string::npos);
    EXPECT_NE(message(replace("\"format\":\"ndjson\"", "\"format\":\"xml\"")).find("results/format"),
              std::string::npos);
    EXPECT_NE(message(replace("\"planned\":6", "\"planned_\":6")).find("no outcomes/planned"), std::string::npos);
}

TEST(ShardManifest, SummaryPathIsOptionalAndRoundTrips) {
    auto m = manifest(0, 2);
    const std::string without = to_json(m);
    EXPECT_EQ(without.find("summary"), std::string::npos) << without;
    EXPECT_EQ(parse_shard_manifest(without, "old.json").summary_path, "");  // manifests written before it
    m.summary_path = "sum/s-0.json";
    const std::string with = to_json(m);
    EXPECT_NE(with.find(",\"summary\":\"sum/s-0.json\"}"), std::string::npos) << with;
    EXPECT_EQ(parse_shard_manifest(with, "m.json").summary_path, "sum/s-0.json");
    std::string bad = with;
    bad.replace(bad.find("\"sum/s-0.json\""), 14, "7");
    try {
        parse_shard_manifest(bad, "m.json");
        ADD_FAILURE() << "accepted " << bad;
    } catch (const std::runtime_error& e) {
        EXPECT_NE(std::string(e.what()).find("shard manifest 'm.json': summary is not a file name"), std::string::npos)
            << e.what();
    }
}

TEST(ShardManifest, SummaryPathIsStoredRelativeToTheManifestAndResolvedFromIt) {
    EXPECT_EQ(path_from_manifest_dir("", "out/r.ndjson"), "");
    EXPECT_EQ(path_from_manifest_dir("out/s.json", "out/r.ndjson"), "s.json");
    EXPECT_EQ(path_from_manifest_dir("sums/s.json", "out/r.ndjson"), "../sums/s.json");
    EXPECT_EQ(path_from_manifest_dir("/abs/s.json", "/abs/deeper/r.ndjson"), "../s.json");
    // Found again from wherever merge runs: beside the manifest as given on its command line.
    EXPECT_EQ(resolve_from_manifest("s.json", "/data/out/r.ndjson.shard.json"), "/data/out/s.json");
    EXPECT_EQ(resolve_from_manifest("../sums/s.json", "out/r.ndjson.shard.json"), "sums/s.json");
    EXPECT_EQ(resolve_from_manifest("s.json", "r.ndjson.shard.json"), "s.json");
    EXPECT_EQ(resolve_from_manifest("/x/s.json", "out/r.ndjson.shard.json"), "/x/s.json");
}

TEST(ShardManifest, WritesBesideTheResultsAndReadsBack) {
    test::TempDir dir;
    const auto results = dir.file("out-1.ndjson");
    EXPECT_EQ(shard_manifest_path(results), results + ".shard.json");
    write_shard_manifest(shard_manifest_path(results), manifest(1, 3));
    EXPECT_FALSE(std::filesystem::exists(shard_manifest_path(results) + ".tmp"));
    EXPECT_EQ(read_shard_manifest(shard_manifest_path(results)).shard, (ShardSpec{1, 3}));
    EXPECT_THROW(read_shard_manifest(dir.file("none.shard.json")), std::runtime_error);
}

TEST(ShardManifest, AddsOutcomeCounts) {
    OutcomeCounts total{};
    add_outcomes(total, {1, 2, 3, 4, 5, 6});
    add_outcomes(total, {10, 0, 0, 0, 0, 1});
    EXPECT_EQ(total, (OutcomeCounts{11, 2, 3, 4, 5, 7}));
}

std::string refusal(const std::vector<ShardFile>& shards, bool allow_partial = false) {
    try {
        check_shard_set(shards, allow_partial);
    } catch (const std::invalid_argument& e) {
        return e.what();
    }
    return "accepted";
}

TEST(ShardManifest, AcceptsEveryShardOnceInAnyOrder) {
    EXPECT_EQ(refusal({{"c", manifest(2, 3)}, {"a", manifest(0, 3)}, {"b", manifest(1, 3)}}), "accepted");
    EXPECT_EQ(refusal({{"a", manifest(0, 1)}}), "accepted");
}

TEST(ShardManifest, RefusesMissingDoubledForeignAndMixedShards) {
    EXPECT_EQ(refusal({}), "no shard results to merge");
    EXPECT_EQ(refusal({{"a", manifest(0, 4)}, {"b", manifest(1, 4)}, {"d", manifest(3, 4)}}), "shard 2/4 is missing");
    EXPECT_EQ(refusal({{"a", manifest(0, 4)}, {"b", manifest(1, 4)}}), "shards 2/4, 3/4 are missing");
    EXPECT_EQ(refusal({{"x.ndjson", manifest(0, 2)}, {"a.ndjson", manifest(1, 2)}, {"b.ndjson", manifest(1, 2)}}),
              "shard 1/2 given twice (a.ndjson, b.ndjson)");
    EXPECT_EQ(refusal({{"a.ndjson", manifest(0, 2)}, {"b.ndjson", manifest(1, 2, digest_b)}}),
              "b.ndjson is from another input (size 1000 sha256 " + digest_b + ") than a.ndjson (size 1000 sha256 " +
                  digest_a + ")");
    EXPECT_NE(refusal({{"a.ndjson", manifest(0, 2)}, {"b.ndjson", manifest(1, 2, digest_a, true, 999)}})
                  .find("b.ndjson is from another input (size 999"),
              std::string::npos);
    EXPECT_EQ(refusal({{"a.ndjson", manifest(0, 2)}, {"b.ndjson", manifest(1, 3)}}),
              "b.ndjson is shard 1/3 but a.ndjson is shard 0/2: all shards must come from runs with the same shard "
              "count");
}

TEST(ShardManifest, RefusesAStoppedShardUnlessPartialIsAllowed) {
    const std::vector<ShardFile> stopped{{"a.ndjson", manifest(0, 2)},
                                         {"b.ndjson", manifest(1, 2, digest_b, false, 400)}};
    const auto why = refusal(stopped);
    EXPECT_NE(why.find("b.ndjson: shard 1/2 stopped before the end of its input (read 400 bytes of 'in.csv')"),
              std::string::npos)
        << why;
    EXPECT_NE(why.find("--allow-partial"), std::string::npos);
    // Allowed: its digest covers only what it read, so only its size is compared.
    EXPECT_EQ(refusal(stopped, true), "accepted");
    EXPECT_NE(refusal({{"a.ndjson", manifest(0, 2)}, {"b.ndjson", manifest(1, 2, digest_b, false, 2000)}}, true)
                  .find("another input"),
              std::string::npos);
}

}  // namespace
