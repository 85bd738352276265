// Sharding end to end, as a job engine runs it: the built binary run as N shards of one input
// (`apply --mock --shard I/N`, `apply --dry-run --shard I/N`), then `cardsync merge`.
#include "cardsync/merge_command.hpp"

#include "cardsync/cli.hpp"
#include "cardsync/result_record.hpp"
#include "cardsync/results_reader.hpp"
#include "cardsync/shard_manifest.hpp"
#include "support/subprocess.hpp"
#include "support/temp_dir.hpp"

#include <gtest/gtest.h>
#include <simdjson.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

namespace {

using namespace cardsync;
using test::run_process;
using test::TempDir;

const std::string bin = CARDSYNC_BINARY;
const std::string samples = CARDSYNC_SAMPLES;

// Rows that exercise the sharding rule: one number written several ways, repeats, invalid rows.
std::string generated_csv() {
    std::string csv = "phone_number,first_name,last_name\n";
    for (int i = 0; i < 240; ++i) {
        const std::string digits = std::to_string(5550100 + i % 90);
        const std::string number = i % 3 == 0 ? "+1 (212) " + digits.substr(0, 3) + "-" + digits.substr(3)
                                              : "+1212" + digits;
        csv += number + ",Name" + std::to_string(i) + ",\n";
        if (i % 13 == 0) csv += "212" + digits + ",NoPlus,\n";
        if (i % 19 == 0) csv += ",,\n";  // no number, nothing to update
        if (i % 23 == 0) csv += "+1212" + digits + ",,\n";  // nothing to update
    }
    return csv;
}

struct Sharded {
    std::vector<std::string> results;  // shard i's results file
};

// The samples against the simulator as the README runs them (some numbers without a card, some
// outside the account); any other input with a card for every number.
std::vector<std::string> send_args(const std::string& input) {
    if (input.rfind(samples, 0) == 0)
        return {bin, "apply", "--mock", "--mock-seed-cards", samples + "/mock-cards.csv", "--mock-outside-prefix",
                "+1800", "--rate", "0", "-q", input};
    return {bin, "apply", "--mock", "--rate", "0", "-q", input};
}

std::vector<std::string> with(std::vector<std::string> args, const std::vector<std::string>& more) {
    args.insert(args.end(), more.begin(), more.end());
    return args;
}

// Runs every shard of `input`; results named <stem>-<i>.<ext> in `dir`.
Sharded run_shards(const std::vector<std::string>& base, unsigned n, const TempDir& dir, const std::string& stem,
                   const std::string& ext = "ndjson") {
    Sharded s;
    for (unsigned i = 0; i < n; ++i) {
        // Mixed formats: every other shard writes CSV, which merge must read as well.
        const std::string e = ext.empty() ? (i % 2 ? "csv" : "ndjson") : ext;
        s.results.push_back(dir.file(stem + "-" + std::to_string(i) + "." + e));
        const auto r = run_process(
            with(base, {"--shard", std::to_string(i) + "/" + std::to_string(n), "--results", s.results.back()}));
        EXPECT_TRUE(r.exit_code == exit_ok || r.exit_code == exit_rows_failed) << r.err;
        EXPECT_TRUE(std::filesystem::exists(shard_manifest_path(s.results.back()))) << r.err;
    }
    return s;
}

std::vector<ResultRecord> read_records(const std::string& path) {
    ResultsReader in(path);
    std::vector<ResultRecord> out;
    ResultRecord r;
    while (in.next(r)) out.push_back(r);
    EXPECT_FALSE(in.torn_tail()) << path;
    return out;
}

std::map<std::uint64_t, ResultRecord> by_line(const std::vector<ResultRecord>& records) {
    std::map<std::uint64_t, ResultRecord> m;
    for (const auto& r : records) EXPECT_TRUE(m.emplace(r.line, r).second) << "line " << r.line << " twice";
    return m;
}

// The message without the note on coalescing: whether a row is merged into the request of an
// earlier row for its number depends on timing (was that request still pending?), not on sharding.
std::string without_coalescing(std::string message) {
    const auto at = message.find("sent as one request with line");
    if (at == std::string::npos) return message;
    message.erase(at);
    if (message.size() >= 2 && message.compare(message.size() - 2, 2, "; ") == 0) message.resize(message.size() - 2);
    return message;
}

// What happened to the row: everything but the timing.
void expect_same_outcome(const ResultRecord& a, const ResultRecord& b) {
    EXPECT_EQ(a.line, b.line);
    EXPECT_EQ(a.phone_number, b.phone_number) << "line " << a.line;
    EXPECT_EQ(to_string(a.outcome), to_string(b.outcome)) << "line " << a.line;
    EXPECT_EQ(a.http_status, b.http_status) << "line " << a.line;
    EXPECT_EQ(a.error_code, b.error_code) << "line " << a.line;
    EXPECT_EQ(without_coalescing(a.message), without_coalescing(b.message)) << "line " << a.line;
    EXPECT_EQ(a.attempts, b.attempts) << "line " << a.line;
    EXPECT_EQ(a.is_active, b.is_active) << "line " << a.line;
}

test::ProcessResult merge(const std::vector<std::string>& files, const std::string& out,
                          const std::vector<std::string>& more = {}) {
    std::vector<std::string> args{bin, "merge", "--out", out};
    args.insert(args.end(), more.begin(), more.end());
    args.insert(args.end(), files.begin(), files.end());
    return run_process(args);
}

void check_shards_and_merge(const std::string& input, const std::string& ext) {
    TempDir dir;
    const auto single_path = dir.file("single.ndjson");
    const auto single_run = run_process(with(send_args(input), {"--results", single_path}));
    ASSERT_TRUE(single_run.exit_code == exit_ok || single_run.exit_code == exit_rows_failed) << single_run.err;
    const auto single = by_line(read_records(single_path));
    ASSERT_GT(single.size(), 30u);
    std::uint64_t invalid = 0;
    for (const auto& [line, r] : single) invalid += r.outcome == Outcome::invalid;
    ASSERT_GT(invalid, 0u);

    for (unsigned n : {1u, 2u, 3u, 5u}) {
        SCOPED_TRACE(input + " over " + std::to_string(n) + " shards");
        const auto shards = run_shards(send_args(input), n, dir, "n" + std::to_string(n), ext);
        // Every row, valid or not, recorded by exactly one shard, as the single run recorded it.
        std::map<std::uint64_t, int> seen;
        std::uint64_t left_to_others = 0;
        for (unsigned i = 0; i < n; ++i) {
            const auto records = read_records(shards.results[i]);
            const auto m = read_shard_manifest(shard_manifest_path(shards.results[i]));
            EXPECT_EQ(m.shard, (ShardSpec{i, n}));
            EXPECT_EQ(m.records, records.size());
            EXPECT_TRUE(m.input.complete);
            EXPECT_EQ(m.input.bytes, std::filesystem::file_size(input));
            EXPECT_EQ(m.rows_other_shards + records.size(), single.size());
            left_to_others += m.rows_other_shards;
            for (const auto& r : records) {
                ++seen[r.line];
                ASSERT_TRUE(single.count(r.line)) << r.line;
                expect_same_outcome(r, single.at(r.line));
            }
        }
        EXPECT_EQ(left_to_others, single.size() * (n - 1));
        EXPECT_EQ(seen.size(), single.size());
        for (const auto& [line, times] : seen) EXPECT_EQ(times, 1) << "line " << line;

        for (const std::string out_ext : {"ndjson", "csv"}) {
            const auto out = dir.file("merged-" + std::to_string(n) + "." + out_ext);
            const auto r = merge(shards.results, out);
            EXPECT_EQ(r.exit_code, invalid ? exit_rows_failed : exit_ok) << r.err;
            EXPECT_NE(r.err.find("merged " + std::to_string(n) + " shards"), std::string::npos) << r.err;
            const auto merged = read_records(out);
            ASSERT_EQ(merged.size(), single.size());
            std::size_t i = 0;
            for (const auto& [line, want] : single) expect_same_outcome(merged[i++], want);  // in line order
        }
    }
}

TEST(MergeCommand, ShardsCoverEveryRowOnceAndMergeEqualsOneProcess) {
    check_shards_and_merge(samples + "/contacts.csv", "ndjson");
    check_shards_and_merge(samples + "/contacts.ndjson", "");
}

TEST(MergeCommand, NumbersWrittenSeveralWaysStayInOneShard) {
    TempDir dir;
    test::write_file(dir.file("in.csv"), generated_csv());
    check_shards_and_merge(dir.file("in.csv"), "");
    // The coalescing the single run did (rows of one number merged) needs every row of the number in one shard.
    const auto shards = run_shards(send_args(dir.file("in.csv")), 3, dir, "again");
    std::map<std::string, std::set<std::size_t>> shards_of;
    for (std::size_t i = 0; i < shards.results.size(); ++i)
        for (const auto& r : read_records(shards.results[i]))
            if (r.outcome != Outcome::invalid) shards_of[r.phone_number].insert(i);
    EXPECT_GE(shards_of.size(), 80u);
    for (const auto& [number, where] : shards_of) EXPECT_EQ(where.size(), 1u) << number;
}

TEST(MergeCommand, DryRunShardsTheSameWayAndMergesToTheSingleDryRun) {
    TempDir dir;
    const std::string input = samples + "/contacts.csv";
    const auto single = run_process({bin, "apply", "--dry-run", "-q", "--results", dir.file("single.ndjson"), input});
    ASSERT_EQ(single.exit_code, exit_rows_failed) << single.err;
    const std::vector<std::string> dry{bin, "apply", "--dry-run", "-q", input};
    const auto planned = run_shards(dry, 3, dir, "dry");
    const auto sent = run_shards(send_args(input), 3, dir, "sent");
    for (std::size_t i = 0; i < 3; ++i) {
        std::set<std::uint64_t> a, b;
        for (const auto& r : read_records(planned.results[i])) a.insert(r.line);
        for (const auto& r : read_records(sent.results[i])) b.insert(r.line);
        EXPECT_EQ(a, b) << "shard " << i;
        EXPECT_FALSE(a.empty());
    }
    const auto r = merge(planned.results, dir.file("merged.ndjson"));
    EXPECT_EQ(r.exit_code, exit_rows_failed) << r.err;
    // A dry run writes in line order, so the merge is byte for byte the single run's file.
    EXPECT_EQ(test::read_file(dir.file("merged.ndjson")), test::read_file(dir.file("single.ndjson")));
}

TEST(MergeCommand, RefusesMissingDoubledAndForeignShards) {
    TempDir dir;
    test::write_file(dir.file("other.csv"), generated_csv());
    const auto a = run_shards(send_args(samples + "/contacts.csv"), 3, dir, "a");
    const auto b = run_shards(send_args(dir.file("other.csv")), 3, dir, "b");
    const auto out = dir.file("merged.ndjson");
    const auto refused = [&](const std::vector<std::string>& files, const std::string& why,
                             const std::vector<std::string>& more = {}) {
        const auto r = merge(files, out, more);
        EXPECT_EQ(r.exit_code, exit_usage) << r.err;
        EXPECT_NE(r.err.find("merge refused: " + why), std::string::npos) << r.err;
        EXPECT_FALSE(std::filesystem::exists(out)) << "a refused merge leaves no output";
        for (const auto& e : std::filesystem::directory_iterator(dir.path()))
            EXPECT_EQ(e.path().filename().string().find("merged.ndjson.tmp"), std::string::npos);
    };
    refused({a.results[0], a.results[2]}, "shard 1/3 is missing");
    refused({a.results[1]}, "shards 0/3, 2/3 are missing");
    std::filesystem::copy_file(a.results[1], dir.file("copy.ndjson"));
    std::filesystem::copy_file(shard_manifest_path(a.results[1]), shard_manifest_path(dir.file("copy.ndjson")));
    refused({a.results[0], a.results[1], a.results[2], dir.file("copy.ndjson")},
            "shard 1/3 given twice (" + a.results[1] + ", " + dir.file("copy.ndjson") + ")");
    refused({a.results[0], a.results[1], b.results[2]}, b.results[2] + " is from another input (size " +
                                                            std::to_string(std::filesystem::file_size(dir.file("other.csv"))));
    const auto c = run_shards(send_args(samples + "/contacts.csv"), 2, dir, "c");
    refused({a.results[0], a.results[1], a.results[2], c.results[1]}, c.results[1] + " is shard 1/2 but");

    // A results file without its manifest, or changed after its run.
    std::filesystem::copy_file(a.results[2], dir.file("bare.ndjson"));
    refused({a.results[0], a.results[1], dir.file("bare.ndjson")}, "no shard manifest beside '" + dir.file("bare.ndjson"));
    test::write_file(dir.file("bare.ndjson.shard.json"), test::read_file(shard_manifest_path(a.results[2])));
    test::write_file(dir.file("bare.ndjson"), test::read_file(a.results[2]) + test::read_file(a.results[2]));
    refused({a.results[0], a.results[1], dir.file("bare.ndjson")}, "'" + dir.file("bare.ndjson") + "' holds 22 records");

    // The good set merges.
    const auto ok = merge(a.results, out);
    EXPECT_EQ(ok.exit_code, exit_rows_failed) << ok.err;
    EXPECT_TRUE(std::filesystem::exists(out));
}

TEST(MergeCommand, RefusesAShardThatStoppedEarlyUnlessPartialIsAllowed) {
    TempDir dir;
    const auto a = run_shards(send_args(samples + "/contacts.csv"), 2, dir, "a");
    // As an interrupted run writes it: the input not read to the end.
    auto text = test::read_file(shard_manifest_path(a.results[1]));
    const std::string complete = "\"complete\":true";
    text.replace(text.find(complete), complete.size(), "\"complete\":false");
    test::write_file(shard_manifest_path(a.results[1]), text);
    const auto out = dir.file("merged.csv");
    const auto refused = merge(a.results, out);
    EXPECT_EQ(refused.exit_code, exit_usage);
    EXPECT_NE(refused.err.find("shard 1/2 stopped before the end of its input"), std::string::npos) << refused.err;
    EXPECT_FALSE(std::filesystem::exists(out));
    const auto allowed = merge(a.results, out, {"--allow-partial"});
    EXPECT_EQ(allowed.exit_code, exit_rows_failed) << allowed.err;
    EXPECT_EQ(read_records(out).size(), 34u);
}

TEST(MergeCommand, ASmallSortRunSpillsAndGivesTheSameOutput) {
    TempDir dir;
    test::write_file(dir.file("in.csv"), generated_csv());
    const auto a = run_shards(send_args(dir.file("in.csv")), 2, dir, "a");
    ASSERT_EQ(merge(a.results, dir.file("big.ndjson")).exit_code, exit_rows_failed);
    const auto r = run_process({bin, "merge", "--sort-run", "7", "--out", dir.file("small.ndjson"), a.results[0],
                                a.results[1]},
                               {}, {"TMPDIR=" + dir.path().string()});
    ASSERT_EQ(r.exit_code, exit_rows_failed) << r.err;
    EXPECT_EQ(test::read_file(dir.file("small.ndjson")), test::read_file(dir.file("big.ndjson")));
    for (const auto& e : std::filesystem::directory_iterator(dir.path()))
        EXPECT_EQ(e.path().filename().string().find("cardsync-merge-"), std::string::npos) << "spill left behind";
}

TEST(MergeCommand, ShardIndexFromKubernetesOrSlurm) {
    ::unsetenv("JOB_COMPLETION_INDEX");  // the child inherits the rest of this environment
    ::unsetenv("SLURM_ARRAY_TASK_ID");
    ::unsetenv("SLURM_ARRAY_TASK_MIN");
    TempDir dir;
    const std::string input = samples + "/contacts.csv";
    const std::vector<std::string> dry{bin, "apply", "--dry-run", "-q", "--shard-count", "3", input};
    const auto k8s = run_process(with(dry, {"--results", dir.file("k.ndjson")}), {}, {"JOB_COMPLETION_INDEX=1"});
    ASSERT_TRUE(k8s.exit_code == exit_ok || k8s.exit_code == exit_rows_failed) << k8s.err;
    EXPECT_EQ(read_shard_manifest(shard_manifest_path(dir.file("k.ndjson"))).shard, (ShardSpec{1, 3}));
    const auto slurm = run_process(with(dry, {"--results", dir.file("s.ndjson")}), {},
                                   {"SLURM_ARRAY_TASK_ID=2", "SLURM_ARRAY_TASK_MIN=1"});
    EXPECT_EQ(read_shard_manifest(shard_manifest_path(dir.file("s.ndjson"))).shard, (ShardSpec{1, 3})) << slurm.err;
    EXPECT_EQ(test::read_file(dir.file("k.ndjson")), test::read_file(dir.file("s.ndjson")));
    const auto explicit_shard =
        run_process({bin, "apply", "--dry-run", "-q", "--shard", "1/3", "--results", dir.file("e.ndjson"), input});
    EXPECT_EQ(test::read_file(dir.file("k.ndjson")), test::read_file(dir.file("e.ndjson")));

    const auto usage = [&](const std::vector<std::string>& args, const std::string& why,
                           const std::vector<std::string>& env = {}) {
        const auto r = run_process(with({bin, "apply", "--dry-run", "-q", input}, args), {}, env);
        EXPECT_EQ(r.exit_code, exit_usage) << r.err;
        EXPECT_NE(r.err.find(why), std::string::npos) << r.err;
    };
    usage({"--shard-count", "3", "--results", dir.file("x.ndjson")}, "neither is set");
    usage({"--shard-count", "3", "--results", dir.file("x.ndjson")}, "JOB_COMPLETION_INDEX gives shard index 3",
          {"JOB_COMPLETION_INDEX=3"});
    usage({"--shard", "3/3", "--results", dir.file("x.ndjson")}, "--shard '3/3'");
    usage({"--shard", "0/3"}, "--shard needs --results FILE");
    usage({"--shard", "0/3", "--shard-count", "3", "--results", dir.file("x.ndjson")}, "excludes");
}

}  // namespace

