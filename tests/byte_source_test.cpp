#include "cardsync/byte_source.hpp"
#include "cardsync/input_error.hpp"

#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

#include <unistd.h>

namespace cardsync {
namespace {

std::string drain(ByteSource& source, std::size_t ask = 5) {
    std::string out;
    char buf[64];
    while (const std::size_t n = source.read(buf, std::min(ask, sizeof buf))) out.append(buf, n);
    return out;
}

TEST(MemorySource, ServesChunksNoLargerThanAskedOrTheChunk) {
    auto source = memory_source("abcdefgh", 3);
    char buf[16];
    EXPECT_EQ(source->read(buf, 16), 3u);
    EXPECT_EQ(std::string(buf, 3), "abc");
    EXPECT_EQ(source->read(buf, 2), 2u);
    EXPECT_EQ(std::string(buf, 2), "de");
    EXPECT_EQ(source->read(buf, 16), 3u);
    EXPECT_EQ(std::string(buf, 3), "fgh");
    EXPECT_EQ(source->read(buf, 16), 0u);
    EXPECT_EQ(source->read(buf, 16), 0u);  // stays at the end
    EXPECT_EQ(source->size_hint(), 8u);
    EXPECT_EQ(source->name(), "input");
}

TEST(MemorySource, ChunkZeroStillMakesProgress) {
    auto source = memory_source("xyz", 0);
    EXPECT_EQ(drain(*source), "xyz");
}

TEST(MemorySource, BinaryBytesPassThrough) {
    const std::string data("a\0b\xff\n", 5);
    auto source = memory_source(data, 2);
    EXPECT_EQ(drain(*source), data);
}

class FileSource : public ::testing::Test {
protected:
    void SetUp() override {
        dir_ = std::filesystem::temp_directory_path() / ("cardsync_bs_" + std::to_string(::getpid()));
        std::filesystem::create_directories(dir_);
    }
    void TearDown() override { std::filesystem::remove_all(dir_); }
    std::string write(const std::string& name, const std::string& data) {
        const auto path = (dir_ / name).string();
        std::ofstream(path, std::ios::binary) << data;
        return path;
    }
    std::filesystem::path dir_;
};

TEST_F(FileSource, ReadsTheWholeFileAndKnowsItsSize) {
    std::string data;
    for (int i = 0; i < 100000; ++i) data += "+1555" + std::to_string(i) + ",Zoë,O'Neil\n";
    const auto path = write("big.csv", data);
    auto source = open_byte_source(path);
    EXPECT_EQ(source->size_hint(), data.size());
    EXPECT_EQ(source->name(), path);
    std::string got;
    std::string buf(1 << 16, '\0');
    while (const std::size_t n = source->read(buf.data(), buf.size())) got.append(buf.data(), n);
    EXPECT_EQ(got, data);
}

TEST_F(FileSource, EmptyFileEndsAtOnce) {
    auto source = open_byte_source(write("empty.csv", ""));
    char c;
    EXPECT_EQ(source->read(&c, 1), 0u);
    EXPECT_EQ(source->size_hint(), 0u);
}

TEST_F(FileSource, MissingFileNamesThePathAndTheReason) {
    const auto path = (dir_ / "nope.csv").string();
    try {
        open_byte_source(path);
        FAIL() << "expected InputError";
    } catch (const InputError& e) {
        EXPECT_NE(std::string(e.what()).find(path), std::string::npos) << e.what();
        EXPECT_NE(std::string(e.what()).find("No such file or directory"), std::string::npos) << e.what();
    }
}

TEST_F(FileSource, DirectoryIsRefused) {
    try {
        open_byte_source(dir_.string());
        FAIL() << "expected InputError";
    } catch (const InputError& e) {
        EXPECT_NE(std::string(e.what()).find(dir_.string()), std::string::npos) << e.what();
        EXPECT_NE(std::string(e.what()).find("Is a directory"), std::string::npos) << e.what();
    }
}

TEST(StdinSource, DashReadsStandardInput) {
    int fds[2];
    ASSERT_EQ(::pipe(fds), 0);
    const int saved = ::dup(STDIN_FILENO);
    ASSERT_GE(saved, 0);
    ASSERT_EQ(::write(fds[1], "phone_number\n+1\n", 16), 16);
    ::close(fds[1]);
    ASSERT_EQ(::dup2(fds[0], STDIN_FILENO), STDIN_FILENO);
    ::close(fds[0]);
    std::string got;
    std::uint64_t hint = 1;
    std::string name;
    {
        auto source = open_byte_source("-");
        hint = source->size_hint();
        name = std::string(source->name());
        got = drain(*source);
    }
    // The source must not have closed fd 0: it is still ours to restore.
    ASSERT_EQ(::dup2(saved, STDIN_FILENO), STDIN_FILENO);
    ::close(saved);
    EXPECT_EQ(got, "phone_number\n+1\n");
    EXPECT_EQ(hint, 0u);  // a pipe has no size
    EXPECT_EQ(name, "stdin");
}

}  // namespace
}  // namespace cardsync
