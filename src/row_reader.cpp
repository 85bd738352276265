#include "cardsync/row_reader.hpp"

#include "cardsync/csv_reader.hpp"
#include "cardsync/input_error.hpp"
#include "cardsync/ndjson_reader.hpp"

#include <algorithm>

namespace cardsync {
namespace {

bool iequals(std::string_view a, std::string_view b) {
    return std::equal(a.begin(), a.end(), b.begin(), b.end(), [](char x, char y) {
        const auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; };
        return lower(x) == lower(y);
    });
}

}  // namespace

InputFormat format_from_path(std::string_view path) {
    if (path == "-") throw InputError("reading standard input: pass --format csv|ndjson to say what it holds");
    const std::string_view file = path.substr(path.find_last_of('/') + 1);
    const auto dot = file.find_last_of('.');
    const std::string_view ext = dot == std::string_view::npos ? std::string_view{} : file.substr(dot + 1);
    if (iequals(ext, "csv")) return InputFormat::csv;
    if (iequals(ext, "ndjson") || iequals(ext, "jsonl")) return InputFormat::ndjson;
    throw InputError("cannot tell the format of " + std::string(path) +
                     " from its extension (.csv, .ndjson, .jsonl): pass --format csv|ndjson");
}

InputFormat parse_format(std::string_view name) {
    if (iequals(name, "csv")) return InputFormat::csv;
    if (iequals(name, "ndjson") || iequals(name, "jsonl")) return InputFormat::ndjson;
    throw InputError("unknown input format '" + std::string(name) + "': use csv or ndjson");
}

std::unique_ptr<RowReader> make_row_reader(InputFormat format, std::unique_ptr<ByteSource> source) {
    if (format == InputFormat::csv) return std::make_unique<CsvReader>(std::move(source));
    return std::make_unique<NdjsonReader>(std::move(source));
}

}  // namespace cardsync
