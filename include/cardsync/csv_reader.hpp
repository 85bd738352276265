#pragma once
// RFC 4180 CSV reader: header row naming phone_number, first_name, last_name, image_url in any order
// (case-insensitive, trimmed); unknown columns ignored with one warning; quoted fields with commas,
// doubled quotes and newlines; LF or CRLF; UTF-8 BOM; blank lines skipped; empty cell = omitted field.

#include "cardsync/row_reader.hpp"

#include <array>
#include <string>

namespace cardsync {

class CsvReader final : public RowReader {
public:
    /// Reads the header now; throws InputError (line 1) when it lacks a phone_number column.
    explicit CsvReader(std::unique_ptr<ByteSource> source);
    bool next(InputRow& row) override;
    std::uint64_t bytes_read() const noexcept override { return consumed_; }

private:
    bool fill();  // more bytes into buf_; false at end of input
    std::unique_ptr<ByteSource> source_;
    std::string buf_;
    std::size_t pos_ = 0;
    bool eof_ = false;
    std::uint64_t consumed_ = 0;
    std::uint64_t line_ = 1;                 // physical line of the next byte at pos_
    std::vector<int> column_field_;          // per column: 0 phone, 1 first, 2 last, 3 image, -1 ignored
    std::vector<std::string> cells_;         // scratch, reused
};

}  // namespace cardsync
