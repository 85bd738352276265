#include "cardsync/apply_command.hpp"

#include "cardsync/api_endpoint.hpp"
#include "cardsync/atomic_file.hpp"
#include "cardsync/cli.hpp"
#include "cardsync/engine.hpp"
#include "cardsync/input_error.hpp"
#include "cardsync/input_identity.hpp"
#include "cardsync/mock_command.hpp"
#include "cardsync/number_budget.hpp"
#include "cardsync/progress.hpp"
#include "cardsync/result_record.hpp"
#include "cardsync/results_reader.hpp"
#include "cardsync/results_writer.hpp"
#include "cardsync/row_reader.hpp"
#include "cardsync/run_summary.hpp"
#include "cardsync/shard.hpp"
#include "cardsync/shard_manifest.hpp"
#include "cardsync/snapshot_fetch.hpp"
#include "cardsync/stop_signal.hpp"
#include "cardsync/validate.hpp"

#include <CLI/CLI.hpp>
#include <fmt/core.h>

#include <array>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <optional>
#include <random>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <variant>

#include <unistd.h>

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
    auto* dry_run = cmd->add_flag("--dry-run", args.dry_run,
                                  "Read and validate only: one record per row (planned or invalid); sends nothing, "
                                  "needs no key (to compare with the live cards: cardsync plan)");
    cmd->add_flag("-q,--quiet", args.quiet, "No progress and no summary on stderr");
    const std::string report = "Reporting";
    cmd->add_option("--progress-interval", args.progress_interval_s,
                    "Seconds between progress updates on stderr (default: 0.5 on a terminal, a refreshing line; "
                    "10 otherwise, a plain line for log collectors)")
        ->check(CLI::Range(0.01, 86400.0))->group(report);
    cmd->add_option("--summary-json", args.summary_json, "At the end, write the run's summary as JSON here (schema in README)")
        ->group(report);
    cmd->add_option("--metrics-file", args.metrics_file,
                    "At the end, write the run's figures in Prometheus text format here, atomically (for a "
                    "node-exporter textfile collector)")
        ->group(report);
    const std::string scale = "Sharding (one input over N workers; `cardsync merge` joins the results)";
    auto* shard = cmd->add_option("--shard", args.shard,
                                  "I/N: record only the rows of shard I (0-based) of N, by a hash of the phone "
                                  "number; writes <results>.shard.json for `cardsync merge`")
                      ->group(scale);
    cmd->add_option("--shard-count", args.shard_count,
                    "N shards, this one's index from JOB_COMPLETION_INDEX (Kubernetes Indexed Job) or "
                    "SLURM_ARRAY_TASK_ID (Slurm array)")
        ->check(CLI::Range(1u, max_shard_count))->excludes(shard)->group(scale);

    const std::string send = "Sending (the key: LINQ_API_V3_API_KEY or --api-key-file, never on the command line)";
    cmd->add_option("--base-url", args.base_url,
                    "API base URL (default: LINQ_API_V3_BASE_URL, else " + std::string(default_base_url) + ")")
        ->group(send);
    cmd->add_option("--api-key-file", args.api_key_file, "File holding the API key")->group(send);
    cmd->add_option("--connections", args.connections, "Keep-alive connections")
        ->check(CLI::Range(1, 1024))->capture_default_str()->group(send);
    cmd->add_option("--pipeline", args.pipeline, "Requests in flight per connection (HTTP/1.1 pipelining; 1 = off)")
        ->check(CLI::Range(1, 128))->capture_default_str()->group(send);
    cmd->add_option("--threads", args.threads,
                    "Sending threads, each with its own connections (an equal share of --connections) and "
                    "share of --rate; a number's rows always go to the same thread")
        ->check(CLI::Range(1, 64))->capture_default_str()->group(send);
    cmd->add_option("--rate", args.rate,
                    "Requests per second across all connections, retries included (0 = no limit); the API "
                    "publishes no account-wide limit, so the default is conservative")
        ->check(CLI::Range(0.0, 1e6))->capture_default_str()->group(send);
    cmd->add_option("--burst", args.burst, "Requests that may go at once after a pause (0 = rate/10)")
        ->check(CLI::Range(0.0, 1e6))->group(send);
    cmd->add_option("--max-attempts", args.max_attempts, "Attempts per row, the first included")
        ->check(CLI::Range(1, 100))->capture_default_str()->group(send);
    cmd->add_option("--timeout", args.timeout_s, "Seconds allowed for each attempt's answer")
        ->check(CLI::Range(0.001, 3600.0))->capture_default_str()->group(send);
    cmd->add_option("--connect-timeout", args.connect_timeout_s, "Seconds allowed to connect (and for TLS)")
        ->check(CLI::Range(0.001, 600.0))->capture_default_str()->group(send);
    cmd->add_option("--cacert", args.cacert, "PEM file of the CAs to trust instead of the system's")
        ->check(CLI::ExistingFile)->group(send);
    cmd->add_flag("--insecure", args.insecure, "Do not verify the server's TLS certificate (dangerous)")->group(send);
    cmd->add_flag("--allow-insecure-http", args.allow_insecure_http,
                  "Allow an http:// base URL to a host other than this machine (the key travels in clear)")
        ->group(send);
    cmd->add_option("--budget,--number-budget", args.budget,
                    "Per-number call budget to pace to, CALLS/WINDOW like the API's 3/10m; off to disable")
        ->capture_default_str()->group(send);
    cmd->add_flag("--resume", args.resume,
                  "Continue an earlier run: rows already recorded updated in --results are skipped; "
                  "records are appended")
        ->group(send);
    cmd->add_option("--grace", args.grace_s, "After Ctrl-C, seconds left to requests in flight (again: stop now)")
        ->check(CLI::Range(0.0, 3600.0))->capture_default_str()->group(send);
    cmd->add_flag("-v,--verbose", args.verbose, "One line per attempt, retries and connection events on stderr")
        ->group(send);
    cmd->add_flag("--skip-unchanged", args.skip_unchanged,
                  "First read the live cards (one GET); rows whose fields all equal them are recorded skipped "
                  "(unchanged) and not sent")
        ->excludes(dry_run)  // a dry run reads no cards: `cardsync plan` is the dry run of these
        ->group(send);
    cmd->add_flag("--create-missing", args.create_missing,
                  "First read the live cards (one GET); numbers without a card are created with POST (rows "
                  "need first_name); a card that appeared meanwhile (409/2014) is updated with PATCH")
        ->excludes(dry_run)
        ->group(send);

    cmd->add_flag("--mock", args.mock,
                  "Run against the built-in simulator, started here on 127.0.0.1 with a generated token: "
                  "no API key needed; the --mock-* options shape it (see `cardsync mock --help`)");
    add_mock_options(*cmd, args.mock_options, "mock-");
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

