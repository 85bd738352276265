#include "cardsync/progress.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

namespace cardsync {

std::optional<double> progress_fraction(const ProgressSnapshot& s) noexcept {
    if (s.rows_total) return std::min(1.0, static_cast<double>(s.rows_done) / static_cast<double>(s.rows_total));
    if (!s.bytes_total || !s.bytes_read || !s.rows_read) return std::nullopt;
    // Rows are read ahead of the rows recorded: the bytes give the number of rows to expect
    // (rows read so far, scaled by the share of bytes read), the rows recorded the share done.
    const double expected = static_cast<double>(s.rows_read) * static_cast<double>(s.bytes_total) /
                            static_cast<double>(std::min(s.bytes_read, s.bytes_total));
    return std::min(1.0, static_cast<double>(s.rows_done) / expected);
}

std::optional<double> eta_seconds(const ProgressSnapshot& s) noexcept {
    const auto f = progress_fraction(s);
    if (!f || *f <= 0 || s.elapsed_s <= 0) return std::nullopt;
    return s.elapsed_s * (1 - *f) / *f;
}

double rows_per_second(const ProgressSnapshot& s) noexcept {
    if (s.rate_now > 0) return s.rate_now;
    return s.elapsed_s > 0 ? static_cast<double>(s.rows_done) / s.elapsed_s : 0;
}

std::string clock_text(std::optional<double> seconds) {
    if (!seconds || !std::isfinite(*seconds) || *seconds < 0) return "--:--";
    const auto total = static_cast<unsigned long long>(std::llround(*seconds));
    const auto h = total / 3600, m = total / 60 % 60, sec = total % 60;
    return h ? fmt::format("{}:{:02}:{:02}", h, m, sec) : fmt::format("{}:{:02}", m, sec);
}

namespace {

// 1234567 -> "1,234,567": easier to read at a glance on a refreshing line.
std::string grouped(std::uint64_t n) {
    std::string digits = std::to_string(n), out;
    for (std::size_t i = 0; i < digits.size(); ++i) {
        if (i && (digits.size() - i) % 3 == 0) out += ',';
        out += digits[i];
    }
    return out;
}

std::string painted(const std::string& text, const char* sgr, bool colour, bool nonzero) {
    if (!colour || !nonzero) return text;
    return fmt::format("\x1b[{}m{}\x1b[0m", sgr, text);
}

}  // namespace

std::string terminal_line(const ProgressSnapshot& s, bool colour) {
    std::string line = "\r";
    line += s.rows_total ? fmt::format("{}/{} rows", grouped(s.rows_done), grouped(s.rows_total))
                         : fmt::format("{} rows", grouped(s.rows_done));
    if (const auto f = progress_fraction(s)) line += fmt::format(" {:.1f}%", *f * 100);
    line += fmt::format(" {:.0f} rows/s ETA {}", rows_per_second(s), clock_text(eta_seconds(s)));
    line += " | " + painted(grouped(s.updated) + " updated", "32", colour, s.updated);
    if (s.skipped) line += " " + grouped(s.skipped) + " skipped";
    line += " " + painted(grouped(s.rejected) + " rejected", "31", colour, s.rejected);
    line += " " + painted(grouped(s.failed) + " failed", "31", colour, s.failed);
    line += " " + painted(grouped(s.invalid) + " invalid", "33", colour, s.invalid);
    line += fmt::format(" | {} in flight {} waiting", s.in_flight, s.waiting);
    line += "\x1b[K";
    return line;
}

std::string log_line(const ProgressSnapshot& s) {
    std::string line = fmt::format("cardsync: progress elapsed_s={:.2f} rows_done={} rows_read={}", s.elapsed_s,
                                   s.rows_done, s.rows_read);
    if (s.rows_total) line += fmt::format(" rows_total={}", s.rows_total);
    if (const auto f = progress_fraction(s)) line += fmt::format(" done_pct={:.1f}", *f * 100);
    line += fmt::format(" rows_per_s={:.1f}", rows_per_second(s));
    if (const auto eta = eta_seconds(s)) line += fmt::format(" eta_s={:.0f}", *eta);
    line += fmt::format(" updated={} skipped={} rejected={} failed={} invalid={} requests={} in_flight={} waiting={}\n",
                        s.updated, s.skipped, s.rejected, s.failed, s.invalid, s.requests, s.in_flight, s.waiting);
    return line;
}

bool colour_allowed(bool is_terminal, const char* no_color_env) noexcept {
    return is_terminal && (no_color_env == nullptr || *no_color_env == '\0');
}

}  // namespace cardsync
