#include "cardsync/ndjson_reader.hpp"

#include <simdjson.h>

#include <fmt/format.h>

#include <algorithm>
#include <cstring>

namespace cardsync {
namespace {

namespace od = simdjson::ondemand;

constexpr std::size_t initial_capacity = 64 * 1024;  // grows (to ~2 MiB at most) only for long records
constexpr std::size_t min_read = 16 * 1024;  // never ask the source for less (buffer grows instead)
constexpr int max_checked_depth = 256;  // deeper values of ignored keys are skipped, not validated

constexpr std::string_view known_keys[] = {"phone_number", "first_name", "last_name", "image_url"};

void set_field(std::optional<std::string>& field, std::string_view value) {
    if (field) field->assign(value);
    else field.emplace(value);
}

std::string_view type_name(od::json_type type) {
    switch (type) {
    case od::json_type::array: return "an array";
    case od::json_type::object: return "an object";
    case od::json_type::number: return "a number";
    case od::json_type::string: return "a string";
    case od::json_type::boolean: return "a boolean";
    case od::json_type::null: return "null";
    }
    return "an unknown value";
}

std::string invalid_json(simdjson::error_code error) {
    switch (error) {
    case simdjson::UTF8_ERROR: return "invalid JSON: not valid UTF-8";
    case simdjson::UNESCAPED_CHARS: return "invalid JSON: unescaped control character in a string";
    case simdjson::UNCLOSED_STRING: return "invalid JSON: unclosed string";
    case simdjson::STRING_ERROR: return "invalid JSON: bad string (invalid escape?)";
    case simdjson::NUMBER_ERROR: return "invalid JSON: bad number";
    case simdjson::T_ATOM_ERROR:
    case simdjson::F_ATOM_ERROR:
    case simdjson::N_ATOM_ERROR: return "invalid JSON: unknown word (not true, false or null)";
    case simdjson::INCOMPLETE_ARRAY_OR_OBJECT: return "invalid JSON: the object is not closed, or text follows it";
    case simdjson::DEPTH_ERROR: return "invalid JSON: nested too deeply";
    default: return fmt::format("invalid JSON: {}", simdjson::error_message(error));
    }
}

// JSON number grammar: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? ; `token` may carry trailing space.
bool valid_number(std::string_view token) {
    std::size_t i = 0;
    const std::size_t n = token.size();
    const auto digits = [&] {
        const std::size_t from = i;
        while (i < n && token[i] >= '0' && token[i] <= '9') ++i;
        return i > from;
    };
    if (i < n && token[i] == '-') ++i;
    if (i < n && token[i] == '0') ++i;
    else if (!digits()) return false;
    if (i < n && token[i] == '.' && (++i, !digits())) return false;
    if (i < n && (token[i] == 'e' || token[i] == 'E')) {
        ++i;
        if (i < n && (token[i] == '+' || token[i] == '-')) ++i;
        if (!digits()) return false;
    }
    while (i < n && (token[i] == ' ' || token[i] == '\t' || token[i] == '\r' || token[i] == '\n')) ++i;
    return i == n;
}

// Walks a value of an ignored key so that malformed JSON there still makes the line invalid
// (On Demand would otherwise skip it unchecked). Numbers are checked against the grammar, not
// converted, so huge but valid numbers pass.
simdjson::error_code check_value(od::value value, int depth) {
    od::json_type type;
    if (auto error = value.type().get(type)) return error;
    switch (type) {
    case od::json_type::object: {
        if (depth >= max_checked_depth) return simdjson::SUCCESS;
        od::object object;
        if (auto error = value.get_object().get(object)) return error;
        for (auto item : object) {
            od::field field;
            std::string_view key;
            if (auto error = std::move(item).get(field)) return error;
            if (auto error = field.unescaped_key().get(key)) return error;
            od::value inner = field.value();
            if (auto error = check_value(inner, depth + 1)) return error;
        }
        return simdjson::SUCCESS;
    }
    case od::json_type::array: {
        if (depth >= max_checked_depth) return simdjson::SUCCESS;
        od::array array;
        if (auto error = value.get_array().get(array)) return error;
        for (auto element : array) {
            od::value inner;
            if (auto error = std::move(element).get(inner)) return error;
            if (auto error = check_value(inner, depth + 1)) return error;
        }
        return simdjson::SUCCESS;
    }
    case od::json_type::string: return value.get_string().error();
    case od::json_type::number: {
        return valid_number(value.raw_json_token()) ? simdjson::SUCCESS : simdjson::NUMBER_ERROR;
    }
    case od::json_type::boolean: return value.get_bool().error() ? simdjson::T_ATOM_ERROR : simdjson::SUCCESS;
    case od::json_type::null: {
        bool null = false;
        if (auto error = value.is_null().get(null)) return error;
        return null ? simdjson::SUCCESS : simdjson::N_ATOM_ERROR;
    }
    }
    return simdjson::TAPE_ERROR;
}

// A line that is not an object: say what it is, or that it is not JSON at all.
std::string describe_non_object(od::document& doc, od::json_type type) {
    simdjson::error_code error = simdjson::SUCCESS;
    switch (type) {
    case od::json_type::string: error = doc.get_string().error(); break;
    case od::json_type::boolean: error = doc.get_bool().error() ? simdjson::T_ATOM_ERROR : simdjson::SUCCESS; break;
    case od::json_type::null: {
        bool null = false;
        error = doc.is_null().get(null);
        if (!error && !null) error = simdjson::N_ATOM_ERROR;
        break;
    }
    case od::json_type::number: {
        std::string_view token;
        error = doc.raw_json_token().get(token);
        if (!error && !valid_number(token)) error = simdjson::NUMBER_ERROR;
        break;
    }
    default: break;
    }
    if (error) return invalid_json(error);
    return fmt::format("expected a JSON object, found {}", type_name(type));
}

}  // namespace

struct NdjsonReader::Impl {
    explicit Impl(std::unique_ptr<ByteSource> s) : source(std::move(s)), buf(padded_buffer(initial_capacity)), cap(initial_capacity) {}

