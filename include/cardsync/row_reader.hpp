#pragma once
// Streaming readers of contact rows: constant memory whatever the input size.

#include "cardsync/byte_source.hpp"
#include "cardsync/contact_update.hpp"

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace cardsync {

enum class InputFormat { csv, ndjson };

/// Largest record a reader accepts; a longer one is an invalid row, and the reader skips to the next line.
inline constexpr std::size_t max_record_bytes = 1 << 20;

/// A pull reader: `next` fills the next row until the input ends.
class RowReader {
public:
    virtual ~RowReader() = default;
    /// Fills `row` with the next record; false at end of input. A malformed record comes back with
    /// `row.error` set (and its line), never as an exception; file-level problems throw InputError.
    virtual bool next(InputRow& row) = 0;
    /// Bytes consumed from the source so far (progress as a share of the input).
    virtual std::uint64_t bytes_read() const noexcept = 0;
    /// Interrupts a read waiting on the source (ByteSource::interrupt); any thread may call it.
    virtual void interrupt() noexcept {}
    /// One-time notes about the whole input (e.g. "ignoring unknown column 'x'"), to print once.
    const std::vector<std::string>& warnings() const noexcept { return warnings_; }

protected:
    std::vector<std::string> warnings_;
};

/// The format of `path` from its extension (.csv, .ndjson, .jsonl); throws InputError when unknown
/// (stdin "-" has no extension: the caller must pass --format).
InputFormat format_from_path(std::string_view path);
/// Parses "csv" / "ndjson" (also "jsonl"); throws InputError otherwise.
InputFormat parse_format(std::string_view name);

/// Makes the reader for `format`. The CSV reader reads the header at once (throws InputError when
/// the phone_number column is missing).
std::unique_ptr<RowReader> make_row_reader(InputFormat format, std::unique_ptr<ByteSource> source);

}  // namespace cardsync
