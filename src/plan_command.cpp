#include "cardsync/plan_command.hpp"

#include "cardsync/cli.hpp"
#include "cardsync/input_error.hpp"
#include "cardsync/json_text.hpp"
#include "cardsync/mock_command.hpp"
#include "cardsync/row_reader.hpp"
#include "cardsync/snapshot_fetch.hpp"
#include "cardsync/validate.hpp"

#include <CLI/CLI.hpp>
#include <fmt/core.h>

#include <filesystem>
#include <variant>

#include <unistd.h>

namespace cardsync {

CLI::App* add_plan_command(CLI::App& app, PlanArgs& args) {
    ApplyArgs& a = args.send;
    auto* cmd = app.add_subcommand(
        "plan", "Compare a CSV or NDJSON file with the live cards (one GET) and show per row what apply would do; "
                "sends no write");
    cmd->add_option("input", a.input, "Input file (.csv, .ndjson, .jsonl), or - for stdin")->required();
    cmd->add_option("--format", a.format, "Input format when the extension does not say (stdin)")
        ->check(CLI::IsMember({"csv", "ndjson", "jsonl"}));
    cmd->add_flag("--json", args.json, "NDJSON on stdout: one object per row, then {\"totals\":{...}}");
    cmd->add_flag("--create-missing", a.create_missing,
                  "Plan as apply --create-missing would: numbers without a card are created (rows need first_name)");

    const std::string send = "Reading the live cards (the key: LINQ_API_V3_API_KEY or --api-key-file)";
    cmd->add_option("--base-url", a.base_url,
                    "API base URL (default: LINQ_API_V3_BASE_URL, else " + std::string(default_base_url) + ")")
        ->group(send);
    cmd->add_option("--api-key-file", a.api_key_file, "File holding the API key")->group(send);
    cmd->add_option("--max-attempts", a.max_attempts, "Attempts of the GET, the first included")
        ->check(CLI::Range(1, 100))->capture_default_str()->group(send);
    cmd->add_option("--timeout", a.timeout_s, "Seconds allowed for the answer")
        ->check(CLI::Range(0.001, 3600.0))->capture_default_str()->group(send);
    cmd->add_option("--connect-timeout", a.connect_timeout_s, "Seconds allowed to connect (and for TLS)")
        ->check(CLI::Range(0.001, 600.0))->capture_default_str()->group(send);
    cmd->add_option("--cacert", a.cacert, "PEM file of the CAs to trust instead of the system's")
        ->check(CLI::ExistingFile)->group(send);
    cmd->add_flag("--insecure", a.insecure, "Do not verify the server's TLS certificate (dangerous)")->group(send);
    cmd->add_flag("--allow-insecure-http", a.allow_insecure_http,
                  "Allow an http:// base URL to a host other than this machine (the key travels in clear)")
        ->group(send);
    cmd->add_flag("-q,--quiet", a.quiet, "No note about the snapshot on stderr")->group(send);
    cmd->add_flag("-v,--verbose", a.verbose, "Retries and connection events on stderr")->group(send);
    cmd->add_flag("--mock", a.mock,
                  "Read the cards of the built-in simulator, started here on 127.0.0.1 (seed it with "
                  "--mock-seed-cards FILE; without one it has no cards)");
    add_mock_options(*cmd, a.mock_options, "mock-");
    return cmd;
}

namespace {

// Values for people: quoted like JSON (control characters visible), "(not set)" when empty.
void append_value(std::string& out, std::string_view value) {
    if (value.empty()) out += "(not set)";
    else append_json_string(out, value);
}

void append_text_line(std::string& out, std::uint64_t line, std::string_view number, PlanAction action,
                      const RowPlan& plan, bool create_missing) {
    out += fmt::format("line {:<6} {:<16} ", line, number);
    switch (action) {
    case PlanAction::change:
    case PlanAction::create: {
        out += action == PlanAction::change ? "change     " : "create     ";
        const char* sep = "";
        for (const auto& c : plan.changes) {
            out += sep;
            out += c.field;
            out += ": ";
            if (action == PlanAction::change) {
                append_value(out, c.from);
                out += " \u2192 ";
            }
            append_value(out, c.to);
            sep = ", ";
        }
        break;
    }
    case PlanAction::unchanged: out += "unchanged"; break;
    case PlanAction::no_card:
        out += "no card    the PATCH would be rejected (404)";
        if (!create_missing) out += "; --create-missing would create it";
        break;
    case PlanAction::invalid:
        out += "invalid    ";
        out += plan.reason;
        break;
    }
    out += '\n';
}

void append_json_line(std::string& out, std::uint64_t line, std::string_view number, PlanAction action,
                      const RowPlan& plan) {
    out += fmt::format("{{\"line\":{},\"phone_number\":", line);
    append_json_string(out, number);
    out += ",\"action\":\"";
    out += to_string(action);
    out += '"';
    if (action == PlanAction::change || action == PlanAction::create) {
        out += ",\"changes\":[";
        const char* sep = "";
        for (const auto& c : plan.changes) {
            out += sep;
            out += "{\"field\":\"";
            out += c.field;
            out += "\",\"from\":";
            append_json_string(out, c.from);
            out += ",\"to\":";
            append_json_string(out, c.to);
            out += '}';
            sep = ",";
        }
        out += ']';
    }
    if (action == PlanAction::invalid) {
        out += ",\"reason\":";
        append_json_string(out, plan.reason);
    }
    out += "}\n";
}

void drain(std::string& buffer, std::FILE* out) {
    if (!buffer.empty() && std::fwrite(buffer.data(), 1, buffer.size(), out) != buffer.size())
        throw std::runtime_error("cannot write the plan to stdout");
    buffer.clear();
}

}  // namespace

PlanTotals write_plan(RowReader& reader, const CardSnapshot& snapshot, bool create_missing, bool json, std::FILE* out) {
    SyncPlanner planner(snapshot, create_missing);
    PlanTotals totals;
    std::string buffer;
    InputRow row;
    while (reader.next(row)) {
        auto checked = validate(row);
        RowPlan plan;
        std::string_view number = row.phone_number;
        if (auto* update = std::get_if<ContactUpdate>(&checked)) {
            plan = planner.decide(*update);
            number = update->phone_number;
            if (json) append_json_line(buffer, row.line, number, plan.action, plan);
            else append_text_line(buffer, row.line, number, plan.action, plan, create_missing);
        } else {
            plan.action = PlanAction::invalid;
            plan.reason = std::move(std::get<InvalidRow>(checked).message);
            if (json) append_json_line(buffer, row.line, number, plan.action, plan);
            else append_text_line(buffer, row.line, number, plan.action, plan, create_missing);
        }
        totals.add(plan.action);
        if (buffer.size() >= 64 * 1024) drain(buffer, out);
    }
    if (json) {
        buffer += fmt::format(
            "{{\"totals\":{{\"rows\":{},\"change\":{},\"unchanged\":{},\"create\":{},\"no_card\":{},\"invalid\":{},"
            "\"live_cards\":{}}}}}\n",
            totals.rows(), totals.change, totals.unchanged, totals.create, totals.no_card, totals.invalid,
            snapshot.size());
    } else {
        buffer += fmt::format("plan: {} rows: {} change, {} unchanged, {} create, {} no card, {} invalid ({} live cards)\n",
                              totals.rows(), totals.change, totals.unchanged, totals.create, totals.no_card,
                              totals.invalid, snapshot.size());
        buffer += fmt::format("apply would send {} writes ({} with --skip-unchanged)", totals.change + totals.unchanged + totals.create + totals.no_card,
                              totals.change + totals.create + totals.no_card);
        if (totals.no_card)
            buffer += create_missing ? "" : fmt::format("; {} rows would be rejected 404 (no card): --create-missing creates them", totals.no_card);
        buffer += "; nothing was sent\n";
    }
    drain(buffer, out);
    std::fflush(out);
    return totals;
}

namespace {

// The --mock certificate file goes away with the command, whatever way it ends.
struct TempFile {
    std::optional<std::filesystem::path> path;
    ~TempFile() {
        std::error_code ignored;
        if (path) std::filesystem::remove(*path, ignored);
    }
};

}  // namespace

int run_plan_command(const PlanArgs& args) {
    const ApplyArgs& a = args.send;
    TempFile mock_cert;
    try {
        const InputFormat format = a.format.empty() ? format_from_path(a.input) : parse_format(a.format);
        ApplyOptions options = send_options(a);
        auto reader = make_row_reader(format, open_byte_source(a.input));
        for (const auto& warning : reader->warnings()) fmt::print(stderr, "cardsync: warning: {}\n", warning);
        if (a.verbose) options.log = [](std::string_view line) { fmt::print(stderr, "cardsync: {}\n", line); };
        std::unique_ptr<MockServer> mock;
        if (a.mock) {
            const auto cert = std::filesystem::temp_directory_path() / fmt::format("cardsync-mock-{}.pem", ::getpid());
            if (a.mock_options.write_cert_to.empty()) mock_cert.path = cert;
            mock = start_mock(a, options, cert.string(), true);
        }
        std::optional<FetchedSnapshot> snapshot;
        try {
            snapshot = fetch_card_snapshot(options);
        } catch (const SnapshotError& e) {
            fmt::print(stderr, "cardsync: error: {}\n", e.what());
            return exit_aborted;
        }
        if (mock) mock->stop();
        if (!a.quiet)
            fmt::print(stderr, "cardsync: snapshot: {}\n", describe(*snapshot));
        const PlanTotals totals = write_plan(*reader, snapshot->cards, a.create_missing, args.json, stdout);
        return totals.no_card == 0 && totals.invalid == 0 ? exit_ok : exit_rows_failed;
    } catch (const std::exception& e) {
        fmt::print(stderr, "cardsync: error: {}\n", e.what());
        return exit_usage;
    }
}

}  // namespace cardsync
