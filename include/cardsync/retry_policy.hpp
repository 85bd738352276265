#pragma once
// What to do after an attempt: the pure retry policy. (answer, attempt) -> success, permanent
// rejection, retry after a delay, give up, or stop the whole run.
//
// Schedule (max_attempts total attempts; 3 by default, 1 = never retry):
//   2xx                                   -> success
//   transport failure (any status, or 0)  -> retry, transient backoff
//   401                                   -> abort the run (the key is wrong; every row would fail)
//   408, 500 (3006, 2022, ...), 502, 504,
//   other 5xx except 501/505              -> retry, transient backoff (0.5 s base, 8 s cap)
//   429 (1007: the number's 3 calls per 10 min), 503 (4004: upstream write limit, or any 503)
//                                         -> retry, throttle backoff (5 s base, 120 s cap);
//                                            throttled = true (slow the whole run down);
//                                            429 also sets per_number (the wait is that number's)
//   3xx                                   -> permanent (redirects are not followed; Location told)
//   400, 403, 404, 409, 422, other 4xx,
//   1xx, 501, 505, other statuses         -> permanent
// Any retryable answer that carries a positive server wait retries after exactly that wait,
// taken from retry-after-ms > Retry-After > error.retry_after (a zero hint is ignored); only
// without one is the backoff drawn: uniform x min(cap, base x 2^(attempt-1)).
// A retryable answer on the last allowed attempt, `x-should-retry: false`, or a wait longer than
// max_wait gives `failed` with the last reason ("HTTP 503 (4004): upstream write rate-limited;
// gave up after 3 attempts").

#include "cardsync/backoff.hpp"
#include "cardsync/clock.hpp"

#include <optional>
#include <string>
#include <string_view>

namespace cardsync {

/// Why an attempt got no usable HTTP answer.
enum class TransportError {
    none,       ///< a complete HTTP answer arrived
    connect,    ///< TCP connect failed (refused, unreachable, DNS)
    tls,        ///< TLS handshake failed
    write,      ///< sending the request failed (reset, broken pipe)
    read,       ///< the connection failed while reading the answer
    timeout,    ///< no complete answer within the attempt's time limit
    truncated,  ///< the answer ended early (connection closed mid-body)
    garbled,    ///< the answer was not valid HTTP, or its body not the documented JSON
};

std::string_view to_string(TransportError error) noexcept;

/// What one attempt produced: the facts the engine gathered. Views must outlive classify().
struct AttemptResult {
    int http_status = 0;                    ///< 0 = no HTTP answer
    int api_code = 0;                       ///< error.code from the envelope; 0 when none
    std::string_view api_message;           ///< error.message, when any
    TransportError transport = TransportError::none;
    std::string_view transport_detail;      ///< e.g. "Connection refused", for the reason
    std::optional<Duration> retry_after_ms; ///< parsed retry-after-ms header
    std::optional<Duration> retry_after;    ///< parsed Retry-After header
    std::optional<Duration> body_retry_after; ///< error.retry_after from the body
    std::optional<bool> should_retry;       ///< x-should-retry header; only `false` is obeyed
    std::string_view location;              ///< Location header of a 3xx
};

/// The policy's answer.
enum class Verdict {
    success,    ///< done: the row is updated
    permanent,  ///< done: the API rejected the row; retrying cannot help
    retry,      ///< send again after `delay`
    failed,     ///< done: retryable, but attempts (or the allowed wait) ran out
    abort_run,  ///< stop the run: no row can succeed (401)
};

std::string_view to_string(Verdict verdict) noexcept;

struct Decision {
    Verdict verdict = Verdict::success;
    Duration delay{};           ///< verdict == retry: the wait before the next attempt
    bool throttled = false;     ///< a 429/503: slow the whole run (AdaptiveRate::on_throttle)
    bool per_number = false;    ///< a 429: the wait belongs to this number (NumberBudget::note_server_wait)
    bool server_hint = false;   ///< `delay` is the server's wait, not our backoff
    std::string reason;         ///< for the result record and logs; empty on success
};

struct RetryPolicy {
    int max_attempts = 3;                         ///< total attempts per row; below 1 taken as 1
    BackoffSchedule transient = transient_backoff;
    BackoffSchedule throttle = throttle_backoff;
    Duration max_wait = Duration::max();          ///< a longer wait (usually a server hint) -> failed

    /// Classifies the answer to attempt number `attempt` (1-based, counting this one).
    /// `random` is called only when a backoff delay is drawn (an empty one gives the ceiling).
    Decision classify(const AttemptResult& result, int attempt, const Random& random) const;
};

/// A short description of an answer, as used in reasons: "HTTP 404 (2001): no contact card for
/// this number", "HTTP 502 Bad Gateway", "timeout: no answer within 60 s". Known API codes use our
/// wording; otherwise the server's message (cleaned, at most 200 bytes) or the status phrase.
std::string describe(const AttemptResult& result);

}  // namespace cardsync
