#pragma once
// Memory for the big per-number tables (flat_key_map.hpp). At its cap the budget's table is a few
// megabytes read at random, one place per row; over 4 KiB pages nearly every such read also misses
// the TLB, and in a virtual machine a page walk costs more than the miss itself. Blocks of 2 MiB and
// more are therefore aligned to 2 MiB and offered to the kernel's transparent huge pages (madvise:
// Debian's default setting uses them only where asked). Smaller blocks are plain operator new.

#include <cstddef>
#include <new>

namespace cardsync {

/// Blocks from this size on are aligned to it and advised as huge pages.
inline constexpr std::size_t huge_page_bytes = std::size_t{2} << 20;

/// `bytes` of memory, aligned to huge_page_bytes (and in whole huge pages) when at least that
/// large; throws std::bad_alloc. Free with free_table_memory(p, bytes).
void* allocate_table_memory(std::size_t bytes);
void free_table_memory(void* p, std::size_t bytes) noexcept;

/// A standard allocator over allocate_table_memory.
template <class T>
struct HugePageAllocator {
    using value_type = T;
    HugePageAllocator() noexcept = default;
    template <class U>
    HugePageAllocator(const HugePageAllocator<U>&) noexcept {}
    T* allocate(std::size_t n) {
        if (n > static_cast<std::size_t>(-1) / sizeof(T)) throw std::bad_array_new_length();
        return static_cast<T*>(allocate_table_memory(n * sizeof(T)));
    }
    void deallocate(T* p, std::size_t n) noexcept { free_table_memory(p, n * sizeof(T)); }
    template <class U>
    friend bool operator==(const HugePageAllocator&, const HugePageAllocator<U>&) noexcept { return true; }
};

}  // namespace cardsync
