#include "cardsync/line_merge.hpp"

#include <stdexcept>
#include <string>

namespace cardsync {

bool VectorRecordStream::next(ResultRecord& record) {
    if (pos_ == records_.size()) return false;
    record = records_[pos_++];
    return true;
}

LineMerge::LineMerge(std::vector<RecordStream*> streams) : streams_(std::move(streams)), heads_(streams_.size()) {
    for (std::size_t i = 0; i < streams_.size(); ++i) pull(i, 0);
}

void LineMerge::pull(std::size_t stream, std::uint64_t previous) {
    if (!streams_[stream]->next(heads_[stream])) return;
    if (heads_[stream].line < previous)
        throw std::runtime_error("stream " + std::to_string(stream) + " is not in line order: line " +
                                 std::to_string(heads_[stream].line) + " after line " + std::to_string(previous));
    order_.push({heads_[stream].line, stream});
}

bool LineMerge::next(ResultRecord& record, std::size_t& stream) {
    if (order_.empty()) return false;
    stream = order_.top().second;
    order_.pop();
    std::swap(record, heads_[stream]);  // no copy of the strings; the head is refilled next
    pull(stream, record.line);
    return true;
}

}  // namespace cardsync
