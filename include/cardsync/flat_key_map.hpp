#pragma once
// A hash map from nonzero 64-bit keys (packed E.164 numbers, serials) to small values, for the hot
// per-number tables. Open addressing with linear probing over a dense array of keys (eight to a
// cache line, so a miss reads one or two lines), the values in a parallel array, backward-shift
// deletion (no tombstones to pile up in a long run). Against a node-based
// unordered_map<std::string, ...>: no allocation per entry once grown, no string hashing or compares.
//
// Entries are addressed by index; an index is valid until the next insertion or erasure (both
// may move entries). Values should be cheap to move: erasure moves the later entries of a probe run.

#include <bit>
#include <cstddef>
#include <cstdint>
#include <utility>
#include <vector>

namespace cardsync {

/// The default key hash: E.164 values differ mostly in their low digits, so mix the high bits
/// down before the multiply; the table takes its bucket from the top bits of the result.
struct KeyMix {
    std::uint64_t operator()(std::uint64_t key) const noexcept {
        key ^= key >> 31;
        return key * 0x9E3779B97F4A7C15ull;
    }
};

/// `Hash` maps a key to 64 bits whose TOP bits pick its home bucket (tests pass colliding ones).
template <class Value, class Hash = KeyMix>
class FlatKeyMap {
public:
    static constexpr std::size_t npos = ~std::size_t{0};

    std::size_t size() const noexcept { return size_; }
    bool empty() const noexcept { return size_ == 0; }
    /// Buckets: 0, or a power of two from 16 on; the table is at most 80 % full.
    std::size_t capacity() const noexcept { return keys_.size(); }

    /// The key at bucket `i` (< capacity()); 0 for an empty bucket.
    std::uint64_t key_at(std::size_t i) const noexcept { return keys_[i]; }
    Value& value_at(std::size_t i) noexcept { return values_[i]; }
    const Value& value_at(std::size_t i) const noexcept { return values_[i]; }

    /// The index of `key`, or npos.
    std::size_t find(std::uint64_t key) const noexcept {
        if (size_ == 0) return npos;
        for (std::size_t i = home(key);; i = (i + 1) & mask_) {
            if (keys_[i] == key) return i;
            if (keys_[i] == 0) return npos;
        }
    }

    /// The index of `key` (nonzero), and whether it was absent: then it is added with Value{}.
    std::pair<std::size_t, bool> try_emplace(std::uint64_t key) {
        if ((size_ + 1) * 5 > keys_.size() * 4) grow();  // load at most 0.8
        std::size_t i = home(key);
        for (; keys_[i] != 0; i = (i + 1) & mask_)
            if (keys_[i] == key) return {i, false};
        keys_[i] = key;  // values_[i] is Value{}: empty buckets are kept so
        ++size_;
        return {i, true};
    }

    /// Removes the entry at index `i`; moves later ones of its probe run back into the gap.
    void erase_at(std::size_t i) noexcept {
        for (std::size_t j = (i + 1) & mask_; keys_[j] != 0; j = (j + 1) & mask_) {
            // j may fill the gap at i unless its home lies in (i, j], where it would become unreachable
            if (((j - home(keys_[j])) & mask_) >= ((j - i) & mask_)) {
                keys_[i] = keys_[j];
                values_[i] = std::move(values_[j]);
                i = j;
            }
        }
        keys_[i] = 0;
        values_[i] = Value{};
        --size_;
    }

    /// Removes `key`; false if it was absent.
    bool erase(std::uint64_t key) noexcept {
        const std::size_t i = find(key);
        if (i == npos) return false;
        erase_at(i);
        return true;
    }

    /// Gives back memory after a burst: once at most a tenth full, halves until 20-40 % full.
    void shrink_if_sparse() {
        if (keys_.size() <= 16 || size_ * 10 > keys_.size()) return;
        std::size_t capacity = keys_.size();
        while (capacity > 16 && size_ * 5 <= capacity) capacity /= 2;
        rehash(capacity);
    }

private:
    std::size_t home(std::uint64_t key) const noexcept { return static_cast<std::size_t>(Hash{}(key) >> shift_); }

    void grow() { rehash(keys_.empty() ? 16 : keys_.size() * 2); }

    void rehash(std::size_t capacity) {
        std::vector<std::uint64_t> old_keys = std::exchange(keys_, std::vector<std::uint64_t>(capacity, 0));
        std::vector<Value> old_values = std::exchange(values_, std::vector<Value>(capacity));
        mask_ = capacity - 1;
        shift_ = 64 - static_cast<unsigned>(std::countr_zero(capacity));
        for (std::size_t k = 0; k < old_keys.size(); ++k) {
            if (old_keys[k] == 0) continue;
            std::size_t i = home(old_keys[k]);
            while (keys_[i] != 0) i = (i + 1) & mask_;
            keys_[i] = old_keys[k];
            values_[i] = std::move(old_values[k]);
        }
    }

    std::vector<std::uint64_t> keys_;  ///< 0: empty
    std::vector<Value> values_;        ///< Value{} in every empty bucket
    std::size_t size_ = 0;
    std::size_t mask_ = 0;
    unsigned shift_ = 64;
};

}  // namespace cardsync
