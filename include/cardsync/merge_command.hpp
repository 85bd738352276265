#pragma once
// `cardsync merge`: the results files of the shards of one input (cardsync apply --shard I/N) made
// into one results file in input line order, as one process would have written it (but sorted).
//
// Before writing anything it checks the shard manifests beside the files (shard_manifest.hpp):
// one input (same size and SHA-256), one shard count N, every index 0..N-1 exactly once, every
// shard's input read to the end (unless --allow-partial), and each file holding the records its
// manifest counts. While merging, a line recorded by two shards is an error. The output is written
// to a temporary file renamed into place at the end, so a refused merge leaves no output.
//
// With --summary-out it also merges the shards' JSON summaries (summary_merge.hpp), each found
// through its manifest and checked against it (same input, same shard) before anything is written.

#include <cstddef>
#include <string>
#include <vector>

namespace CLI {
class App;
}

namespace cardsync {

struct MergeArgs {
    std::vector<std::string> shards;   ///< results files of the shards, any order, CSV or NDJSON
    std::string out;                   ///< merged results: format by extension; "-" = NDJSON on stdout
    std::string summary_out;           ///< merged JSON summary of the shards (empty: none)
    bool allow_partial = false;        ///< accept shards whose run stopped before the end of the input
    bool quiet = false;                ///< no summary on stderr
    std::size_t run_records = 200'000; ///< records held in memory for sorting, all shards together
};

/// Registers the `merge` subcommand on `app`, bound to `args`.
CLI::App* add_merge_command(CLI::App& app, MergeArgs& args);

/// Runs the merge; returns 0 when merged and every row fine (updated, skipped, planned), 1 when
/// merged with rows not fine, 2 when refused (with the reason on stderr).
int run_merge_command(const MergeArgs& args);

}  // namespace cardsync
