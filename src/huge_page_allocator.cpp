#include "cardsync/huge_page_allocator.hpp"

#include <sys/mman.h>

#include <cstdlib>

namespace cardsync {

void* allocate_table_memory(std::size_t bytes) {
    if (bytes < huge_page_bytes) return ::operator new(bytes);
    const std::size_t rounded = (bytes + huge_page_bytes - 1) / huge_page_bytes * huge_page_bytes;
    void* p = std::aligned_alloc(huge_page_bytes, rounded);
    if (!p) throw std::bad_alloc();
    (void)::madvise(p, rounded, MADV_HUGEPAGE);  // a hint: without huge pages the table still works
    return p;
}

void free_table_memory(void* p, std::size_t bytes) noexcept {
    if (bytes < huge_page_bytes) ::operator delete(p);
    else std::free(p);
}

}  // namespace cardsync
