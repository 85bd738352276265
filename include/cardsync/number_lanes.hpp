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
//
// Cost: the lanes are keyed by the number packed into an integer (pack_e164) in a flat table, and
// a work's single line is held inline, so in the steady state a row allocates nothing here.

#include "cardsync/contact_update.hpp"
#include "cardsync/flat_key_map.hpp"
#include "cardsync/key_hash.hpp"

#include <boost/container/small_vector.hpp>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace cardsync {

/// Input lines of the rows one work carries: nearly always one, held without a heap allocation.
using LineList = boost::container::small_vector<std::uint64_t, 1>;

/// One update to send for one number: a single row, or several rows merged.
struct LaneWork {
    std::string number;  ///< E.164, as in ContactUpdate::phone_number
    CardFields fields;   ///< the merged fields: each present field from the latest row setting it
    LineList lines;      ///< input lines of every row carried, in input order (never empty)
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
    /// A number with work in flight. Small and trivially copied, so the table stays dense.
    struct Lane {
        std::size_t in_flight_rows = 0;  ///< rows carried by the work in flight
        std::size_t queued = 0;          ///< merged rows waiting: 1 + their index in queued_; 0: none
    };

    FlatKeyMap<Lane> lanes_;
    std::vector<LaneWork> queued_;       ///< merged works waiting; entries reused through free_
    std::vector<std::size_t> free_;      ///< indexes of queued_ not in use
    NumberKeys keys_;                    ///< a busy number's key (held while it is busy)
    std::size_t waiting_ = 0;
    std::size_t rows_ = 0;
};

}  // namespace cardsync
