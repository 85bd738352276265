// `cardsync plan`: its text and NDJSON output on a hand-made snapshot, its totals against what
// apply then does over real sockets on 127.0.0.1, and the binary with --mock.
#include "cardsync/plan_command.hpp"

#include "cardsync/cli.hpp"
#include "cardsync/mock_server.hpp"
#include "cardsync/results_reader.hpp"
#include "cardsync/results_writer.hpp"
#include "cardsync/row_reader.hpp"
#include "cardsync/snapshot_fetch.hpp"
#include "cardsync/stop_signal.hpp"
#include "support/subprocess.hpp"
#include "support/temp_dir.hpp"

#include <gtest/gtest.h>
#include <simdjson.h>

#include <cstdio>
#include <map>
#include <string>
#include <vector>

namespace {

using namespace std::chrono_literals;
using cardsync::CardSnapshot;
using cardsync::Outcome;
using cardsync::PlanTotals;
using cardsync::test::TempDir;

const std::string bin = CARDSYNC_BINARY;
const std::string samples = CARDSYNC_SAMPLES;

struct Output {
    PlanTotals totals;
    std::string text;
};

Output plan(const CardSnapshot& snapshot, const std::string& csv, bool create_missing, bool json) {
    auto reader = cardsync::make_row_reader(cardsync::InputFormat::csv, cardsync::memory_source(csv));
    std::FILE* f = std::tmpfile();
    Output out;
    out.totals = cardsync::write_plan(*reader, snapshot, create_missing, json, f);
    std::rewind(f);
    char buf[4096];
    for (std::size_t n; (n = std::fread(buf, 1, sizeof buf, f)) > 0;) out.text.append(buf, n);
    std::fclose(f);
    return out;
}

std::vector<std::string> lines_of(const std::string& text) {
    std::vector<std::string> out;
    std::size_t start = 0;
    for (std::size_t end; (end = text.find('\n', start)) != std::string::npos; start = end + 1)
        out.push_back(text.substr(start, end - start));
    return out;
}

CardSnapshot live() {
    CardSnapshot s;
    s.add("+15550000001", "Ann", "Lee");
    s.add("+15550000002", "Bo", "", "https://x/bo.png");
    return s;
}

const std::string input = "phone_number,first_name,last_name\n"
                          "+15550000001,Bea,Lee\n"   // 2: change
                          "+15550000002,Bo,\n"       // 3: unchanged
                          "+15550000003,Cy,Li\n"     // 4: no card / create
                          "+15550000004,,Ng\n"       // 5: no card / invalid (no first_name)
                          "not-a-number,Dee,\n";     // 6: invalid

TEST(PlanCommand, TextForPeople) {
    const auto s = live();
    const auto out = plan(s, input, false, false);
    const auto lines = lines_of(out.text);
    ASSERT_EQ(lines.size(), 7u) << out.text;
    EXPECT_NE(lines[0].find("line 2"), std::string::npos);
    EXPECT_NE(lines[0].find("+15550000001"), std::string::npos);
    EXPECT_NE(lines[0].find("change     first_name: \"Ann\" \u2192 \"Bea\""), std::string::npos) << lines[0];
    EXPECT_EQ(lines[0].find("last_name"), std::string::npos) << "an equal field is not shown";
    EXPECT_NE(lines[1].find("unchanged"), std::string::npos) << lines[1];
    EXPECT_NE(lines[2].find("no card    the PATCH would be rejected (404); --create-missing would create it"),
              std::string::npos) << lines[2];
    EXPECT_NE(lines[3].find("no card"), std::string::npos) << lines[3];
    EXPECT_NE(lines[4].find("line 6"), std::string::npos);
    EXPECT_NE(lines[4].find("invalid    "), std::string::npos) << lines[4];
    EXPECT_NE(lines[4].find("not-a-number"), std::string::npos) << "the number as given";
    EXPECT_NE(lines[5].find("plan: 5 rows: 1 change, 1 unchanged, 0 create, 2 no card, 1 invalid (2 live cards)"),
              std::string::npos) << lines[5];
    EXPECT_NE(lines[6].find("apply would send 4 writes (3 with --skip-unchanged)"), std::string::npos) << lines[6];
    EXPECT_EQ(out.totals, (PlanTotals{1, 1, 0, 2, 1}));

    const auto created = plan(s, input, true, false);
    const auto cl = lines_of(created.text);
    ASSERT_EQ(cl.size(), 7u);
    EXPECT_NE(cl[2].find("create     first_name: \"Cy\", last_name: \"Li\""), std::string::npos) << cl[2];
    EXPECT_NE(cl[3].find(std::string(cardsync::first_name_required)), std::string::npos) << cl[3];
    EXPECT_EQ(created.totals, (PlanTotals{1, 1, 1, 0, 2}));
}

TEST(PlanCommand, JsonForMachines) {
    const auto s = live();
    const auto out = plan(s, input, true, true);
    const auto lines = lines_of(out.text);
    ASSERT_EQ(lines.size(), 6u) << out.text;
    simdjson::ondemand::parser parser;
    std::vector<std::string> actions;
    for (std::size_t i = 0; i + 1 < lines.size(); ++i) {
        simdjson::padded_string json(lines[i]);
        auto doc = parser.iterate(json);
        std::string_view action;
        ASSERT_FALSE(doc["action"].get(action)) << lines[i];
        actions.emplace_back(action);
    }
    EXPECT_EQ(actions, (std::vector<std::string>{"change", "unchanged", "create", "invalid", "invalid"}));
    EXPECT_EQ(lines[0],
              R"({"line":2,"phone_number":"+15550000001","action":"change","changes":[{"field":"first_name","from":"Ann","to":"Bea"}]})");
    EXPECT_EQ(lines[3], R"j({"line":5,"phone_number":"+15550000004","action":"invalid","reason":"first_name is required to create a card (--create-missing)"})j");
    EXPECT_EQ(lines[5], R"({"totals":{"rows":5,"change":1,"unchanged":1,"create":1,"no_card":0,"invalid":2,"live_cards":2}})");
}

// --- plan, then apply, against the simulator -------------------------------------------------------

std::string number(int i) { return "+1555" + std::to_string(2000000 + i); }

TEST(PlanCommand, TotalsAreWhatApplyThenDoes) {
    TempDir dir;
    std::string seed = "phone_number,first_name,last_name,image_url\n";
    for (int i = 0; i < 40; ++i) seed += number(i) + ",Ann" + std::to_string(i) + ",Lee,\n";
    cardsync::test::write_file(dir.file("seed.csv"), seed);
    // changes, unchanged rows, numbers without a card (with and without first_name), invalid rows,
    // and repeated numbers.
    std::string csv = "phone_number,first_name,last_name,image_url\n";
    for (int i = 0; i < 60; ++i) {
        const std::string first = i % 7 == 3 ? "" : (i % 3 == 0 ? "New" : "Ann") + std::to_string(i);
        csv += number(i) + "," + first + ",Lee," + (i % 5 == 0 ? "https://img.example/a.png" : "") + "\n";
        if (i % 11 == 0) csv += "bad" + std::to_string(i) + ",X,,\n";
        if (i % 13 == 0) csv += number(i) + ",Ann" + std::to_string(i) + ",,\n";
    }
    for (bool create_missing : {false, true}) {
        SCOPED_TRACE(create_missing ? "--create-missing" : "no create");
        cardsync::MockOptions m;
        m.seed_cards_csv = dir.file("seed.csv");
        m.budget_calls = 0;
        cardsync::MockServer server(m);
        cardsync::ApplyOptions o;
        o.base_url = server.api_url();
        o.api_key = "mock-key";
        o.rate = 0;
        o.handle_signals = false;
        o.budget = cardsync::BudgetSpec{0, 600s};
        o.warn = [](std::string_view) {};

        const auto snapshot = cardsync::fetch_card_snapshot(o);
        const auto planned = plan(snapshot.cards, csv, create_missing, true).totals;
        EXPECT_GT(planned.change, 0u);
        EXPECT_GT(planned.unchanged, 0u);
        EXPECT_GT(planned.invalid, 0u);
        EXPECT_GT(create_missing ? planned.create : planned.no_card, 0u);

        o.skip_unchanged = true;
        o.create_missing = create_missing;
        const auto results = dir.file("results.ndjson");
        const auto apply = [&](const CardSnapshot& cards) {
            o.snapshot = &cards;
            auto reader = cardsync::make_row_reader(cardsync::InputFormat::csv, cardsync::memory_source(csv));
            cardsync::ResultsWriter writer(results, cardsync::ResultsFormat::ndjson);
            cardsync::StopSignal stop;
            return cardsync::run_apply(o, *reader, writer, stop);
        };
        const auto expect_as_planned = [&](const cardsync::ApplyReport& report, const PlanTotals& planned,
                                           const cardsync::MockStats& before) {
            EXPECT_EQ(report.count(Outcome::updated), planned.change + planned.create) << report.summary();
            EXPECT_EQ(report.count(Outcome::skipped), planned.unchanged);
            EXPECT_EQ(report.count(Outcome::rejected), planned.no_card);
            EXPECT_EQ(report.count(Outcome::invalid), planned.invalid);
            EXPECT_EQ(report.count(Outcome::failed), 0u);
            const auto s = server.stats();
            const auto posts = [](const cardsync::MockStats& st) { return st.by_method.count("POST") ? st.by_method.at("POST") : 0u; };
            EXPECT_EQ(posts(s) - posts(before), planned.create);
            EXPECT_EQ(s.writes_applied - before.writes_applied, report.count(Outcome::updated) - report.coalesced)
                << "every update is one write, rows sent together excepted";
        };
        expect_as_planned(apply(snapshot.cards), planned, cardsync::MockStats{});

        // The next night, the same file: rows that only repeat the cards are not sent. What is
        // left: numbers 0 and 39, which the file sets to New<i> and back to Ann<i> (2 rows each),
        // and with --create-missing number 52, created by its second row without the first
        // row's last name, which the first row then sets.
        const auto again = cardsync::fetch_card_snapshot(o);
        const auto replanned = plan(again.cards, csv, create_missing, true).totals;
        EXPECT_EQ(replanned.change, create_missing ? 5u : 4u);
        EXPECT_EQ(replanned.create, 0u) << "created cards are live now";
        const auto before = server.stats();
        expect_as_planned(apply(again.cards), replanned, before);
    }
}

// --- the binary -------------------------------------------------------------------------------------

TEST(PlanCommand, BinaryWithMockMatchesApplyWithMock) {
    const std::string seed = samples + "/mock-cards.csv";
    const std::string contacts = samples + "/contacts.csv";
    const auto p = cardsync::test::run_process(
        {bin, "plan", contacts, "--json", "--create-missing", "--mock", "--mock-seed-cards", seed});
    ASSERT_NE(p.out.find("{\"totals\":"), std::string::npos) << p.err;
    simdjson::ondemand::parser parser;
    const auto last = lines_of(p.out).back();
    simdjson::padded_string json(last);
    auto doc = parser.iterate(json);
    std::map<std::string, std::uint64_t> totals;
    for (const char* k : {"rows", "change", "unchanged", "create", "no_card", "invalid"}) {
        std::uint64_t v = 0;
        ASSERT_FALSE(doc["totals"][k].get(v)) << last;
        totals[k] = v;
    }
    EXPECT_EQ(totals["rows"], 34u);
    EXPECT_EQ(p.exit_code, totals["invalid"] ? cardsync::exit_rows_failed : cardsync::exit_ok) << p.err;

    TempDir dir;
    const auto a = cardsync::test::run_process({bin, "apply", contacts, "--results", dir.file("r.ndjson"), "--rate", "0",
                                                "--skip-unchanged", "--create-missing", "--mock", "--mock-seed-cards", seed});
    std::map<Outcome, std::uint64_t> outcomes;
    cardsync::ResultsReader in(dir.file("r.ndjson"));
    cardsync::ResultRecord rec;
    while (in.next(rec)) ++outcomes[rec.outcome];
    // Outside prefixes are 403 in the simulator: apply rejects those rows that plan calls change/create.
    EXPECT_EQ(outcomes[Outcome::skipped], totals["unchanged"]) << a.err;
    EXPECT_EQ(outcomes[Outcome::invalid], totals["invalid"]) << a.err;
    EXPECT_EQ(outcomes[Outcome::updated] + outcomes[Outcome::rejected], totals["change"] + totals["create"]) << a.err;
    EXPECT_NE(a.err.find("snapshot: "), std::string::npos) << a.err;
}

TEST(PlanCommand, ARefusedKeyExitsThreeAndSendsNothing) {
    cardsync::MockServer server(cardsync::MockOptions{});
    TempDir dir;
    cardsync::test::write_file(dir.file("in.csv"), input);
    const auto p = cardsync::test::run_process({bin, "plan", dir.file("in.csv"), "--base-url", server.api_url()}, {},
                                               {"LINQ_API_V3_API_KEY=not-the-key-9f2"});
    EXPECT_EQ(p.exit_code, cardsync::exit_aborted) << p.err;
    EXPECT_NE(p.err.find("401"), std::string::npos) << p.err;
    EXPECT_EQ(p.err.find("not-the-key-9f2"), std::string::npos);
    EXPECT_TRUE(p.out.empty());
    const auto s = server.stats();
    EXPECT_EQ(s.requests, s.by_method.at("GET"));
}

TEST(PlanCommand, OverTlsTheSameTotals) {
    const std::string seed = samples + "/mock-cards.csv";
    const std::string contacts = samples + "/contacts.csv";
    const auto plain = cardsync::test::run_process({bin, "plan", contacts, "--json", "--mock", "--mock-seed-cards", seed});
    const auto tls = cardsync::test::run_process(
        {bin, "plan", contacts, "--json", "--mock", "--mock-tls", "--mock-seed-cards", seed});
    EXPECT_EQ(tls.exit_code, plain.exit_code) << tls.err;
    ASSERT_FALSE(lines_of(tls.out).empty()) << tls.err;
    EXPECT_EQ(lines_of(tls.out).back(), lines_of(plain.out).back());
    EXPECT_EQ(lines_of(tls.out).back(),
              R"({"totals":{"rows":34,"change":23,"unchanged":0,"create":0,"no_card":4,"invalid":7,"live_cards":25}})");
}

}  // namespace
