#pragma once
// The partner's live cards as `GET /v3/contact_card` returned them, held compactly for a run:
// every card's text in one arena, a vector of offsets sorted by number, binary-searched. Parsed
// with simdjson On Demand straight from the answer's bytes (no DOM, no per-card allocation), so a
// snapshot of 100,000 cards costs about the answer's size once and the body can be freed after.
// Pure: no I/O; the fetch is in snapshot_fetch.hpp.

#include "cardsync/contact_update.hpp"

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace cardsync {

/// Largest GET-all answer accepted (a guard against an endless body, not a real limit: 100,000
/// cards are about 15 MiB).
inline constexpr std::size_t max_snapshot_body = std::size_t{1} << 30;

/// The answer was not the documented `{"contact_cards":[ContactCard...]}`; the message says where.
class SnapshotError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

/// One live card. Views into the snapshot; empty last_name / image_url mean "not set".
struct CardView {
    std::string_view phone_number;
    std::string_view first_name;
    std::string_view last_name;
    std::string_view image_url;
};

/// One field a row would change: `from` is the live value ("" = not set), `to` the row's.
struct FieldChange {
    std::string_view field;   ///< "first_name" | "last_name" | "image_url"
    std::string from;
    std::string to;
    friend bool operator==(const FieldChange&, const FieldChange&) = default;
};

/// The fields of `fields` that are present and differ from `card`, in the order first_name,
/// last_name, image_url. Empty: the row would change nothing.
std::vector<FieldChange> diff(const CardView& card, const CardFields& fields);

class CardSnapshot {
public:
    CardSnapshot() = default;

    /// Parses a GET-all answer body. Cards in any order; unknown keys skipped; last_name and
    /// image_url may be strings, null or absent; is_active, when present, must be a boolean, and
    /// a card with is_active false is left out (the API does not treat it as a live card: POST
    /// sets it up again). A number listed twice keeps its last card. Throws SnapshotError naming
    /// the card (index and number) and the field for anything else, or the JSON error. May grow
    /// `body`'s capacity by simdjson's padding (contents unchanged).
    static CardSnapshot parse(std::string& body);

    /// Adds (or replaces) a card, O(n); for tests and for building a snapshot by hand.
    void add(std::string_view phone_number, std::string_view first_name, std::string_view last_name = {},
             std::string_view image_url = {});

    /// The live card of `e164`, or nullopt.
    std::optional<CardView> find(std::string_view e164) const;
    std::size_t size() const noexcept;
    /// Bytes held (arena and index), for the run summary.
    std::size_t memory_bytes() const noexcept;

private:
    struct Entry {                  // 12 bytes per card beside its text
        std::uint32_t offset;       // into arena_: number, first, last, image back to back
        std::uint16_t number_len, first_len, last_len, image_len;
    };
    CardView view(const Entry& e) const noexcept;
    Entry append(std::string_view number, std::string_view first, std::string_view last, std::string_view image);

    std::string arena_;
    std::vector<Entry> index_;      // sorted by number, one entry per number
};

}  // namespace cardsync
