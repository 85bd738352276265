#include "cardsync/response_parser.hpp"

#include <simdjson.h>

#include <limits>
#include <utility>

namespace cardsync {

namespace od = simdjson::ondemand;

struct ResponseParser::Impl {
    od::parser parser{max_response_body};  // keeps its buffers between bodies
};

ResponseParser::ResponseParser() : impl_(std::make_unique<Impl>()) {}
ResponseParser::~ResponseParser() = default;
ResponseParser::ResponseParser(ResponseParser&&) noexcept = default;
ResponseParser& ResponseParser::operator=(ResponseParser&&) noexcept = default;

std::string_view to_string(BodyKind kind) noexcept {
    switch (kind) {
    case BodyKind::card: return "card";
    case BodyKind::error_envelope: return "error_envelope";
    case BodyKind::empty: return "empty";
    case BodyKind::not_json: return "not_json";
    case BodyKind::unexpected: return "unexpected";
    case BodyKind::too_large: return "too_large";
    }
    return "unknown";
}

namespace {

bool is_space(char c) noexcept { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

// The start of a body for a message: printable ASCII, whitespace runs as one space, other bytes '?'.
std::string excerpt(std::string_view body) {
    constexpr std::size_t max_chars = 40;
    std::size_t i = 0;
    while (i < body.size() && is_space(body[i])) ++i;
    std::string out;
    for (; i < body.size() && out.size() < max_chars; ++i) {
        const auto c = static_cast<unsigned char>(body[i]);
        if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
            if (out.empty() || out.back() != ' ') out.push_back(' ');
        } else {
            out.push_back(c > 0x20 && c < 0x7F ? static_cast<char>(c) : '?');
        }
    }
    while (i < body.size() && is_space(body[i])) ++i;
    if (i < body.size()) out.append("...");
    return out;
}

ApiResponse classified(BodyKind kind, std::string message) {
    ApiResponse r;
    r.kind = kind;
    r.error_message = std::move(message);
    return r;
}

ApiResponse not_json(simdjson::error_code e, std::string_view body) {
    const bool truncated = e == simdjson::INCOMPLETE_ARRAY_OR_OBJECT || e == simdjson::UNCLOSED_STRING;
    std::string m = truncated ? "truncated or malformed JSON" : "not JSON";
    m += " (starts with '";
    m += excerpt(body);
    m += '\'';
    const std::size_t first = body.find_first_not_of(" \t\r\n");
    if (first != std::string_view::npos && (body[first] == '{' || body[first] == '[')) {
        m += "; ";  // it looks like JSON: say what simdjson found wrong
        m += simdjson::error_message(e);
    }
    m += ')';
    return classified(BodyKind::not_json, std::move(m));
}

std::string_view type_name(od::json_type t) noexcept {
    switch (t) {
    case od::json_type::array: return "an array";
    case od::json_type::object: return "an object";
    case od::json_type::number: return "a number";
    case od::json_type::string: return "a string";
    case od::json_type::boolean: return "a boolean";
    case od::json_type::null: return "null";
    }
    return "a value";
}

// What a pass over the body found; `problem` is the first shape problem (wrong type), if any.
struct Found {
    bool phone = false, first = false, active = false;
    bool error = false, status = false, code = false, message = false;
    std::optional<bool> success;
    std::string problem;
    bool keep_card_text = true;
};

void note(std::string& problem, std::string_view field, std::string_view expected, od::json_type got) {
    if (!problem.empty()) return;
    problem.append(field).append(" is ").append(type_name(got)).append(", expected ").append(expected);
}

// Reads a string value into `out`; false with `e` set on a JSON error.
bool read_string(od::value& v, std::string& out, simdjson::error_code& e) {
    std::string_view s;
    if ((e = v.get_string().get(s))) return false;
    out.assign(s);
    return true;
}

bool read_int(od::value& v, int& out, bool& in_range, simdjson::error_code& e) {
    std::int64_t n = 0;
    e = v.get_int64().get(n);
    if (e == simdjson::INCORRECT_TYPE || e == simdjson::NUMBER_OUT_OF_RANGE) {  // 429.5, 1e3, huge
        e = simdjson::SUCCESS;
        in_range = false;
        return true;
    }
    if (e) return false;
    in_range = n >= std::numeric_limits<int>::min() && n <= std::numeric_limits<int>::max();
    if (in_range) out = static_cast<int>(n);
    return true;
}

// Parses the "error" object of the envelope; returns a JSON error code.
simdjson::error_code parse_error_object(od::object obj, ApiResponse& r, Found& f) {
    simdjson::error_code e{};
    for (auto result : obj) {
        od::field field;
        std::string_view key;
        od::json_type t;
        if ((e = std::move(result).get(field)) || (e = field.unescaped_key().get(key))) return e;
        od::value v = field.value();
        if ((e = v.type().get(t))) return e;
        if (key == "status" || key == "code") {
            const bool status = key == "status";
            std::string_view path = status ? "error.status" : "error.code";
            if (t != od::json_type::number) {
                note(f.problem, path, "an integer", t);
                continue;
            }
            bool in_range = true;
            if (!read_int(v, status ? r.error_status : r.error_code, in_range, e)) return e;
            if (!in_range && f.problem.empty()) f.problem = std::string(path) + " is not an integer in range";
            (status ? f.status : f.code) = in_range;
        } else if (key == "message") {
            if (t != od::json_type::string) {
                note(f.problem, "error.message", "a string", t);
                continue;
            }
            if (!read_string(v, r.error_message, e)) return e;
            f.message = true;
        } else if (key == "retry_after" && t != od::json_type::null) {
            double seconds = 0;
            if (t != od::json_type::number) {
                note(f.problem, "error.retry_after", "a number of seconds", t);
                continue;
            }
            if ((e = v.get_double().get(seconds))) return e;
            r.retry_after_s = seconds;
        } else if (key == "trace_id" && t == od::json_type::string) {
            if (!read_string(v, r.trace_id, e)) return e;
        }
    }
    return simdjson::SUCCESS;
}

// Reads a string of the card: into `out` when the card's text is kept, else only checked.
bool card_string(od::value& v, std::string& out, const Found& f, simdjson::error_code& e) {
    if (f.keep_card_text) return read_string(v, out, e);
    std::string_view s;
    e = v.get_string().get(s);
    return !e;
}

// Reads an optional string field (string or null).
simdjson::error_code optional_string(od::value& v, od::json_type t, std::string_view key, std::optional<std::string>& out,
                                     Found& f) {
    simdjson::error_code e{};
    if (t == od::json_type::null) {
        out.reset();
    } else if (t != od::json_type::string) {
        note(f.problem, key, "a string or null", t);
    } else {
        out.emplace();
        card_string(v, *out, f, e);
    }
    return e;
}

simdjson::error_code parse_object(od::object obj, ApiResponse& r, Found& f) {
    simdjson::error_code e{};
    for (auto result : obj) {
        od::field field;
        std::string_view key;
        od::json_type t;
        if ((e = std::move(result).get(field)) || (e = field.unescaped_key().get(key))) return e;
        od::value v = field.value();
        if ((e = v.type().get(t))) return e;
        if (key == "phone_number") {
            if (t != od::json_type::string) note(f.problem, key, "a string", t);
            else if (!card_string(v, r.card.phone_number, f, e)) return e;
            else f.phone = true;
        } else if (key == "first_name") {
            if (t != od::json_type::string) note(f.problem, key, "a string", t);
            else if (!card_string(v, r.card.first_name, f, e)) return e;
            else f.first = true;
        } else if (key == "is_active") {
            if (t != od::json_type::boolean) note(f.problem, key, "true or false", t);
            else if ((e = v.get_bool().get(r.card.is_active))) return e;
            else f.active = true;
        } else if (key == "last_name") {
            if ((e = optional_string(v, t, key, r.card.last_name, f))) return e;
        } else if (key == "image_url") {
            if ((e = optional_string(v, t, key, r.card.image_url, f))) return e;
        } else if (key == "error") {
            f.error = true;
            od::object inner;
            if (t != od::json_type::object) note(f.problem, key, "an object", t);
            else if ((e = v.get_object().get(inner)) || (e = parse_error_object(inner, r, f))) return e;
        } else if (key == "success") {
            bool ok = false;
            if (t != od::json_type::boolean) note(f.problem, key, "true or false", t);
            else if ((e = v.get_bool().get(ok))) return e;
            else f.success = ok;
        } else if (key == "trace_id" && t == od::json_type::string) {
            if (!read_string(v, r.trace_id, e)) return e;
        }
        // Any other field is skipped unread (forward compatible).
    }
    return simdjson::SUCCESS;
}

// Walks a top-level value that is not an object, to tell a JSON array from a truncated one.
simdjson::error_code walk_non_object(od::document& doc, od::json_type t) {
    simdjson::error_code e{};
    switch (t) {
    case od::json_type::array: {
        od::array a;
        if ((e = doc.get_array().get(a))) return e;
        for (auto element : a) {
            od::value v;
            if ((e = std::move(element).get(v))) return e;
        }
        return simdjson::SUCCESS;
    }
    case od::json_type::string: return doc.get_string().error();
    case od::json_type::number: return doc.get_double().error();
    case od::json_type::boolean: return doc.get_bool().error();
    case od::json_type::null: {
        bool null = false;
        if ((e = doc.is_null().get(null))) return e;
        return null ? simdjson::SUCCESS : simdjson::TAPE_ERROR;
    }
    case od::json_type::object: break;
    }
    return simdjson::SUCCESS;
}

void append_list(std::string& out, std::initializer_list<std::pair<bool, std::string_view>> missing) {
    const char* sep = "";
    for (auto [absent, name] : missing) {
        if (!absent) continue;
        out.append(sep).append(name);
        sep = ", ";
    }
}

}  // namespace

ApiResponse ResponseParser::parse(std::string& body, CardText text) {
    std::size_t start = 0;
    while (start < body.size() && is_space(body[start])) ++start;
    if (start == body.size()) return classified(BodyKind::empty, "empty body");
    if (body.size() > max_response_body) {
        return classified(BodyKind::too_large, "response body of " + std::to_string(body.size()) +
                                                   " bytes is over the limit of " +
                                                   std::to_string(max_response_body) + " bytes");
    }
    body.reserve(body.size() + simdjson::SIMDJSON_PADDING);  // simdjson reads up to 64 bytes past the end

    od::document doc;
    od::json_type type;
    simdjson::error_code e = impl_->parser.iterate(body).get(doc);
    if (!e) e = doc.type().get(type);
    if (e) return not_json(e, body);

    ApiResponse r;
    Found f;
    f.keep_card_text = text == CardText::kept;
    if (type == od::json_type::object) {
        od::object obj;
        e = doc.get_object().get(obj);
        if (!e) e = parse_object(obj, r, f);
    } else {
        e = walk_non_object(doc, type);
        f.problem = std::string("the body is ") + std::string(type_name(type)) + ", expected a JSON object";
    }
    if (!e) {
        const char* trailing = nullptr;
        if (doc.current_location().get(trailing) == simdjson::SUCCESS) e = simdjson::TRAILING_CONTENT;
    }
    if (e) return not_json(e, body);

    if (f.error) {  // the error envelope; "success" may be omitted but must not be true
        if (f.problem.empty() && f.success == true) f.problem = "an error object with \"success\": true";
        if (f.problem.empty() && (!f.status || !f.code || !f.message)) {
            f.problem = "error envelope without ";
            append_list(f.problem, {{!f.status, "error.status"}, {!f.code, "error.code"}, {!f.message, "error.message"}});
        }
        if (f.problem.empty()) {
            r.kind = BodyKind::error_envelope;
            r.card = CardState{};
            return r;
        }
    } else if (f.problem.empty()) {
        if (f.phone && f.first && f.active) {
            r.kind = BodyKind::card;
            return r;
        }
        f.problem = "JSON object without ";
        append_list(f.problem, {{!f.phone, "phone_number"}, {!f.first, "first_name"}, {!f.active, "is_active"}});
        f.problem += " (neither a contact card nor an error envelope)";
    }
    return classified(BodyKind::unexpected, std::move(f.problem) + "; the body starts with '" + excerpt(body) + "'");
}

}  // namespace cardsync
