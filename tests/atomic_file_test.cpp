#include "cardsync/atomic_file.hpp"

#include "support/temp_dir.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <stdexcept>
#include <string>

TEST(AtomicFile, ReplacesTheFileReadableByOthersAndLeavesNoTemporary) {
    cardsync::test::TempDir dir;
    const std::string path = dir.file("cardsync.prom");
    cardsync::write_file_atomically(path, "first\n");
    EXPECT_EQ(cardsync::test::read_file(path), "first\n");
    cardsync::write_file_atomically(path, "second\n");
    EXPECT_EQ(cardsync::test::read_file(path), "second\n");
    std::size_t files = 0;
    for (const auto& entry : std::filesystem::directory_iterator(dir.path())) {
        (void)entry;
        ++files;
    }
    EXPECT_EQ(files, 1u);
    EXPECT_EQ(std::filesystem::status(path).permissions() & std::filesystem::perms::others_read,
              std::filesystem::perms::others_read);
    try {
        cardsync::write_file_atomically(dir.file("missing/x.json"), "{}");
        FAIL() << "no error";
    } catch (const std::runtime_error& e) {
        EXPECT_NE(std::string(e.what()).find("missing/x.json"), std::string::npos) << e.what();
    }
}
