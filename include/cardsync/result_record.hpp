#pragma once
// One result record per input row: what happened to it and why.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace cardsync {

/// The outcome of a row (documented in README).
enum class Outcome {
    updated,   ///< the API answered 2xx
    invalid,   ///< the row failed validation; never sent
    rejected,  ///< a permanent answer (400, 403, 404, 409, other 4xx); not retried
    failed,    ///< transient errors until the attempts ran out, or the run stopped with it in flight
    skipped,   ///< not sent on purpose (already updated in a resumed run; unchanged)
    planned,   ///< --dry-run: valid and would be sent
};

std::string_view to_string(Outcome outcome) noexcept;
/// Parses an outcome name; nullopt when unknown.
std::optional<Outcome> parse_outcome(std::string_view name) noexcept;

struct ResultRecord {
    std::uint64_t line = 0;          ///< input line where the row starts
    std::string phone_number;        ///< normalised when valid, as given otherwise
    Outcome outcome = Outcome::invalid;
    int http_status = 0;             ///< last HTTP status; 0 when no answer
    std::string error_code;          ///< the API's error.code, or empty
    std::string message;             ///< a reason a person can act on (empty for plain success)
    int attempts = 0;                ///< requests sent for this row (0 when never sent)
    double latency_ms = 0;           ///< latency of the last attempt, 0 when never sent
    std::optional<bool> is_active;   ///< from a 2xx answer; absent otherwise
};

}  // namespace cardsync
