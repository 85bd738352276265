#pragma once
// The head of an HTTP/1.1 answer in its plainest shape, read without a general parser. Nearly
// every answer (from the API, nginx or the simulator) is a status line, a few fields,
// Content-Length and a small body. Beast's parser, which must take every shape HTTP allows,
// spent ~2,900 instructions on such a head (callgrind), a large share of the network thread's
// own work per row. This reads that one shape and declines everything else, which the connection
// pool hands to Beast. Declining is always safe; what is accepted reads as Beast reads it (the
// test compares the two on generated answers). Pure: no I/O, no Beast.

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace cardsync {

struct PlainAnswerHead {
    int status = 0;
    std::size_t head_bytes = 0;       ///< the head's length, its blank line included
    std::uint64_t content_length = 0;
    bool keep_alive = true;           ///< false for "Connection: close"
    // Values as Beast gives them (surrounding spaces and tabs removed), pointing into the input;
    // empty when absent.
    std::string_view retry_after, retry_after_ms, should_retry, location;
};

enum class HeadScan {
    plain,      ///< `head` describes a complete head of the plain shape
    need_more,  ///< so far of the plain shape, but the head is not complete yet
    other,      ///< anything else: leave it to a full parser
};

/// Reads the head at the start of `bytes` if it has the plain shape:
/// - the status line "HTTP/1.1 NNN reason" with NNN from 200 to 599 but not 204 or 304 (those
///   and 1xx have bodies of their own rules);
/// - each field "name: value" with a token name and a value of visible ASCII, spaces and tabs;
/// - exactly one Content-Length (digits), no Transfer-Encoding, Upgrade or Proxy-Connection;
///   at most one Connection, whose value is "keep-alive" or "close"; at most one each of
///   Retry-After, Retry-After-Ms, X-Should-Retry and Location;
/// - lines ending in CRLF, no folded lines, and a head of at most max_plain_head bytes.
/// Anything else is `other`, as soon as a complete line shows it.
HeadScan scan_plain_answer_head(std::string_view bytes, PlainAnswerHead& head) noexcept;

/// The longest head read here; longer ones go to the full parser.
inline constexpr std::size_t max_plain_head = 8 * 1024;

}  // namespace cardsync
