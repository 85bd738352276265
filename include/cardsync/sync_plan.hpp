#pragma once
// What one valid row would do against the live cards: change them, leave them as they are, create
// a card, or meet no card. The one decision `cardsync plan` prints and `cardsync apply
// --skip-unchanged / --create-missing` acts on, so the plan's totals are what apply does.
//
// Rows are decided in input order against the snapshot as the earlier rows of the same run leave
// it: a row for a number that an earlier row changes (or creates) is compared with what that row
// sets. So a row repeating an earlier row's values is `unchanged`, and a row after a create is a
// change of the new card (a PATCH), needing no first_name. Pure; memory grows only with the
// numbers the input changes.

#include "cardsync/card_snapshot.hpp"
#include "cardsync/contact_update.hpp"

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace cardsync {

enum class PlanAction {
    change,     ///< the card exists and some present field differs: PATCH
    unchanged,  ///< every present field equals the card's value: nothing to send
    create,     ///< no card, --create-missing, first_name given: POST
    no_card,    ///< no card and no --create-missing: the PATCH would be rejected 404
    invalid,    ///< not sendable (validation, or no first_name to create a card)
};

std::string_view to_string(PlanAction action) noexcept;

/// The reason of a row that cannot create its card.
inline constexpr std::string_view first_name_required = "first_name is required to create a card (--create-missing)";

/// The decision for one row.
struct RowPlan {
    PlanAction action = PlanAction::change;
    std::vector<FieldChange> changes;   ///< change: the differing fields; create: every field set (from "")
    std::string reason;                 ///< invalid: why
};

/// Counts per action.
struct PlanTotals {
    std::uint64_t change = 0, unchanged = 0, create = 0, no_card = 0, invalid = 0;
    void add(PlanAction action) noexcept;
    std::uint64_t rows() const noexcept { return change + unchanged + create + no_card + invalid; }
    friend bool operator==(const PlanTotals&, const PlanTotals&) = default;
};

class SyncPlanner {
public:
    /// `snapshot` must outlive the planner.
    SyncPlanner(const CardSnapshot& snapshot, bool create_missing) : snapshot_(snapshot), create_missing_(create_missing) {}

    /// Decides for the next valid row (call in input order) and remembers what it sets.
    RowPlan decide(const ContactUpdate& update);

private:
    struct Planned {
        std::string first_name, last_name, image_url;
    };
    const CardSnapshot& snapshot_;
    bool create_missing_;
    std::unordered_map<std::string, Planned> planned_;  // numbers an earlier row changes or creates
};

}  // namespace cardsync
