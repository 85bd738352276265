#pragma once
// Per-number ordering and coalescing. Rows for one phone number never run concurrently and take
// effect in input order; rows for a number that arrive while its earlier work is in flight are
// merged into ONE queued update (later present fields win), which is sent when the in-flight
// work completes. Each row merged in still gets its own result record: LaneWork::lines lists
// them all. Merging saves calls from the number's 3-per-10-minutes budget.
//
// Use (rows admitted in input order):
//     if (auto work = lanes.admit(update)) start(*work);          // the number was idle
//     ... when `work` has its final outcome (after any retries):
//     if (auto next = lanes.complete(work.number)) start(*next);   // the merged queued rows
//
// Memory: one entry per number with work in flight, holding at most one merged update and the
// lines of the rows it carries; bounded by the rows the engine admits (rows()).

#include "cardsync/key_hash.hpp"
#include "cardsync/contact_update.hpp"

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace cardsync {

/// One update to send for one number: a single row, or several rows merged.
struct LaneWork {
    std::string number;               ///< E.164, as in ContactUpdate::phone_number
    CardFields fields;                ///< the merged fields: each present field from the latest row setting it
    std::vector<std::uint64_t> lines; ///< input lines of every row carried, in input order (never empty)
};

/// Overlays `later` on `earlier`: each field present in `later` replaces the one in `earlier`.
void merge_fields(CardFields& earlier, const CardFields& later);

class Lanes {
public:
    /// Admits the next row (rows must be admitted in input order). If its number is idle, the
    /// number becomes busy and the row is returned, ready to send. Otherwise it is merged into
    /// the number's queued work and nullopt is returned.
    std::optional<LaneWork> admit(ContactUpdate update);

    /// The in-flight work for `number` reached its final outcome. Returns the number's queued
    /// (merged) work, which is now in flight, or nullopt: the number is idle again. Completing
    /// an idle or unknown number returns nullopt and changes nothing.
    std::optional<LaneWork> complete(std::string_view number);

    /// Numbers with work in flight.
    std::size_t busy() const noexcept { return lanes_.size(); }
    /// Numbers with merged work waiting behind their in-flight work.
    std::size_t waiting() const noexcept { return waiting_; }
    /// Rows admitted and not yet completed (in flight or waiting).
    std::size_t rows() const noexcept { return rows_; }
    /// True when no number is busy.
    bool empty() const noexcept { return lanes_.empty(); }

private:
    struct Lane {
        std::size_t in_flight_rows = 0;   ///< rows carried by the work in flight
        std::optional<LaneWork> queued;   ///< merged rows waiting
    };
    std::unordered_map<std::string, Lane, ShortKeyHash, std::equal_to<>> lanes_;
    std::size_t waiting_ = 0;
    std::size_t rows_ = 0;
};

}  // namespace cardsync
