#include "cardsync/number_lanes.hpp"

#include <utility>

namespace cardsync {

void merge_fields(CardFields& earlier, const CardFields& later) {
    if (later.first_name) earlier.first_name = later.first_name;
    if (later.last_name) earlier.last_name = later.last_name;
    if (later.image_url) earlier.image_url = later.image_url;
}

std::optional<LaneWork> Lanes::admit(ContactUpdate update) {
    ++rows_;
    const auto [i, added] = lanes_.try_emplace(keys_.add(update.phone_number));
    Lane& lane = lanes_.value_at(i);
    if (added) {
        lane.in_flight_rows = 1;
        return LaneWork{std::move(update.phone_number), std::move(update.fields), {update.line}};
    }
    if (lane.queued == 0) {
        if (free_.empty()) {
            queued_.emplace_back();
            free_.push_back(queued_.size() - 1);
        }
        lane.queued = free_.back() + 1;
        free_.pop_back();
        queued_[lane.queued - 1] = LaneWork{std::move(update.phone_number), std::move(update.fields), {update.line}};
        ++waiting_;
    } else {
        LaneWork& queued = queued_[lane.queued - 1];
        merge_fields(queued.fields, update.fields);
        queued.lines.push_back(update.line);
    }
    return std::nullopt;
}

std::optional<LaneWork> Lanes::complete(std::string_view number) {
    const std::uint64_t key = keys_.find(number);
    const std::size_t i = key == 0 ? lanes_.npos : lanes_.find(key);
    if (i == lanes_.npos) return std::nullopt;
    Lane& lane = lanes_.value_at(i);
    rows_ -= lane.in_flight_rows;
    if (lane.queued == 0) {
        lanes_.erase_at(i);
        keys_.forget(key);
        return std::nullopt;
    }
    const std::size_t index = lane.queued - 1;
    std::optional<LaneWork> next(std::move(queued_[index]));
    free_.push_back(index);
    lane.queued = 0;
    --waiting_;
    lane.in_flight_rows = next->lines.size();
    return next;
}

}  // namespace cardsync
