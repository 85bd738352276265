#include "cardsync/key_hash.hpp"

#include <gtest/gtest.h>

#include <string>
#include <unordered_set>

using namespace cardsync;

TEST(ShortKeyHash, EqualKeysHashEqualWhateverTheirStorage) {
    const std::string a = "+15551234567";
    const std::string_view b(a);
    EXPECT_EQ(ShortKeyHash{}(a), ShortKeyHash{}(b));
    EXPECT_EQ(short_key_hash(""), short_key_hash(std::string_view("x", 0)));
}

TEST(ShortKeyHash, EveryByteAndTheLengthCount) {
    // Keys that differ in one byte anywhere (in the 8-byte words or in the tail), or only in length.
    const std::string base = "+4915123456789";
    std::unordered_set<std::uint64_t> seen{short_key_hash(base)};
    for (std::size_t i = 0; i < base.size(); ++i) {
        std::string k = base;
        k[i] = static_cast<char>(k[i] ^ 1);
        EXPECT_TRUE(seen.insert(short_key_hash(k)).second) << i;
    }
    EXPECT_TRUE(seen.insert(short_key_hash(base.substr(0, 13))).second);
    EXPECT_NE(short_key_hash(std::string_view("\0", 1)), short_key_hash(std::string_view("\0\0", 2)));
}

TEST(ShortKeyHash, SequentialNumbersSpreadOverBuckets) {
    // Generated inputs count up: 100,000 consecutive numbers must not pile into few low bits.
    std::unordered_set<std::uint64_t> low_bits;
    for (int i = 0; i < 100'000; ++i) low_bits.insert(short_key_hash("+1555" + std::to_string(1'000'000 + i)) & 0xFFFF);
    // of 65,536 possible, a random function fills 65,536 x (1 - e^-1.53) = about 51,300 (sd ~110)
    EXPECT_GT(low_bits.size(), 50'500u);
}

TEST(PackE164, ValidNumbersPackToTheirValue) {
    EXPECT_EQ(pack_e164("+14155550123"), 14155550123u);
    EXPECT_EQ(pack_e164("+1"), 1u);
    EXPECT_EQ(pack_e164("+999999999999999"), 999'999'999'999'999u);  // 15 digits, the longest
    // distinct numbers, distinct keys: no leading zeros, so the value alone tells them apart
    EXPECT_NE(pack_e164("+4412"), pack_e164("+44012"));
}

TEST(PackE164, AnythingElseIsZero) {
    for (const char* s : {"", "+", "14155550123", "+04155550123", "+1415555012a", "+1 415", "++1",
                          "+1234567890123456"})  // 16 digits
        EXPECT_EQ(pack_e164(s), 0u) << s;
}

TEST(NumberKeys, AnE164NumberIsItsPackedValueWithoutBeingAdded) {
    cardsync::NumberKeys keys;
    EXPECT_EQ(keys.find("+15551234567"), cardsync::pack_e164("+15551234567"));
    EXPECT_EQ(keys.add("+15551234567"), cardsync::pack_e164("+15551234567"));
    keys.forget(keys.add("+15551234567"));
    EXPECT_EQ(keys.find("+15551234567"), cardsync::pack_e164("+15551234567"));
    EXPECT_EQ(keys.others(), 0u);
}

TEST(NumberKeys, OtherStringsHoldASerialKeyUntilForgotten) {
    cardsync::NumberKeys keys;
    EXPECT_EQ(keys.find("alice"), 0u);
    const auto alice = keys.add("alice");
    const auto bob = keys.add("bob");
    EXPECT_NE(alice & cardsync::NumberKeys::other_bit, 0u);
    EXPECT_NE(alice, bob);
    EXPECT_EQ(keys.add("alice"), alice) << "the same string, the same key";
    EXPECT_EQ(keys.find("alice"), alice);
    EXPECT_EQ(keys.others(), 2u);
    keys.forget(alice);
    EXPECT_EQ(keys.find("alice"), 0u);
    EXPECT_EQ(keys.find("bob"), bob);
    keys.forget(alice);  // twice: nothing more
    EXPECT_EQ(keys.others(), 1u);
    const auto again = keys.add("alice");
    EXPECT_NE(again, alice) << "a new serial: a stale key never names the string again";
    EXPECT_NE(again, bob);
    // an E.164 value never has the top bit (below 10^15), so the two kinds never collide
    EXPECT_EQ(cardsync::pack_e164("+999999999999999") & cardsync::NumberKeys::other_bit, 0u);
}