    // Data bytes are left uninitialised (always written before read); the padding is zeroed because
    // simdjson may read it.
    static std::unique_ptr<char[]> padded_buffer(std::size_t capacity) {
        auto buffer = std::make_unique_for_overwrite<char[]>(capacity + simdjson::SIMDJSON_PADDING);
        std::memset(buffer.get() + capacity, 0, simdjson::SIMDJSON_PADDING);
        return buffer;
    }

    bool fill(std::uint64_t& consumed);
    unsigned parse_line(std::string_view line, InputRow& row);  // returns a bit per card field given

    std::unique_ptr<ByteSource> source;
    od::parser parser;
    std::unique_ptr<char[]> buf;  // cap bytes of data + SIMDJSON_PADDING, so lines parse in place
    std::size_t cap;
    std::size_t pos = 0;          // start of the current line
    std::size_t end = 0;          // end of the bytes read
    std::size_t searched = 0;     // no '\n' in [pos, pos + searched)
    bool eof = false;
    bool skipping = false;        // dropping the rest of an over-long line
    bool started = false;         // a leading UTF-8 BOM has been looked for
    std::uint64_t line = 1;       // physical line starting at pos
};

bool NdjsonReader::Impl::fill(std::uint64_t& consumed) {
    if (eof) return false;
    if (cap - end < min_read) {
        if (pos > 0) {
            std::memmove(buf.get(), buf.get() + pos, end - pos);
            end -= pos;
            pos = 0;
        }
        if (cap - end < min_read) {
            auto bigger = padded_buffer(cap * 2);
            std::memcpy(bigger.get(), buf.get(), end);
            buf = std::move(bigger);
            cap *= 2;
        }
    }
    const std::size_t n = source->read(buf.get() + end, cap - end);
    if (n == 0) {
        eof = true;
        return false;
    }
    end += n;
    consumed += n;
    return true;
}

unsigned NdjsonReader::Impl::parse_line(std::string_view text, InputRow& row) {
    // The bytes after the line (the next lines, then the padding) are readable: simdjson needs that.
    const std::size_t room = cap + simdjson::SIMDJSON_PADDING - static_cast<std::size_t>(text.data() - buf.get());
    unsigned seen = 0;   // bit per known key
    unsigned given = 0;  // bit per card field with a value
    const auto fail = [&](std::string reason) {
        if (row.error.empty()) row.error = std::move(reason);
        return given;
    };
    od::document doc;
    if (auto error = parser.iterate(text.data(), text.size(), room).get(doc)) return fail(invalid_json(error));
    od::json_type type;
    if (auto error = doc.type().get(type)) return fail(invalid_json(error));
    if (type != od::json_type::object) return fail(describe_non_object(doc, type));
    od::object object;
    if (auto error = doc.get_object().get(object)) return fail(invalid_json(error));
    for (auto item : object) {
        od::field field;
        std::string_view key;
        if (auto error = std::move(item).get(field)) return fail(invalid_json(error));
        if (auto error = field.unescaped_key().get(key)) return fail(invalid_json(error));
        od::value value = field.value();
        const auto known = std::find(std::begin(known_keys), std::end(known_keys), key);
        if (known == std::end(known_keys)) {
            if (auto error = check_value(value, 1)) return fail(invalid_json(error));
            continue;
        }
        const auto index = static_cast<unsigned>(known - std::begin(known_keys));
        if (seen & (1u << index)) fail(fmt::format("duplicate key '{}'", *known));
        seen |= 1u << index;
        if (auto error = value.type().get(type)) return fail(invalid_json(error));
        if (type == od::json_type::string) {
            std::string_view text_value;
            if (auto error = value.get_string().get(text_value)) return fail(invalid_json(error));
            if (text_value.empty()) continue;  // "" means omitted, like an empty CSV cell
            switch (index) {
            case 0: row.phone_number.assign(text_value); break;
            case 1: set_field(row.fields.first_name, text_value); break;
            case 2: set_field(row.fields.last_name, text_value); break;
            default: set_field(row.fields.image_url, text_value); break;
            }
            if (index > 0) given |= 1u << (index - 1);
            continue;
        }
        if (auto error = check_value(value, 1)) return fail(invalid_json(error));
        if (type == od::json_type::null) continue;
        fail(fmt::format("'{}' must be a string or null, found {}", *known, type_name(type)));
    }
    const char* rest = nullptr;
    if (doc.current_location().get(rest) == simdjson::SUCCESS) fail("unexpected text after the JSON object");
    return given;
}

void NdjsonReader::interrupt() noexcept { impl_->source->interrupt(); }

NdjsonReader::NdjsonReader(std::unique_ptr<ByteSource> source) : impl_(std::make_unique<Impl>(std::move(source))) {}

NdjsonReader::~NdjsonReader() = default;

bool NdjsonReader::next(InputRow& row) {
    Impl& m = *impl_;
    if (!m.started) {  // some Windows tools start UTF-8 text with a BOM: not JSON, so drop it
        m.started = true;
        while (m.end - m.pos < 3 && m.fill(consumed_)) {
        }
        if (m.end - m.pos >= 3 && std::memcmp(m.buf.get() + m.pos, "\xEF\xBB\xBF", 3) == 0) m.pos += 3;
    }
    for (;;) {
        if (m.skipping) {
            if (const auto* nl = static_cast<const char*>(std::memchr(m.buf.get() + m.pos, '\n', m.end - m.pos))) {
                m.pos = static_cast<std::size_t>(nl - m.buf.get()) + 1;
                m.skipping = false;
                continue;
            }
            m.pos = m.end;
            if (!m.fill(consumed_)) return false;
            continue;
        }
        const char* base = m.buf.get() + m.pos;
        const std::size_t avail = m.end - m.pos;
        const auto* nl = static_cast<const char*>(std::memchr(base + m.searched, '\n', avail - m.searched));
        std::size_t len = nl ? static_cast<std::size_t>(nl - base) : avail;
        if (!nl && avail <= max_record_bytes && !m.eof) {
            m.searched = avail;
            m.fill(consumed_);
            continue;
        }
        if (!nl && avail == 0) return false;  // end of input
        row.line = m.line;
        row.phone_number.clear();
        row.error.clear();
        m.searched = 0;
        m.line += 1;
        if (len > max_record_bytes) {
            row.fields = {};
            row.error = "line longer than 1 MiB";
            if (nl) {
                m.pos += len + 1;
            } else {
                m.pos = m.end;
                m.skipping = true;
            }
            return true;
        }
        m.pos += len + (nl ? 1 : 0);
        std::string_view text(base, len);
        if (!text.empty() && text.back() == '\r') text.remove_suffix(1);
        if (std::all_of(text.begin(), text.end(), [](char c) { return c == ' ' || c == '\t' || c == '\r'; }))
            continue;
        const unsigned given = m.parse_line(text, row);
        if (!(given & 1)) row.fields.first_name.reset();
        if (!(given & 2)) row.fields.last_name.reset();
        if (!(given & 4)) row.fields.image_url.reset();
        return true;
    }
}

}  // namespace cardsync
