// The per-row decision shared by `plan` and `apply`: against the snapshot, then against what the
// earlier rows of the same run set.
#include "cardsync/sync_plan.hpp"

#include <gtest/gtest.h>

namespace {

using cardsync::CardSnapshot;
using cardsync::ContactUpdate;
using cardsync::FieldChange;
using cardsync::PlanAction;
using cardsync::SyncPlanner;

ContactUpdate row(std::uint64_t line, std::string number, std::optional<std::string> first,
                  std::optional<std::string> last = std::nullopt, std::optional<std::string> image = std::nullopt) {
    ContactUpdate u;
    u.line = line;
    u.phone_number = std::move(number);
    u.fields.first_name = std::move(first);
    u.fields.last_name = std::move(last);
    u.fields.image_url = std::move(image);
    return u;
}

CardSnapshot live() {
    CardSnapshot s;
    s.add("+15550000001", "Ann", "Lee");
    s.add("+15550000002", "Bo", "", "https://x/bo.png");
    return s;
}

TEST(SyncPlanner, AgainstTheSnapshot) {
    const auto s = live();
    SyncPlanner p(s, false);
    auto r = p.decide(row(2, "+15550000001", "Ann", "Lee"));
    EXPECT_EQ(r.action, PlanAction::unchanged);
    EXPECT_TRUE(r.changes.empty());
    r = p.decide(row(3, "+15550000002", std::nullopt, "Ng"));
    EXPECT_EQ(r.action, PlanAction::change);
    EXPECT_EQ(r.changes, (std::vector<FieldChange>{{"last_name", "", "Ng"}}));
    r = p.decide(row(4, "+15550000009", "Cy"));
    EXPECT_EQ(r.action, PlanAction::no_card);
    r = p.decide(row(5, "+15550000008", std::nullopt, "NoFirst"));
    EXPECT_EQ(r.action, PlanAction::no_card) << "without --create-missing first_name does not matter";
}

TEST(SyncPlanner, CreateMissingNeedsFirstName) {
    const auto s = live();
    SyncPlanner p(s, true);
    auto r = p.decide(row(2, "+15550000009", std::nullopt, "Li"));
    EXPECT_EQ(r.action, PlanAction::invalid);
    EXPECT_EQ(r.reason, cardsync::first_name_required);
    r = p.decide(row(3, "+15550000009", "Cy", "Li"));
    EXPECT_EQ(r.action, PlanAction::create);
    EXPECT_EQ(r.changes, (std::vector<FieldChange>{{"first_name", "", "Cy"}, {"last_name", "", "Li"}}));
    r = p.decide(row(4, "+15550000009", std::nullopt, "Lim"));
    EXPECT_EQ(r.action, PlanAction::change) << "the card exists once the earlier row creates it";
    EXPECT_EQ(r.changes, (std::vector<FieldChange>{{"last_name", "Li", "Lim"}}));
    r = p.decide(row(5, "+15550000009", "Cy"));
    EXPECT_EQ(r.action, PlanAction::unchanged);
}

TEST(SyncPlanner, LaterRowsCompareWithWhatEarlierRowsSet) {
    const auto s = live();
    SyncPlanner p(s, false);
    EXPECT_EQ(p.decide(row(2, "+15550000001", "Anna")).action, PlanAction::change);
    EXPECT_EQ(p.decide(row(3, "+15550000001", "Anna", "Lee")).action, PlanAction::unchanged)
        << "same as the earlier row leaves it";
    const auto back = p.decide(row(4, "+15550000001", "Ann"));
    EXPECT_EQ(back.action, PlanAction::change) << "back to the snapshot's value is a change after line 2";
    EXPECT_EQ(back.changes, (std::vector<FieldChange>{{"first_name", "Anna", "Ann"}}));
    EXPECT_EQ(p.decide(row(5, "+15550000002", "Bo")).action, PlanAction::unchanged) << "other numbers untouched";
}

TEST(PlanTotals, CountsEachAction) {
    cardsync::PlanTotals t;
    for (auto a : {PlanAction::change, PlanAction::change, PlanAction::unchanged, PlanAction::create,
                   PlanAction::no_card, PlanAction::invalid})
        t.add(a);
    EXPECT_EQ(t.rows(), 6u);
    EXPECT_EQ(t.change, 2u);
    EXPECT_EQ(t.unchanged, 1u);
    EXPECT_EQ(t.create, 1u);
    EXPECT_EQ(t.no_card, 1u);
    EXPECT_EQ(t.invalid, 1u);
    EXPECT_EQ(cardsync::to_string(PlanAction::no_card), "no_card");
}

}  // namespace
