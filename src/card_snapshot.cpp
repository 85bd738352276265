#include "cardsync/card_snapshot.hpp"

#include <fmt/core.h>
#include <simdjson.h>

#include <algorithm>
#include <limits>

namespace cardsync {

namespace od = simdjson::ondemand;

namespace {

constexpr std::size_t max_field = std::numeric_limits<std::uint16_t>::max();

void compare(std::vector<FieldChange>& out, std::string_view name, std::string_view live,
             const std::optional<std::string>& wanted) {
    if (wanted && *wanted != live) out.push_back(FieldChange{name, std::string(live), *wanted});
}

// Names a card in an error: its position, and its number once known.
std::string which(std::size_t index, std::string_view number) {
    return number.empty() ? fmt::format("card #{}", index + 1) : fmt::format("card #{} ({})", index + 1, number);
}

[[noreturn]] void fail(std::string what) {
    throw SnapshotError("the card list from GET /v3/contact_card is not usable: " + std::move(what));
}

// A string field that may also be null; absent stays empty.
std::string_view optional_string(od::value value, std::string_view key, std::size_t index, std::string_view number) {
    od::json_type type;
    if (auto e = value.type().get(type)) fail(fmt::format("{}: {}: {}", which(index, number), key, simdjson::error_message(e)));
    if (type == od::json_type::null) {
        bool null = false;
        if (value.is_null().get(null)) fail(fmt::format("{}: {} is not valid JSON", which(index, number), key));
        return {};
    }
    std::string_view s;
    if (type != od::json_type::string || value.get_string().get(s))
        fail(fmt::format("{}: {} is not a string", which(index, number), key));
    return s;
}

}  // namespace

std::vector<FieldChange> diff(const CardView& card, const CardFields& fields) {
    std::vector<FieldChange> out;
    compare(out, "first_name", card.first_name, fields.first_name);
    compare(out, "last_name", card.last_name, fields.last_name);
    compare(out, "image_url", card.image_url, fields.image_url);
    return out;
}

CardView CardSnapshot::view(const Entry& e) const noexcept {
    const char* p = arena_.data() + e.offset;
    CardView v;
    v.phone_number = {p, e.number_len};
    p += e.number_len;
    v.first_name = {p, e.first_len};
    p += e.first_len;
    v.last_name = {p, e.last_len};
    p += e.last_len;
    v.image_url = {p, e.image_len};
    return v;
}

CardSnapshot::Entry CardSnapshot::append(std::string_view number, std::string_view first, std::string_view last,
                                         std::string_view image) {
    for (auto s : {number, first, last, image})
        if (s.size() > max_field) fail(fmt::format("a field of the card of {} is over {} bytes", number, max_field));
    if (arena_.size() + number.size() + first.size() + last.size() + image.size() > std::numeric_limits<std::uint32_t>::max())
        fail("over 4 GiB of card text");
    Entry e{static_cast<std::uint32_t>(arena_.size()), static_cast<std::uint16_t>(number.size()),
            static_cast<std::uint16_t>(first.size()), static_cast<std::uint16_t>(last.size()),
            static_cast<std::uint16_t>(image.size())};
    arena_.append(number).append(first).append(last).append(image);
    return e;
}

void CardSnapshot::add(std::string_view phone_number, std::string_view first_name, std::string_view last_name,
                       std::string_view image_url) {
    const Entry e = append(phone_number, first_name, last_name, image_url);
    auto at = std::lower_bound(index_.begin(), index_.end(), phone_number,
                               [this](const Entry& x, std::string_view n) { return view(x).phone_number < n; });
    if (at != index_.end() && view(*at).phone_number == phone_number) *at = e;  // old text stays in the arena
    else index_.insert(at, e);
}

std::optional<CardView> CardSnapshot::find(std::string_view e164) const {
    auto at = std::lower_bound(index_.begin(), index_.end(), e164,
                               [this](const Entry& x, std::string_view n) { return view(x).phone_number < n; });
    if (at == index_.end() || view(*at).phone_number != e164) return std::nullopt;
    return view(*at);
}

std::size_t CardSnapshot::size() const noexcept { return index_.size(); }

std::size_t CardSnapshot::memory_bytes() const noexcept {
    return arena_.capacity() + index_.capacity() * sizeof(Entry);
}

CardSnapshot CardSnapshot::parse(std::string& body) {
    if (body.size() > max_snapshot_body)
        fail(fmt::format("the answer is {} bytes, over the {} byte limit", body.size(), max_snapshot_body));
    const auto first = body.find_first_not_of(" \t\r\n");
    if (first == std::string::npos) fail("the answer is empty");
    if (body[first] != '{') {  // e.g. a proxy's HTML page: show its start
        std::string start;
        for (std::size_t i = first; i < body.size() && start.size() < 40; ++i) {
            const auto c = static_cast<unsigned char>(body[i]);
            start.push_back(c >= 0x20 && c < 0x7F ? static_cast<char>(c) : '?');
        }
        fail(fmt::format("expected a JSON object with \"contact_cards\", the answer starts with '{}'", start));
    }
    body.reserve(body.size() + simdjson::SIMDJSON_PADDING);
    od::parser parser;
    od::document doc;
    if (auto e = parser.iterate(simdjson::padded_string_view(body.data(), body.size(), body.capacity())).get(doc))
        fail(fmt::format("not JSON ({})", simdjson::error_message(e)));
    od::object root;
    if (auto e = doc.get_object().get(root))
        fail(fmt::format("expected a JSON object with \"contact_cards\" ({})", simdjson::error_message(e)));

    CardSnapshot snap;
    snap.arena_.reserve(body.size() / 2);
    bool found = false;
    for (auto field_result : root) {
        od::field field;
        std::string_view key;
        if (auto e = std::move(field_result).get(field)) fail(simdjson::error_message(e));
        if (auto e = field.unescaped_key().get(key)) fail(simdjson::error_message(e));
        if (key != "contact_cards") continue;  // unknown keys are skipped by the iteration
        if (found) fail("\"contact_cards\" appears twice");
        found = true;
        od::array cards;
        if (field.value().get_array().get(cards)) fail("\"contact_cards\" is not an array");
        std::size_t index = 0;
        for (auto item : cards) {
            od::object card;
            if (auto e = item.get_object().get(card))
                fail(fmt::format("{} is not an object ({})", which(index, {}), simdjson::error_message(e)));
            // Views into the parser's string buffer: valid for the whole document.
            std::string_view number, first, last, image;
            bool has_number = false, has_first = false, active = true;
            for (auto card_field_result : card) {
                od::field cf;
                std::string_view k;
                if (auto e = std::move(card_field_result).get(cf)) fail(fmt::format("{}: {}", which(index, number), simdjson::error_message(e)));
                if (auto e = cf.unescaped_key().get(k)) fail(fmt::format("{}: {}", which(index, number), simdjson::error_message(e)));
                if (k == "phone_number") {
                    if (cf.value().get_string().get(number)) fail(fmt::format("{}: phone_number is not a string", which(index, {})));
                    has_number = true;
                } else if (k == "first_name") {
                    if (cf.value().get_string().get(first)) fail(fmt::format("{}: first_name is not a string", which(index, number)));
                    has_first = true;
                } else if (k == "last_name") {
                    last = optional_string(cf.value(), k, index, number);
                } else if (k == "image_url") {
                    image = optional_string(cf.value(), k, index, number);
                } else if (k == "is_active") {
                    if (cf.value().get_bool().get(active)) fail(fmt::format("{}: is_active is not a boolean", which(index, number)));
                }
            }
            if (!has_number) fail(fmt::format("{} has no phone_number", which(index, {})));
            if (!has_first) fail(fmt::format("{} has no first_name", which(index, number)));
            if (active) snap.index_.push_back(snap.append(number, first, last, image));
            ++index;
        }
    }
    if (const char* trailing = nullptr; doc.current_location().get(trailing) == simdjson::SUCCESS)
        fail("trailing content after the JSON object");
    if (!found) fail("no \"contact_cards\" key");

    // Sorted by number; of equal numbers the last listed wins (stable sort keeps list order).
    auto& idx = snap.index_;
    std::stable_sort(idx.begin(), idx.end(),
                     [&snap](const Entry& a, const Entry& b) { return snap.view(a).phone_number < snap.view(b).phone_number; });
    std::size_t out = 0;
    for (std::size_t i = 0; i < idx.size(); ++i) {
        if (i + 1 < idx.size() && snap.view(idx[i]).phone_number == snap.view(idx[i + 1]).phone_number) continue;
        idx[out++] = idx[i];
    }
    idx.resize(out);
    idx.shrink_to_fit();
    snap.arena_.shrink_to_fit();
    return snap;
}

}  // namespace cardsync
