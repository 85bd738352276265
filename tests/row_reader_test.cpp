#include "cardsync/row_reader.hpp"
#include "cardsync/input_error.hpp"

#include <gtest/gtest.h>

namespace cardsync {
namespace {

TEST(FormatFromPath, KnownExtensionsAnyCase) {
    const std::pair<const char*, InputFormat> cases[] = {
        {"contacts.csv", InputFormat::csv},         {"CONTACTS.CSV", InputFormat::csv},
        {"dir.v2/contacts.Csv", InputFormat::csv},  {"a.b.ndjson", InputFormat::ndjson},
        {"/tmp/x.NDJSON", InputFormat::ndjson},     {"rows.jsonl", InputFormat::ndjson},
        {"rows.JsonL", InputFormat::ndjson},
    };
    for (const auto& [path, format] : cases) EXPECT_EQ(format_from_path(path), format) << path;
}

TEST(FormatFromPath, StdinAndUnknownAskForFormatFlag) {
    for (const char* path : {"-", "contacts", "contacts.txt", "contacts.json", "data.csv/contacts", "contacts.csv.gz", ""}) {
        try {
            format_from_path(path);
            ADD_FAILURE() << "expected InputError for '" << path << "'";
        } catch (const InputError& e) {
            EXPECT_NE(std::string(e.what()).find("--format csv|ndjson"), std::string::npos) << e.what();
        }
    }
}

TEST(ParseFormat, NamesAndAliases) {
    EXPECT_EQ(parse_format("csv"), InputFormat::csv);
    EXPECT_EQ(parse_format("CSV"), InputFormat::csv);
    EXPECT_EQ(parse_format("ndjson"), InputFormat::ndjson);
    EXPECT_EQ(parse_format("jsonl"), InputFormat::ndjson);
    for (const char* bad : {"json", "", "tsv", "csv "}) {
        EXPECT_THROW(parse_format(bad), InputError) << bad;
    }
    try {
        parse_format("xml");
    } catch (const InputError& e) {
        EXPECT_NE(std::string(e.what()).find("'xml'"), std::string::npos) << e.what();
    }
}

TEST(MakeRowReader, CsvReadsRows) {
    auto reader = make_row_reader(InputFormat::csv, memory_source("phone_number,first_name\n+15550001,Ann\n"));
    InputRow row;
    ASSERT_TRUE(reader->next(row));
    EXPECT_EQ(row.line, 2u);
    EXPECT_EQ(row.phone_number, "+15550001");
    EXPECT_EQ(row.fields.first_name, "Ann");
    EXPECT_FALSE(reader->next(row));
}

TEST(MakeRowReader, NdjsonReadsRows) {
    auto reader = make_row_reader(InputFormat::ndjson, memory_source("{\"phone_number\":\"+15550001\",\"last_name\":\"Lee\"}\n"));
    InputRow row;
    ASSERT_TRUE(reader->next(row));
    EXPECT_EQ(row.line, 1u);
    EXPECT_EQ(row.phone_number, "+15550001");
    EXPECT_EQ(row.fields.last_name, "Lee");
    EXPECT_FALSE(reader->next(row));
}

TEST(MakeRowReader, CsvHeaderProblemThrowsAtOnce) {
    EXPECT_THROW(make_row_reader(InputFormat::csv, memory_source("name,surname\nA,B\n")), InputError);
}

}  // namespace
}  // namespace cardsync
