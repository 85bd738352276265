#pragma once
// Reading back a results file written by ResultsWriter (for --resume and for merging shard results):
// streaming, one record at a time, in constant memory.

#include "cardsync/result_record.hpp"
#include "cardsync/results_writer.hpp"

#include <cstdint>
#include <memory>
#include <string>

namespace cardsync {

class ResultsReader {
public:
    /// Opens `path`; the format comes from its extension (results_format_from_path). Throws
    /// std::runtime_error naming the path when it cannot be opened (std::invalid_argument for an
    /// unknown extension), or when a CSV file does not start with csv_header().
    explicit ResultsReader(const std::string& path);
    ~ResultsReader();
    ResultsReader(const ResultsReader&) = delete;
    ResultsReader& operator=(const ResultsReader&) = delete;

    /// Fills `record` with the next record; false at the end. A last record cut short (no final
    /// newline, or an unclosed CSV quote: a crash mid-write) is not returned and sets torn_tail().
    /// Any other malformed record throws std::runtime_error with the file and line number.
    /// NDJSON: keys in any order, unknown keys ignored, line/phone_number/outcome required;
    /// blank lines skipped.
    bool next(ResultRecord& record);
    /// Physical line (1-based) where the last record returned starts.
    std::uint64_t line() const noexcept;
    /// True once next() has returned false because the file ends in a partial record.
    bool torn_tail() const noexcept;
    /// Bytes from the start of the file up to the end of the last complete record (or of the CSV
    /// header): truncate the file to this before appending to it, so no record is glued to a torn one.
    std::uint64_t complete_bytes() const noexcept;
    ResultsFormat format() const noexcept;

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace cardsync
