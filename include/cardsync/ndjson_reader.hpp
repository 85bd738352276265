#pragma once
// NDJSON reader: one JSON object per line with the keys phone_number, first_name, last_name,
// image_url (null or absent = omitted; other keys ignored). Parsed with simdjson On Demand, read in
// chunks with the incomplete tail carried forward. A bad line makes that row invalid, not the file.

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

private:
    struct Impl;  // keeps simdjson out of this header
    std::unique_ptr<Impl> impl_;
    std::uint64_t consumed_ = 0;
};

}  // namespace cardsync
