#pragma once
// Writing JSON text by hand, fast and correct: the one escaping routine every encoder uses.

#include <string>
#include <string_view>

namespace cardsync {

/// Appends `text` as a JSON string literal (with quotes): escapes '"', '\\' and every control
/// character (U+0000-U+001F as \n, \t, ... or \u00XX); keeps non-ASCII UTF-8 bytes as they are.
void append_json_string(std::string& out, std::string_view text);

}  // namespace cardsync
