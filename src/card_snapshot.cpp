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

struct CardSnapshotBuilder::Impl {
    enum class State {
        before_root,      // '{'
        key_or_end,       // '"' or '}' (not right after a comma)
        key,              // inside a member name
        colon,
        value,            // a member's value starts
        skip,             // inside a member's value we do not read
        after_value,      // ',' or '}'
        card_or_end,      // '{' or ']' (not right after a comma)
        card,             // inside a card: bytes kept for simdjson
        after_card,       // ',' or ']'
        done,             // whitespace only
    };

    State state = State::before_root;
    std::size_t offset = 0;        // bytes consumed
    std::string head;              // the answer's first bytes, for a message
    bool after_comma = false;
    std::string key;
    bool key_escape = false;
    bool found = false;            // "contact_cards" seen
    bool in_string = false, escape = false;
    int depth = 0;
    std::size_t value_bytes = 0;
    std::string element;           // the current card's bytes (+ simdjson padding capacity)
    std::size_t index = 0;         // cards seen
    od::parser parser;
    CardSnapshot snap;

    [[noreturn]] void malformed(std::string_view what) const {
        fail(fmt::format("malformed JSON at byte {}: {}", offset, what));
    }

    static bool is_ws(char c) noexcept { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

    // Tracks strings and nesting; true when the byte closes the value that depth 0 began.
    bool nest(char c) noexcept {
        if (in_string) {
            if (escape) escape = false;
            else if (c == '\\') escape = true;
            else if (c == '"') {
                in_string = false;
                return depth == 0;
            }
            return false;
        }
        if (c == '"') in_string = true;
        else if (c == '{' || c == '[') ++depth;
        else if (c == '}' || c == ']') return --depth == 0;
        return false;
    }

    void step(char c) {
        switch (state) {
        case State::before_root:
            if (is_ws(c)) return;
            if (c != '{') {
                std::string start;
                for (char h : head) start.push_back(static_cast<unsigned char>(h) >= 0x20 && static_cast<unsigned char>(h) < 0x7F ? h : '?');
                const auto first = start.find_first_not_of(' ');
                fail(fmt::format("expected a JSON object with \"contact_cards\", the answer starts with '{}'",
                                 first == std::string::npos ? start : start.substr(first)));
            }
            state = State::key_or_end;
            after_comma = false;
            return;
        case State::key_or_end:
            if (is_ws(c)) return;
            if (c == '"') {
                key.clear();
                key_escape = false;
                state = State::key;
            } else if (c == '}' && !after_comma) {
                state = State::done;
            } else {
                malformed("expected a member name");
            }
            return;
        case State::key:
            if (key_escape) key_escape = false;
            else if (c == '\\') key_escape = true;
            else if (c == '"') {
                state = State::colon;
                return;
            }
            if (key.size() < 64) key.push_back(c);
            return;
        case State::colon:
            if (is_ws(c)) return;
            if (c != ':') malformed("expected ':' after a member name");
            state = State::value;
            return;
        case State::value:
            if (is_ws(c)) return;
            if (key == "contact_cards") {
                if (found) fail("\"contact_cards\" appears twice");
                if (c != '[') fail("\"contact_cards\" is not an array");
                found = true;
                state = State::card_or_end;
                after_comma = false;
                return;
            }
            state = State::skip;
            in_string = escape = false;
            depth = 0;
            value_bytes = 0;
            [[fallthrough]];
        case State::skip:
            if (!in_string && depth == 0 && (c == ',' || c == '}')) {  // the end of a scalar
                if (value_bytes == 0) malformed("a member has no value");
                state = State::after_value;
                step(c);
                return;
            }
            ++value_bytes;
            if (nest(c)) state = State::after_value;
            return;
        case State::after_value:
            if (is_ws(c)) return;
            if (c == ',') {
                state = State::key_or_end;
                after_comma = true;
            } else if (c == '}') {
                state = State::done;
            } else {
                malformed("expected ',' or '}'");
            }
            return;
        case State::card_or_end:
            if (is_ws(c)) return;
            if (c == ']' && !after_comma) {
                state = State::after_value;
            } else if (c == '{') {
                element.clear();
                element.push_back(c);
                in_string = escape = false;
                depth = 1;
                state = State::card;
            } else {
                fail(fmt::format("{} is not an object (malformed JSON at byte {})", which(index, {}), offset));
            }
            return;
        case State::card:
            if (element.size() >= max_snapshot_card) fail(fmt::format("{} is over {} bytes", which(index, {}), max_snapshot_card));
            element.push_back(c);
            if (nest(c)) {
                parse_card();
                state = State::after_card;
            }
            return;
        case State::after_card:
            if (is_ws(c)) return;
            if (c == ',') {
                state = State::card_or_end;
                after_comma = true;
            } else if (c == ']') {
                state = State::after_value;
            } else {
                malformed("expected ',' or ']' after a card");
            }
            return;
        case State::done:
            if (!is_ws(c)) fail(fmt::format("trailing content after the JSON object (byte {})", offset));
            return;
        }
    }

    void parse_card() {
        element.reserve(element.size() + simdjson::SIMDJSON_PADDING);
        od::document doc;
        od::object card;
        if (auto e = parser.iterate(simdjson::padded_string_view(element.data(), element.size(), element.capacity())).get(doc))
            fail(fmt::format("{}: {}", which(index, {}), simdjson::error_message(e)));
        if (auto e = doc.get_object().get(card)) fail(fmt::format("{}: {}", which(index, {}), simdjson::error_message(e)));
        // Views into the parser's string buffer: valid until the next card.
        std::string_view number, first, last, image;
        bool has_number = false, has_first = false, active = true;
        for (auto result : card) {
            od::field cf;
            std::string_view k;
            if (auto e = std::move(result).get(cf)) fail(fmt::format("{}: {}", which(index, number), simdjson::error_message(e)));
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
};

CardSnapshotBuilder::CardSnapshotBuilder() : impl_(std::make_unique<Impl>()) {}
CardSnapshotBuilder::~CardSnapshotBuilder() = default;

std::size_t CardSnapshotBuilder::bytes() const noexcept { return impl_->offset; }

void CardSnapshotBuilder::feed(std::string_view bytes) {
    Impl& m = *impl_;
    if (bytes.size() > max_snapshot_body - m.offset)
        fail(fmt::format("the answer is over the {} byte limit", max_snapshot_body));
    if (m.head.size() < 40) m.head.append(bytes.substr(0, 40 - m.head.size()));
    for (const char c : bytes) {
        m.step(c);
        ++m.offset;
    }
}

CardSnapshot CardSnapshotBuilder::finish() {
    Impl& m = *impl_;
    if (m.state == Impl::State::before_root) fail("the answer is empty");
    if (m.state != Impl::State::done)
        fail(fmt::format("the answer ended early, after {} bytes and {} cards (truncated?)", m.offset, m.index));
    if (!m.found) fail("no \"contact_cards\" key");

    // Sorted by number; of equal numbers the last listed wins (stable sort keeps list order).
    CardSnapshot snap = std::move(m.snap);
    auto& idx = snap.index_;
    std::stable_sort(idx.begin(), idx.end(),
                     [&snap](const CardSnapshot::Entry& a, const CardSnapshot::Entry& b) {
                         return snap.view(a).phone_number < snap.view(b).phone_number;
                     });
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

CardSnapshot CardSnapshot::parse(std::string_view body) {
    CardSnapshotBuilder builder;
    builder.feed(body);
    return builder.finish();
}

}  // namespace cardsync
