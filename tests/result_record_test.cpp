#include "cardsync/result_record.hpp"

#include <gtest/gtest.h>

namespace {

using namespace cardsync;

TEST(Outcome, NamesRoundTrip) {
    const std::pair<Outcome, std::string_view> all[] = {
        {Outcome::updated, "updated"}, {Outcome::invalid, "invalid"}, {Outcome::rejected, "rejected"},
        {Outcome::failed, "failed"},   {Outcome::skipped, "skipped"}, {Outcome::planned, "planned"},
    };
    for (auto [outcome, name] : all) {
        EXPECT_EQ(to_string(outcome), name);
        EXPECT_EQ(parse_outcome(name), outcome);
    }
}

TEST(Outcome, UnknownNames) {
    for (std::string_view bad : {"", "Updated", "update", "ok", "updated ", "unknown"}) {
        EXPECT_FALSE(parse_outcome(bad)) << bad;
    }
    EXPECT_EQ(to_string(static_cast<Outcome>(99)), "unknown");
}

TEST(ResultRecord, Defaults) {
    const ResultRecord r;
    EXPECT_EQ(r.outcome, Outcome::invalid);
    EXPECT_EQ(r.http_status, 0);
    EXPECT_EQ(r.attempts, 0);
    EXPECT_EQ(r.latency_ms, 0.0);
    EXPECT_FALSE(r.is_active);
}

}  // namespace
