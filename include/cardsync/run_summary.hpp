#pragma once
// The end-of-run report of `cardsync apply` in three forms, all from one ApplyReport: the text
// summary for a person (stderr), the JSON summary for pipelines (--summary-json, schema in
// README), and Prometheus text exposition for a node-exporter textfile collector (--metrics-file).
// Pure: no clock (the wall time of the end is passed in), no I/O (atomic_file.hpp writes the files).

#include "cardsync/engine.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace cardsync {

/// Version of the JSON summary's schema; bumped only when a field changes meaning or goes away
/// (new fields may appear without a bump).
inline constexpr int summary_schema_version = 1;

/// Failed attempts (and failed rows, for retries_exhausted) by class and stage.
struct ErrorStages {
    std::uint64_t connect = 0;            ///< TCP connect failed
    std::uint64_t tls = 0;                ///< TLS handshake failed
    std::uint64_t write = 0;              ///< sending the request failed
    std::uint64_t read = 0;               ///< the connection failed or ended mid-answer (read, truncated)
    std::uint64_t timeout = 0;            ///< no complete answer in time
    std::uint64_t http_4xx = 0;           ///< 4xx answers (429 included)
    std::uint64_t http_5xx = 0;           ///< 5xx answers
    std::uint64_t parse = 0;              ///< not valid HTTP, or a body that is not the documented JSON
    std::uint64_t retries_exhausted = 0;  ///< requests that stayed retryable until attempts ran out
};

ErrorStages error_stages(const ApplyReport& r) noexcept;

/// The numbers a summary needs beyond the report: how to run the job again.
struct RunContext {
    /// The command that resumes this run (resume_command()), empty when the records went to stdout
    /// (nothing to resume from).
    std::string resume_command;
    /// The input came from stdin: resuming means feeding the same input again, which the command
    /// alone does not say.
    bool input_from_stdin = false;
    double finished_unix_s = 0;  ///< wall-clock time of the end (for the metrics' timestamp)
    /// Set for a summary merged from shards (summary_merge.hpp), where they cannot be derived from
    /// the report: the achieved rate (the shards' rates summed: they ran side by side) and the next
    /// steps (each shard's, naming the shard).
    std::optional<double> achieved_rate;
    std::optional<std::vector<std::string>> next_steps;
};

/// Quotes `arg` for a POSIX shell when it needs it ('...' with embedded ' as '\'').
std::string shell_quote(std::string_view arg);

/// The command line `argv` (as typed) with --resume added when absent, shell-quoted; the values of
/// --mock-api-key are dropped (never echo a token). Empty `argv`: empty result.
std::string resume_command(const std::vector<std::string>& argv);

/// What to do next, for a person: one sentence per line; empty when every row is updated/skipped.
std::vector<std::string> next_steps(const ApplyReport& r, const RunContext& ctx);

/// The text summary: lines each starting "cardsync: ", ending in "\n": rows per outcome; requests,
/// attempts, retries, wall time, achieved vs target rate; per HTTP status and API error code;
/// errors by stage; latency p50/p90/p99/max from the actual and from the intended send; connections
/// and memory; why it stopped; what to do next.
std::string summary_text(const ApplyReport& r, const RunContext& ctx);

/// The JSON summary (one object and a newline; schema_version = summary_schema_version; README).
/// Latency histograms are exported as sparse buckets [low_us, high_us, count] so that summaries
/// of shards can be merged exactly.
std::string summary_json(const ApplyReport& r, const RunContext& ctx);

/// Prometheus text exposition format 0.0.4 of the same figures (metric names in README).
std::string metrics_text(const ApplyReport& r, const RunContext& ctx);


}  // namespace cardsync
