#pragma once
// The simulator's cards: an in-memory map from E.164 number to contact card, its JSON shapes, and
// the seed file loader. Pure: no I/O but the seed file, no clock.

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace cardsync {

/// A contact card as the API stores it. Empty last_name / image_url mean "not set" (omitted in JSON).
struct Card {
    std::string phone_number;   ///< E.164, the key
    std::string first_name;
    std::string last_name;
    std::string image_url;
    bool is_active = true;      ///< false: set up but never applied (GET does not list it)
    std::uint32_t writes = 0;   ///< POST/PATCH calls applied to it since the store was filled
};

/// Appends the SetContactCard / ContactCard JSON object of `card` (no newline).
void append_card_json(std::string& out, const Card& card);

/// Cards keyed by number. Lookups take a string_view (no allocation on the hot path).
class CardStore {
public:
    /// The card of `number`, or nullptr.
    Card* find(std::string_view number);
    const Card* find(std::string_view number) const;
    /// The card of `number`, created empty (inactive, no names) when missing.
    Card& find_or_add(std::string_view number);
    /// Replaces or adds `card`.
    void put(Card card);
    void clear() noexcept { cards_.clear(); }
    std::size_t size() const noexcept { return cards_.size(); }
    /// Calls f(const Card&) for every card, in no particular order.
    template <class F>
    void for_each(F&& f) const {
        for (const auto& entry : cards_) f(entry.second);
    }
    /// Every card, sorted by number.
    std::vector<const Card*> sorted() const;

private:
    struct Hash {
        using is_transparent = void;
        std::size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
    };
    std::unordered_map<std::string, Card, Hash, std::equal_to<>> cards_;
};

/// Reads a seed file: RFC 4180 CSV with a header naming phone_number (required), first_name,
/// last_name, image_url and is_active (true/false/1/0/yes/no; default true), in any order.
/// Throws std::runtime_error naming the file and line on an unreadable file, a missing
/// phone_number column, an unterminated quote, an invalid E.164 number, or a bad is_active value.
std::vector<Card> load_cards_csv(const std::string& path);

}  // namespace cardsync
