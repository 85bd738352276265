#include "cardsync/sync_plan.hpp"

namespace cardsync {

std::string_view to_string(PlanAction action) noexcept {
    switch (action) {
    case PlanAction::change: return "change";
    case PlanAction::unchanged: return "unchanged";
    case PlanAction::create: return "create";
    case PlanAction::no_card: return "no_card";
    case PlanAction::invalid: return "invalid";
    }
    return "unknown";
}

void PlanTotals::add(PlanAction action) noexcept {
    switch (action) {
    case PlanAction::change: ++change; break;
    case PlanAction::unchanged: ++unchanged; break;
    case PlanAction::create: ++create; break;
    case PlanAction::no_card: ++no_card; break;
    case PlanAction::invalid: ++invalid; break;
    }
}

namespace {

void set_present(std::string& target, const std::optional<std::string>& value) {
    if (value) target = *value;
}

}  // namespace

RowPlan SyncPlanner::decide(const ContactUpdate& update) {
    RowPlan plan;
    std::optional<CardView> card;
    auto planned = planned_.find(update.phone_number);
    if (planned != planned_.end()) {
        const Planned& p = planned->second;
        card = CardView{update.phone_number, p.first_name, p.last_name, p.image_url};
    } else {
        card = snapshot_.find(update.phone_number);
    }

    if (card) {
        plan.changes = diff(*card, update.fields);
        if (plan.changes.empty()) {
            plan.action = PlanAction::unchanged;
            return plan;
        }
        plan.action = PlanAction::change;
        if (planned == planned_.end())
            planned = planned_.emplace(update.phone_number,
                                       Planned{std::string(card->first_name), std::string(card->last_name),
                                               std::string(card->image_url)}).first;
    } else if (!create_missing_) {
        plan.action = PlanAction::no_card;
        return plan;
    } else if (!update.fields.first_name) {
        plan.action = PlanAction::invalid;
        plan.reason = std::string(first_name_required);
        return plan;
    } else {
        plan.action = PlanAction::create;
        plan.changes = diff(CardView{update.phone_number, {}, {}, {}}, update.fields);
        planned = planned_.emplace(update.phone_number, Planned{}).first;
    }
    Planned& p = planned->second;
    set_present(p.first_name, update.fields.first_name);
    set_present(p.last_name, update.fields.last_name);
    set_present(p.image_url, update.fields.image_url);
    return plan;
}

}  // namespace cardsync
