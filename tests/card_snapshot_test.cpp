// The snapshot of live cards: parsing the GET-all answer (happy shapes, every malformed shape with
// a message naming the card and field, a large answer), lookups, and the field diff.
#include "cardsync/card_snapshot.hpp"

#include <gtest/gtest.h>
#include <fmt/format.h>

#include <cstdio>
#include <string>
#include <vector>

namespace {

using cardsync::CardFields;
using cardsync::CardSnapshot;
using cardsync::CardView;
using cardsync::FieldChange;
using cardsync::SnapshotError;

CardSnapshot parse(const std::string& body) { return CardSnapshot::parse(body); }

TEST(CardSnapshot, ParsesTheDocumentedEnvelopeInAnyOrder) {
    const auto s = parse(R"({"success":true,"contact_cards":[
        {"phone_number":"+15550000002","first_name":"Bo","last_name":null,"image_url":"https://x/b.png","is_active":true},
        {"is_active":true,"extra":{"a":[1,2]},"first_name":"Ann","phone_number":"+15550000001","last_name":"Lee"},
        {"phone_number":"+15550000003","first_name":"Z\u00f6e \"Q\""}
    ],"trace_id":"t"})");
    ASSERT_EQ(s.size(), 3u);
    const auto a = s.find("+15550000001");
    ASSERT_TRUE(a);
    EXPECT_EQ(a->phone_number, "+15550000001");
    EXPECT_EQ(a->first_name, "Ann");
    EXPECT_EQ(a->last_name, "Lee");
    EXPECT_EQ(a->image_url, "");
    const auto b = s.find("+15550000002");
    ASSERT_TRUE(b);
    EXPECT_EQ(b->last_name, "") << "null is not set";
    EXPECT_EQ(b->image_url, "https://x/b.png");
    EXPECT_EQ(s.find("+15550000003")->first_name, "Zöe \"Q\"") << "escapes are decoded";
    EXPECT_FALSE(s.find("+15550000004"));
    EXPECT_FALSE(s.find("+1555000000"));
}

TEST(CardSnapshot, EmptyListInactiveCardsAndDuplicates) {
    EXPECT_EQ(parse(R"({"contact_cards":[]})").size(), 0u);
    const auto s = parse(R"({"contact_cards":[
        {"phone_number":"+15550000001","first_name":"Old"},
        {"phone_number":"+15550000002","first_name":"Gone","is_active":false},
        {"phone_number":"+15550000001","first_name":"New"}]})");
    EXPECT_EQ(s.size(), 1u);
    EXPECT_EQ(s.find("+15550000001")->first_name, "New") << "the last listed card of a number wins";
    EXPECT_FALSE(s.find("+15550000002")) << "an inactive card is not a live card";
}

struct BadCase {
    const char* name;
    const char* body;
    const char* message;  // a fragment the error must hold
};

TEST(CardSnapshot, MalformedAnswersGiveAClearError) {
    const BadCase cases[] = {
        {"empty", " \r\n", "the answer is empty"},
        {"html", "<html><body>Bad gateway</body></html>", "the answer starts with '<html><body>Bad gateway</body></html>'"},
        {"array at the top", R"([{"phone_number":"+1"}])", "expected a JSON object"},
        {"broken json", R"({"contact_cards":[}])", "GET"},
        {"no list", R"({"cards":[]})", "no \"contact_cards\" key"},
        {"list not an array", R"({"contact_cards":{}})", "\"contact_cards\" is not an array"},
        {"card not an object", R"({"contact_cards":[1]})", "card #1 is not an object"},
        {"no number", R"({"contact_cards":[{"first_name":"A"}]})", "card #1 has no phone_number"},
        {"no first name", R"({"contact_cards":[{"phone_number":"+15550000001","first_name":"A"},{"phone_number":"+15550000002"}]})",
         "card #2 (+15550000002) has no first_name"},
        {"number not a string", R"({"contact_cards":[{"phone_number":15550000001,"first_name":"A"}]})",
         "card #1: phone_number is not a string"},
        {"last name a number", R"({"contact_cards":[{"phone_number":"+15550000001","first_name":"A","last_name":7}]})",
         "card #1 (+15550000001): last_name is not a string"},
        {"is_active a string", R"({"contact_cards":[{"phone_number":"+15550000001","first_name":"A","is_active":"yes"}]})",
         "is_active is not a boolean"},
        {"truncated", R"({"contact_cards":[{"phone_number":"+15550000001","first_na)", ""},
        {"trailing", R"({"contact_cards":[]} {})", "trailing content"},
        {"list twice", R"({"contact_cards":[],"contact_cards":[]})", "appears twice"},
    };
    for (const auto& c : cases) {
        SCOPED_TRACE(c.name);
        try {
            parse(c.body);
            ADD_FAILURE() << "accepted";
        } catch (const SnapshotError& e) {
            const std::string what = e.what();
            EXPECT_NE(what.find("GET /v3/contact_card"), std::string::npos) << what;
            EXPECT_NE(what.find(c.message), std::string::npos) << what;
        }
    }
}

