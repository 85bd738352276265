#include "cardsync/validate.hpp"

#include "cardsync/text.hpp"

#include <boost/url/parse.hpp>
#include <simdjson.h>

#include <array>
#include <string>

namespace cardsync {

namespace {

constexpr std::string_view e164_hint = "expected E.164: '+' followed by country code and number, e.g. +15551234567";

bool is_space(char c) noexcept { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'; }
bool is_separator(char c) noexcept { return c == ' ' || c == '-' || c == '.' || c == '(' || c == ')'; }
bool is_digit(char c) noexcept { return c >= '0' && c <= '9'; }

std::string_view trim(std::string_view s) noexcept {
    while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
    while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
    return s;
}

// Describes the character at s[i] for a message: 'a', a tab, the character '\xC2\xA0'...
std::string describe_char(std::string_view s, std::size_t i) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c >= 0x21 && c < 0x7F) return std::string("'") + s[i] + "'";
    if (c == '\t') return "a tab";
    if (c == '\n' || c == '\r') return "a line break";
    if (c < 0x20 || c == 0x7F) return "a control character";
    const std::size_t n = utf8_sequence_length(s, i);
    if (n == 0) return "a byte that is not UTF-8";
    return "the character " + quoted(s.substr(i, n));
}

bool set(std::string* reason, std::string text) {
    if (reason) *reason = std::move(text);
    return false;
}

// Finds the first problem with a name; empty when there is none.
std::string name_problem(std::string_view field, std::string_view value) {
    if (value.empty()) return std::string(field) + " is empty; leave the cell out to keep the current value";
    if (!simdjson::validate_utf8(value.data(), value.size())) {
        std::size_t i = 0;
        while (i < value.size() && utf8_sequence_length(value, i) != 0) i += utf8_sequence_length(value, i);
        return std::string(field) + " " + quoted(value) + " is not valid UTF-8 (at byte " + std::to_string(i + 1) +
               "); save the input file as UTF-8";
    }
    for (std::size_t i = 0; i < value.size(); ++i) {
        const auto c = static_cast<unsigned char>(value[i]);
        const bool c1 = c == 0xC2 && i + 1 < value.size() && static_cast<unsigned char>(value[i + 1]) < 0xA0;
        if (c < 0x20 || c == 0x7F || c1) {
            return std::string(field) + " " + quoted(value) + " contains a control character (byte " +
                   std::to_string(i + 1) + "); names must be printable text without tabs or line breaks";
        }
    }
    if (value.size() > max_name_bytes) {
        return std::string(field) + " " + quoted(value) + " is " + std::to_string(value.size()) +
               " bytes long; the limit is " + std::to_string(max_name_bytes) + " bytes of UTF-8";
    }
    return {};
}

// Finds the first problem with a trimmed image_url; empty when there is none.
constexpr bool is_alnum(unsigned char c) noexcept {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}
bool is_hex(unsigned char c) noexcept { return (c >= '0' && c <= '9') || ((c | 0x20) >= 'a' && (c | 0x20) <= 'f'); }

// RFC 3986 pchar without pct-encoded: unreserved / sub-delims / ":" / "@".
constexpr std::array<bool, 256> pchar_table = [] {
    std::array<bool, 256> t{};
    for (unsigned char c : std::string_view("-._~!$&'()*+,;=:@")) t[c] = true;
    for (int c = 0; c < 256; ++c) t[static_cast<std::size_t>(c)] = t[static_cast<std::size_t>(c)] || is_alnum(static_cast<unsigned char>(c));
    return t;
}();

std::string url_problem(std::string_view url) {
    if (url.empty()) return "image_url is blank; leave the cell out to keep the current image";
    if (url.size() > max_url_bytes) {
        return "image_url " + quoted(url) + " is " + std::to_string(url.size()) + " bytes long; the limit is " +
               std::to_string(max_url_bytes) + " bytes";
    }
    for (std::size_t i = 0; i < url.size(); ++i) {
        const auto c = static_cast<unsigned char>(url[i]);
        if (c <= 0x20 || c == 0x7F) {
            return "image_url " + quoted(url) + " contains " + (c == 0x20 ? "a space" : "a control character") +
                   " (byte " + std::to_string(i + 1) + "); percent-encode it (a space is %20)";
        }
    }
    if (is_plain_http_url(url)) return {};
    const auto parsed = boost::urls::parse_uri(url);  // absolute-URI plus an optional #fragment
    if (!parsed) {
        std::string why = "image_url " + quoted(url) + " is not an absolute URL";
        for (char c : url) {
            if (static_cast<unsigned char>(c) >= 0x80) return why + " (non-ASCII characters must be percent-encoded)";
        }
        return why + "; expected http:// or https:// followed by a host, e.g. https://example.com/photo.jpg";
    }
    const auto scheme = parsed->scheme_id();
    if (scheme != boost::urls::scheme::http && scheme != boost::urls::scheme::https) {
        return "image_url " + quoted(url) + " uses the scheme '" + std::string(parsed->scheme()) +
               "'; only http and https URLs are accepted";
    }
    if (!parsed->has_authority() || parsed->encoded_host().empty()) {
        return "image_url " + quoted(url) + " has no host; expected e.g. https://example.com/photo.jpg";
    }
    return {};
}

}  // namespace