namespace {

// samples/slurm-array.sh as each array task and the merge job run it, without Slurm.
TEST(MergeCommand, TheSlurmSampleRunsShardsAndMerges) {
    ::unsetenv("JOB_COMPLETION_INDEX");
    ::unsetenv("SLURM_ARRAY_TASK_MIN");
    TempDir dir;
    const std::string script = samples + "/slurm-array.sh";
    const std::string input = samples + "/contacts.csv";
    const std::string out = dir.file("out");
    const std::vector<std::string> env{"CARDSYNC=" + bin, "ACCOUNT_RATE=0", "CARDSYNC_APPLY_ARGS=--mock -q"};
    for (int i = 0; i < 3; ++i) {
        auto task_env = env;
        task_env.push_back("SLURM_ARRAY_TASK_ID=" + std::to_string(i));
        const auto r = run_process({"/bin/bash", script, "shard", input, out, "3"}, {}, task_env);
        EXPECT_EQ(r.exit_code, 0) << r.err;  // exit 1 (invalid rows in the samples) is a finished shard
        EXPECT_EQ(read_shard_manifest(shard_manifest_path(out + "/shard-" + std::to_string(i) + ".ndjson")).shard,
                  (ShardSpec{static_cast<std::uint32_t>(i), 3}));
    }
    const auto merged = run_process({"/bin/bash", script, "merge", input, out, "3"}, {}, env);
    EXPECT_EQ(merged.exit_code, 0) << merged.err;
    const auto records = read_records(out + "/merged.ndjson");
    ASSERT_EQ(records.size(), 34u);
    EXPECT_TRUE(std::is_sorted(records.begin(), records.end(),
                               [](const auto& a, const auto& b) { return a.line < b.line; }));
    const std::string summary = test::read_file(out + "/summary.json");  // the shards' summaries, merged
    EXPECT_NE(summary.find("\"recorded\":34"), std::string::npos) << summary;
    // A shard missing: the merge job fails with the reason.
    std::filesystem::remove(out + "/shard-1.ndjson");
    const auto refused = run_process({"/bin/bash", script, "merge", input, out, "3"}, {}, env);
    EXPECT_EQ(refused.exit_code, exit_usage);
    EXPECT_NE(refused.err.find("shard-1.ndjson"), std::string::npos) << refused.err;
}

}  // namespace