TEST(CardSnapshot, ALargeAnswerIsHeldCompactly) {
    constexpr int n = 100'000;
    std::string body = R"({"contact_cards":[)";
    for (int i = n - 1; i >= 0; --i) {  // reverse order: the index sorts
        body += fmt::format(R"({{"phone_number":"+1555{:07}","first_name":"First{}","last_name":"Last{}","image_url":"https://img.example/{}.png","is_active":true}})",
                            i, i, i, i);
        if (i) body += ',';
    }
    body += "]}";
    const std::size_t body_size = body.size();
    const auto s = CardSnapshot::parse(body);
    ASSERT_EQ(s.size(), static_cast<std::size_t>(n));
    for (int i : {0, 1, 4242, n - 1}) {
        const auto c = s.find(fmt::format("+1555{:07}", i));
        ASSERT_TRUE(c) << i;
        EXPECT_EQ(c->first_name, fmt::format("First{}", i));
        EXPECT_EQ(c->last_name, fmt::format("Last{}", i));
        EXPECT_EQ(c->image_url, fmt::format("https://img.example/{}.png", i));
    }
    EXPECT_LT(s.memory_bytes(), body_size) << "the text without its JSON, plus 12 bytes a card";
    std::printf("100,000 cards: answer %zu bytes, snapshot %zu bytes\n", body_size, s.memory_bytes());
}

TEST(CardSnapshot, AddReplacesAndKeepsOrder) {
    CardSnapshot s;
    s.add("+15550000002", "B");
    s.add("+15550000001", "A", "L", "https://x/a");
    s.add("+15550000002", "B2");
    EXPECT_EQ(s.size(), 2u);
    EXPECT_EQ(s.find("+15550000002")->first_name, "B2");
    EXPECT_EQ(s.find("+15550000001")->image_url, "https://x/a");
}

TEST(CardSnapshotDiff, OnlyPresentFieldsThatDiffer) {
    const CardView card{"+15550000001", "Ann", "Lee", ""};
    CardFields f;
    EXPECT_TRUE(cardsync::diff(card, f).empty()) << "nothing present, nothing to change";
    f.first_name = "Ann";
    f.last_name = "Lee";
    EXPECT_TRUE(cardsync::diff(card, f).empty());
    f.first_name = "Anna";
    f.image_url = "https://x/a.png";
    EXPECT_EQ(cardsync::diff(card, f), (std::vector<FieldChange>{{"first_name", "Ann", "Anna"},
                                                                  {"image_url", "", "https://x/a.png"}}));
    f = {};
    f.last_name = "lee";
    EXPECT_EQ(cardsync::diff(card, f), (std::vector<FieldChange>{{"last_name", "Lee", "lee"}})) << "case matters";
}

// A body with the traps of a hand-written scanner: braces, brackets, quotes and the key's name
// inside strings, nested members before and after the list, escapes, whitespace everywhere.
const std::string tricky = R"( { "meta" : {"contact_cards":"not this one","x":[1,{"y":"]}"}]},
  "note":"a \"quoted\" ] } [ { string\\",
  "contact_cards" : [ {"phone_number":"+15550000001","first_name":"A}\"]{","last_name":"x\\"} ,
    {"first_name":"B","phone_number":"+15550000002","tags":{"k":["{","}"]},"image_url":null} ],
  "n": -1.5e3, "t": true, "z": null } )";

std::string dump(const CardSnapshot& s) {
    std::string out;
    for (const char* n : {"+15550000001", "+15550000002", "+15550000003"}) {
        if (auto c = s.find(n)) out += fmt::format("{}|{}|{}|{}\n", c->phone_number, c->first_name, c->last_name, c->image_url);
    }
    return out;
}

TEST(CardSnapshotBuilder, AnyChunkingGivesTheSameCards) {
    const std::string expected = "+15550000001|A}\"]{|x\\|\n+15550000002|B||\n";
    ASSERT_EQ(dump(parse(tricky)), expected);
    for (std::size_t chunk : {1u, 2u, 3u, 5u, 7u, 16u, 64u, 4096u}) {
        SCOPED_TRACE(chunk);
        cardsync::CardSnapshotBuilder b;
        for (std::size_t at = 0; at < tricky.size(); at += chunk) b.feed(std::string_view(tricky).substr(at, chunk));
        EXPECT_EQ(b.bytes(), tricky.size());
        EXPECT_EQ(dump(b.finish()), expected);
    }
}

TEST(CardSnapshotBuilder, EveryTruncationIsAnErrorNeverACrash) {
    for (std::size_t len = 0; len < tricky.size(); ++len) {
        const bool whole = len > tricky.rfind('}');  // only blanks after the root object's end
        cardsync::CardSnapshotBuilder b;
        try {
            b.feed(std::string_view(tricky).substr(0, len));
            b.finish();
            EXPECT_TRUE(whole) << "accepted a body cut at " << len;
        } catch (const SnapshotError& e) {
            EXPECT_FALSE(whole) << e.what();
            const std::string what = e.what();
            EXPECT_TRUE(what.find("ended early") != std::string::npos || what.find("empty") != std::string::npos) << len << ": " << what;
        }
    }
}

TEST(CardSnapshotBuilder, ScannerErrorsNameTheByte) {
    for (const char* body : {R"({"a" 1,"contact_cards":[]})", R"({"a":,"contact_cards":[]})", R"({"contact_cards":[],})",
                             R"({"contact_cards":[{"phone_number":"+1","first_name":"A"},]})",
                             R"({"contact_cards":[{"phone_number":"+1","first_name":"A"} {}]})"}) {
        SCOPED_TRACE(body);
        try {
            parse(body);
            ADD_FAILURE() << "accepted";
        } catch (const SnapshotError& e) {
            EXPECT_NE(std::string(e.what()).find("byte"), std::string::npos) << e.what();
        }
    }
}

}  // namespace
