#pragma once
// The partner's live cards as `GET /v3/contact_card` returned them, held compactly for a run:
// every card's text in one arena, a vector of offsets sorted by number, binary-searched.
//
// Parsing streams: the bytes may arrive in chunks of any size. A small scanner walks the outer
// object, skips other members, and cuts out each element of "contact_cards"; simdjson On Demand
// parses that one card. So memory is the cards' text plus one card, never simdjson's index of the
// whole answer (4 bytes per input byte) nor, when fed as it arrives, the answer itself.
// Pure: no I/O; the fetch is in snapshot_fetch.hpp.

#include "cardsync/contact_update.hpp"

#include <cstdint>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace cardsync {

/// Largest GET-all answer accepted (a guard against an endless body, not a real limit: 100,000
/// cards are about 15 MiB).
inline constexpr std::size_t max_snapshot_body = std::size_t{1} << 30;
/// Largest single card in the list.
inline constexpr std::size_t max_snapshot_card = std::size_t{1} << 20;

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

    /// Parses a whole GET-all answer body (CardSnapshotBuilder fed once).
    static CardSnapshot parse(std::string_view body);

    /// Adds (or replaces) a card, O(n); for tests and for building a snapshot by hand.
    void add(std::string_view phone_number, std::string_view first_name, std::string_view last_name = {},
             std::string_view image_url = {});

    /// The live card of `e164`, or nullopt.
    std::optional<CardView> find(std::string_view e164) const;
    std::size_t size() const noexcept;
    /// Bytes held (arena and index), for the run summary.
    std::size_t memory_bytes() const noexcept;

private:
    friend class CardSnapshotBuilder;
    struct Entry {                  // 12 bytes per card beside its text
        std::uint32_t offset;       // into arena_: number, first, last, image back to back
        std::uint16_t number_len, first_len, last_len, image_len;
    };
    CardView view(const Entry& e) const noexcept;
    Entry append(std::string_view number, std::string_view first, std::string_view last, std::string_view image);

    std::string arena_;
    std::vector<Entry> index_;      // sorted by number, one entry per number
};

/// Builds a snapshot from a GET-all answer fed in chunks (see the top of this file).
///
/// Accepted: `{"contact_cards":[ContactCard...]}` with other members in any order (skipped
/// without full validation, as On Demand skips). In a card: phone_number and first_name strings
/// (required), last_name and image_url strings, null or absent, is_active a boolean or absent,
/// other keys skipped. A card with is_active false is left out: the API does not treat it as a
/// live card (POST sets it up again). A number listed twice keeps its last card. Anything else
/// throws SnapshotError naming the card (position and number), the field, or the byte offset.
class CardSnapshotBuilder {
public:
    CardSnapshotBuilder();
    ~CardSnapshotBuilder();
    CardSnapshotBuilder(const CardSnapshotBuilder&) = delete;
    CardSnapshotBuilder& operator=(const CardSnapshotBuilder&) = delete;

    /// The next bytes of the answer.
    void feed(std::string_view bytes);
    /// The answer is complete: the snapshot (the builder is spent). Throws SnapshotError when the
    /// answer was empty or ended early.
    CardSnapshot finish();
    /// Bytes fed so far.
    std::size_t bytes() const noexcept;

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace cardsync