int run_dry(RowReader& reader, ResultsWriter& writer, bool quiet, OutcomeCounts& counts) {
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

std::string trim(std::string s) {
    const auto blank = [](char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; };
    while (!s.empty() && blank(s.back())) s.pop_back();
    std::size_t i = 0;
    while (i < s.size() && blank(s[i])) ++i;
    return s.substr(i);
}

std::string env(const char* name) {
    const char* v = std::getenv(name);
    return v ? std::string(v) : std::string();
}

}  // namespace

// The options for a real run; throws std::invalid_argument (exit 2) for anything unusable.
// Messages never include the key itself.
ApplyOptions send_options(const ApplyArgs& args) {
    ApplyOptions o;
    if (args.mock) {
        // The simulator supplies the URL and the token; a key or URL given too is a mistake to point out.
        if (!args.base_url.empty() || !args.api_key_file.empty())
            throw std::invalid_argument("--mock runs against the built-in simulator: drop --base-url and --api-key-file");
        // base_url and api_key are filled in by start_mock once the simulator listens.
    } else {
        o.base_url = !args.base_url.empty() ? args.base_url : env("LINQ_API_V3_BASE_URL");
        if (o.base_url.empty()) o.base_url = std::string(default_base_url);
        parse_api_endpoint(o.base_url, args.allow_insecure_http);  // fail before reading anything
        if (!args.api_key_file.empty()) {
            std::ifstream in(args.api_key_file, std::ios::binary);
            if (!in) throw std::invalid_argument("cannot read --api-key-file '" + args.api_key_file + "'");
            std::ostringstream key;
            key << in.rdbuf();
            o.api_key = trim(key.str());
            if (o.api_key.empty()) throw std::invalid_argument("--api-key-file '" + args.api_key_file + "' is empty");
        } else {
            o.api_key = trim(env("LINQ_API_V3_API_KEY"));
            if (o.api_key.empty())
                throw std::invalid_argument("no API key: set LINQ_API_V3_API_KEY or pass --api-key-file FILE "
                                            "(or use --dry-run to check the input without sending)");
        }
        for (char c : o.api_key)
            if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7F)
                throw std::invalid_argument("the API key holds a blank or control character; check how it was stored");
    }
    const auto budget = parse_budget(args.budget);
    if (!budget) throw std::invalid_argument("--budget '" + args.budget + "': expected CALLS/WINDOW like 3/10m, or off");
    o.budget = *budget;
    o.connections = args.connections;
    o.pipeline = args.pipeline;
    o.threads = args.threads;
    o.rate = args.rate;
    o.burst = args.burst;
    o.max_attempts = args.max_attempts;
    o.attempt_timeout = seconds_to_duration(args.timeout_s);
    o.connect_timeout = seconds_to_duration(args.connect_timeout_s);
    o.cacert = args.cacert;
    o.insecure = args.insecure;
    o.allow_insecure_http = args.allow_insecure_http;
    o.grace = seconds_to_duration(args.grace_s);
    if (args.resume && (args.results.empty() || args.results == "-"))
        throw std::invalid_argument("--resume needs --results FILE: the file of the run to continue");
    return o;
}

