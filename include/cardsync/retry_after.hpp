#pragma once
// Server wait hints: the `Retry-After` header (RFC 9110 section 10.2.3) and the `retry-after-ms`
// header the Stainless SDKs honour. Pure: the wall-clock "now" that an HTTP-date is measured
// against is passed in.

#include "cardsync/clock.hpp"

#include <chrono>
#include <optional>
#include <string_view>

namespace cardsync {

/// Largest wait accepted from a hint; a larger one (about 31 years) is treated as garbage.
inline constexpr double max_retry_after_seconds = 1e9;

/// Parses a Retry-After value, surrounding blanks ignored:
///   delta-seconds: digits, optionally with a fraction ("120", "1.5") -> that long;
///   HTTP-date: IMF-fixdate "Sun, 06 Nov 1994 08:49:37 GMT", obsolete RFC 850
///   "Sunday, 06-Nov-94 08:49:37 GMT" or asctime "Sun Nov  6 08:49:37 1994" -> the time from
///   `now` to that date, zero when it is already past.
/// nullopt for anything else: empty, signs ("-1", "+1"), exponents, trailing junk, bad dates,
/// values above max_retry_after_seconds.
std::optional<Duration> parse_retry_after(std::string_view value, std::chrono::system_clock::time_point now);

/// Parses a retry-after-ms value: non-negative milliseconds, optionally fractional ("250", "12.5").
/// nullopt for negative or garbage values.
std::optional<Duration> parse_retry_after_ms(std::string_view value);

/// Parses an HTTP-date in any of the three forms above (GMT, whole seconds). RFC 850's two-digit
/// year is read as the year in [now - 49 years, now + 50 years] with those last two digits.
std::optional<std::chrono::system_clock::time_point> parse_http_date(
    std::string_view value, std::chrono::system_clock::time_point now);

}  // namespace cardsync
