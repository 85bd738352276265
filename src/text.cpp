#include "cardsync/text.hpp"

#include <simdjson.h>

namespace cardsync {

std::size_t utf8_sequence_length(std::string_view s, std::size_t i) noexcept {
    const auto b = [&](std::size_t k) { return static_cast<unsigned char>(s[k]); };
    const unsigned char c = b(i);
    if (c < 0x80) return 1;
    std::size_t n;
    unsigned char lo = 0x80, hi = 0xBF;  // allowed range of the second byte (RFC 3629 table)
    if (c >= 0xC2 && c <= 0xDF) n = 2;
    else if (c == 0xE0) n = 3, lo = 0xA0;
    else if (c == 0xED) n = 3, hi = 0x9F;  // no surrogates
    else if (c >= 0xE1 && c <= 0xEF) n = 3;
    else if (c == 0xF0) n = 4, lo = 0x90;
    else if (c == 0xF4) n = 4, hi = 0x8F;  // nothing past U+10FFFF
    else if (c >= 0xF1 && c <= 0xF3) n = 4;
    else return 0;
    if (s.size() - i < n) return 0;
    if (b(i + 1) < lo || b(i + 1) > hi) return 0;
    for (std::size_t k = 2; k < n; ++k)
        if ((b(i + k) & 0xC0) != 0x80) return 0;
    return n;
}

std::string quoted(std::string_view value, std::size_t max_bytes) {
    static constexpr char hex[] = "0123456789ABCDEF";
    std::string out;
    out.reserve(std::min(value.size(), max_bytes) + 8);
    out.push_back('\'');
    std::size_t shown = 0;  // bytes of `value` already shown
    while (shown < value.size()) {
        const std::size_t n = utf8_sequence_length(value, shown);
        if (shown + std::max<std::size_t>(n, 1) > max_bytes) {
            out.append("...");
            break;
        }
        const auto c = static_cast<unsigned char>(value[shown]);
        const bool control = n == 1 ? (c < 0x20 || c == 0x7F)
                                    : (n == 2 && c == 0xC2 && static_cast<unsigned char>(value[shown + 1]) < 0xA0);
        if (n == 0 || control) {  // shown byte by byte, so the reader sees exactly what is there
            const std::size_t len = n == 0 ? 1 : n;
            for (std::size_t k = 0; k < len; ++k) {
                const auto byte = static_cast<unsigned char>(value[shown + k]);
                out.append("\\x");
                out.push_back(hex[byte >> 4]);
                out.push_back(hex[byte & 0xF]);
            }
            shown += len;
        } else {
            out.append(value.data() + shown, n);
            shown += n;
        }
    }
    out.push_back('\'');
    return out;
}

void append_utf8_lossy(std::string& out, std::string_view text) {
    if (simdjson::validate_utf8(text.data(), text.size())) {
        out.append(text);
        return;
    }
    std::size_t i = 0;
    while (i < text.size()) {
        const std::size_t n = utf8_sequence_length(text, i);
        if (n == 0) {
            out.append("\xEF\xBF\xBD");  // U+FFFD REPLACEMENT CHARACTER, one per bad byte
            ++i;
        } else {
            out.append(text.data() + i, n);
            i += n;
        }
    }
}

std::string redact_secret(std::string text, std::string_view secret) {
    constexpr std::string_view marker = "[API key]";
    if (secret.empty()) return text;
    for (auto at = text.find(secret); at != std::string::npos; at = text.find(secret, at + marker.size()))
        text.replace(at, secret.size(), marker);
    return text;
}

}  // namespace cardsync
