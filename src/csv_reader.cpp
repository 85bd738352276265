#include "cardsync/csv_reader.hpp"

#include "cardsync/input_error.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cstring>

namespace cardsync {
namespace {

constexpr std::size_t initial_capacity = 64 * 1024;  // grows (to ~2 MiB at most) only for long records
constexpr std::size_t min_read = 16 * 1024;  // never ask the source for less (buffer grows instead)
constexpr std::string_view known_columns[] = {"phone_number", "first_name", "last_name", "image_url"};

bool is_blank(char c) noexcept { return c == ' ' || c == '\t'; }

std::string_view trim(std::string_view s) noexcept {
    while (!s.empty() && is_blank(s.front())) s.remove_prefix(1);
    while (!s.empty() && is_blank(s.back())) s.remove_suffix(1);
    return s;
}

bool blank_line(std::string_view s) noexcept {
    return std::all_of(s.begin(), s.end(), is_blank);
}

// A quote opens a quoted field only where a field starts: at the record start or after a comma,
// blanks allowed in between. Anywhere else it is a stray quote (an error in that row, not a mode change).
bool opens_field(const char* record, std::size_t quote) noexcept {
    std::size_t i = quote;
    while (i > 0 && is_blank(record[i - 1])) --i;
    return i == 0 || record[i - 1] == ',';
}

void set_error(std::string& error, std::string text) {
    if (error.empty()) error = std::move(text);
}

void set_field(std::optional<std::string>& field, std::string_view value) {
    if (field) field->assign(value);
    else field.emplace(value);
}

// Splits one complete record into cells and calls on_cell(index, cell) for each; a quoted cell with
// doubled quotes is unescaped into `scratch`, so on_cell must copy what it keeps before returning.
// Returns the number of fields; misplaced quotes set `error` (the first problem wins).
template <class OnCell>
std::size_t split_record(std::string_view rec, std::string& scratch, std::string& error, OnCell&& on_cell) {
    const char* data = rec.data();
    const std::size_t n = rec.size();
    std::size_t field = 0;
    std::size_t i = 0;
    for (;;) {
        std::size_t j = i;
        while (j < n && is_blank(data[j])) ++j;
        std::string_view cell;
        std::size_t next;  // the ',' ending this field, or n
        if (j < n && data[j] == '"') {
            std::size_t k = j + 1;  // next unexamined byte inside the quotes
            bool copied = false;
            std::size_t close = n;
            for (;;) {
                const auto* q = static_cast<const char*>(std::memchr(data + k, '"', n - k));
                if (!q) {  // only the start line of an unclosed record gets here
                    set_error(error, fmt::format("unclosed quote in field {}", field + 1));
                    if (copied) scratch.append(data + k, n - k);
                    break;
                }
                const std::size_t at = static_cast<std::size_t>(q - data);
                if (at + 1 < n && data[at + 1] == '"') {  // doubled quote: one literal quote
                    if (!copied) scratch.assign(data + j + 1, at + 1 - (j + 1));
                    else scratch.append(data + k, at + 1 - k);
                    copied = true;
                    k = at + 2;
                    continue;
                }
                if (copied) scratch.append(data + k, at - k);
                close = at;
                break;
            }
            cell = copied ? std::string_view(scratch) : rec.substr(j + 1, close - (j + 1));
            std::size_t after = std::min(close + 1, n);
            while (after < n && is_blank(data[after])) ++after;
            next = after;
            if (after < n && data[after] != ',') {
                set_error(error, fmt::format("unexpected text after the closing quote of field {}", field + 1));
                const auto* c = static_cast<const char*>(std::memchr(data + after, ',', n - after));
                next = c ? static_cast<std::size_t>(c - data) : n;
            }
        } else {
            const auto* c = static_cast<const char*>(std::memchr(data + i, ',', n - i));
            next = c ? static_cast<std::size_t>(c - data) : n;
            cell = trim(rec.substr(i, next - i));
            if (std::memchr(cell.data(), '"', cell.size()))
                set_error(error, fmt::format("stray quote in field {} (a field containing quotes must be "
                                             "quoted, with its quotes doubled)", field + 1));
        }
        on_cell(field, cell);
        ++field;
        if (next >= n) return field;
        i = next + 1;
    }
}

}  // namespace

CsvReader::CsvReader(std::unique_ptr<ByteSource> source)
    : source_(std::move(source)), buf_(std::make_unique_for_overwrite<char[]>(initial_capacity)), cap_(initial_capacity) {
    while (end_ < 3 && fill()) {
    }
    if (end_ >= 3 && std::memcmp(buf_.get(), "\xEF\xBB\xBF", 3) == 0) pos_ = 3;  // UTF-8 BOM
    read_header();
}

std::string CsvReader::where(std::uint64_t line) const {
    return fmt::format("{}:{}", source_->name(), line);
}

bool CsvReader::fill() {
    if (eof_) return false;
    if (cap_ - end_ < min_read) {
        // Slide the current record to the front; grow only when a long record fills the buffer.
        if (pos_ > 0) {
            std::memmove(buf_.get(), buf_.get() + pos_, end_ - pos_);
            end_ -= pos_;
            pos_ = 0;
        }
        if (cap_ - end_ < min_read) {
            auto bigger = std::make_unique_for_overwrite<char[]>(cap_ * 2);
            std::memcpy(bigger.get(), buf_.get(), end_);
            buf_ = std::move(bigger);
            cap_ *= 2;
        }
    }
    const std::size_t n = source_->read(buf_.get() + end_, cap_ - end_);
    if (n == 0) {
        eof_ = true;
        return false;
    }
    end_ += n;
    consumed_ += n;
    return true;
}

void CsvReader::reset_scan() noexcept {
    scan_ = 0;
    searched_ = 0;
    newline_known_ = false;
    in_quote_ = false;
    record_len_ = 0;
    record_newlines_ = 0;
}

// Looks only at the first max_record_bytes + 1 bytes of a record, so the outcome (and the error
// message) is the same whatever the chunking of the source.
CsvReader::Found CsvReader::find_record() {
    for (;;) {
        const char* base = buf_.get() + pos_;
        const std::size_t avail = end_ - pos_;
        const std::size_t window = std::min(avail, max_record_bytes + 1);
        while (scan_ < window) {
            if (!in_quote_) {
                if (!newline_known_ || newline_at_ < scan_) {
                    newline_known_ = false;
                    const std::size_t from = std::max(scan_, searched_);
                    if (const auto* nl = static_cast<const char*>(std::memchr(base + from, '\n', window - from))) {
                        newline_known_ = true;
                        newline_at_ = static_cast<std::size_t>(nl - base);
                    } else {
                        searched_ = window;
                    }
                }
                const std::size_t stop = newline_known_ ? newline_at_ : window;
                const auto* q = static_cast<const char*>(std::memchr(base + scan_, '"', stop - scan_));
                if (!q) {
                    scan_ = stop;
                    if (newline_known_) {
                        record_len_ = stop;
                        return Found::record;
                    }
                    break;
                }
                const std::size_t at = static_cast<std::size_t>(q - base);
                if (opens_field(base, at)) {
                    in_quote_ = true;
                    quote_line_ = line_ + record_newlines_;
                    quote_at_ = at;
                }
                scan_ = at + 1;
            } else {
                const auto* q = static_cast<const char*>(std::memchr(base + scan_, '"', window - scan_));
                const std::size_t stop = q ? static_cast<std::size_t>(q - base) : window;
                record_newlines_ += static_cast<std::uint64_t>(std::count(base + scan_, base + stop, '\n'));
                scan_ = stop;
                if (!q) break;
                if (stop + 1 < window) {  // "" stays inside the quotes; " alone closes them
                    in_quote_ = base[stop + 1] == '"';
                    scan_ = stop + (in_quote_ ? 2 : 1);
                } else if (eof_ && stop + 1 == avail) {
                    in_quote_ = false;
                    scan_ = stop + 1;
                } else {
                    break;  // need the byte after this quote
                }
            }
        }
        if (window == max_record_bytes + 1) return Found::too_long;
        if (eof_) {
            if (in_quote_) return Found::unclosed_quote;
            if (avail == 0) return Found::end;
            record_len_ = avail;
            return Found::last_record;
        }
        fill();
    }
}

bool CsvReader::skip_line() {
    for (;;) {
        if (const auto* nl = static_cast<const char*>(std::memchr(buf_.get() + pos_, '\n', end_ - pos_))) {
            pos_ = static_cast<std::size_t>(nl - buf_.get()) + 1;
            skipping_ = false;
            return true;
        }
        pos_ = end_;
        if (!fill()) {
            skipping_ = false;
            return false;
        }
    }
}

void CsvReader::read_header() {
    for (;;) {
        reset_scan();
        const Found found = find_record();
        if (found == Found::end)
            throw InputError(fmt::format("{}: the input is empty: its first line must name the columns "
                                         "(phone_number, first_name, last_name, image_url)", where(line_)),
                             line_);
        if (found == Found::too_long || found == Found::unclosed_quote)
            throw InputError(fmt::format("{}: the header row is malformed: {}", where(line_),
                                         found == Found::too_long ? "longer than 1 MiB" : "unclosed quote"),
                             line_);
        const std::uint64_t header_line = line_;
        std::string_view rec(buf_.get() + pos_, record_len_);
        pos_ += record_len_ + (found == Found::record ? 1 : 0);
        line_ += 1 + record_newlines_;
        if (!rec.empty() && rec.back() == '\r') rec.remove_suffix(1);
        if (blank_line(rec)) continue;

        std::string error;
        if (std::memchr(rec.data(), '\0', rec.size())) error = "binary data (NUL byte)";
        std::vector<std::string> names;
        split_record(rec, scratch_, error, [&](std::size_t, std::string_view cell) { names.emplace_back(trim(cell)); });
        if (!error.empty())
            throw InputError(fmt::format("{}: the header row is malformed: {}", where(header_line), error), header_line);

        column_field_.assign(names.size(), -1);
        std::vector<std::string> unknown;
        int seen_at[4] = {-1, -1, -1, -1};
        for (std::size_t i = 0; i < names.size(); ++i) {
            std::string lower = names[i];
            std::transform(lower.begin(), lower.end(), lower.begin(),
                           [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; });
            const auto known = std::find(std::begin(known_columns), std::end(known_columns), lower);
            if (known == std::end(known_columns)) {
                unknown.push_back(names[i].empty() ? fmt::format("column {} (no name)", i + 1)
                                                   : fmt::format("'{}'", names[i]));
                continue;
            }
            const auto field = static_cast<int>(known - std::begin(known_columns));
            if (seen_at[field] >= 0)
                throw InputError(fmt::format("{}: the header names column {} twice (columns {} and {}): "
                                             "keep one", where(header_line), *known, seen_at[field] + 1, i + 1),
                                 header_line);
            seen_at[field] = static_cast<int>(i);
            column_field_[i] = field;
        }
        if (seen_at[0] < 0) {
            std::string found_names;
            for (const auto& name : names) found_names += (found_names.empty() ? "'" : ", '") + name + "'";
            throw InputError(fmt::format("{}: the header has no phone_number column (found {}); the first line "
                                         "must name the columns, e.g. phone_number,first_name,last_name,image_url",
                                         where(header_line), found_names),
                             header_line);
        }
        if (!unknown.empty()) {
            std::string list;
            for (const auto& u : unknown) list += (list.empty() ? "" : ", ") + u;
            warnings_.push_back(fmt::format("{}: ignoring unknown column{} {} (cardsync reads phone_number, "
                                            "first_name, last_name, image_url)",
                                            where(header_line), unknown.size() > 1 ? "s" : "", list));
        }
        reset_scan();
        return;
    }
}

void CsvReader::parse_record(std::string_view rec, InputRow& row) {
    unsigned set = 0;  // which optional fields this record gave
    if (std::memchr(rec.data(), '\0', rec.size())) row.error = "binary data (NUL byte)";
    const std::size_t fields = split_record(rec, scratch_, row.error, [&](std::size_t i, std::string_view cell) {
        if (i >= column_field_.size() || cell.empty()) return;
        switch (column_field_[i]) {
        case 0: row.phone_number.assign(cell); break;
        case 1: set_field(row.fields.first_name, cell), set |= 1; break;
        case 2: set_field(row.fields.last_name, cell), set |= 2; break;
        case 3: set_field(row.fields.image_url, cell), set |= 4; break;
        default: break;
        }
    });
    if (fields != column_field_.size())
        set_error(row.error, fmt::format("expected {} fields, found {}", column_field_.size(), fields));
    if (!(set & 1)) row.fields.first_name.reset();
    if (!(set & 2)) row.fields.last_name.reset();
    if (!(set & 4)) row.fields.image_url.reset();
}

bool CsvReader::next(InputRow& row) {
    for (;;) {
        if (skipping_ && !skip_line()) return false;
        reset_scan();
        const Found found = find_record();
        if (found == Found::end) return false;
        const char* base = buf_.get() + pos_;
        row.line = line_;
        row.phone_number.clear();
        row.error.clear();
        if (found == Found::record || found == Found::last_record) {
            std::string_view rec(base, record_len_);
            pos_ += record_len_ + (found == Found::record ? 1 : 0);
            line_ += 1 + record_newlines_;
            if (!rec.empty() && rec.back() == '\r') rec.remove_suffix(1);
            if (blank_line(rec)) continue;
            parse_record(rec, row);
            return true;
        }
        // A quote never closed, or a record over the limit: report it as one bad row (keeping the number
        // if it comes before the trouble), then resume at the line after the one the open quote (or the
        // over-long stretch) is on: what came before it was well-formed, what follows gets read again.
        const std::size_t avail = end_ - pos_;
        const auto* first_nl = static_cast<const char*>(std::memchr(base, '\n', avail));
        std::string_view start_line(base, std::min(first_nl ? static_cast<std::size_t>(first_nl - base) : avail,
                                                    max_record_bytes));
        if (!start_line.empty() && start_line.back() == '\r') start_line.remove_suffix(1);
        parse_record(start_line, row);
        row.fields = {};
        if (found == Found::unclosed_quote)
            row.error = fmt::format("unclosed quote starting at line {}", quote_line_);
        else if (in_quote_)
            row.error = fmt::format("unclosed quote starting at line {} (no closing quote within 1 MiB)", quote_line_);
        else
            row.error = "record longer than 1 MiB";
        const std::size_t from = in_quote_ ? quote_at_ : scan_;
        const auto* nl = static_cast<const char*>(std::memchr(base + from, '\n', avail - from));
        const std::size_t skipped = nl ? static_cast<std::size_t>(nl - base) : avail;
        line_ += 1 + static_cast<std::uint64_t>(std::count(base, base + skipped, '\n'));
        if (nl) {
            pos_ += skipped + 1;
        } else {
            pos_ = end_;
            skipping_ = true;
        }
        return true;
    }
}

}  // namespace cardsync
