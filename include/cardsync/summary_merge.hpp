#pragma once
// The JSON summaries (`apply --summary-json`, schema_version 1) of the shards of one input made into
// one summary of the same schema, for `cardsync merge --summary-out`. Pure: text in, report out;
// run_summary.hpp writes the merged summary from it. How each field merges is in README ("Running
// at scale") and beside merge_summaries() below.

#include "cardsync/engine.hpp"
#include "cardsync/run_summary.hpp"

#include <string>
#include <string_view>
#include <vector>

namespace cardsync {

/// One shard's summary read back: the figures as an ApplyReport (what run_summary.cpp wrote it
/// from), plus what the report cannot hold.
struct ParsedSummary {
    std::string source;                   ///< the file, for messages
    ApplyReport report;
    double achieved_rate = 0;             ///< rate.achieved as written
    std::vector<std::string> next_steps;  ///< as written
};

/// Parses a summary; throws std::runtime_error naming `source` and what is wrong (not JSON, another
/// schema_version, a field missing or of the wrong type). Latency histograms are rebuilt from their
/// buckets with their exact count, min, max and mean (the mean as written, to 0.1 us).
ParsedSummary parse_run_summary(std::string_view json, const std::string& source);

/// Reads and parses the summary at `path`; throws std::runtime_error when it is missing or bad.
ParsedSummary read_run_summary(const std::string& path);

/// A merged summary: write it with summary_json(report, context).
struct MergedSummary {
    ApplyReport report;
    RunContext context;
};

/// Merges the summaries of the shards of one input (the caller checks they are: merge_command.cpp
/// compares each with its shard manifest). Counts are summed; histograms merged bucket-wise (so
/// percentiles are those of every answer); wall time, peak memory and the last line read are the
/// largest (the last line read the smallest among shards that stopped early); target and final
/// rates summed (0, no limit, when one shard had none); the achieved rate is the sum of the shards'
/// (they ran side by side); state the worst: aborted, then interrupted, then completed; `shard`
/// none; rows left to other shards 0 (every shard is in); no resume command; next steps each
/// shard's, prefixed "shard I/N: ". Throws std::invalid_argument when `shards` is empty.
MergedSummary merge_summaries(const std::vector<ParsedSummary>& shards);

}  // namespace cardsync
