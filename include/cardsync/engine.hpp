#pragma once
// The engine of `cardsync apply`: rows in, one PATCH per number (coalesced), answers classified,
// retries scheduled, one result record per row out.
//
//   reader -> validate -> resume skip -> number lanes (order + coalescing) -> ready queue
//     -> per-number budget -> token bucket (whole pool) -> connection pool -> retry policy
//     -> { record | waiting queue (due time) -> ready queue }
//
// One io_context thread. Rows are read ahead on a thread of their own (RowPrefetcher, a bounded
// queue), so a stalled input pipe never blocks the network loop or Ctrl-C; they are taken only as
// the pool takes work (at most `max_admitted` rows taken and unfinished), so memory stays flat
// whatever the input size. A row
// waiting for a retry or for its number's budget sits in a queue ordered by due time; it never
// holds a connection or delays another number.
//
// Resending: a request that a REUSED connection lost before any byte of its answer arrived (the
// server closed an idle keep-alive connection as we wrote) is sent again once without counting an
// attempt; so is any request queued behind an answer that said Connection: close (the server never
// processed it). Every other lost request counts as a failed attempt (transport failure) and goes
// through the retry policy. PATCH is idempotent, so a resend is safe.

#include "cardsync/api_endpoint.hpp"
#include "cardsync/attempt_event.hpp"
#include "cardsync/clock.hpp"
#include "cardsync/connection_pool.hpp"
#include "cardsync/input_identity.hpp"
#include "cardsync/latency_histogram.hpp"
#include "cardsync/number_budget.hpp"
#include "cardsync/progress.hpp"
#include "cardsync/result_record.hpp"
#include "cardsync/retry_policy.hpp"
#include "cardsync/shard.hpp"

#include <array>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

