#pragma once
// Classifying an API answer: a SetContactCard object, the error envelope, or a body that is not
// what the API documents (empty, truncated, not JSON such as a proxy's HTML page, oversized).
// Parsed with simdjson On Demand; never throws, never crashes on any input.
//
// Rules: fields in any order, unknown fields skipped (On Demand does not fully validate the values
// it skips). A top-level "error" key makes it an envelope: error.status and error.code integers,
// error.message a string, error.retry_after a number (int or float) or null, trace_id a string at
// the top (or inside "error"); "success" may be omitted but must not be true. Otherwise a card
// needs phone_number and first_name strings and is_active a boolean; last_name and image_url are
// strings or null. A wrong type or a missing field gives `unexpected` with a message naming it;
// an empty or whitespace-only body gives `empty`; anything simdjson rejects (HTML, truncated JSON,
// trailing bytes, invalid UTF-8) gives `not_json` with the body's first 40 printable characters.

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace cardsync {

/// Largest response body parsed; a larger one is classified `too_large`.
inline constexpr std::size_t max_response_body = 1 << 20;

/// A card as the API returns it (SetContactCard / ContactCard).
struct CardState {
    std::string phone_number;
    std::string first_name;
    std::optional<std::string> last_name;
    std::optional<std::string> image_url;
    bool is_active = false;
};

enum class BodyKind {
    card,            ///< a SetContactCard object with the required fields
    error_envelope,  ///< {"success":false,"error":{"status","code","message"},...}
    empty,           ///< no body at all
    not_json,        ///< not JSON (e.g. an HTML error page), or truncated JSON
    unexpected,      ///< JSON, but neither shape above (missing/wrong-typed required fields)
    too_large,       ///< over max_response_body
};

std::string_view to_string(BodyKind kind) noexcept;

/// What a response body said.
struct ApiResponse {
    BodyKind kind = BodyKind::empty;
    CardState card;                           ///< when kind == card
    int error_status = 0;                     ///< error.status, when kind == error_envelope
    int error_code = 0;                       ///< error.code (e.g. 1002, 4004)
    std::string error_message;                ///< error.message, or what was wrong with the body
    std::optional<double> retry_after_s;      ///< error.retry_after, when present
    std::string trace_id;                     ///< when present
};

/// What parse() does with the text of a card answer (phone_number, first_name, last_name, image_url).
enum class CardText {
    kept,     ///< copied into ApiResponse::card
    checked,  ///< checked (types, valid strings) but not copied: the card's strings stay empty. For a
              ///< caller that reads only is_active (the apply engine): no copies per answer.
};

/// One parser per connection, reused (simdjson's parser keeps its buffers).
class ResponseParser {
public:
    ResponseParser();
    ~ResponseParser();
    ResponseParser(ResponseParser&&) noexcept;
    ResponseParser& operator=(ResponseParser&&) noexcept;

    /// Parses `body`. It may append simdjson padding to the string's capacity (contents unchanged).
    ApiResponse parse(std::string& body, CardText text = CardText::kept);

private:
    struct Impl;  // keeps simdjson out of this header
    std::unique_ptr<Impl> impl_;
};

}  // namespace cardsync
