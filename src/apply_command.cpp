#include "cardsync/apply_command.hpp"

#include "cardsync/cli.hpp"
#include "cardsync/input_error.hpp"
#include "cardsync/result_record.hpp"
#include "cardsync/results_writer.hpp"
#include "cardsync/row_reader.hpp"
#include "cardsync/validate.hpp"

#include <CLI/CLI.hpp>
#include <fmt/core.h>

#include <array>
#include <cstdio>
#include <stdexcept>
#include <variant>

namespace cardsync {

CLI::App* add_apply_command(CLI::App& app, ApplyArgs& args) {
    auto* cmd = app.add_subcommand("apply", "Apply contact-card updates from a CSV or NDJSON file (or stdin)");
    cmd->add_option("input", args.input, "Input file (.csv, .ndjson, .jsonl), or - for stdin")
        ->required();
    cmd->add_option("--format", args.format, "Input format when the extension does not say (stdin)")
        ->check(CLI::IsMember({"csv", "ndjson", "jsonl"}));
    cmd->add_option("--results", args.results,
                    "Results file: NDJSON (.ndjson/.jsonl) or CSV (.csv) by extension; - = NDJSON on stdout")
        ->capture_default_str();
    cmd->add_flag("--dry-run", args.dry_run,
                  "Read and validate only: one record per row (planned or invalid); sends nothing, needs no key");
    cmd->add_flag("-q,--quiet", args.quiet, "No summary on stderr");
    return cmd;
}

namespace {

// Names the fields a planned update would set, for the dry-run record.
std::string planned_message(const CardFields& f) {
    std::string m = "dry run: would set";
    const char* sep = " ";
    for (auto [present, name] : {std::pair{f.first_name.has_value(), "first_name"},
                                 std::pair{f.last_name.has_value(), "last_name"},
                                 std::pair{f.image_url.has_value(), "image_url"}}) {
        if (!present) continue;
        m += sep;
        m += name;
        sep = ", ";
    }
    return m;
}

int run_dry(RowReader& reader, ResultsWriter& writer, bool quiet) {
    std::array<std::uint64_t, 6> counts{};
    InputRow row;
    ResultRecord rec;
    while (reader.next(row)) {
        rec = ResultRecord{};
        rec.line = row.line;
        auto checked = validate(row);
        if (auto* update = std::get_if<ContactUpdate>(&checked)) {
            rec.phone_number = std::move(update->phone_number);
            rec.outcome = Outcome::planned;
            rec.message = planned_message(update->fields);
        } else {
            rec.phone_number = row.phone_number;
            rec.outcome = Outcome::invalid;
            rec.message = std::get<InvalidRow>(checked).message;
        }
        ++counts[static_cast<std::size_t>(rec.outcome)];
        writer.write(rec);
    }
    writer.flush();
    const auto planned = counts[static_cast<std::size_t>(Outcome::planned)];
    const auto invalid = counts[static_cast<std::size_t>(Outcome::invalid)];
    if (!quiet) {
        fmt::print(stderr, "cardsync: dry run: {} rows: {} planned, {} invalid; nothing was sent\n",
                   planned + invalid, planned, invalid);
    }
    return invalid == 0 ? exit_ok : exit_rows_failed;
}

}  // namespace

int run_apply_command(const ApplyArgs& args) {
    try {
        const InputFormat format = args.format.empty() ? format_from_path(args.input) : parse_format(args.format);
        auto reader = make_row_reader(format, open_byte_source(args.input));
        for (const auto& warning : reader->warnings()) fmt::print(stderr, "cardsync: warning: {}\n", warning);
        ResultsWriter writer(args.results, results_format_from_path(args.results));
        if (args.dry_run) return run_dry(*reader, writer, args.quiet);
        fmt::print(stderr, "cardsync: error: only --dry-run is available in this build\n");
        return exit_usage;
    } catch (const InputError& e) {
        fmt::print(stderr, "cardsync: error: {}\n", e.what());
        return exit_usage;
    } catch (const std::exception& e) {
        fmt::print(stderr, "cardsync: error: {}\n", e.what());
        return exit_usage;
    }
}

}  // namespace cardsync
