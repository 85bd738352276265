#pragma once
// One attempt as `--verbose` shows it: what was sent for which row, what came back, what follows.
// Never holds the key: the reason is redacted by the engine before it gets here.

#include "cardsync/retry_policy.hpp"

#include <cstdint>
#include <optional>
#include <string>

namespace cardsync {

struct AttemptEvent {
    std::uint64_t line = 0;            ///< input line of the row (the first row, when coalesced)
    std::string number;                ///< normalised E.164 number
    int attempt = 0;                   ///< attempts counted so far for the row (1 = first)
    bool resend = false;               ///< lost unprocessed: sent again without counting an attempt
    int status = 0;                    ///< HTTP status, 0 when no answer
    int api_code = 0;                  ///< the API's error.code, 0 when none
    TransportError transport = TransportError::none;  ///< why there was no usable answer
    double latency_ms = 0;             ///< sent -> answer (or failure)
    Verdict verdict = Verdict::success;///< what the retry policy decided
    std::optional<double> retry_in_s;  ///< verdict retry: the wait before the next attempt
    std::string reason;                ///< the policy's reason; empty on success
};

/// One line, no newline: "attempt line=12 number=+15551234567 attempt=2 status=503 code=4004
/// latency_ms=12.3 verdict=retry retry_in_s=1.50 reason=\"...\"" (code, transport, retry_in_s and
/// reason only when set; the reason quoted with '"' and '\' escaped, control characters as spaces).
std::string attempt_line(const AttemptEvent& e);

}  // namespace cardsync