bool is_plain_http_url(std::string_view url) noexcept {
    std::size_t i = 0;
    if (url.starts_with("https://")) i = 8;
    else if (url.starts_with("http://")) i = 7;
    else return false;
    const std::size_t host = i;
    while (i < url.size() && (is_alnum(static_cast<unsigned char>(url[i])) || url[i] == '.' || url[i] == '-')) ++i;
    if (i == host) return false;
    if (i < url.size() && url[i] == ':') {
        const std::size_t port = ++i;
        while (i < url.size() && is_digit(url[i])) ++i;
        if (i == port || i - port > 5) return false;
    }
    if (i < url.size() && url[i] != '/' && url[i] != '?' && url[i] != '#') return false;
    bool fragment = false;
    for (; i < url.size(); ++i) {
        const auto c = static_cast<unsigned char>(url[i]);
        if (pchar_table[c] || c == '/' || c == '?') continue;
        if (c == '%' && i + 2 < url.size() && is_hex(static_cast<unsigned char>(url[i + 1])) &&
            is_hex(static_cast<unsigned char>(url[i + 2]))) {
            i += 2;
            continue;
        }
        if (c == '#' && !fragment) {
            fragment = true;
            continue;
        }
        return false;
    }
    return true;
}

std::optional<std::string> normalize_e164(std::string_view raw, std::string* reason) {
    const std::string_view value = trim(raw);
    if (value.empty()) {
        set(reason, "phone number is empty; " + std::string(e164_hint));
        return std::nullopt;
    }
    std::string number;
    number.reserve(15);  // within std::string's inline 15 bytes: no allocation for any E.164 number
    std::size_t plus_count = 0;
    for (std::size_t i = 0; i < value.size(); ++i) {
        const char c = value[i];
        if (is_digit(c)) {
            number.push_back(c);
        } else if (c == '+') {
            if (!number.empty() || plus_count++ > 0) {
                set(reason, quoted(raw) + " has a '+' that is not at the start; " + std::string(e164_hint));
                return std::nullopt;
            }
        } else if (!is_separator(c)) {
            set(reason, quoted(raw) + " contains " + describe_char(value, i) +
                            "; a phone number holds only digits after '+' (spaces, dashes, dots and "
                            "parentheses are ignored)");
            return std::nullopt;
        }
    }
    if (plus_count == 0) {
        set(reason, std::string(e164_hint) + "; got " + quoted(raw));
        return std::nullopt;
    }
    if (number.size() < 2 || number.size() > 15) {
        set(reason, quoted(raw) + " has " + std::to_string(number.size()) +
                        (number.size() == 1 ? " digit" : " digits") +
                        "; an E.164 number has 2 to 15 digits after '+' (country code included)");
        return std::nullopt;
    }
    if (number.front() == '0') {
        set(reason, quoted(raw) + " starts with 0 after '+'; the country code comes first and never starts "
                                  "with 0 (e.g. +44 20 7946 0958, not +0 20 7946 0958)");
        return std::nullopt;
    }
    number.insert(number.begin(), '+');
    return number;
}

bool is_e164(std::string_view number) noexcept {
    if (number.size() < 3 || number.size() > 16 || number[0] != '+' || number[1] < '1' || number[1] > '9')
        return false;
    for (std::size_t i = 2; i < number.size(); ++i)
        if (!is_digit(number[i])) return false;
    return true;
}

bool is_valid_utf8(std::string_view text) noexcept { return simdjson::validate_utf8(text.data(), text.size()); }

namespace {

// validate()'s work; `fields` is the row's own, copied or taken.
std::variant<ContactUpdate, InvalidRow> check_row(const InputRow& row, CardFields&& fields) {
    if (!row.error.empty()) return InvalidRow{row.error};
    if (trim(row.phone_number).empty()) return InvalidRow{"missing phone_number"};
    std::string reason;
    auto number = normalize_e164(row.phone_number, &reason);
    if (!number) return InvalidRow{"phone_number: " + reason};

    ContactUpdate update{row.line, std::move(*number), std::move(fields)};
    if (update.fields.first_name) {
        if (auto why = name_problem("first_name", *update.fields.first_name); !why.empty()) return InvalidRow{why};
    }
    if (update.fields.last_name) {
        if (auto why = name_problem("last_name", *update.fields.last_name); !why.empty()) return InvalidRow{why};
    }
    if (auto& url = update.fields.image_url) {
        const std::string_view trimmed = trim(*url);
        if (auto why = url_problem(trimmed); !why.empty()) return InvalidRow{why};
        if (trimmed.size() != url->size()) *url = std::string(trimmed);
    }
    if (update.fields.empty()) return InvalidRow{"nothing to update: set first_name, last_name or image_url"};
    return update;
}

}  // namespace

std::variant<ContactUpdate, InvalidRow> validate(const InputRow& row) {
    CardFields fields = row.fields;
    return check_row(row, std::move(fields));
}

std::variant<ContactUpdate, InvalidRow> validate(InputRow&& row) {
    CardFields fields = std::move(row.fields);
    return check_row(row, std::move(fields));
}

}  // namespace cardsync
