#pragma once
// Per-row validation: pure, no I/O. A bad row never stops the file; it gets a reason a person can act on.

#include "cardsync/contact_update.hpp"

#include <optional>
#include <string>
#include <string_view>
#include <variant>

namespace cardsync {

/// Longest first_name / last_name accepted, in bytes of UTF-8 (documented in README).
inline constexpr std::size_t max_name_bytes = 256;
/// Longest image_url accepted, in bytes.
inline constexpr std::size_t max_url_bytes = 2048;

/// Normalises an E.164 number: '+', then 2 to 15 digits, the first 1-9. Spaces, dashes, dots and
/// parentheses are removed when what remains is exactly such a number with its '+'
/// ("+1 (555) 123-4567" -> "+15551234567"). Surrounding whitespace is trimmed first. Returns nullopt
/// and sets `reason` otherwise: a sentence quoting the value, e.g. "expected E.164: '+' followed by
/// country code and number, e.g. +15551234567; got '5551234567'".
std::optional<std::string> normalize_e164(std::string_view raw, std::string* reason = nullptr);

/// True for an exact E.164 string (no separators): what the simulator demands of a query.
bool is_e164(std::string_view number) noexcept;

/// True when `text` is valid UTF-8 (simdjson's validator).
bool is_valid_utf8(std::string_view text) noexcept;

/// True for the common shape of image_url, checked without a full parse: "http://" or "https://",
/// a host of letters, digits, dots and dashes, an optional port of 1-5 digits, then path, query and
/// fragment of RFC 3986 characters (pct-encoded well-formed). Every such URL is one validate()
/// accepts; anything else goes to Boost.URL (the slower full parse, ~1.6 k instructions a URL).
bool is_plain_http_url(std::string_view url) noexcept;

/// Why a row is invalid; `message` says what was expected.
struct InvalidRow {
    std::string message;
};

/// Validates a row: its reader error if any, the number, each present field, and that at least one
/// field is set ("nothing to update"). The first problem found is reported.
/// - first_name / last_name: non-empty, valid UTF-8, no control characters (C0, DEL, C1 U+0080-U+009F,
///   so no tabs or newlines), at most max_name_bytes. Kept byte-exact: never trimmed or normalised,
///   because a name is the person's own text (a deliberate space is theirs to keep).
/// - image_url: surrounding whitespace trimmed (a pasted URL often carries some); then at most
///   max_url_bytes, no whitespace or control characters inside, an absolute http or https URI
///   (RFC 3986 URI, parsed by Boost.URL; a #fragment is allowed) with a non-empty host. Non-ASCII
///   must be percent-encoded. The update carries the trimmed URL.
std::variant<ContactUpdate, InvalidRow> validate(const InputRow& row);
/// The same, taking the row's fields instead of copying them (one allocation less a row for a long
/// image_url); row.phone_number and row.line are left as they were.
std::variant<ContactUpdate, InvalidRow> validate(InputRow&& row);

}  // namespace cardsync
