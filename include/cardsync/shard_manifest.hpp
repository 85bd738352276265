#pragma once
// The manifest a sharded run writes beside its results file (`<results>.shard.json`): which input
// it read (size, SHA-256, whether all of it), which shard it is, and how many records it wrote.
// `cardsync merge` reads it to refuse a missing, doubled or foreign shard. It stands alone so merging
// needs nothing else from the run (a --summary-json of the run carries the same input/shard sections).
//
//   {"cardsync_shard_manifest":1,
//    "input":{"name":"in.csv","bytes":1234,"sha256":"<64 hex>","complete":true},
//    "shard":{"index":0,"count":4},
//    "results":{"path":"out-0.ndjson","format":"ndjson","records":310},
//    "rows_other_shards":930,
//    "outcomes":{"updated":300,"invalid":10,"rejected":0,"failed":0,"skipped":0,"planned":0},
//    "summary":"out-0.summary.json"}
//
// "summary" (optional; absent when the run had no --summary-json, and in manifests written before it
// existed) is the run's JSON summary, relative to the manifest's directory unless absolute, so that
// `cardsync merge --summary-out` finds it from any working directory.

#include "cardsync/input_identity.hpp"
#include "cardsync/results_writer.hpp"
#include "cardsync/shard.hpp"

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace cardsync {

/// Records per Outcome, indexed by the enum's value (as ApplyReport::outcomes).
using OutcomeCounts = std::array<std::uint64_t, 6>;

/// Adds `more` into `into` (merging shards' counts; a merged summary adds them the same way).
void add_outcomes(OutcomeCounts& into, const OutcomeCounts& more) noexcept;

struct ShardManifest {
    InputIdentity input;
    ShardSpec shard;
    std::string results_path;                  ///< the results file as the run named it
    ResultsFormat results_format = ResultsFormat::ndjson;
    std::uint64_t records = 0;                 ///< records in the results file when the run ended
    std::uint64_t rows_other_shards = 0;       ///< rows read and left to other shards
    OutcomeCounts outcomes{};                  ///< this run's records per outcome
    std::string summary_path;                  ///< the run's --summary-json as stored (see above); empty: none
};

/// `path` as the manifest of `results_path` stores it: relative to the results file's directory
/// (both made absolute against the working directory first). Empty stays empty.
std::string path_from_manifest_dir(const std::string& path, const std::string& results_path);

/// A path stored in the manifest at `manifest_path` (path_from_manifest_dir) as a path usable here.
std::string resolve_from_manifest(const std::string& stored, const std::string& manifest_path);

/// Where the manifest of `results_path` lives: the same path with ".shard.json" appended.
std::string shard_manifest_path(std::string_view results_path);

/// The manifest as one JSON object (the layout above) and a newline.
std::string to_json(const ShardManifest& manifest);

/// Parses a manifest; throws std::runtime_error naming `source` and what is wrong.
ShardManifest parse_shard_manifest(std::string_view json, const std::string& source);

/// Writes the manifest to `path` through a temporary file and a rename, so a reader never sees half
/// of one. Throws std::runtime_error naming the path.
void write_shard_manifest(const std::string& path, const ShardManifest& manifest);

/// Reads and parses the manifest at `path`; throws std::runtime_error when it is missing or bad.
ShardManifest read_shard_manifest(const std::string& path);

/// A shard's results file and its manifest.
struct ShardFile {
    std::string file;
    ShardManifest manifest;
};

/// Checks that `shards` are the N shards of one input, each once. Throws std::invalid_argument
/// naming the files, e.g. "shard 2/4 is missing", "shard 1/4 given twice (a.ndjson, b.ndjson)",
/// "b.ndjson is from another input (...) than a.ndjson (...)". A shard whose run stopped before the
/// end of the input is refused unless `allow_partial`; then its digest, which covers only the part
/// it read, is not compared (its size must not exceed the others').
void check_shard_set(const std::vector<ShardFile>& shards, bool allow_partial);

}  // namespace cardsync