namespace {

// Reads an earlier run's records for --resume: the rows recorded updated, by line. A record cut
// short by a crash is dropped from the file, so appended records start on a line of their own.
// Returns the records the file keeps.
std::uint64_t load_resume(const std::string& path, ApplyOptions& o, bool quiet) {
    if (!std::filesystem::exists(path)) return 0;
    std::uint64_t complete = 0, records = 0;
    bool torn = false;
    {
        ResultsReader in(path);
        ResultRecord rec;
        while (in.next(rec)) {
            ++records;
            if (rec.outcome == Outcome::updated || rec.outcome == Outcome::skipped)
                o.already_updated[rec.line] = rec.phone_number;
        }
        torn = in.torn_tail();
        complete = in.complete_bytes();
    }
    if (torn) {
        std::filesystem::resize_file(path, complete);
        if (!quiet) fmt::print(stderr, "cardsync: note: dropped a record cut short at the end of '{}'\n", path);
    }
    return records;
}

// A token nobody could guess, so even the in-process simulator is never open to other local users.
std::string generated_token() {
    std::random_device entropy;
    return fmt::format("mock-{:08x}{:08x}{:08x}{:08x}", entropy(), entropy(), entropy(), entropy());
}

}  // namespace

std::unique_ptr<MockServer> start_mock(const ApplyArgs& args, ApplyOptions& o, const std::string& cert_path,
                                       bool snapshot) {
    MockOptions m = args.mock_options;
    m.api_key = generated_token();
    if (m.seed_cards_csv.empty()) m.every_number_has_card = !snapshot;
    if (m.tls && m.write_cert_to.empty()) m.write_cert_to = cert_path;
    auto server = std::make_unique<MockServer>(m);
    o.base_url = server->api_url();
    o.api_key = m.api_key;
    if (m.tls) o.cacert = m.write_cert_to;
    return server;
}

