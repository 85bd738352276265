#include "cardsync/retry_after.hpp"

#include <array>
#include <cctype>
#include <charconv>

namespace cardsync {

namespace {

using namespace std::chrono;

std::string_view trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
    return s;
}

bool is_digit(char c) { return c >= '0' && c <= '9'; }

// Digits with an optional fraction ("12", "1.5", ".5", "5."): no sign, no exponent, nothing else.
std::optional<double> parse_decimal(std::string_view s) {
    int digits = 0, dots = 0;
    for (char c : s) {
        if (is_digit(c)) ++digits;
        else if (c == '.') ++dots;
        else return std::nullopt;
    }
    if (digits == 0 || dots > 1) return std::nullopt;
    double value = 0;
    const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), value, std::chars_format::fixed);
    if (ec != std::errc() || end != s.data() + s.size()) return std::nullopt;
    return value;
}

std::optional<Duration> seconds_hint(std::optional<double> seconds) {
    if (!seconds || *seconds > max_retry_after_seconds) return std::nullopt;
    return seconds_to_duration(*seconds);
}

// A cursor over an HTTP-date; every step fails the whole parse by returning false.
struct Cursor {
    std::string_view s;

    bool literal(std::string_view text) {
        if (s.substr(0, text.size()) != text) return false;
        s.remove_prefix(text.size());
        return true;
    }
    bool number(int width, int& out) {  // exactly `width` digits
        if (s.size() < static_cast<std::size_t>(width)) return false;
        out = 0;
        for (int i = 0; i < width; ++i) {
            if (!is_digit(s[i])) return false;
            out = out * 10 + (s[i] - '0');
        }
        s.remove_prefix(width);
        return true;
    }
    // One of `names`, matched case-insensitively; its index in `out`.
    template <std::size_t N>
    bool name(const std::array<std::string_view, N>& names, int& out) {
        for (std::size_t i = 0; i < N; ++i) {
            const auto& n = names[i];
            if (s.size() < n.size()) continue;
            bool same = true;
            for (std::size_t k = 0; k < n.size() && same; ++k)
                same = std::tolower(static_cast<unsigned char>(s[k])) == std::tolower(static_cast<unsigned char>(n[k]));
            if (same) {
                s.remove_prefix(n.size());
                out = static_cast<int>(i);
                return true;
            }
        }
        return false;
    }
    bool time(int& h, int& m, int& sec) {
        return number(2, h) && literal(":") && number(2, m) && literal(":") && number(2, sec) &&
               h <= 23 && m <= 59 && sec <= 60;  // 60: a leap second
    }
};

constexpr std::array<std::string_view, 7> short_days{"Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"};
constexpr std::array<std::string_view, 7> long_days{"Monday", "Tuesday", "Wednesday", "Thursday",
                                                    "Friday", "Saturday", "Sunday"};
constexpr std::array<std::string_view, 12> months{"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                  "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

std::optional<system_clock::time_point> make_time(int y, int mon, int d, int h, int m, int sec) {
    if (y < 1900 || y > 2200) return std::nullopt;  // also keeps nanosecond time_points in range
    const year_month_day date{year{y}, month{static_cast<unsigned>(mon)}, day{static_cast<unsigned>(d)}};
    if (!date.ok()) return std::nullopt;
    return system_clock::time_point(sys_days(date) + hours(h) + minutes(m) + seconds(sec));
}

}  // namespace

std::optional<system_clock::time_point> parse_http_date(std::string_view value, system_clock::time_point now) {
    int wday = 0, d = 0, mon = 0, y = 0, h = 0, m = 0, sec = 0;
    {  // IMF-fixdate: Sun, 06 Nov 1994 08:49:37 GMT
        Cursor c{trim(value)};
        if (c.name(short_days, wday) && c.literal(", ") && c.number(2, d) && c.literal(" ") &&
            c.name(months, mon) && c.literal(" ") && c.number(4, y) && c.literal(" ") && c.time(h, m, sec) &&
            c.literal(" GMT") && c.s.empty())
            return make_time(y, mon + 1, d, h, m, sec);
    }
    {  // RFC 850: Sunday, 06-Nov-94 08:49:37 GMT
        Cursor c{trim(value)};
        if (c.name(long_days, wday) && c.literal(", ") && c.number(2, d) && c.literal("-") &&
            c.name(months, mon) && c.literal("-") && c.number(2, y) && c.literal(" ") && c.time(h, m, sec) &&
            c.literal(" GMT") && c.s.empty()) {
            const int this_year = static_cast<int>(year_month_day(floor<days>(now)).year());
            int full = this_year - this_year % 100 + y;
            if (full > this_year + 50) full -= 100;
            else if (full < this_year - 49) full += 100;
            return make_time(full, mon + 1, d, h, m, sec);
        }
    }
    {  // asctime: Sun Nov  6 08:49:37 1994
        Cursor c{trim(value)};
        if (c.name(short_days, wday) && c.literal(" ") && c.name(months, mon) && c.literal(" ") &&
            (c.literal(" ") ? c.number(1, d) : c.number(2, d)) && c.literal(" ") && c.time(h, m, sec) &&
            c.literal(" ") && c.number(4, y) && c.s.empty())
            return make_time(y, mon + 1, d, h, m, sec);
    }
    return std::nullopt;
}

std::optional<Duration> parse_retry_after(std::string_view value, system_clock::time_point now) {
    value = trim(value);
    if (value.empty()) return std::nullopt;
    if (is_digit(value.front()) || value.front() == '.') return seconds_hint(parse_decimal(value));
    const auto date = parse_http_date(value, now);
    if (!date) return std::nullopt;
    if (*date <= now) return Duration::zero();
    const auto wait = *date - now;
    if (wait > duration<double>(max_retry_after_seconds)) return std::nullopt;
    return duration_cast<Duration>(wait);
}

std::optional<Duration> parse_retry_after_ms(std::string_view value) {
    const auto ms = parse_decimal(trim(value));
    if (!ms) return std::nullopt;
    return seconds_hint(*ms / 1000);
}

}  // namespace cardsync