namespace {

std::vector<std::string> split_lines(const std::string& text) {
    std::vector<std::string> out;
    std::size_t start = 0;
    for (std::size_t nl; (nl = text.find('\n', start)) != std::string::npos; start = nl + 1)
        out.push_back(text.substr(start, nl - start + 1));
    return out;
}

void set_records(const std::string& results, std::size_t records) {
    auto m = read_shard_manifest(shard_manifest_path(results));
    m.records = records;
    write_shard_manifest(shard_manifest_path(results), m);
}

// Shards whose manifests agree but whose records do not: a row recorded twice, or by the wrong shard.
TEST(MergeCommand, RefusesALineInTwoShardsOrInTheWrongOne) {
    TempDir dir;
    const auto a = run_shards(send_args(samples + "/contacts.csv"), 2, dir, "a");
    const auto zero = split_lines(test::read_file(a.results[0]));
    const auto one = split_lines(test::read_file(a.results[1]));
    const auto pick = [&](bool invalid) {
        for (const auto& l : zero)
            if ((l.find("\"outcome\":\"invalid\"") != std::string::npos) == invalid) return l;
        return std::string();
    };
    const std::string invalid_row = pick(true), sent_row = pick(false);
    ASSERT_FALSE(invalid_row.empty());
    ASSERT_FALSE(sent_row.empty());
    const auto line_of = [](const std::string& record) {
        return record.substr(8, record.find(',') - 8);  // {"line":N,
    };

    // Shard 1 also records an (invalid) row of shard 0.
    test::write_file(a.results[1], test::read_file(a.results[1]) + invalid_row);
    set_records(a.results[1], one.size() + 1);
    auto r = merge(a.results, dir.file("m.ndjson"));
    EXPECT_EQ(r.exit_code, exit_usage);
    EXPECT_NE(r.err.find("line " + line_of(invalid_row) + " is recorded by two shards: " + a.results[0] + " and " +
                         a.results[1]),
              std::string::npos)
        << r.err;

    // A sent row moved from shard 0 into shard 1.
    std::string rest;
    for (const auto& l : zero)
        if (l != sent_row) rest += l;
    test::write_file(a.results[0], rest);
    set_records(a.results[0], zero.size() - 1);
    std::string moved;
    for (const auto& l : one) moved += l;
    test::write_file(a.results[1], moved + sent_row);
    set_records(a.results[1], one.size() + 1);
    r = merge(a.results, dir.file("m.ndjson"));
    EXPECT_EQ(r.exit_code, exit_usage);
    EXPECT_NE(r.err.find("(shard 1/2) holds line " + line_of(sent_row) + " for +"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("which belongs to shard 0/2"), std::string::npos) << r.err;
    EXPECT_FALSE(std::filesystem::exists(dir.file("m.ndjson")));
}

}  // namespace

namespace {

// A shard interrupted mid-run (as a node drain's SIGTERM does) leaves a manifest saying its input was
// not read to the end; merge refuses it; the shard resumed finishes, and the merge then has every row once.
TEST(MergeCommand, AnInterruptedShardIsRefusedUntilResumed) {
    TempDir dir;
    std::string csv = "phone_number,first_name\n";
    for (int i = 0; i < 3000; ++i) csv += "+1555" + std::to_string(3000000 + i) + ",Ann\n";
    test::write_file(dir.file("in.csv"), csv);
    const auto s0 = dir.file("s0.ndjson"), s1 = dir.file("s1.ndjson");
    const std::vector<std::string> base{bin, "apply", "--mock", "-q", "--budget", "off", dir.file("in.csv")};
    ASSERT_EQ(run_process(with(base, {"--rate", "0", "--shard", "1/2", "--results", s1})).exit_code, exit_ok);

    const auto args = with(base, {"--rate", "300", "--shard", "0/2", "--results", s0});
    const pid_t pid = test::start_process(args);
    ASSERT_GE(pid, 0);
    const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (std::chrono::steady_clock::now() < give_up &&
           (!std::filesystem::exists(s0) || std::filesystem::file_size(s0) < 5000))
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    ::kill(pid, SIGTERM);
    EXPECT_EQ(test::wait_process(pid).code, exit_interrupted);

    const auto stopped = read_shard_manifest(shard_manifest_path(s0));
    EXPECT_FALSE(stopped.input.complete);
    EXPECT_LT(stopped.records, 1400u);
    const auto refused = merge({s0, s1}, dir.file("m.ndjson"));
    EXPECT_EQ(refused.exit_code, exit_usage);
    EXPECT_NE(refused.err.find("shard 0/2 stopped before the end of its input"), std::string::npos) << refused.err;

    ASSERT_EQ(run_process(with(base, {"--rate", "0", "--shard", "0/2", "--results", s0, "--resume"})).exit_code,
              exit_ok);
    const auto resumed = read_shard_manifest(shard_manifest_path(s0));
    EXPECT_TRUE(resumed.input.complete);
    EXPECT_EQ(resumed.input.sha256, read_shard_manifest(shard_manifest_path(s1)).input.sha256);
    // Both runs' records are in the file: the second recorded every row of the shard again.
    EXPECT_EQ(resumed.records, read_records(s0).size());
    EXPECT_EQ(resumed.records, stopped.records + (3000 - read_records(s1).size()));
    const auto r = merge({s1, s0}, dir.file("m.ndjson"));
    ASSERT_EQ(r.exit_code, exit_ok) << r.err;
    const auto merged = read_records(dir.file("m.ndjson"));
    ASSERT_EQ(merged.size(), 3000u);
    for (std::size_t i = 0; i < merged.size(); ++i) {
        EXPECT_EQ(merged[i].line, i + 2);
        EXPECT_TRUE(merged[i].outcome == Outcome::updated || merged[i].outcome == Outcome::skipped)
            << merged[i].line << " " << to_string(merged[i].outcome);
    }
}

}  // namespace

namespace {

// Counts of a JSON object of counts ({"200": 12, ...}) added into `into`.
void add_counts(std::map<std::string, std::uint64_t>& into, simdjson::dom::object counts) {
    for (auto field : counts) into[std::string(field.key)] += std::uint64_t(field.value);
}

TEST(MergeCommand, MergesTheShardsSummaries) {
    TempDir dir;
    std::filesystem::create_directory(dir.file("sums"));
    const std::string input = samples + "/contacts.csv";
    std::vector<std::string> results, summaries;
    for (unsigned i = 0; i < 3; ++i) {
        results.push_back(dir.file("r-" + std::to_string(i) + ".ndjson"));
        summaries.push_back(dir.file("sums/s-" + std::to_string(i) + ".json"));
        const auto r = run_process(with(send_args(input), {"--shard", std::to_string(i) + "/3", "--results",
                                                           results.back(), "--summary-json", summaries.back()}));
        ASSERT_TRUE(r.exit_code == exit_ok || r.exit_code == exit_rows_failed) << r.err;
    }
    // The manifest names the summary relative to itself, so merge finds it from any directory.
    EXPECT_EQ(read_shard_manifest(shard_manifest_path(results[2])).summary_path, "sums/s-2.json");

    const auto merged_path = dir.file("merged.summary.json");
    const auto r = merge(results, dir.file("merged.ndjson"), {"--summary-out", merged_path});
    ASSERT_TRUE(r.exit_code == exit_ok || r.exit_code == exit_rows_failed) << r.err;
    EXPECT_NE(r.err.find("summaries merged into '" + merged_path + "'"), std::string::npos) << r.err;

    simdjson::dom::parser parser;
    std::uint64_t recorded = 0, read = 0, sent = 0, latency_count = 0, intended_count = 0;
    double longest = 0;
    std::map<std::string, std::uint64_t> statuses, codes;
    std::string sha256;
    for (const auto& path : summaries) {
        simdjson::dom::element s;
        ASSERT_FALSE(parser.load(path).get(s)) << path;
        recorded += std::uint64_t(s["rows"]["recorded"]);
        read += std::uint64_t(s["rows"]["read"]);
        sent += std::uint64_t(s["requests"]["sent"]);
        latency_count += std::uint64_t(s["latency_us"]["count"]);
        intended_count += std::uint64_t(s["intended_latency_us"]["count"]);
        longest = std::max(longest, double(s["wall_time_s"]));
        add_counts(statuses, s["http_status"]);
        add_counts(codes, s["api_error_code"]);
        sha256 = std::string(std::string_view(s["input"]["sha256"]));
    }
    ASSERT_GT(latency_count, 0u);
    ASSERT_GT(statuses.size(), 1u);  // the samples get more than one answer

    simdjson::dom::parser merged_parser;
    simdjson::dom::element m;
    ASSERT_FALSE(merged_parser.load(merged_path).get(m)) << test::read_file(merged_path);
    EXPECT_EQ(std::int64_t(m["schema_version"]), 1);
    EXPECT_TRUE(m["shard"].is_null());
    EXPECT_TRUE(m["resume_command"].is_null());
    EXPECT_EQ(std::string_view(m["input"]["sha256"]), sha256);
    EXPECT_TRUE(bool(m["input"]["complete"]));
    EXPECT_EQ(std::string_view(m["state"]), "completed");
    EXPECT_EQ(std::int64_t(m["exit_status"]), r.exit_code);
    EXPECT_EQ(std::uint64_t(m["rows"]["recorded"]), recorded);
    EXPECT_EQ(std::uint64_t(m["rows"]["recorded"]), read_records(dir.file("merged.ndjson")).size());
    EXPECT_EQ(std::uint64_t(m["rows"]["read"]), read);
    EXPECT_EQ(std::uint64_t(m["rows"]["other_shards"]), 0u);
    EXPECT_EQ(std::uint64_t(m["requests"]["sent"]), sent);
    EXPECT_EQ(std::uint64_t(m["latency_us"]["count"]), latency_count);
    EXPECT_EQ(std::uint64_t(m["intended_latency_us"]["count"]), intended_count);
    EXPECT_NEAR(double(m["wall_time_s"]), longest, 1e-9);
    std::map<std::string, std::uint64_t> merged_statuses, merged_codes;
    add_counts(merged_statuses, m["http_status"]);
    add_counts(merged_codes, m["api_error_code"]);
    EXPECT_EQ(merged_statuses, statuses);
    EXPECT_EQ(merged_codes, codes);
    std::uint64_t in_buckets = 0;
    for (simdjson::dom::array bucket : simdjson::dom::array(m["latency_us"]["buckets"])) in_buckets += std::uint64_t(bucket.at(2));
    EXPECT_EQ(in_buckets, latency_count);

    // Refused, writing nothing, when a shard's summary is gone or its run had none.
    const auto refused = [&](const std::string& why) {
        const auto out = dir.file("refused.ndjson"), summary = dir.file("refused.summary.json");
        const auto no = merge(results, out, {"--summary-out", summary});
        EXPECT_EQ(no.exit_code, exit_usage) << no.err;
        EXPECT_NE(no.err.find("merge refused: " + why), std::string::npos) << no.err;
        EXPECT_FALSE(std::filesystem::exists(out));
        EXPECT_FALSE(std::filesystem::exists(summary));
    };
    std::filesystem::remove(summaries[1]);
    refused("the summary of shard 1/3 ('" + summaries[1] + "', named by '" + shard_manifest_path(results[1]) +
            "') is missing");
    // Another shard's summary in its place.
    std::filesystem::copy_file(summaries[0], summaries[1]);
    refused("the summary '" + summaries[1] + "' is not of shard 1/3: it describes shard 0/3");
    const auto again = run_process(with(send_args(input), {"--shard", "1/3", "--results", results[1]}));
    ASSERT_TRUE(again.exit_code == exit_ok || again.exit_code == exit_rows_failed) << again.err;
    refused("shard 1/3 ('" + results[1] + "') has no summary: its run had no --summary-json");
    // Without --summary-out the summaries are not needed.
    EXPECT_NE(merge(results, dir.file("plain.ndjson")).exit_code, exit_usage);
}

}  // namespace
