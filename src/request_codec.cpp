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

// "?phone_number=..." when there is a number.
void append_number_query(std::string& out, std::string_view e164) {
    if (e164.empty()) return;
    out.append("?phone_number=");
    append_query_value(out, e164);
}

// The headers every request carries after its request line, up to (not including) Content-Length.
std::string fixed_headers(const RequestTemplate& tmpl, bool has_body) {
    std::string out = " HTTP/1.1\r\nHost: ";
    out.append(tmpl.host);
    out.append("\r\nAuthorization: Bearer ");
    out.append(tmpl.api_key);
    if (has_body) out.append("\r\nContent-Type: application/json");
    out.append("\r\nAccept: application/json\r\nUser-Agent: ");
    out.append(user_agent);
    out.append("\r\n");
    return out;
}

// Writes the body after the head, then slips Content-Length (known only now) in front of it: one
// pass over the fields and a memmove of a small body, instead of encoding the body twice.
template <class WriteBody>
void append_body_and_length(std::string& out, bool keep_alive, WriteBody&& write_body) {
    const std::size_t body_start = out.size();
    write_body(out);
    char tail[64] = "Content-Length: ";
    char* p = tail + 16;
    p = std::to_chars(p, tail + sizeof tail, out.size() - body_start).ptr;
    constexpr std::string_view close = "\r\nConnection: close\r\n\r\n";
    constexpr std::string_view end = "\r\n\r\n";
    const std::string_view rest = keep_alive ? end : close;
    p = std::copy(rest.begin(), rest.end(), p);
    out.insert(body_start, tail, static_cast<std::size_t>(p - tail));
}

void append_fields(std::string& out, const CardFields& fields, bool first) {
    const auto field = [&](std::string_view quoted_key, const std::optional<std::string>& value) {
        if (!value) return;
        out.push_back(first ? '{' : ',');
        first = false;
        out.append(quoted_key);
        append_json_string(out, *value);
    };
    field("\"first_name\":", fields.first_name);
    field("\"last_name\":", fields.last_name);
    field("\"image_url\":", fields.image_url);
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
    target.append(base_path).append("/v3/contact_card");
    append_number_query(target, e164);
    return target;
}

void append_json_body(std::string& out, const CardFields& fields) { append_fields(out, fields, true); }

RequestEncoder::RequestEncoder(const RequestTemplate& tmpl)
    : target_(tmpl.base_path + "/v3/contact_card"),
      headers_body_(fixed_headers(tmpl, true)),
      headers_(fixed_headers(tmpl, false)),
      fixed_size_(target_.size() + headers_body_.size() + 96),  // + method, query, Content-Length, close
      keep_alive_(tmpl.keep_alive) {}

void RequestEncoder::append_patch(std::string& out, std::string_view e164, const CardFields& fields) const {
    out.reserve(out.size() + fixed_size_ + 128);
    out.append("PATCH ");
    out.append(target_);
    append_number_query(out, e164);
    out.append(headers_body_);
    append_body_and_length(out, keep_alive_, [&](std::string& o) { append_fields(o, fields, true); });
}

void RequestEncoder::append_post(std::string& out, std::string_view e164, const CardFields& fields) const {
    out.reserve(out.size() + fixed_size_ + 160);
    out.append("POST ");
    out.append(target_);
    out.append(headers_body_);
    append_body_and_length(out, keep_alive_, [&](std::string& o) {
        o.append("{\"phone_number\":");
        append_json_string(o, e164);
        append_fields(o, fields, false);
    });
}

void RequestEncoder::append_get(std::string& out, std::string_view e164) const {
    out.reserve(out.size() + fixed_size_);
    out.append("GET ");
    out.append(target_);
    append_number_query(out, e164);
    out.append(headers_);
    if (!keep_alive_) out.append("Connection: close\r\n");
    out.append("\r\n");
}

void append_patch_request(std::string& out, const RequestTemplate& tmpl, std::string_view e164, const CardFields& fields) {
    RequestEncoder(tmpl).append_patch(out, e164, fields);
}

void append_post_request(std::string& out, const RequestTemplate& tmpl, std::string_view e164, const CardFields& fields) {
    RequestEncoder(tmpl).append_post(out, e164, fields);
}

void append_get_request(std::string& out, const RequestTemplate& tmpl, std::string_view e164) {
    RequestEncoder(tmpl).append_get(out, e164);
}

}  // namespace cardsync
