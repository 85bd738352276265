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
/// ("+1 (555) 123-4567" -> "+15551234567"). Returns nullopt and sets `reason` otherwise.
std::optional<std::string> normalize_e164(std::string_view raw, std::string* reason = nullptr);

/// True for an exact E.164 string (no separators): what the simulator demands of a query.
bool is_e164(std::string_view number) noexcept;

/// True when `text` is valid UTF-8 (simdjson's validator).
bool is_valid_utf8(std::string_view text) noexcept;

/// Why a row is invalid; `message` says what was expected.
struct InvalidRow {
    std::string message;
};

/// Validates a row: its reader error if any, the number, each present field (names: valid UTF-8, no
/// control characters, at most max_name_bytes; image_url: absolute http/https URL), and that at
/// least one field is set ("nothing to update").
std::variant<ContactUpdate, InvalidRow> validate(const InputRow& row);

}  // namespace cardsync
