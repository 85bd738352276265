#pragma once
// The single owner of the results file: encodes records as NDJSON or CSV into one buffer and
// writes it in batches (never a syscall per row). Thread-safe: the engines of `apply --threads N`
// share one (each hands over whole records, encoded beforehand, under the lock).

#include "cardsync/result_record.hpp"

#include <cstdint>
#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

namespace cardsync {

enum class ResultsFormat { ndjson, csv };

/// The format for a results path by extension (.csv -> csv, .ndjson/.jsonl -> ndjson);
/// "-", empty (stdout) or a device under /dev/ -> ndjson. Throws std::invalid_argument for another extension.
ResultsFormat results_format_from_path(std::string_view path);

/// Appends one record in the given format (no header), with its trailing newline.
/// NDJSON: one object per line, keys in the order line, phone_number, outcome, http_status,
/// error_code (a string, "" when none), message, attempts, latency_ms (at most 3 decimals),
/// is_active (true/false/null). CSV: the same columns in the same order, RFC 4180 quoting (a field
/// holding a comma, quote, CR or LF is quoted, quotes doubled), is_active empty when absent.
/// Text fields are written as valid UTF-8: an invalid byte becomes U+FFFD (both formats).
void append_record(std::string& out, const ResultRecord& record, ResultsFormat format);
/// The CSV header line (with newline).
std::string_view csv_header() noexcept;

class ResultsWriter {
public:
    /// Writes to `path` ("-" or empty: stdout). `append` keeps existing content (resume) and writes the
    /// CSV header only into an empty file. Throws std::runtime_error naming the path when it cannot open.
    ResultsWriter(const std::string& path, ResultsFormat format, bool append = false);
    /// Writes to an already open descriptor it does not own (tests).
    ResultsWriter(int fd, ResultsFormat format);
    ~ResultsWriter();  // flushes
    ResultsWriter(const ResultsWriter&) = delete;
    ResultsWriter& operator=(const ResultsWriter&) = delete;

    /// Buffers one record; writes the buffer out when it passes flush_threshold.
    void write(const ResultRecord& record);
    /// Buffers `count` whole records already encoded with append_record() in this writer's format
    /// (an engine's batch); writes the buffer out when it passes flush_threshold.
    void write_encoded(std::string_view records, std::uint64_t count);
    ResultsFormat format() const noexcept { return format_; }
    /// Writes out everything buffered (the engine calls this at least every few tens of ms).
    /// Throws std::runtime_error naming the path and the system's reason; what was not written stays buffered.
    /// (A closed pipe is reported as EPIPE only if the program ignores SIGPIPE; otherwise it is killed.)
    void flush();
    /// Flushes and closes the file, throwing on failure (the destructor swallows errors; call this
    /// at the end of a run so a full disk is reported). Idempotent.
    void close();
    std::uint64_t records_written() const noexcept { return count_.load(std::memory_order_relaxed); }

    static constexpr std::size_t flush_threshold = 64 * 1024;

private:
    void flush_locked();

    std::mutex mutex_;  // taken once per record by write(), once per batch by write_encoded()
    int fd_ = -1;
    bool owns_fd_ = false;
    ResultsFormat format_;
    std::string buffer_;
    std::atomic<std::uint64_t> count_{0};
    std::string path_;  ///< the destination as messages show it ("'out.csv'", "standard output")
};

}  // namespace cardsync
