#include "cardsync/results_reader.hpp"

#include <simdjson.h>

#include <cerrno>
#include <charconv>
#include <cstring>
#include <stdexcept>
#include <type_traits>
#include <utility>
#include <vector>

#include <fcntl.h>
#include <unistd.h>

namespace cardsync {

namespace od = simdjson::ondemand;

namespace {

constexpr std::size_t read_chunk = 64 * 1024;
constexpr std::size_t max_record = 64 * 1024 * 1024;  // far above anything the writer produces

template <class Number>
bool parse_number(std::string_view text, Number& out) {
    if (text.empty()) return false;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
    return ec == std::errc{} && end == text.data() + text.size();
}

}  // namespace

struct ResultsReader::Impl {
    std::string path;
    ResultsFormat format;
    int fd = -1;
    std::string buf;               // bytes read and not yet consumed start at `pos`
    std::size_t pos = 0;
    std::size_t scanned = 0;       // bytes after `pos` already searched for the record's end
    enum class Csv { field_start, unquoted, quoted, quote_in_quoted };
    Csv csv = Csv::field_start;    // RFC 4180 scanner state at pos + scanned
    bool eof = false;
    std::uint64_t buf_offset = 0;  // file offset of buf[0]
    std::uint64_t next_line = 1;   // physical line at buf[pos]
    std::uint64_t record_line = 0;
    std::uint64_t complete = 0;
    bool torn = false;
    od::parser parser;
    std::string padded;             // one NDJSON line with simdjson's padding
    std::vector<std::string> cells;  // one CSV record's fields

    [[noreturn]] void fail(std::uint64_t line, const std::string& what) const {
        throw std::runtime_error("results file '" + path + "' line " + std::to_string(line) + ": " + what);
    }

    void fill() {
        if (pos > 0) {
            buf.erase(0, pos);
            buf_offset += pos;
            pos = 0;
        }
        const std::size_t old = buf.size();
        buf.resize(old + read_chunk);
        ssize_t n;
        do n = ::read(fd, buf.data() + old, read_chunk);
        while (n < 0 && errno == EINTR);
        if (n < 0) {
            const int err = errno;
            buf.resize(old);
            throw std::runtime_error("cannot read results file '" + path + "': " + std::strerror(err));
        }
        buf.resize(old + static_cast<std::size_t>(n));
        if (n == 0) eof = true;
    }

    // The next raw record (without its line end); false at the end of the file.
    bool next_raw(std::string_view& record) {
        for (;;) {
            std::size_t i = pos + scanned;
            std::uint64_t newlines = 0;  // inside a quoted CSV field
            if (format == ResultsFormat::ndjson) {
                const std::size_t nl = buf.find('\n', i);
                i = nl == std::string::npos ? buf.size() : nl;
            } else {
                // A quote opens a quoted field only at the start of a field, so a stray quote elsewhere
                // is reported as malformed by parse_csv_cells instead of swallowing the file.
                for (; i < buf.size(); ++i) {
                    const char c = buf[i];
                    if (csv == Csv::quoted) {
                        if (c == '"') csv = Csv::quote_in_quoted;
                        continue;
                    }
                    if (c == '\n') break;
                    if (c == ',') csv = Csv::field_start;
                    else if (c == '"') csv = csv == Csv::field_start || csv == Csv::quote_in_quoted ? Csv::quoted : csv;
                    else csv = Csv::unquoted;
                }
            }
            if (i < buf.size()) {
                std::string_view r(buf.data() + pos, i - pos);
                if (format == ResultsFormat::csv) {
                    for (char c : r) newlines += c == '\n';
                }
                if (!r.empty() && r.back() == '\r') r.remove_suffix(1);
                record_line = next_line;
                next_line += newlines + 1;
                pos = i + 1;
                scanned = 0;
                csv = Csv::field_start;
                complete = buf_offset + pos;
                record = r;
                return true;
            }
            scanned = buf.size() - pos;
            if (eof) {
                torn = scanned > 0;
                return false;
            }
            if (scanned > max_record) fail(next_line, "a record longer than 64 MiB; this is not a cardsync results file");
            fill();
        }
    }

