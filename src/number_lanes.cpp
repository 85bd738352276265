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
    auto it = lanes_.find(update.phone_number);
    if (it == lanes_.end()) {
        lanes_.emplace(update.phone_number, Lane{1, std::nullopt});
        return LaneWork{std::move(update.phone_number), std::move(update.fields), {update.line}};
    }
    auto& queued = it->second.queued;
    if (!queued) {
        queued = LaneWork{std::move(update.phone_number), std::move(update.fields), {update.line}};
        ++waiting_;
    } else {
        merge_fields(queued->fields, update.fields);
        queued->lines.push_back(update.line);
    }
    return std::nullopt;
}

std::optional<LaneWork> Lanes::complete(std::string_view number) {
    const auto it = lanes_.find(number);
    if (it == lanes_.end()) return std::nullopt;
    Lane& lane = it->second;
    rows_ -= lane.in_flight_rows;
    if (!lane.queued) {
        lanes_.erase(it);
        return std::nullopt;
    }
    std::optional<LaneWork> next = std::move(lane.queued);
    lane.queued.reset();
    --waiting_;
    lane.in_flight_rows = next->lines.size();
    return next;
}

}  // namespace cardsync