namespace cardsync {

class CardSnapshot;
class RowReader;
class ResultsWriter;
class StopSignal;

/// Everything a run is told (the CLI fills it from `cardsync apply` options).
struct ApplyOptions {
    std::string base_url = std::string(default_base_url);  ///< the API prefix (…/api/partner)
    std::string api_key;                  ///< bearer token; sent only in the Authorization header, never printed
    int connections = 16;                 ///< keep-alive connections at most
    int pipeline = 1;                     ///< requests in flight per connection (1 = no pipelining)
    int threads = 1;                      ///< engines, each on its own thread with its own io_context and
                                          ///< pool; numbers are partitioned among them by hash, and each
                                          ///< has its share of connections, rate and max_admitted
    double rate = 20;                     ///< requests/s across the pool, retries included; 0 = no limit.
                                          ///< Conservative by default: the API publishes no account-wide limit.
    double burst = 0;                     ///< token bucket size; 0 = max(1, rate / 10) (100 ms of tokens)
    int max_attempts = 3;                 ///< attempts per row (per coalesced request), first one included
    Duration attempt_timeout = std::chrono::seconds(30);  ///< request written -> answer complete
    Duration connect_timeout = std::chrono::seconds(10);  ///< TCP connect, and TLS handshake
    Duration max_retry_wait = std::chrono::minutes(15);   ///< a longer wait (server hint) fails the row instead
    BackoffSchedule transient = transient_backoff;        ///< retry waits after 5xx / transport failures
    BackoffSchedule throttle = throttle_backoff;          ///< retry waits after 429 / 503 without a hint
    std::string cacert;                   ///< PEM file of trusted CAs instead of the system store
    bool insecure = false;                ///< no TLS verification (a loud warning is printed)
    bool allow_insecure_http = false;     ///< allow http:// to a non-loopback host
    BudgetSpec budget;                    ///< per-number call budget the client paces itself to (3/10m)
    /// Resume: input line -> number already recorded `updated`; such a row (same line, same
    /// number) is recorded `skipped` and not sent.
    std::unordered_map<std::uint64_t, std::string> already_updated;
    /// The live cards (snapshot_fetch.hpp), required by skip_unchanged and create_missing; each valid
    /// row is then decided by a SyncPlanner (sync_plan.hpp), like `cardsync plan` does.
    const CardSnapshot* snapshot = nullptr;
    bool skip_unchanged = false;          ///< a row changing nothing is recorded `skipped` ("unchanged"), not sent
    bool create_missing = false;          ///< a number without a card is created with POST (needs first_name,
                                          ///< else the row is `invalid`); a 409/2014 answer is sent again as PATCH
    Duration grace = std::chrono::seconds(5);  ///< after SIGINT/SIGTERM: time left to in-flight requests
    bool handle_signals = true;           ///< catch SIGINT/SIGTERM during the run (the CLI); tests use StopSignal
    std::size_t max_admitted = 50'000;    ///< rows read and not yet recorded, at most (memory bound)
    Duration flush_interval = std::chrono::milliseconds(50);  ///< results written out at least this often
    int flood_min_answers = 50;           ///< the early stop on one permanent error looks after this many answers
    double flood_share = 0.95;            ///< ... and stops when one permanent error is more than this share
    std::uint64_t seed = 0;               ///< jitter seed; 0 = from std::random_device
    std::function<void(std::string_view)> log;   ///< verbose lines (retries, connections); null = none
    std::function<void(std::string_view)> warn;  ///< warnings; null = stderr
    /// Live reporting (run_summary.hpp, progress.hpp): called on the io thread (with threads > 1: on
    /// the thread that called run_apply, with the engines' figures summed) every
    /// progress_interval while the run lasts (not at the end: the report is the last word).
    std::function<void(const ProgressSnapshot&)> progress;
    Duration progress_interval = std::chrono::seconds(1);
    /// Called on the io thread once per answered or lost request (--verbose); null = none. With
    /// threads > 1, log, warn and attempt are called from the engines' threads, one call at a time.
    std::function<void(const AttemptEvent&)> attempt;
};

/// What a run did.
struct ApplyReport {
    std::array<std::uint64_t, 6> outcomes{};     ///< records per Outcome, indexed by the enum's value
    std::map<int, std::uint64_t> statuses;       ///< HTTP answers per status, every attempt counted
    std::array<std::uint64_t, 8> transport_errors{};  ///< failed attempts per TransportError
    std::uint64_t rows_read = 0;                 ///< rows pulled from the reader
    std::uint64_t requests = 0;                  ///< requests sent (attempts and free resends)
    std::uint64_t retries = 0;                   ///< attempts scheduled after a retryable answer
    std::uint64_t resends = 0;                   ///< free resends (lost on a reused connection, or after Connection: close)
    std::uint64_t coalesced = 0;                 ///< rows merged into another row's request
    std::uint64_t throttled = 0;                 ///< 429/503 answers that slowed the run
    std::uint64_t unchanged = 0;                 ///< rows skipped as unchanged (--skip-unchanged)
    std::uint64_t creates = 0;                   ///< POST requests started (--create-missing), one per created number
    std::uint64_t create_conflicts = 0;          ///< POSTs answered 409/2014 (a card existed) and sent again as PATCH
    bool aborted = false;                        ///< the run stopped itself (401, TLS rejected, a flood of one error)
    std::string abort_reason;                    ///< why, for a person
    bool interrupted = false;                    ///< SIGINT/SIGTERM or StopSignal
    bool input_exhausted = false;                ///< every input row was read
    std::uint64_t last_line_read = 0;            ///< line of the last row read (0: none)
    std::optional<std::uint64_t> first_line_not_reached;  ///< the next row's line after an early stop, if known
    double elapsed_s = 0;
    double final_rate = 0;                       ///< the limiter's rate at the end (0 = unlimited)
    LatencyHistogram latency;                    ///< per answered attempt: sent -> answer
    LatencyHistogram intended_latency;           ///< per answered attempt: intended send -> answer, where the
                                                 ///< intended send is the later of when the request was due
                                                 ///< (row ready, retry due) and its slot in a fixed-rate
                                                 ///< schedule at the target rate (wrk2); includes pacing and stalls
    PoolStats pool;
    std::uint64_t peak_rss_kib = 0;              ///< the process's peak resident memory (VmHWM), 0 if unknown
    InputIdentity input;                         ///< what was read (for summaries and `cardsync merge`)
    std::optional<ShardSpec> shard;              ///< this run's shard, when sharded
    std::map<int, std::uint64_t> api_codes;      ///< API error.code per answer, every attempt counted
    std::uint64_t retries_exhausted = 0;         ///< requests failed while retryable: attempts (or the allowed wait) ran out
    double target_rate = 0;                      ///< --rate asked for (0 = no limit)
    std::uint64_t rows_other_shards = 0;         ///< rows read and left to other shards (not in rows_read)

    std::uint64_t count(Outcome o) const noexcept { return outcomes[static_cast<std::size_t>(o)]; }
    std::uint64_t attempts() const noexcept { return requests - resends; }  ///< requests counted as attempts
    std::uint64_t records() const noexcept;
    /// 130 interrupted, 3 aborted, 0 when every row is updated or skipped, 1 otherwise (cli.hpp).
    int exit_status() const noexcept;
    /// The text summary of run_summary.hpp without a resume command (for logs and test messages).
    std::string summary() const;
};

/// Runs the job: reads every row from `reader`, writes one record per row read to `results`
/// (flushed every flush_interval and at the end), and returns the report. With threads > 1 the
/// engines share `results` (its writes are locked) and the report is their sum; progress is then
/// called on the calling thread. A stop requested
/// through `stop` (or SIGINT/SIGTERM when handle_signals) ends it early: rows not read are not
/// recorded. Throws std::invalid_argument for bad options (base URL, empty key), std::runtime_error
/// for a TLS set-up problem, InputError when the input fails mid-way.
ApplyReport run_apply(const ApplyOptions& options, RowReader& reader, ResultsWriter& results, StopSignal& stop);

/// Adds x's counts to `into`: records, answers, requests, pool counters (max_in_flight: the larger),
/// latency histograms. The rest (state, lines, rates, times) is the caller's to merge.
void add_counts(ApplyReport& into, const ApplyReport& x);

/// How the connection pool connects for `options` (apply's pool, and the snapshot fetch's).
PoolOptions pool_options(const ApplyOptions& options, const ApiEndpoint& endpoint);

}  // namespace cardsync
