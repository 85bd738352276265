#pragma once
// RFC 4180 CSV reader: header row naming phone_number, first_name, last_name, image_url in any order
// (case-insensitive, trimmed); unknown columns ignored with one warning; quoted fields with commas,
// doubled quotes and newlines; LF or CRLF; UTF-8 BOM; blank lines skipped; empty cell = omitted field;
// unquoted cells trimmed of spaces and tabs. A bad record becomes an invalid row, never an exception:
// wrong field count, stray quote, text after a closing quote, NUL byte; a quote never closed (at end of
// input or within max_record_bytes) or an over-long record is reported once, and reading resumes at the
// line after the one where the open quote (or the over-long stretch) is.

#include "cardsync/row_reader.hpp"

#include <string>
#include <vector>

namespace cardsync {

class CsvReader final : public RowReader {
public:
    /// Reads the header now; throws InputError (line 1) when it lacks a phone_number column.
    explicit CsvReader(std::unique_ptr<ByteSource> source);
    bool next(InputRow& row) override;
    std::uint64_t bytes_read() const noexcept override { return consumed_; }
    void interrupt() noexcept override { source_->interrupt(); }

private:
    enum class Found { record, last_record, too_long, unclosed_quote, end };
    bool fill();                // more bytes into buf_ (compacting or growing it); false at end of input
    Found find_record();        // finds the end of the record starting at pos_, resuming across fills
    bool skip_line();           // drops bytes through the next '\n' (after an over-long line); false at end
    void reset_scan() noexcept;
    void read_header();
    void parse_record(std::string_view record, InputRow& row);
    std::string where(std::uint64_t line) const;  // "name:line" for messages

    std::unique_ptr<ByteSource> source_;
    std::unique_ptr<char[]> buf_;
    std::size_t cap_ = 0;
    std::size_t pos_ = 0;                    // start of the current record in buf_
    std::size_t end_ = 0;                    // end of the bytes read into buf_
    bool eof_ = false;
    bool skipping_ = false;                  // dropping the rest of an over-long line
    std::uint64_t consumed_ = 0;
    std::uint64_t line_ = 1;                 // physical line where the record at pos_ starts
    // Record scanner state, offsets relative to pos_ so they survive compaction.
    std::size_t scan_ = 0;                   // next byte to examine
    std::size_t newline_at_ = 0;             // a '\n' known at or after scan_ (valid when > searched)
    std::size_t searched_ = 0;               // no '\n' in [scan_, searched_) outside the known one
    bool newline_known_ = false;
    bool in_quote_ = false;
    std::size_t record_len_ = 0;             // found record length, without its '\n'
    std::uint64_t record_newlines_ = 0;      // newlines inside quoted fields of the current record
    std::uint64_t quote_line_ = 0;           // line of the quote that is open
    std::size_t quote_at_ = 0;               // its offset
    std::vector<int> column_field_;          // per column: 0 phone, 1 first, 2 last, 3 image, -1 ignored
    std::string scratch_;                    // unescaped quoted cell, reused
};

}  // namespace cardsync