    void parse_csv_cells(std::string_view r) {
        cells.clear();
        std::size_t i = 0;
        for (;;) {
            std::string& cell = cells.emplace_back();
            if (i < r.size() && r[i] == '"') {
                ++i;
                for (;;) {
                    const std::size_t q = r.find('"', i);
                    if (q == std::string_view::npos) fail(record_line, "unclosed quote");
                    cell.append(r.substr(i, q - i));
                    i = q + 1;
                    if (i < r.size() && r[i] == '"') {
                        cell.push_back('"');
                        ++i;
                        continue;
                    }
                    break;
                }
                if (i < r.size() && r[i] != ',') fail(record_line, "text after a closing quote in field " + std::to_string(cells.size()));
            } else {
                const std::size_t comma = std::min(r.find(',', i), r.size());
                cell.assign(r.substr(i, comma - i));
                if (cell.find('"') != std::string::npos) fail(record_line, "a quote inside an unquoted field " + std::to_string(cells.size()));
                i = comma;
            }
            if (i >= r.size()) return;
            ++i;  // the comma
        }
    }

    void from_csv(std::string_view r, ResultRecord& rec) {
        parse_csv_cells(r);
        if (cells.size() != 9) fail(record_line, std::to_string(cells.size()) + " fields, expected 9 (" +
                                                     std::string(csv_header().substr(0, csv_header().size() - 1)) + ")");
        rec = ResultRecord{};
        if (!parse_number(cells[0], rec.line)) fail(record_line, "line '" + cells[0] + "' is not a number");
        rec.phone_number = std::move(cells[1]);
        const auto outcome = parse_outcome(cells[2]);
        if (!outcome) fail(record_line, "unknown outcome '" + cells[2] + "'");
        rec.outcome = *outcome;
        if (!parse_number(cells[3], rec.http_status)) fail(record_line, "http_status '" + cells[3] + "' is not a number");
        rec.error_code = std::move(cells[4]);
        rec.message = std::move(cells[5]);
        if (!parse_number(cells[6], rec.attempts)) fail(record_line, "attempts '" + cells[6] + "' is not a number");
        if (!parse_number(cells[7], rec.latency_ms)) fail(record_line, "latency_ms '" + cells[7] + "' is not a number");
        if (cells[8] == "true") rec.is_active = true;
        else if (cells[8] == "false") rec.is_active = false;
        else if (!cells[8].empty()) fail(record_line, "is_active '" + cells[8] + "' is not true, false or empty");
    }

    void json_fail(simdjson::error_code e) const {
        fail(record_line, std::string("not a JSON record (") + simdjson::error_message(e) + ")");
    }

    template <class Int>
    void json_int(od::value& v, std::string_view key, Int& out) {
        using Wide = std::conditional_t<std::is_signed_v<Int>, std::int64_t, std::uint64_t>;
        Wide n = 0;
        simdjson::error_code e;
        if constexpr (std::is_signed_v<Int>) e = v.get_int64().get(n);
        else e = v.get_uint64().get(n);
        if (e == simdjson::INCORRECT_TYPE || e == simdjson::NUMBER_OUT_OF_RANGE || (!e && !std::in_range<Int>(n)))
            fail(record_line, std::string(key) + " is not an integer in range");
        if (e) json_fail(e);
        out = static_cast<Int>(n);
    }

    std::string_view json_string(od::value& v, std::string_view key) {
        std::string_view s;
        const auto e = v.get_string().get(s);
        if (e == simdjson::INCORRECT_TYPE) fail(record_line, std::string(key) + " is not a string");
        if (e) json_fail(e);
        return s;
    }

