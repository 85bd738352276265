#pragma once
// NDJSON reader: one JSON object per line with the keys phone_number, first_name, last_name,
// image_url (null, absent or "" = omitted, like an empty CSV cell; other keys ignored). Parsed with
// simdjson On Demand, read in chunks with the incomplete tail carried forward. A bad line makes that
// row invalid, not the file: invalid JSON or UTF-8, not an object, a known key that is not a string
// or null, a duplicate known key, text after the object, a line over max_record_bytes (the reader
// then skips to the next newline). A leading UTF-8 BOM and blank lines are skipped; CRLF accepted; lines are physical, 1-based.

#include "cardsync/row_reader.hpp"

#include <memory>
#include <string>

namespace cardsync {

class NdjsonReader final : public RowReader {
public:
    explicit NdjsonReader(std::unique_ptr<ByteSource> source);
    ~NdjsonReader() override;
    bool next(InputRow& row) override;
    std::uint64_t bytes_read() const noexcept override { return consumed_; }
    void interrupt() noexcept override;

private:
    struct Impl;  // keeps simdjson out of this header
    std::unique_ptr<Impl> impl_;
    std::uint64_t consumed_ = 0;
};

}  // namespace cardsync
