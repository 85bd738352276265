#pragma once
// Live progress of a run, as pure data and pure text: the engine fills a ProgressSnapshot every
// interval; the command prints it as one refreshing terminal line or as a plain log line.
// No pre-pass over the input: the number of rows is unknown while reading, so the share done and
// the ETA come from the bytes read out of the input's size, when the size is known (a file).

#include <cstdint>
#include <optional>
#include <string>

namespace cardsync {

/// What a run has done so far.
struct ProgressSnapshot {
    double elapsed_s = 0;           ///< since the run started
    std::uint64_t rows_read = 0;    ///< rows pulled from the input
    std::uint64_t rows_done = 0;    ///< rows recorded (any outcome)
    std::uint64_t rows_total = 0;   ///< rows in the input when known (the whole input is read), else 0
    std::uint64_t bytes_read = 0;   ///< input bytes consumed by the reader
    std::uint64_t bytes_total = 0;  ///< input size when known (a regular file), else 0
    std::uint64_t updated = 0, skipped = 0, rejected = 0, failed = 0, invalid = 0;  ///< records per outcome
    std::uint64_t requests = 0;     ///< requests sent so far (attempts and free resends)
    std::uint64_t in_flight = 0;    ///< requests sent, answer not yet in
    std::uint64_t waiting = 0;      ///< rows waiting for a retry (or their number's budget)
    double rate_now = 0;            ///< rows recorded per second over the last interval (0 unknown)
};

/// Share of the work done, 0..1: rows_done / rows_total when the count is known, else rows_done
/// out of the rows expected from the bytes (rows_read x bytes_total / bytes_read: rows are read
/// ahead of the answers, so bytes alone would run ahead); nullopt when no total is known (stdin)
/// or nothing is read yet.
std::optional<double> progress_fraction(const ProgressSnapshot& s) noexcept;

/// Seconds left at the average pace so far, from progress_fraction(); nullopt when no total is
/// known or nothing is done yet.
std::optional<double> eta_seconds(const ProgressSnapshot& s) noexcept;

/// Rows per second: rate_now when set, else the average since the start.
double rows_per_second(const ProgressSnapshot& s) noexcept;

/// "1:02:03", "4:05" (m:ss under an hour), "--:--" for unknown.
std::string clock_text(std::optional<double> seconds);

/// The refreshing terminal line: starts with "\r", ends with "ESC[K" (erase the rest of the line),
/// no newline. ANSI colours (updated green, rejected/failed red, invalid yellow) when `colour`.
/// Example: "\r  1,234/? rows 12.0% 310 rows/s ETA 0:42 | 1,200 updated 3 rejected 0 failed 31 invalid | 16 in flight 2 waiting\x1b[K"
std::string terminal_line(const ProgressSnapshot& s, bool colour);

/// The plain line for a non-terminal stderr (log collectors): key=value pairs, one line, no
/// control characters, ending in "\n". Example:
/// "cardsync: progress elapsed_s=12.00 rows_done=1234 rows_read=1250 done_pct=12.0 rows_per_s=310.2
///  eta_s=42 updated=1200 skipped=0 rejected=3 failed=0 invalid=31 requests=1240 in_flight=16 waiting=2"
/// (done_pct and eta_s are left out when unknown).
std::string log_line(const ProgressSnapshot& s);

/// Whether colours may be used: on a terminal, and NO_COLOR unset or empty (https://no-color.org).
bool colour_allowed(bool is_terminal, const char* no_color_env) noexcept;

}  // namespace cardsync