    void from_json(std::string_view r, ResultRecord& rec) {
        padded.assign(r);
        padded.reserve(r.size() + simdjson::SIMDJSON_PADDING);
        rec = ResultRecord{};
        bool has_line = false, has_phone = false, has_outcome = false;
        od::document doc;
        od::object obj;
        simdjson::error_code e = parser.iterate(padded).get(doc);
        if (!e) e = doc.get_object().get(obj);
        if (e == simdjson::INCORRECT_TYPE) fail(record_line, "not a JSON object");
        if (e) json_fail(e);
        for (auto result : obj) {
            od::field field;
            std::string_view key;
            if ((e = std::move(result).get(field)) || (e = field.unescaped_key().get(key))) json_fail(e);
            od::value v = field.value();
            od::json_type t;
            if ((e = v.type().get(t))) json_fail(e);
            if (key == "line") {
                json_int(v, key, rec.line);
                has_line = true;
            } else if (key == "phone_number") {
                rec.phone_number = json_string(v, key);
                has_phone = true;
            } else if (key == "outcome") {
                const std::string_view name = json_string(v, key);
                const auto outcome = parse_outcome(name);
                if (!outcome) fail(record_line, "unknown outcome '" + std::string(name) + "'");
                rec.outcome = *outcome;
                has_outcome = true;
            } else if (key == "http_status") {
                json_int(v, key, rec.http_status);
            } else if (key == "error_code") {
                if (t == od::json_type::number) {
                    std::int64_t code = 0;
                    json_int(v, key, code);
                    rec.error_code = std::to_string(code);
                } else if (t != od::json_type::null) {
                    rec.error_code = json_string(v, key);
                }
            } else if (key == "message") {
                if (t != od::json_type::null) rec.message = json_string(v, key);
            } else if (key == "attempts") {
                json_int(v, key, rec.attempts);
            } else if (key == "latency_ms") {
                if ((e = v.get_double().get(rec.latency_ms))) {
                    if (e == simdjson::INCORRECT_TYPE) fail(record_line, "latency_ms is not a number");
                    json_fail(e);
                }
            } else if (key == "is_active") {
                if (t == od::json_type::null) continue;
                bool active = false;
                if ((e = v.get_bool().get(active))) {
                    if (e == simdjson::INCORRECT_TYPE) fail(record_line, "is_active is not true, false or null");
                    json_fail(e);
                }
                rec.is_active = active;
            }
        }
        const char* trailing = nullptr;
        if (doc.current_location().get(trailing) == simdjson::SUCCESS) json_fail(simdjson::TRAILING_CONTENT);
        if (!has_line || !has_phone || !has_outcome) {
            fail(record_line, std::string("record without ") +
                                  (!has_line ? "\"line\"" : !has_phone ? "\"phone_number\"" : "\"outcome\""));
        }
    }
};

ResultsReader::ResultsReader(const std::string& path) : impl_(std::make_unique<Impl>()) {
    Impl& s = *impl_;
    s.path = path;
    s.format = results_format_from_path(path);
    if (path.empty() || path == "-") throw std::invalid_argument("results to resume from must be a file, not standard output");
    s.fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (s.fd < 0) throw std::runtime_error("cannot open results file '" + path + "': " + std::strerror(errno));
    if (s.format == ResultsFormat::csv) {
        std::string_view first;
        if (!s.next_raw(first)) return;  // empty, or a header cut short
        const std::string_view expected = csv_header().substr(0, csv_header().size() - 1);
        if (first != expected) s.fail(1, "expected the header '" + std::string(expected) + "'");
    }
}

ResultsReader::~ResultsReader() {
    if (impl_ && impl_->fd >= 0) ::close(impl_->fd);
}

bool ResultsReader::next(ResultRecord& record) {
    Impl& s = *impl_;
    std::string_view raw;
    for (;;) {
        if (!s.next_raw(raw)) return false;
        if (s.format == ResultsFormat::csv) {
            s.from_csv(raw, record);
            return true;
        }
        if (raw.find_first_not_of(" \t") == std::string_view::npos) continue;  // blank line
        s.from_json(raw, record);
        return true;
    }
}

std::uint64_t ResultsReader::line() const noexcept { return impl_->record_line; }
bool ResultsReader::torn_tail() const noexcept { return impl_->torn; }
std::uint64_t ResultsReader::complete_bytes() const noexcept { return impl_->complete; }
ResultsFormat ResultsReader::format() const noexcept { return impl_->format; }

}  // namespace cardsync
