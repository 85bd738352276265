#include "cardsync/merge_command.hpp"

#include "cardsync/atomic_file.hpp"
#include "cardsync/cli.hpp"
#include "cardsync/line_merge.hpp"
#include "cardsync/result_record.hpp"
#include "cardsync/results_writer.hpp"
#include "cardsync/shard.hpp"
#include "cardsync/shard_manifest.hpp"
#include "cardsync/sorted_results.hpp"
#include "cardsync/summary_merge.hpp"

#include <CLI/CLI.hpp>
#include <fmt/core.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <stdexcept>

#include <sys/resource.h>
#include <unistd.h>

namespace cardsync {

CLI::App* add_merge_command(CLI::App& app, MergeArgs& args) {
    auto* cmd = app.add_subcommand(
        "merge", "Merge the results files of the shards of one input (apply --shard I/N) into one, in input line order");
    cmd->add_option("shards", args.shards,
                    "Results files of the shards (.csv, .ndjson, .jsonl), each with its .shard.json manifest beside it")
        ->required();
    cmd->add_option("-o,--out", args.out, "Merged results: NDJSON or CSV by extension; - = NDJSON on stdout")
        ->required();
    cmd->add_option("--summary-out", args.summary_out,
                    "Also merge the shards' JSON summaries (each run with --summary-json) into this file");
    cmd->add_flag("--allow-partial", args.allow_partial,
                  "Merge shards whose run stopped before the end of the input (their unread rows have no record)");
    cmd->add_option("--sort-run", args.run_records,
                    "Records held in memory for sorting, all shards together; beyond that, sorted runs are spilled to $TMPDIR")
        ->check(CLI::Range(1, 100'000'000))->capture_default_str();
    cmd->add_flag("-q,--quiet", args.quiet, "No summary on stderr");
    return cmd;
}

namespace {

ShardFile load_shard(const std::string& file) {
    const std::string manifest = shard_manifest_path(file);
    if (!std::filesystem::exists(manifest)) {
        if (!std::filesystem::exists(file)) throw std::invalid_argument("cannot find '" + file + "'");
        throw std::invalid_argument("no shard manifest beside '" + file + "' ('" + manifest +
                                    "'): `cardsync apply --shard` writes one when the run ends; a run that "
                                    "crashed writes none (finish it with --resume)");
    }
    return ShardFile{file, read_shard_manifest(manifest)};
}

// The summary of each shard, through its manifest, checked to describe that shard's run.
std::vector<ParsedSummary> load_summaries(const std::vector<ShardFile>& shards) {
    std::vector<ParsedSummary> out;
    for (const auto& s : shards) {
        const auto& m = s.manifest;
        const std::string shard = fmt::format("shard {}/{}", m.shard.index, m.shard.count);
        const std::string manifest = shard_manifest_path(s.file);
        if (m.summary_path.empty())
            throw std::invalid_argument(fmt::format(
                "{} ('{}') has no summary: its run had no --summary-json (run the shards with --summary-json FILE, "
                "or merge without --summary-out)", shard, s.file));
        const std::string path = resolve_from_manifest(m.summary_path, manifest);
        if (!std::filesystem::exists(path))
            throw std::invalid_argument(fmt::format("the summary of {} ('{}', named by '{}') is missing", shard, path,
                                                    manifest));
        auto summary = read_run_summary(path);
        const auto& r = summary.report;
        if (!r.shard || *r.shard != m.shard || !r.input.same_content(m.input) || r.input.complete != m.input.complete)
            throw std::invalid_argument(fmt::format(
                "the summary '{}' is not of {}: it describes {} of input size {} sha256 {}, its manifest '{}' {} of "
                "size {} sha256 {} (a summary left by another run?)", path, shard,
                r.shard ? fmt::format("shard {}/{}", r.shard->index, r.shard->count) : std::string("an unsharded run"),
                r.input.bytes, r.input.sha256, manifest, shard, m.input.bytes, m.input.sha256));
        out.push_back(std::move(summary));
    }
    return out;
}

// Removes the temporary output unless the merge got to the end.
struct PendingOutput {
    std::string path;
    bool keep = false;
    ~PendingOutput() {
        std::error_code ignored;
        if (!path.empty() && !keep) std::filesystem::remove(path, ignored);
    }
};

// Each spilled run is an open file until the merge ends: allow as many as the system lets us.
void raise_open_file_limit() {
    rlimit limit{};
    if (::getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < limit.rlim_max) {
        limit.rlim_cur = limit.rlim_max;
        ::setrlimit(RLIMIT_NOFILE, &limit);
    }
}

int merge(const MergeArgs& args) {
    raise_open_file_limit();
    std::vector<ShardFile> shards;
    for (const auto& file : args.shards) shards.push_back(load_shard(file));
    check_shard_set(shards, args.allow_partial);
    std::sort(shards.begin(), shards.end(),
              [](const auto& a, const auto& b) { return a.manifest.shard.index < b.manifest.shard.index; });
    // Summaries are checked before anything is written: a refused merge leaves no output.
    std::vector<ParsedSummary> summaries;
    if (!args.summary_out.empty()) summaries = load_summaries(shards);

    // Each shard sorted by line (its records come out as rows finished), checked against its manifest.
    // The memory bound is for the whole merge: each shard keeps its last sorted run in memory.
    const std::size_t per_shard = std::max<std::size_t>(1, args.run_records / shards.size());
    std::vector<std::unique_ptr<SortedResults>> sorted;
    std::vector<RecordStream*> streams;
    for (const auto& s : shards) {
        sorted.push_back(std::make_unique<SortedResults>(s.file, per_shard));
        const auto& r = *sorted.back();
        if (r.torn_tail() || r.records_in_file() != s.manifest.records)
            throw std::invalid_argument(fmt::format(
                "'{}' holds {} records{} but its manifest counts {}: the file changed after its run ended", s.file,
                r.records_in_file(), r.torn_tail() ? " and a torn one" : "", s.manifest.records));
        streams.push_back(sorted.back().get());
    }

    const bool to_stdout = args.out.empty() || args.out == "-";
    PendingOutput pending;
    if (!to_stdout) pending.path = fmt::format("{}.tmp-{}", args.out, ::getpid());
    const auto format = results_format_from_path(args.out);
    OutcomeCounts counts{};
    std::uint64_t superseded = 0;
    {
        ResultsWriter out(to_stdout ? std::string("-") : pending.path, format);
        LineMerge merge(streams);
        ResultRecord rec;
        std::size_t from = 0;
        std::uint64_t previous_line = 0;
        std::size_t previous_from = 0;
        while (merge.next(rec, from)) {
            const auto& shard = shards[from].manifest.shard;
            if (rec.line == previous_line && previous_line != 0)
                throw std::invalid_argument(fmt::format("line {} is recorded by two shards: {} and {}", rec.line,
                                                        shards[previous_from].file, shards[from].file));
            // Sent rows carry the normalised number, whose shard is known: a stray one means the
            // shards were not cut by this rule.
            if (rec.outcome != Outcome::invalid && !shard.owns(rec.phone_number))
                throw std::invalid_argument(fmt::format(
                    "'{}' (shard {}/{}) holds line {} for {}, which belongs to shard {}/{}", shards[from].file,
                    shard.index, shard.count, rec.line, rec.phone_number, shard_of(rec.phone_number, shard.count),
                    shard.count));
            previous_line = rec.line;
            previous_from = from;
            ++counts[static_cast<std::size_t>(rec.outcome)];
            out.write(rec);
        }
        out.close();
    }
    for (const auto& r : sorted) superseded += r->superseded();
    if (!to_stdout) {
        std::filesystem::rename(pending.path, args.out);
        pending.keep = true;
    }
    if (!args.summary_out.empty()) {
        const auto merged = merge_summaries(summaries);
        write_file_atomically(args.summary_out, summary_json(merged.report, merged.context));
    }

    std::uint64_t total = 0, fine = 0;
    for (std::size_t i = 0; i < counts.size(); ++i) {
        total += counts[i];
        const auto o = static_cast<Outcome>(i);
        if (o == Outcome::updated || o == Outcome::skipped || o == Outcome::planned) fine += counts[i];
    }
    if (!args.quiet) {
        const auto& m = shards.front().manifest;
        std::string line = fmt::format("cardsync: merged {} shards of '{}' ({} bytes) into {}: {} rows:",
                                       m.shard.count, m.input.name, m.input.bytes,
                                       to_stdout ? std::string("standard output") : "'" + args.out + "'", total);
        const char* sep = " ";
        for (std::size_t i = 0; i < counts.size(); ++i) {
            if (!counts[i]) continue;
            line += fmt::format("{}{} {}", sep, counts[i], to_string(static_cast<Outcome>(i)));
            sep = ", ";
        }
        if (superseded) line += fmt::format(" ({} earlier records of resumed runs replaced)", superseded);
        if (!args.summary_out.empty()) line += fmt::format("; summaries merged into '{}'", args.summary_out);
        fmt::print(stderr, "{}\n", line);
    }
    return fine == total ? exit_ok : exit_rows_failed;
}

}  // namespace

int run_merge_command(const MergeArgs& args) {
    try {
        return merge(args);
    } catch (const std::exception& e) {
        fmt::print(stderr, "cardsync: merge refused: {}\n", e.what());
        return exit_usage;
    }
}

}  // namespace cardsync
