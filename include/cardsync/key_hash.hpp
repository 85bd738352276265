#pragma once
// Keys for the hot per-number tables. A hash for short string keys (phone numbers: about 12 bytes):
// std::hash runs a general-purpose byte loop; this reads 8 bytes at a time and mixes them, several
// times cheaper per row. And an E.164 number packed into one integer, for tables that compare and
// store 8 bytes instead of a string. Not stable across versions and not for anything stored: only
// for in-memory tables.

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <functional>
#include <string>
#include <string_view>
#include <unordered_map>

namespace cardsync {

inline std::uint64_t short_key_hash(std::string_view s) noexcept {
    std::uint64_t h = 0x9E3779B97F4A7C15ull ^ s.size();
    std::size_t i = 0;
    for (; i + 8 <= s.size(); i += 8) {
        std::uint64_t w;
        std::memcpy(&w, s.data() + i, 8);
        h = (h ^ w) * 0x9FB21C651E98DF25ull;
        h ^= h >> 32;
    }
    std::uint64_t tail = 0;
    std::memcpy(&tail, s.data() + i, s.size() - i);
    h ^= tail;
    // murmur3's 64-bit finaliser: every input bit reaches the low bits buckets are taken from
    h ^= h >> 33;
    h *= 0xFF51AFD7ED558CCDull;
    h ^= h >> 33;
    h *= 0xC4CEB9FE1A85EC53ull;
    return h ^ (h >> 33);
}

/// A valid E.164 number ("+", then 1 to 15 digits, the first 1-9) as its value, which is unique to
/// it (no leading zeros) and below 10^15 < 2^50; 0 for any other string.
inline std::uint64_t pack_e164(std::string_view s) noexcept {
    if (s.size() < 2 || s.size() > 16 || s[0] != '+' || s[1] < '1' || s[1] > '9') return 0;
    std::uint64_t value = 0;
    for (std::size_t i = 1; i < s.size(); ++i) {
        const unsigned digit = static_cast<unsigned char>(s[i]) - unsigned{'0'};
        if (digit > 9) return 0;
        value = value * 10 + digit;
    }
    return value;
}

/// Transparent hasher for unordered maps keyed by std::string and looked up by string_view.
struct ShortKeyHash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const noexcept { return static_cast<std::size_t>(short_key_hash(s)); }
};

/// The keys of a per-number table (the lanes', the budget's): an E.164 number is its pack_e164
/// value; any other string (tests, a caller's own keys) gets a serial key with the top bit set,
/// held exactly (never a hash standing in for equality) from add() until forget().
class NumberKeys {
public:
    static constexpr std::uint64_t other_bit = std::uint64_t{1} << 63;

    /// The key of `number`; 0 when it is not an E.164 number and holds no serial key.
    std::uint64_t find(std::string_view number) const {
        if (const std::uint64_t key = pack_e164(number)) return key;
        const auto it = others_.find(number);
        return it == others_.end() ? 0 : it->second;
    }
    /// The key of `number`, a serial key made for it if needed.
    std::uint64_t add(std::string_view number) {
        if (const std::uint64_t key = pack_e164(number)) return key;
        const auto [it, added] = others_.try_emplace(std::string(number), 0);
        if (added) {
            it->second = other_bit | next_++;
            names_.emplace(it->second, it->first);
        }
        return it->second;
    }
    /// Drops a serial key (its string gets a new one if added again); an E.164 key needs nothing.
    void forget(std::uint64_t key) {
        if (!(key & other_bit)) return;
        const auto name = names_.find(key);
        if (name == names_.end()) return;
        others_.erase(name->second);
        names_.erase(name);
    }
    /// Serial keys held.
    std::size_t others() const noexcept { return names_.size(); }

private:
    std::unordered_map<std::string, std::uint64_t, ShortKeyHash, std::equal_to<>> others_;
    std::unordered_map<std::uint64_t, std::string> names_;
    std::uint64_t next_ = 0;
};

}  // namespace cardsync
