#pragma once
// The data model shared by every stage: a row as read, and an update ready to send.

#include <cstdint>
#include <optional>
#include <string>

namespace cardsync {

/// The card fields a row may set. An absent optional means "omitted": the server keeps its value.
struct CardFields {
    std::optional<std::string> first_name;
    std::optional<std::string> last_name;
    std::optional<std::string> image_url;

    bool empty() const noexcept { return !first_name && !last_name && !image_url; }
    friend bool operator==(const CardFields&, const CardFields&) = default;
};

/// One input record as the reader produced it, before validation.
struct InputRow {
    std::uint64_t line = 0;     ///< physical line (1-based) where the record starts; CSV header is line 1
    std::string phone_number;   ///< as given, untrimmed; empty when the cell/key is missing or empty
    CardFields fields;          ///< empty cells / null / absent keys are omitted fields
    std::string error;          ///< non-empty: the record itself is malformed (reason); the row is invalid
};

/// A validated update: a normalised E.164 number and at least one field to set.
struct ContactUpdate {
    std::uint64_t line = 0;
    std::string phone_number;   ///< E.164, normalised ("+15551234567")
    CardFields fields;
};

}  // namespace cardsync
