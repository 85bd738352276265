#pragma once
// Keys for the hot per-number tables. A hash for short string keys (phone numbers: about 12 bytes):
// std::hash runs a general-purpose byte loop; this reads 8 bytes at a time and mixes them, several
// times cheaper per row. And an E.164 number packed into one integer, for tables that compare and
// store 8 bytes instead of a string. Not stable across versions and not for anything stored: only
// for in-memory tables.

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>

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

}  // namespace cardsync
