#pragma once
// A hash map from nonzero 64-bit keys (packed E.164 numbers, serials) to small values, for the hot
// per-number tables. Open addressing with linear probing over one array of entries, each a key with
// its value beside it, and backward-shift deletion (no tombstones to pile up in a long run). Side by
// side because the big tables (the budget's, at 100,000 numbers) live outside the caches: a lookup
// that finds its key, an insertion and an erasure each read one cache line, where keys and values in
// two arrays read two (measured in the budget: ~4 misses a row became ~2). Against a node-based
// unordered_map<std::string, ...>: no allocation per entry once grown, no string hashing or compares.
//
// Entries are addressed by index; an index is valid until the next insertion or erasure (both
// may move entries). Values should be cheap to move: erasure moves the later entries of a probe run.

#include "cardsync/huge_page_allocator.hpp"

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
    std::size_t capacity() const noexcept { return entries_.size(); }

    /// The key at bucket `i` (< capacity()); 0 for an empty bucket.
    std::uint64_t key_at(std::size_t i) const noexcept { return entries_[i].key; }
    Value& value_at(std::size_t i) noexcept { return entries_[i].value; }
    const Value& value_at(std::size_t i) const noexcept { return entries_[i].value; }

    /// Asks for the lines `key`'s lookup (or its erasure) will read, so that one a little later
    /// need not wait for memory (the budget's tables are bigger than the caches). Three lines: at
    /// the budget's load (~0.76) a missing key's probe run is ~9 entries long on average.
    void prefetch(std::uint64_t key) const noexcept {
        if (entries_.empty()) return;
        const std::size_t i = home(key);
        constexpr std::size_t per_line = 64 / sizeof(Entry) ? 64 / sizeof(Entry) : 1;
        for (std::size_t k = 0; k < 3; ++k) __builtin_prefetch(&entries_[(i + k * per_line) & mask_]);
    }
    /// The index of `key`, or npos.
    std::size_t find(std::uint64_t key) const noexcept {
        if (size_ == 0) return npos;
        for (std::size_t i = home(key);; i = (i + 1) & mask_) {
            if (entries_[i].key == key) return i;
            if (entries_[i].key == 0) return npos;
        }
    }

    /// The index of `key` (nonzero), and whether it was absent: then it is added with Value{}.
    std::pair<std::size_t, bool> try_emplace(std::uint64_t key) {
        if ((size_ + 1) * 5 > entries_.size() * 4) grow();  // load at most 0.8
        std::size_t i = home(key);
        for (; entries_[i].key != 0; i = (i + 1) & mask_)
            if (entries_[i].key == key) return {i, false};
        entries_[i].key = key;  // its value is Value{}: empty buckets are kept so
        ++size_;
        return {i, true};
    }

    /// Removes the entry at index `i`; moves later ones of its probe run back into the gap.
    void erase_at(std::size_t i) noexcept {
        for (std::size_t j = (i + 1) & mask_; entries_[j].key != 0; j = (j + 1) & mask_) {
            // j may fill the gap at i unless its home lies in (i, j], where it would become unreachable
            if (((j - home(entries_[j].key)) & mask_) >= ((j - i) & mask_)) {
                entries_[i] = std::move(entries_[j]);
                i = j;
            }
        }
        entries_[i] = Entry{};
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
        if (entries_.size() <= 16 || size_ * 10 > entries_.size()) return;
        std::size_t capacity = entries_.size();
        while (capacity > 16 && size_ * 5 <= capacity) capacity /= 2;
        rehash(capacity);
    }

private:
    std::size_t home(std::uint64_t key) const noexcept { return static_cast<std::size_t>(Hash{}(key) >> shift_); }

    void grow() { rehash(entries_.empty() ? 16 : entries_.size() * 2); }

    void rehash(std::size_t capacity) {
        Entries old = std::exchange(entries_, Entries(capacity));
        mask_ = capacity - 1;
        shift_ = 64 - static_cast<unsigned>(std::countr_zero(capacity));
        for (Entry& e : old) {
            if (e.key == 0) continue;
            std::size_t i = home(e.key);
            while (entries_[i].key != 0) i = (i + 1) & mask_;
            entries_[i] = std::move(e);
        }
    }

    struct Entry {
        std::uint64_t key = 0;  ///< 0: empty
        Value value{};          ///< Value{} in every empty bucket
    };
    using Entries = std::vector<Entry, HugePageAllocator<Entry>>;  // huge pages once 2 MiB or more
    Entries entries_;
    std::size_t size_ = 0;
    std::size_t mask_ = 0;
    unsigned shift_ = 64;
};

}  // namespace cardsync
