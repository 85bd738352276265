#include "cardsync/card_store.hpp"

#include "cardsync/json_text.hpp"
#include "cardsync/validate.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace cardsync {

void append_card_json(std::string& out, const Card& card) {
    out.append("{\"phone_number\":");
    append_json_string(out, card.phone_number);
    out.append(",\"first_name\":");
    append_json_string(out, card.first_name);
    if (!card.last_name.empty()) {
        out.append(",\"last_name\":");
        append_json_string(out, card.last_name);
    }
    if (!card.image_url.empty()) {
        out.append(",\"image_url\":");
        append_json_string(out, card.image_url);
    }
    out.append(card.is_active ? ",\"is_active\":true}" : ",\"is_active\":false}");
}

Card* CardStore::find(std::string_view number) {
    auto it = cards_.find(number);
    return it == cards_.end() ? nullptr : &it->second;
}

const Card* CardStore::find(std::string_view number) const {
    auto it = cards_.find(number);
    return it == cards_.end() ? nullptr : &it->second;
}

Card& CardStore::find_or_add(std::string_view number) {
    if (auto* card = find(number)) return *card;
    Card card;
    card.phone_number = std::string(number);
    card.is_active = false;
    auto key = card.phone_number;
    return cards_.emplace(std::move(key), std::move(card)).first->second;
}

void CardStore::put(Card card) {
    auto key = card.phone_number;
    cards_.insert_or_assign(std::move(key), std::move(card));
}

std::vector<const Card*> CardStore::sorted() const {
    std::vector<const Card*> all;
    all.reserve(cards_.size());
    for (const auto& [number, card] : cards_) all.push_back(&card);
    std::sort(all.begin(), all.end(), [](const Card* a, const Card* b) { return a->phone_number < b->phone_number; });
    return all;
}

namespace {

// Splits one CSV record starting at `pos` (RFC 4180); advances pos past its line end.
// Returns false at end of text. `line` counts physical lines, for messages.
bool next_record(const std::string& text, std::size_t& pos, std::vector<std::string>& cells, std::size_t& line,
                 const std::string& path) {
    cells.clear();
    if (pos >= text.size()) return false;
    const std::size_t start_line = line;
    std::string cell;
    bool quoted = false, was_quoted = false;
    for (;;) {
        if (pos >= text.size()) {
            if (quoted) throw std::runtime_error(path + ":" + std::to_string(start_line) + ": unterminated quote");
            cells.push_back(std::move(cell));
            return true;
        }
        const char c = text[pos++];
        if (quoted) {
            if (c == '"') {
                if (pos < text.size() && text[pos] == '"') {
                    cell.push_back('"');
                    ++pos;
                } else {
                    quoted = false;
                }
            } else {
                if (c == '\n') ++line;
                cell.push_back(c);
            }
        } else if (c == '"' && cell.empty() && !was_quoted) {
            quoted = was_quoted = true;
        } else if (c == ',') {
            cells.push_back(std::move(cell));
            cell.clear();
            was_quoted = false;
        } else if (c == '\n' || c == '\r') {
            if (c == '\r' && pos < text.size() && text[pos] == '\n') ++pos;
            ++line;
            cells.push_back(std::move(cell));
            return true;
        } else {
            cell.push_back(c);
        }
    }
}

std::string trimmed_lower(std::string s) {
    const auto b = s.find_first_not_of(" \t");
    const auto e = s.find_last_not_of(" \t");
    s = b == std::string::npos ? std::string() : s.substr(b, e - b + 1);
    for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return s;
}

}  // namespace

std::vector<Card> load_cards_csv(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw std::runtime_error("cannot read seed cards file " + path);
    std::stringstream ss;
    ss << in.rdbuf();
    std::string text = ss.str();
    std::size_t pos = text.rfind("\xEF\xBB\xBF", 0) == 0 ? 3 : 0;  // UTF-8 BOM
    std::size_t line = 1;
    std::vector<std::string> cells;
    if (!next_record(text, pos, cells, line, path)) throw std::runtime_error(path + ": empty seed cards file");

    enum Column { phone, first, last, image, active, count };
    static constexpr std::array<const char*, count> names = {"phone_number", "first_name", "last_name", "image_url",
                                                              "is_active"};
    std::array<int, count> at;
    at.fill(-1);
    for (std::size_t i = 0; i < cells.size(); ++i) {
        const auto name = trimmed_lower(cells[i]);
        for (int k = 0; k < count; ++k)
            if (name == names[k]) at[k] = static_cast<int>(i);
    }
    if (at[phone] < 0) throw std::runtime_error(path + ":1: the header has no phone_number column");

    std::vector<Card> cards;
    for (;;) {
        const std::size_t record_line = line;
        if (!next_record(text, pos, cells, line, path)) break;
        if (cells.size() == 1 && cells[0].empty()) continue;  // blank line
        auto cell = [&](int column) -> std::string {
            const int i = at[column];
            return i >= 0 && static_cast<std::size_t>(i) < cells.size() ? cells[i] : std::string();
        };
        Card card;
        card.phone_number = cell(phone);
        if (!is_e164(card.phone_number))
            throw std::runtime_error(path + ":" + std::to_string(record_line) + ": \"" + card.phone_number +
                                     "\" is not an E.164 number (+ then 2-15 digits)");
        card.first_name = cell(first);
        card.last_name = cell(last);
        card.image_url = cell(image);
        const auto flag = trimmed_lower(cell(active));
        if (flag.empty() || flag == "true" || flag == "1" || flag == "yes") {
            card.is_active = true;
        } else if (flag == "false" || flag == "0" || flag == "no") {
            card.is_active = false;
        } else {
            throw std::runtime_error(path + ":" + std::to_string(record_line) + ": is_active must be true or false, not \"" +
                                     flag + "\"");
        }
        cards.push_back(std::move(card));
    }
    return cards;
}

}  // namespace cardsync
