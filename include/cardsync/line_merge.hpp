#pragma once
// A k-way merge of result records by input line: several streams, each in ascending line order,
// come out as one stream in ascending line order, holding one record per stream (constant memory).
// Pure: no files; `cardsync merge` feeds it shard results, SortedResults feeds it sorted runs.

#include "cardsync/result_record.hpp"

#include <cstddef>
#include <cstdint>
#include <memory>
#include <queue>
#include <vector>

namespace cardsync {

/// A pull stream of records.
class RecordStream {
public:
    virtual ~RecordStream() = default;
    /// Fills `record` with the next one; false at the end.
    virtual bool next(ResultRecord& record) = 0;
};

/// Serves records from a vector it owns, in the vector's order.
class VectorRecordStream final : public RecordStream {
public:
    explicit VectorRecordStream(std::vector<ResultRecord> records) : records_(std::move(records)) {}
    bool next(ResultRecord& record) override;

private:
    std::vector<ResultRecord> records_;
    std::size_t pos_ = 0;
};

/// Merges streams by line. Records with equal lines come out in stream order (stream 0 first), so a
/// caller can tell duplicates apart by where they came from.
class LineMerge {
public:
    /// Does not own the streams; they must outlive the merge.
    explicit LineMerge(std::vector<RecordStream*> streams);
    /// The next record by line and the index of its stream; false when every stream is done.
    /// Throws std::runtime_error when a stream goes back to an earlier line (it was not sorted).
    bool next(ResultRecord& record, std::size_t& stream);

private:
    void pull(std::size_t stream, std::uint64_t previous_line);

    std::vector<RecordStream*> streams_;
    std::vector<ResultRecord> heads_;  // the record each stream holds next
    using Key = std::pair<std::uint64_t, std::size_t>;  // (line, stream)
    std::priority_queue<Key, std::vector<Key>, std::greater<>> order_;
};

}  // namespace cardsync
