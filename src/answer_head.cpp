#include "cardsync/answer_head.hpp"

#include <array>
#include <bit>
#include <cstring>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace cardsync {

namespace {

// What each byte may be, as bits: a table, because every byte of the head is looked up.
constexpr unsigned char name_bit = 1;   // RFC 9110 tchar: what a field name is made of
constexpr unsigned char value_bit = 2;  // visible ASCII, space and tab: what a value is made of here
constexpr auto byte_classes = [] {
    std::array<unsigned char, 256> t{};
    for (int c = 0x20; c < 0x7F; ++c) t[static_cast<std::size_t>(c)] = value_bit;
    t['\t'] = value_bit;
    for (int c = '0'; c <= '9'; ++c) t[static_cast<std::size_t>(c)] |= name_bit;
    for (int c = 'a'; c <= 'z'; ++c) t[static_cast<std::size_t>(c)] |= name_bit;
    for (int c = 'A'; c <= 'Z'; ++c) t[static_cast<std::size_t>(c)] |= name_bit;
    for (char c : std::string_view("!#$%&'*+-.^_`|~")) t[static_cast<unsigned char>(c)] |= name_bit;
    return t;
}();

constexpr bool is_class(char c, unsigned char bit) noexcept {
    return (byte_classes[static_cast<unsigned char>(c)] & bit) != 0;
}

// The index of the first byte from `i` on that is not a value byte (a control byte other than
// tab, CR included, DEL, or over 0x7F), or `end`. Sixteen bytes a step with SSE2, which every
// x86-64 has: values are most of a head, and each line ends in the CR this stops at.
#if defined(__SSE2__)
unsigned not_value_bits(const char* p) noexcept {
    const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
    const __m128i below_space = _mm_cmplt_epi8(v, _mm_set1_epi8(0x20));  // signed: bytes over 0x7F too
    const __m128i tab = _mm_cmpeq_epi8(v, _mm_set1_epi8('\t'));
    const __m128i del = _mm_cmpeq_epi8(v, _mm_set1_epi8(0x7F));
    return static_cast<unsigned>(_mm_movemask_epi8(_mm_or_si128(_mm_andnot_si128(tab, below_space), del)));
}

std::size_t skip_value_bytes(const char* data, std::size_t i, std::size_t end) noexcept {
    for (; i + 16 <= end; i += 16)
        if (const unsigned bits = not_value_bits(data + i)) return i + static_cast<std::size_t>(std::countr_zero(bits));
    if (i == end) return end;
    char tail[16] = {};  // the last few bytes, then NULs, which stop the scan at `end`: no read past it
    std::memcpy(tail, data + i, end - i);
    return i + static_cast<std::size_t>(std::countr_zero(not_value_bits(tail)));
}
#else
std::size_t skip_value_bytes(const char* data, std::size_t i, std::size_t end) noexcept {
    while (i < end && is_class(data[i], value_bit)) ++i;
    return i;
}
#endif

// ASCII case-insensitive comparison with a lower-case literal.
bool is(std::string_view text, std::string_view lower) noexcept {
    if (text.size() != lower.size()) return false;
    for (std::size_t i = 0; i < text.size(); ++i) {
        auto c = static_cast<unsigned char>(text[i]);
        if (c >= 'A' && c <= 'Z') c = static_cast<unsigned char>(c - 'A' + 'a');
        if (c != static_cast<unsigned char>(lower[i])) return false;
    }
    return true;
}

std::string_view trim(std::string_view s) noexcept {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
    return s;
}

// Keeps the first value of a field that may appear once; false on a second.
bool once(std::string_view& slot, bool& seen, std::string_view value) noexcept {
    if (seen) return false;
    seen = true;
    slot = value;
    return true;
}

}  // namespace