namespace {

void print_mock_report(const MockServer& server) {
    fmt::print(stderr, "cardsync: simulator: {}\n", mock_summary(server));
}

// stderr shared by the progress line and other lines: on a terminal the refreshing line is erased
// before any other line is printed, so the two never mix.
class StderrReport {
public:
    StderrReport() : terminal_(::isatty(2) == 1), colour_(colour_allowed(terminal_, std::getenv("NO_COLOR"))) {}
    bool terminal() const noexcept { return terminal_; }
    void progress(const ProgressSnapshot& s) {
        if (terminal_) {
            std::fputs(terminal_line(s, colour_).c_str(), stderr);
            shown_ = true;
        } else {
            std::fputs(log_line(s).c_str(), stderr);
        }
        std::fflush(stderr);
    }
    void line(std::string_view text) {
        clear();
        fmt::print(stderr, "cardsync: {}\n", text);
    }
    void clear() {
        if (!shown_) return;
        std::fputs("\r\x1b[K", stderr);
        shown_ = false;
    }

private:
    bool terminal_;
    bool colour_;
    bool shown_ = false;
};

// The summary files are asked for before the run: a directory that does not exist should not cost a run.
void check_writable_dir(const std::string& path, const char* option) {
    if (path.empty()) return;
    const std::filesystem::path p(path);
    const auto dir = p.has_parent_path() ? p.parent_path() : std::filesystem::path(".");
    std::error_code ec;
    if (!std::filesystem::is_directory(dir, ec))
        throw std::invalid_argument(fmt::format("{} '{}': the directory '{}' does not exist", option, path, dir.string()));
}

// What the run read, and its shard: filled into the report and the shard manifest at the end.
struct InputTrace {
    const IdentifiedSource* source = nullptr;
    const ShardedReader* sharded = nullptr;
    std::optional<ShardSpec> shard;
};

// Writes <results>.shard.json for a sharded run, and says on stderr what the shard left to others.
void finish_shard(const ApplyArgs& args, const InputTrace& trace, const InputIdentity& input,
                  const OutcomeCounts& outcomes, std::uint64_t records, const std::string& summary = {}) {
    if (!trace.shard) return;
    ShardManifest m;
    m.input = input;
    m.shard = *trace.shard;
    m.results_path = args.results;
    m.results_format = results_format_from_path(args.results);
    m.records = records;
    m.rows_other_shards = trace.sharded->rows_other_shards();
    m.outcomes = outcomes;
    m.summary_path = path_from_manifest_dir(summary, args.results);  // for `cardsync merge --summary-out`
    write_shard_manifest(shard_manifest_path(args.results), m);
    if (!args.quiet)
        fmt::print(stderr, "cardsync: shard {}/{}: {} rows left to other shards; manifest '{}'\n", m.shard.index,
                   m.shard.count, m.rows_other_shards, shard_manifest_path(args.results));
}

int run_send(const ApplyArgs& args, ApplyOptions options, RowReader& reader, const InputTrace& trace,
             std::uint64_t input_size) {
    check_writable_dir(args.summary_json, "--summary-json");
    check_writable_dir(args.metrics_file, "--metrics-file");
    const std::uint64_t kept = args.resume ? load_resume(args.results, options, args.quiet) : 0;
    const bool resumed = !options.already_updated.empty();
    StderrReport out;
    if (args.verbose) {
        options.log = [&out](std::string_view line) { out.line(line); };
        options.attempt = [&out](const AttemptEvent& e) { out.line(attempt_line(e)); };
    }
    if (!args.quiet) {
        options.progress = [&out, input_size](const ProgressSnapshot& s) {
            ProgressSnapshot shown = s;
            shown.bytes_total = input_size;
            out.progress(shown);
        };
        const double interval = args.progress_interval_s > 0 ? args.progress_interval_s : out.terminal() ? 0.5 : 10;
        options.progress_interval = seconds_to_duration(interval);
    }
    options.warn = [&out](std::string_view line) { out.line(line); };
    std::unique_ptr<MockServer> mock;
    std::optional<std::filesystem::path> mock_cert;
    if (args.mock) {
        mock_cert = std::filesystem::temp_directory_path() / fmt::format("cardsync-mock-{}.pem", ::getpid());
        mock = start_mock(args, options, mock_cert->string(), args.skip_unchanged || args.create_missing);
        if (!args.quiet) fmt::print(stderr, "cardsync: --mock: simulator serving at {}\n", options.base_url);
    }
    // The snapshot comes before the results file is opened: a run that cannot read the live
    // cards leaves an earlier results file as it was.
    std::optional<FetchedSnapshot> snapshot;
    if (args.skip_unchanged || args.create_missing) {
        try {
            snapshot = fetch_card_snapshot(options);
        } catch (...) {
            std::error_code ignored;
            if (mock_cert && args.mock_options.write_cert_to.empty()) std::filesystem::remove(*mock_cert, ignored);
            throw;
        }
        options.snapshot = &snapshot->cards;
        options.skip_unchanged = args.skip_unchanged;
        options.create_missing = args.create_missing;
        if (!args.quiet)
            fmt::print(stderr, "cardsync: snapshot: {}\n", describe(*snapshot));
    }
    ResultsWriter writer(args.results, results_format_from_path(args.results), args.resume);
    StopSignal stop;
    ApplyReport report = run_apply(options, reader, writer, stop);
    out.clear();
    report.input = trace.source->identity();
    // Rows are read ahead of the engine: the input may be read to its end while the run stopped
    // before taking every row. Complete means the run reached the end.
    report.input.complete = report.input.complete && report.input_exhausted;
    report.shard = trace.shard;
    if (trace.sharded) report.rows_other_shards = trace.sharded->rows_other_shards();
    writer.close();
    if (mock) {
        mock->stop();
        if (!args.quiet) print_mock_report(*mock);
        std::error_code ignored;
        if (args.mock_options.write_cert_to.empty()) std::filesystem::remove(*mock_cert, ignored);
    }
    RunContext ctx;
    if (!args.results.empty() && args.results != "-") ctx.resume_command = resume_command(args.command_line);
    ctx.input_from_stdin = args.input == "-";
    ctx.finished_unix_s = std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
    if (!args.quiet) {
        if (resumed) fmt::print(stderr, "cardsync: resumed: {} rows were already updated\n", options.already_updated.size());
        std::fputs(summary_text(report, ctx).c_str(), stderr);
    }
    finish_shard(args, trace, report.input, report.outcomes, kept + writer.records_written(), args.summary_json);
    int status = report.exit_status();
    // The run is over and its records are safe: a summary that cannot be written is reported, and
    // turns a clean exit into a usage error so that a pipeline notices.
    const auto save = [&](const std::string& path, const std::string& text) {
        if (path.empty()) return;
        try {
            write_file_atomically(path, text);
        } catch (const std::exception& e) {
            fmt::print(stderr, "cardsync: error: {}\n", e.what());
            if (status == exit_ok) status = exit_usage;
        }
    };
    if (!args.summary_json.empty()) save(args.summary_json, summary_json(report, ctx));
    if (!args.metrics_file.empty()) save(args.metrics_file, metrics_text(report, ctx));
    return status;
}

}  // namespace

