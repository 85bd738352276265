// MockStats::to_json: the shape of GET /__mock/stats.
#include "cardsync/mock_stats.hpp"

#include <gtest/gtest.h>

namespace cardsync {
namespace {

TEST(MockStats, SerialisesEveryCounter) {
    MockStats s;
    s.requests = 5;
    s.by_method = {{"PATCH", 4}, {"GET", 1}};
    s.by_status = {{200, 3}, {429, 2}};
    s.by_code = {{1007, 2}};
    s.connections_current = 1, s.connections_max = 2, s.connections_total = 3, s.connections_refused = 4;
    s.in_flight_current = 0, s.in_flight_max = 6;
    s.writes_applied = 3, s.budget_rejected = 1, s.account_rate_rejected = 1;
    s.faults_500 = 7, s.faults_503 = 8, s.faults_429 = 9, s.faults_drop = 10, s.faults_truncate = 11;
    s.closed_by_close_every = 12;
    s.closed_idle = 13;
    s.numbers_by_writes = {{1, 2}, {3, 1}};
    s.requests_per_100ms = {1, 0, 4};
    EXPECT_EQ(s.to_json(),
              R"({"requests":5,"by_method":{"GET":1,"PATCH":4},"by_status":{"200":3,"429":2},"by_code":{"1007":2},)"
              R"("connections":{"current":1,"max":2,"total":3,"refused":4},"in_flight":{"current":0,"max":6},)"
              R"("writes_applied":3,"budget_rejected":1,"account_rate_rejected":1,)"
              R"("faults":{"500":7,"503":8,"429":9,"drop":10,"truncate":11},"closed_by_close_every":12,"closed_idle":13,)"
              R"("numbers_by_writes":{"1":2,"3":1},"requests_per_100ms":[1,0,4]})");
    EXPECT_EQ(MockStats{}.to_json().find("\"requests_per_100ms\":[]"), MockStats{}.to_json().size() - 24);
}

TEST(MockStats, LogLineIsPlainKeyValue) {
    MockStats s;
    s.requests = 120;
    s.by_status = {{200, 118}, {429, 2}};
    s.by_code = {{1007, 2}};
    s.writes_applied = 118, s.connections_current = 4, s.connections_total = 5, s.connections_refused = 1;
    s.in_flight_current = 3, s.budget_rejected = 2, s.faults_500 = 1, s.faults_drop = 2;
    EXPECT_EQ(s.log_line(40),
              "requests=120 requests_per_s=40.0 status_200=118 status_429=2 code_1007=2 writes_applied=118 "
              "connections_current=4 connections_total=5 connections_refused=1 in_flight=3 budget_429=2 "
              "account_429=0 faults=3");
}

}  // namespace
}  // namespace cardsync
