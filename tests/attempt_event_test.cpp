// The --verbose line of one attempt.
#include "cardsync/attempt_event.hpp"

#include <gtest/gtest.h>

namespace {

TEST(AttemptEvent, RetryLineHasEveryField) {
    cardsync::AttemptEvent e;
    e.line = 12;
    e.number = "+15551234567";
    e.attempt = 2;
    e.status = 503;
    e.api_code = 4004;
    e.latency_ms = 12.34;
    e.verdict = cardsync::Verdict::retry;
    e.retry_in_s = 1.5;
    e.reason = "HTTP 503 \"busy\"\nnow";
    EXPECT_EQ(cardsync::attempt_line(e),
              "attempt line=12 number=+15551234567 attempt=2 status=503 code=4004 latency_ms=12.3 verdict=retry "
              "retry_in_s=1.50 reason=\"HTTP 503 \\\"busy\\\" now\"");
}

TEST(AttemptEvent, SuccessAndTransportLines) {
    cardsync::AttemptEvent ok;
    ok.line = 3;
    ok.number = "+447700900123";
    ok.attempt = 1;
    ok.status = 200;
    ok.latency_ms = 0.5;
    EXPECT_EQ(cardsync::attempt_line(ok), "attempt line=3 number=+447700900123 attempt=1 status=200 latency_ms=0.5 verdict=success");
    cardsync::AttemptEvent lost = ok;
    lost.status = 0;
    lost.transport = cardsync::TransportError::timeout;
    lost.verdict = cardsync::Verdict::failed;
    lost.attempt = 3;
    lost.reason = "no answer";
    const std::string line = cardsync::attempt_line(lost);
    EXPECT_NE(line.find(" status=0 transport=timeout "), std::string::npos) << line;
    EXPECT_NE(line.find(" verdict=failed reason=\"no answer\""), std::string::npos) << line;
    EXPECT_EQ(line.find("retry_in_s"), std::string::npos);
}

}  // namespace
