#include "cardsync/results_writer.hpp"

#include "cardsync/json_text.hpp"
#include "cardsync/text.hpp"
#include "cardsync/validate.hpp"

#include <algorithm>
#include <array>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstring>
#include <stdexcept>

#include <fcntl.h>
#include <poll.h>
#include <sys/stat.h>
#include <unistd.h>

namespace cardsync {

namespace {

constexpr std::string_view header =
    "line,phone_number,outcome,http_status,error_code,message,attempts,latency_ms,is_active\n";

bool ends_with_nocase(std::string_view s, std::string_view suffix) noexcept {
    if (s.size() < suffix.size()) return false;
    s = s.substr(s.size() - suffix.size());
    for (std::size_t i = 0; i < s.size(); ++i) {
        char c = s[i];
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
        if (c != suffix[i]) return false;
    }
    return true;
}

// The writers below fill a caller's buffer and return its new end; the caller gives them room
// (digits_room for a number, latency_room for a latency).
constexpr std::size_t digits_room = 20;  // the digits of any 64-bit integer, and a sign
constexpr std::size_t latency_room = 21;

template <class Int>
char* write_int(char* p, Int value) {
    return std::to_chars(p, p + digits_room, value).ptr;
}

template <class Int>
void append_int(std::string& out, Int value) {
    char buf[digits_room];
    out.append(buf, static_cast<std::size_t>(write_int(buf, value) - buf));
}

// Milliseconds with at most 3 decimals and no trailing zeros ("12.5", "0", "1234.567"): printed as
// integer microseconds, several times faster than a fixed-precision floating-point conversion.
char* write_latency(char* p, double ms) {
    if (!std::isfinite(ms) || std::fabs(ms) >= 1e15) ms = 0;  // never write NaN/inf (not JSON)
    long long us = std::llround(ms * 1000.0);
    if (us < 0) {
        *p++ = '-';
        us = -us;
    }
    p = write_int(p, us / 1000);
    int frac = static_cast<int>(us % 1000);
    if (frac == 0) return p;
    char digits[4] = {'.', static_cast<char>('0' + frac / 100), static_cast<char>('0' + frac / 10 % 10),
                      static_cast<char>('0' + frac % 10)};
    std::size_t n = 4;
    while (digits[n - 1] == '0') --n;
    return std::copy_n(digits, n, p);
}

void append_latency(std::string& out, double ms) {
    char buf[latency_room];
    out.append(buf, static_cast<std::size_t>(write_latency(buf, ms) - buf));
}

// ASCII is valid UTF-8; only text with high bytes goes through the validator (most fields are ASCII).
bool is_utf8_fast(std::string_view text) noexcept {
    for (const char c : text)
        if (static_cast<unsigned char>(c) >= 0x80) return is_valid_utf8(text);
    return true;
}

void append_json_text(std::string& out, std::string_view text, std::string& scratch) {
    if (is_utf8_fast(text)) return append_json_string(out, text);
    scratch.clear();
    append_utf8_lossy(scratch, text);
    append_json_string(out, scratch);
}

// Per byte: 1 = makes a CSV field need quotes, 2 = not ASCII (the field needs a UTF-8 check).
constexpr auto csv_byte_class = [] {
    std::array<unsigned char, 256> t{};
    t[','] = t['"'] = t['\r'] = t['\n'] = 1;
    for (int c = 0x80; c < 0x100; ++c) t[static_cast<std::size_t>(c)] = 2;
    return t;
}();

// What csv_byte_class finds in `text`: 0 when it can be written as is.
unsigned char csv_text_class(std::string_view text) noexcept {
    unsigned char seen = 0;
    for (const char c : text) {  // a branch, not a branch-free OR: g++ "vectorises" the latter badly
        if (const unsigned char k = csv_byte_class[static_cast<unsigned char>(c)]; k != 0 && (seen |= k) == 3) break;
    }
    return seen;
}

// `seen` is csv_text_class(text), found by the caller.
void append_csv_field(std::string& out, std::string_view text, unsigned char seen, std::string& scratch) {
    const bool quote = seen & 1;
    if ((seen & 2) && !is_valid_utf8(text)) {
        scratch.clear();
        append_utf8_lossy(scratch, text);
        text = scratch;
    }
    if (!quote) {
        out.append(text);
        return;
    }
    out.push_back('"');
    for (std::size_t start = 0;;) {
        const std::size_t q = text.find('"', start);
        if (q == std::string_view::npos) {
            out.append(text.substr(start));
            break;
        }
        out.append(text.substr(start, q + 1 - start));
        out.push_back('"');
        start = q + 1;
    }
    out.push_back('"');
}

// `name` is how messages show the destination: "'out.csv'", "standard output", "file descriptor 4".
[[noreturn]] void fail(std::string_view what, const std::string& name, int err) {
    throw std::runtime_error(std::string(what) + " " + name + ": " + std::strerror(err));
}

}  // namespace


ResultsFormat results_format_from_path(std::string_view path) {
    // Devices (/dev/null, /dev/stdout, /dev/fd/N) have no extension; they get the stdout format.
    if (path.empty() || path == "-" || path.starts_with("/dev/")) return ResultsFormat::ndjson;
    if (ends_with_nocase(path, ".csv")) return ResultsFormat::csv;
    if (ends_with_nocase(path, ".ndjson") || ends_with_nocase(path, ".jsonl")) return ResultsFormat::ndjson;
    throw std::invalid_argument("results file '" + std::string(path) +
                                "': cannot tell the format from its name; use a .csv, .ndjson or .jsonl extension");
}

std::string_view csv_header() noexcept { return header; }

void append_record(std::string& out, const ResultRecord& r, ResultsFormat format) {
    std::string scratch;  // only used for text that is not valid UTF-8
    if (format == ResultsFormat::ndjson) {
        out.append("{\"line\":");
        append_int(out, r.line);
        out.append(",\"phone_number\":");
        append_json_text(out, r.phone_number, scratch);
        out.append(",\"outcome\":\"");
        out.append(to_string(r.outcome));
        out.append("\",\"http_status\":");
        append_int(out, r.http_status);
        out.append(",\"error_code\":");
        append_json_text(out, r.error_code, scratch);
        out.append(",\"message\":");
        append_json_text(out, r.message, scratch);
        out.append(",\"attempts\":");
        append_int(out, r.attempts);
        out.append(",\"latency_ms\":");
        append_latency(out, r.latency_ms);
        out.append(",\"is_active\":");
        out.append(!r.is_active ? "null" : *r.is_active ? "true" : "false");
        out.append("}\n");
        return;
    }
    // CSV: composed in a stack buffer and appended in one go (a dozen appends, each checking the
    // string's capacity, cost more than a record's bytes). A text field that needs quotes or UTF-8
    // repair, or does not fit, goes through append_csv_field after what the buffer holds.
    char buf[512];
    char* p = buf;
    constexpr std::size_t fixed_room = 3 * digits_room + latency_room + 32;  // numbers, outcome, commas
    const auto text = [&](std::string_view t) {
        const unsigned char seen = csv_text_class(t);
        if (seen == 0 && t.size() + fixed_room <= static_cast<std::size_t>(buf + sizeof buf - p)) {
            p = std::copy(t.begin(), t.end(), p);
            return;
        }
        out.append(buf, static_cast<std::size_t>(p - buf));
        p = buf;
        append_csv_field(out, t, seen, scratch);
    };
    const auto put = [&](std::string_view t) { p = std::copy(t.begin(), t.end(), p); };
    p = write_int(p, r.line);
    *p++ = ',';
    text(r.phone_number);
    *p++ = ',';
    put(to_string(r.outcome));
    *p++ = ',';
    p = write_int(p, r.http_status);
    *p++ = ',';
    text(r.error_code);
    *p++ = ',';
    text(r.message);
    *p++ = ',';
    p = write_int(p, r.attempts);
    *p++ = ',';
    p = write_latency(p, r.latency_ms);
    *p++ = ',';
    if (r.is_active) put(*r.is_active ? "true" : "false");
    *p++ = '\n';
    out.append(buf, static_cast<std::size_t>(p - buf));
}

ResultsWriter::ResultsWriter(const std::string& path, ResultsFormat format, bool append)
    : format_(format), path_(path.empty() || path == "-" ? "standard output" : "'" + path + "'") {
    bool write_header = format == ResultsFormat::csv;
    if (path.empty() || path == "-") {
        fd_ = STDOUT_FILENO;
    } else {
        fd_ = ::open(path.c_str(), O_CREAT | O_WRONLY | O_CLOEXEC | (append ? O_APPEND : O_TRUNC), 0644);
        if (fd_ < 0) fail("cannot open results file", path_, errno);
        owns_fd_ = true;
        struct stat st {};
        if (append && ::fstat(fd_, &st) == 0 && st.st_size > 0) write_header = false;
    }
    buffer_.reserve(flush_threshold + 4096);
    if (write_header) buffer_.append(header);
}

ResultsWriter::ResultsWriter(int fd, ResultsFormat format) : fd_(fd), format_(format), path_("file descriptor " + std::to_string(fd)) {
    buffer_.reserve(flush_threshold + 4096);
    if (format == ResultsFormat::csv) buffer_.append(header);
}

ResultsWriter::~ResultsWriter() {
    try {
        close();
    } catch (...) {  // a destructor must not throw; close() is where errors are reported
        if (owns_fd_ && fd_ >= 0) ::close(fd_);
    }
}

void ResultsWriter::write(const ResultRecord& record) {
    std::lock_guard lock(mutex_);
    append_record(buffer_, record, format_);
    count_.fetch_add(1, std::memory_order_relaxed);
    if (buffer_.size() >= flush_threshold) flush_locked();
}

void ResultsWriter::write_encoded(std::string_view records, std::uint64_t count) {
    std::lock_guard lock(mutex_);
    buffer_.append(records);
    count_.fetch_add(count, std::memory_order_relaxed);
    if (buffer_.size() >= flush_threshold) flush_locked();
}

void ResultsWriter::flush() {
    std::lock_guard lock(mutex_);
    flush_locked();
}

void ResultsWriter::flush_locked() {
    if (fd_ < 0) {
        if (buffer_.empty()) return;
        throw std::runtime_error("results file " + path_ + " is already closed");
    }
    std::size_t done = 0;
    while (done < buffer_.size()) {
        const ssize_t n = ::write(fd_, buffer_.data() + done, buffer_.size() - done);
        if (n > 0) {
            done += static_cast<std::size_t>(n);
            continue;
        }
        const int err = n == 0 ? EIO : errno;
        if (err == EINTR) continue;
        if (err == EAGAIN || err == EWOULDBLOCK) {  // a non-blocking stdout: wait until it drains
            pollfd p{fd_, POLLOUT, 0};
            ::poll(&p, 1, -1);
            continue;
        }
        buffer_.erase(0, done);
        fail("cannot write results to", path_, err);
    }
    buffer_.clear();
}

void ResultsWriter::close() {
    std::lock_guard lock(mutex_);
    if (fd_ < 0) return;
    flush_locked();
    const int fd = fd_;
    fd_ = -1;
    if (owns_fd_ && ::close(fd) != 0 && errno != EINTR) fail("cannot close results file", path_, errno);
}

}  // namespace cardsync