int run_apply_command(const ApplyArgs& args) {
    try {
        const InputFormat format = args.format.empty() ? format_from_path(args.input) : parse_format(args.format);
        ApplyOptions options;
        if (!args.dry_run) options = send_options(args);  // usage problems before the input is opened
        InputTrace trace;
        trace.shard = resolve_shard(args.shard, args.shard_count, [](const char* name) { return std::getenv(name); });
        const bool results_file = !args.results.empty() && args.results != "-";
        if (trace.shard && !results_file)
            throw std::invalid_argument("--shard needs --results FILE: `cardsync merge` reads the shard's results "
                                        "and the manifest written beside them");
        // A manifest left by an earlier run would describe records this run replaces.
        if (results_file) std::filesystem::remove(shard_manifest_path(args.results));
        auto source = identify_input(open_byte_source(args.input), args.input);
        const std::uint64_t input_size = source->size_hint();
        trace.source = source.get();
        std::unique_ptr<RowReader> reader = make_row_reader(format, std::move(source));
        if (trace.shard) {
            auto sharded = std::make_unique<ShardedReader>(std::move(reader), *trace.shard);
            trace.sharded = sharded.get();
            reader = std::move(sharded);
        }
        for (const auto& warning : reader->warnings()) fmt::print(stderr, "cardsync: warning: {}\n", warning);
        if (args.dry_run) {
            ResultsWriter writer(args.results, results_format_from_path(args.results));
            OutcomeCounts counts{};
            const int status = run_dry(*reader, writer, args.quiet, counts);
            writer.close();
            std::uint64_t records = 0;
            for (auto n : counts) records += n;
            finish_shard(args, trace, trace.source->identity(), counts, records);
            return status;
        }
        return run_send(args, std::move(options), *reader, trace, input_size);
    } catch (const InputError& e) {
        fmt::print(stderr, "cardsync: error: {}\n", e.what());
        return exit_usage;
    } catch (const SnapshotError& e) {  // the live cards could not be read: nothing was sent
        fmt::print(stderr, "cardsync: error: {}\n", e.what());
        return exit_aborted;
    } catch (const std::exception& e) {
        fmt::print(stderr, "cardsync: error: {}\n", e.what());
        return exit_usage;
    }
}

}  // namespace cardsync
