// CardStore, the card JSON shape, and the seed-file loader.
#include "cardsync/card_store.hpp"

#include "support/temp_dir.hpp"

#include <gtest/gtest.h>

namespace cardsync {
namespace {

TEST(CardJson, OmitsUnsetOptionalFieldsAndEscapes) {
    struct Case {
        Card card;
        const char* json;
    } cases[] = {
        {{"+15551234567", "John", "Doe", "https://cdn/x.jpg", true, 0},
         R"({"phone_number":"+15551234567","first_name":"John","last_name":"Doe","image_url":"https://cdn/x.jpg","is_active":true})"},
        {{"+15551234567", "", "", "", false, 0}, R"({"phone_number":"+15551234567","first_name":"","is_active":false})"},
        {{"+15551234567", "A \"B\"\n", "", "u", true, 0},
         R"({"phone_number":"+15551234567","first_name":"A \"B\"\n","image_url":"u","is_active":true})"},
    };
    for (const auto& c : cases) {
        std::string out = "x";
        append_card_json(out, c.card);
        EXPECT_EQ(out, std::string("x") + c.json);
    }
}

TEST(CardStore, FindPutAndSortedOrder) {
    CardStore store;
    EXPECT_EQ(store.find("+1"), nullptr);
    store.put({"+33612345605", "Zoe", "", "", true, 0});
    store.put({"+14155550101", "Avery", "", "", true, 0});
    store.put({"+14155550101", "Avery2", "", "", true, 0});  // replaces
    Card& added = store.find_or_add("+4915112345606");
    EXPECT_FALSE(added.is_active) << "a new card is not active until a write applies";
    EXPECT_EQ(added.phone_number, "+4915112345606");
    EXPECT_EQ(&store.find_or_add("+4915112345606"), &added);
    ASSERT_EQ(store.size(), 3u);
    EXPECT_EQ(store.find("+14155550101")->first_name, "Avery2");
    std::vector<std::string> order;
    for (const Card* c : store.sorted()) order.push_back(c->phone_number);
    EXPECT_EQ(order, (std::vector<std::string>{"+14155550101", "+33612345605", "+4915112345606"}));
    std::size_t seen = 0;
    store.for_each([&](const Card&) { ++seen; });
    EXPECT_EQ(seen, 3u);
    store.clear();
    EXPECT_EQ(store.size(), 0u);
}

TEST(LoadCardsCsv, ReadsQuotedFieldsAnyColumnOrderAndIsActive) {
    test::TempDir dir;
    const auto path = dir.file("cards.csv");
    test::write_file(path,
                     "\xEF\xBB\xBFImage_URL, is_active ,phone_number,first_name,last_name,extra\r\n"
                     "https://x/a.jpg,,+14155550101,Avery,\"Jones, Jr.\",z\r\n"
                     "\r\n"
                     ",false,+14155550102,\"Multi\nLine\",\"Say \"\"hi\"\"\",\n"
                     ",YES,+14155550103,Carl,,\n"
                     ",0,+14155550104,Dee,,");
    const auto cards = load_cards_csv(path);
    ASSERT_EQ(cards.size(), 4u);
    EXPECT_EQ(cards[0].phone_number, "+14155550101");
    EXPECT_EQ(cards[0].last_name, "Jones, Jr.");
    EXPECT_EQ(cards[0].image_url, "https://x/a.jpg");
    EXPECT_TRUE(cards[0].is_active);
    EXPECT_EQ(cards[1].first_name, "Multi\nLine");
    EXPECT_EQ(cards[1].last_name, "Say \"hi\"");
    EXPECT_FALSE(cards[1].is_active);
    EXPECT_TRUE(cards[2].is_active);
    EXPECT_FALSE(cards[3].is_active);
    EXPECT_EQ(cards[3].first_name, "Dee");
}

TEST(LoadCardsCsv, ErrorsNameTheFileAndLine) {
    struct Case {
        const char* text;
        const char* mentions;
    } cases[] = {
        {"first_name\nA\n", ":1: the header has no phone_number"},
        {"phone_number,first_name\n+14155550101,A\n4155550102,B\n", ":3: \"4155550102\" is not an E.164"},
        {"phone_number,first_name\n+14155550101,\"A\n", ":2: unterminated quote"},
        {"phone_number,is_active\n+14155550101,maybe\n", ":2: is_active must be true or false"},
        {"", "empty seed cards file"},
    };
    test::TempDir dir;
    for (const auto& c : cases) {
        const auto path = dir.file("bad.csv");
        test::write_file(path, c.text);
        try {
            load_cards_csv(path);
            ADD_FAILURE() << "accepted: " << c.text;
        } catch (const std::runtime_error& e) {
            EXPECT_NE(std::string(e.what()).find(c.mentions), std::string::npos) << e.what();
            EXPECT_NE(std::string(e.what()).find(path), std::string::npos) << e.what();
        }
    }
    EXPECT_THROW(load_cards_csv(dir.file("missing.csv")), std::runtime_error);
}

TEST(LoadCardsCsv, TheSampleSeedCoversTheSampleContacts) {
    const auto cards = load_cards_csv(CARDSYNC_SAMPLES "/mock-cards.csv");
    CardStore store;
    for (const auto& c : cards) store.put(c);
    EXPECT_EQ(store.size(), cards.size()) << "no number twice";
    for (const char* n : {"+14155550101", "+14155550103", "+442079460104", "+14155550123"})
        EXPECT_NE(store.find(n), nullptr) << n;
    for (const char* n : {"+14155550190", "+14155550191", "+18005550199", "+18005550198"})
        EXPECT_EQ(store.find(n), nullptr) << n << " must have no card in the sample setup";
}

}  // namespace
}  // namespace cardsync
