#include "cardsync/input_identity.hpp"

#include "cardsync/row_reader.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace {

using namespace cardsync;

// FIPS 180-2 examples and the empty string.
TEST(InputIdentity, Sha256OfKnownStrings) {
    EXPECT_EQ(sha256_hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    EXPECT_EQ(sha256_hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    EXPECT_EQ(sha256_hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
              "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
    EXPECT_EQ(sha256_hex(std::string(1'000'000, 'a')),
              "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

TEST(InputIdentity, HexCanBeTakenMidwayAndTheHashGoesOn) {
    Sha256 sha;
    sha.update("ab", 2);
    EXPECT_EQ(sha.hex(), sha256_hex("ab"));
    sha.update("c", 1);
    EXPECT_EQ(sha.hex(), sha256_hex("abc"));
}

TEST(InputIdentity, SourceCountsAndHashesWhatItPassesOnForAnyChunking) {
    std::string data;
    for (int i = 0; i < 5000; ++i) data += "+1555" + std::to_string(1000000 + i) + ",Ann\n";
    for (std::size_t chunk : {std::size_t{1}, std::size_t{7}, std::size_t{4096}, std::size_t{1} << 20}) {
        auto source = identify_input(memory_source(data, chunk), "in.csv");
        std::string got;
        char buf[3000];
        EXPECT_FALSE(source->identity().complete);
        while (const auto n = source->read(buf, sizeof buf)) got.append(buf, n);
        EXPECT_EQ(got, data);
        const auto id = source->identity();
        EXPECT_EQ(id.name, "in.csv");
        EXPECT_EQ(id.bytes, data.size());
        EXPECT_EQ(id.sha256, sha256_hex(data)) << chunk;
        EXPECT_TRUE(id.complete);
    }
}

TEST(InputIdentity, APartlyReadInputIsNotComplete) {
    const std::string data(10'000, 'x');
    auto source = identify_input(memory_source(data, 1000), "-");
    char buf[1000];
    ASSERT_EQ(source->read(buf, sizeof buf), 1000u);
    const auto id = source->identity();
    EXPECT_EQ(id.name, "stdin");
    EXPECT_EQ(id.bytes, 1000u);
    EXPECT_EQ(id.sha256, sha256_hex(data.substr(0, 1000)));
    EXPECT_FALSE(id.complete);
}

TEST(InputIdentity, AReaderThatReachesTheEndLeavesItComplete) {
    const std::string csv = "phone_number,first_name\n+15551234567,Ann\n+15551234568,Bo\n";
    auto source = identify_input(memory_source(csv, 5), "in.csv");
    const IdentifiedSource& id = *source;
    auto reader = make_row_reader(InputFormat::csv, std::move(source));
    InputRow row;
    int rows = 0;
    while (reader->next(row)) ++rows;
    EXPECT_EQ(rows, 2);
    EXPECT_TRUE(id.identity().complete);
    EXPECT_EQ(id.identity().sha256, sha256_hex(csv));
    EXPECT_TRUE(id.identity().same_content(InputIdentity{"elsewhere.csv", csv.size(), sha256_hex(csv), true}));
    EXPECT_FALSE(id.identity().same_content(InputIdentity{"in.csv", csv.size(), sha256_hex(csv + "x"), true}));
}

}  // namespace
