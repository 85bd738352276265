#include "cardsync/request_codec.hpp"

#include "cardsync/json_text.hpp"

#include <charconv>

namespace cardsync {

namespace {

// RFC 3986 unreserved: ALPHA / DIGIT / "-" / "." / "_" / "~".
constexpr bool is_unreserved(unsigned char c) noexcept {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.' ||
           c == '_' || c == '~';
}

void append_target(std::string& out, std::string_view base_path, std::string_view e164) {
    out.append(base_path);
    out.append("/v3/contact_card");
    if (!e164.empty()) {
        out.append("?phone_number=");
        append_query_value(out, e164);
    }
}

// Request line and the headers every request carries, up to (not including) Content-Length.
void append_head(std::string& out, std::string_view method, const RequestTemplate& tmpl, std::string_view e164,
                 bool has_body) {
    out.append(method);
    out.push_back(' ');
    append_target(out, tmpl.base_path, e164);
    out.append(" HTTP/1.1\r\nHost: ");
    out.append(tmpl.host);
    out.append("\r\nAuthorization: Bearer ");
    out.append(tmpl.api_key);
    if (has_body) out.append("\r\nContent-Type: application/json");
    out.append("\r\nAccept: application/json\r\nUser-Agent: ");
    out.append(user_agent);
    out.append("\r\n");
}

// Writes the head, then the body, then slips Content-Length (known only now) in front of the body:
// one pass over the fields and a memmove of a small body, instead of encoding the body twice.
template <class WriteBody>
void append_request(std::string& out, std::string_view method, const RequestTemplate& tmpl, std::string_view e164,
                    WriteBody&& write_body) {
    out.reserve(out.size() + 320 + tmpl.host.size() + tmpl.base_path.size() + tmpl.api_key.size());
    append_head(out, method, tmpl, e164, true);
    const std::size_t body_start = out.size();
    write_body(out);
    char tail[64] = "Content-Length: ";
    char* p = tail + 16;
    p = std::to_chars(p, tail + sizeof tail, out.size() - body_start).ptr;
    constexpr std::string_view close = "\r\nConnection: close\r\n\r\n";
    constexpr std::string_view end = "\r\n\r\n";
    const std::string_view rest = tmpl.keep_alive ? end : close;
    p = std::copy(rest.begin(), rest.end(), p);
    out.insert(body_start, tail, static_cast<std::size_t>(p - tail));
}

void append_fields(std::string& out, const CardFields& fields, bool first) {
    const auto field = [&](std::string_view key, const std::optional<std::string>& value) {
        if (!value) return;
        out.push_back(first ? '{' : ',');
        first = false;
        out.push_back('"');
        out.append(key);
        out.append("\":");
        append_json_string(out, *value);
    };
    field("first_name", fields.first_name);
    field("last_name", fields.last_name);
    field("image_url", fields.image_url);
    if (first) out.push_back('{');
    out.push_back('}');
}

}  // namespace

bool is_valid_header_value(std::string_view value) noexcept {
    for (const char ch : value) {
        const auto c = static_cast<unsigned char>(ch);
        if ((c < 0x20 && c != '\t') || c == 0x7F) return false;
    }
    return true;
}

void append_query_value(std::string& out, std::string_view value) {
    static constexpr char hex[] = "0123456789ABCDEF";
    std::size_t run = 0;  // start of the pending run of unreserved bytes, appended in one go
    for (std::size_t i = 0; i < value.size(); ++i) {
        const auto c = static_cast<unsigned char>(value[i]);
        if (is_unreserved(c)) continue;
        out.append(value.data() + run, i - run);
        run = i + 1;
        const char esc[3] = {'%', hex[c >> 4], hex[c & 0xF]};
        out.append(esc, 3);
    }
    out.append(value.data() + run, value.size() - run);
}

std::string contact_card_target(std::string_view base_path, std::string_view e164) {
    std::string target;
    target.reserve(base_path.size() + 48);
    append_target(target, base_path, e164);
    return target;
}

void append_json_body(std::string& out, const CardFields& fields) { append_fields(out, fields, true); }

void append_patch_request(std::string& out, const RequestTemplate& tmpl, std::string_view e164, const CardFields& fields) {
    append_request(out, "PATCH", tmpl, e164, [&](std::string& o) { append_fields(o, fields, true); });
}

void append_post_request(std::string& out, const RequestTemplate& tmpl, std::string_view e164, const CardFields& fields) {
    append_request(out, "POST", tmpl, {}, [&](std::string& o) {
        o.append("{\"phone_number\":");
        append_json_string(o, e164);
        append_fields(o, fields, false);
    });
}

void append_get_request(std::string& out, const RequestTemplate& tmpl, std::string_view e164) {
    out.reserve(out.size() + 256 + tmpl.host.size() + tmpl.base_path.size() + tmpl.api_key.size());
    append_head(out, "GET", tmpl, e164, false);
    if (!tmpl.keep_alive) out.append("Connection: close\r\n");
    out.append("\r\n");
}

}  // namespace cardsync
