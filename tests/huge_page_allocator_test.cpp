#include "cardsync/huge_page_allocator.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

using namespace cardsync;

namespace {

// The VmFlags of the mapping that holds `p` in /proc/self/smaps ("" if none was found).
std::string vm_flags_of(const void* p) {
    const auto at = reinterpret_cast<std::uintptr_t>(p);
    std::ifstream smaps("/proc/self/smaps");
    std::string line;
    bool inside = false;
    while (std::getline(smaps, line)) {
        std::uintptr_t from = 0, to = 0;
        char dash = 0;
        std::istringstream head(line);
        if (head >> std::hex >> from >> dash >> to && dash == '-' && line.find(':') > line.find(' ')) {
            inside = from <= at && at < to;
            continue;
        }
        if (inside && line.rfind("VmFlags:", 0) == 0) return line;
    }
    return "";
}

}  // namespace

TEST(HugePageAllocator, SmallBlocksAreOrdinaryMemory) {
    void* p = allocate_table_memory(100);
    ASSERT_NE(p, nullptr);
    EXPECT_EQ(reinterpret_cast<std::uintptr_t>(p) % alignof(std::max_align_t), 0u);
    std::memset(p, 0xAB, 100);
    free_table_memory(p, 100);
}


TEST(HugePageAllocator, LargeBlocksAreAlignedToAHugePageAndAdvisedSo) {
    const std::size_t bytes = huge_page_bytes + 16;  // rounded up to two huge pages
    auto* p = static_cast<unsigned char*>(allocate_table_memory(bytes));
    ASSERT_NE(p, nullptr);
    EXPECT_EQ(reinterpret_cast<std::uintptr_t>(p) % huge_page_bytes, 0u);
    p[0] = 1;
    p[bytes - 1] = 2;
    EXPECT_EQ(p[0] + p[bytes - 1], 3);
    if (std::filesystem::exists("/sys/kernel/mm/transparent_hugepage/enabled")) {
        // "hg": the mapping was advised MADV_HUGEPAGE (whether the kernel had one free is its affair)
        const std::string flags = vm_flags_of(p);
        EXPECT_NE(flags.find(" hg"), std::string::npos) << flags;
    }
    free_table_memory(p, bytes);
}

TEST(HugePageAllocator, AVectorGrowingPastTheThresholdKeepsItsContents) {
    std::vector<std::uint64_t, HugePageAllocator<std::uint64_t>> v;
    const std::size_t n = huge_page_bytes / sizeof(std::uint64_t) * 3;  // 6 MiB: crosses into huge blocks
    for (std::size_t i = 0; i < n; ++i) v.push_back(i * 7);
    EXPECT_EQ(reinterpret_cast<std::uintptr_t>(v.data()) % huge_page_bytes, 0u);
    for (std::size_t i = 0; i < n; i += 4099) ASSERT_EQ(v[i], i * 7);
    v.clear();
    v.shrink_to_fit();
    v.resize(10, 5);  // back to a small block
    EXPECT_EQ(v[9], 5u);
}
