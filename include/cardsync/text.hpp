#pragma once
// Small text helpers for what people read: quoting a value in a message, keeping output valid
// UTF-8, and keeping the API key out of it.

#include <cstddef>
#include <string>
#include <string_view>

namespace cardsync {

/// `value` in single quotes for an error message: control characters and invalid UTF-8 bytes shown
/// as \xNN, cut after `max_bytes` (at a character boundary) with "..." appended.
std::string quoted(std::string_view value, std::size_t max_bytes = 64);

/// Appends `text`, replacing each invalid UTF-8 sequence by U+FFFD, so that files we write are
/// always valid UTF-8 (a valid `text` is copied unchanged; the check is simdjson's validator).
void append_utf8_lossy(std::string& out, std::string_view text);

/// Length of the valid UTF-8 sequence starting at `s[i]` (1-4), or 0 when the byte there does not
/// start one (stray continuation byte, overlong form, surrogate, beyond U+10FFFF, or cut short).
std::size_t utf8_sequence_length(std::string_view s, std::size_t i) noexcept;

/// `text` with every occurrence of `secret` replaced by "[API key]" (unchanged if `secret` is
/// empty). The search goes on after each replacement, so a key that occurs in the marker itself
/// ("k", "API") is still replaced everywhere, once.
std::string redact_secret(std::string text, std::string_view secret);

}  // namespace cardsync