HeadScan scan_plain_answer_head(std::string_view bytes, PlainAnswerHead& head) noexcept {
    head = PlainAnswerHead{};
    constexpr std::string_view version = "HTTP/1.1 ";
    const std::size_t limit = bytes.size() < max_plain_head ? bytes.size() : max_plain_head;
    const std::string_view start = bytes.substr(0, version.size());
    if (start != version.substr(0, start.size())) return HeadScan::other;

    // The status line.
    const char* data = bytes.data();
    const auto* eol = static_cast<const char*>(std::memchr(data, '\n', limit));
    if (!eol) return limit == max_plain_head ? HeadScan::other : HeadScan::need_more;
    std::size_t line_end = static_cast<std::size_t>(eol - data);  // at the '\n'
    // "HTTP/1.1 200 " at least, then CRLF
    if (line_end < version.size() + 5 || data[line_end - 1] != '\r') return HeadScan::other;
    const std::string_view status_line = bytes.substr(0, line_end - 1);
    const char d0 = status_line[9], d1 = status_line[10], d2 = status_line[11];
    if (d0 < '2' || d0 > '5' || d1 < '0' || d1 > '9' || d2 < '0' || d2 > '9' || status_line[12] != ' ')
        return HeadScan::other;
    head.status = (d0 - '0') * 100 + (d1 - '0') * 10 + (d2 - '0');
    if (head.status == 204 || head.status == 304) return HeadScan::other;
    if (skip_value_bytes(data, 13, status_line.size()) != status_line.size()) return HeadScan::other;

    // The fields, up to the blank line.
    bool seen_length = false, seen_connection = false, seen_retry = false, seen_retry_ms = false;
    bool seen_should = false, seen_location = false;
    std::size_t at = line_end + 1;
    for (;;) {
        if (at >= limit) return limit == max_plain_head ? HeadScan::other : HeadScan::need_more;
        if (data[at] == '\r') {
            if (at + 1 >= limit) return limit == max_plain_head ? HeadScan::other : HeadScan::need_more;
            if (data[at + 1] != '\n') return HeadScan::other;
            head.head_bytes = at + 2;
            break;
        }
        // One pass over the line: the name, ':', then the value up to CR LF.
        std::size_t i = at;
        while (i < limit && is_class(data[i], name_bit)) ++i;
        if (i == limit) return limit == max_plain_head ? HeadScan::other : HeadScan::need_more;
        if (i == at || data[i] != ':') return HeadScan::other;  // also a folded line (it starts with a space)
        const std::string_view name = bytes.substr(at, i - at);
        const std::size_t value_at = ++i;
        i = skip_value_bytes(data, i, limit);
        if (i + 1 >= limit) return limit == max_plain_head ? HeadScan::other : HeadScan::need_more;
        if (data[i] != '\r' || data[i + 1] != '\n') return HeadScan::other;
        const std::string_view value = trim(bytes.substr(value_at, i - value_at));
        at = i + 2;

        switch (name.size()) {
            case 8:
                if (is(name, "location") && !once(head.location, seen_location, value)) return HeadScan::other;
                break;
            case 7:
                if (is(name, "upgrade")) return HeadScan::other;
                break;
            case 10:
                if (is(name, "connection")) {
                    if (seen_connection) return HeadScan::other;
                    seen_connection = true;
                    if (is(value, "close")) head.keep_alive = false;
                    else if (!is(value, "keep-alive")) return HeadScan::other;
                }
                break;
            case 11:
                if (is(name, "retry-after") && !once(head.retry_after, seen_retry, value)) return HeadScan::other;
                break;
            case 14:
                if (is(name, "content-length")) {
                    if (seen_length || value.empty() || value.size() > 18) return HeadScan::other;
                    seen_length = true;
                    for (char c : value) {
                        if (c < '0' || c > '9') return HeadScan::other;
                        head.content_length = head.content_length * 10 + static_cast<unsigned>(c - '0');
                    }
                } else if (is(name, "retry-after-ms") && !once(head.retry_after_ms, seen_retry_ms, value)) {
                    return HeadScan::other;
                } else if (is(name, "x-should-retry") && !once(head.should_retry, seen_should, value)) {
                    return HeadScan::other;
                }
                break;
            case 16:
                if (is(name, "proxy-connection")) return HeadScan::other;
                break;
            case 17:
                if (is(name, "transfer-encoding")) return HeadScan::other;
                break;
            default: break;
        }
    }
    return seen_length ? HeadScan::plain : HeadScan::other;
}

}  // namespace cardsync
