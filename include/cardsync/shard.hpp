#pragma once
// Disjoint shards of one input for job engines that run N workers (Kubernetes Indexed Jobs,
// Slurm arrays, GNU parallel, Airflow mapped tasks): every shard reads the whole input and keeps
// the rows whose shard key hashes to it, so every row of a number lands in one shard and that
// number's ordering, coalescing and per-number budget stay in one process.
//
// The rule, so other tools can reproduce it:
//   key   = normalize_e164(phone_number)  when the number is valid ("+1 (555) 123-4567" -> "+15551234567"),
//           else the phone_number text exactly as read (possibly empty)
//   shard = FNV-1a 64 (offset basis 0xcbf29ce484222325, prime 0x100000001b3) of key's bytes, mod N

#include "cardsync/row_reader.hpp"

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace cardsync {

struct ShardSpec {
    std::uint32_t index = 0;  ///< 0-based
    std::uint32_t count = 1;  ///< 1 = no sharding

    /// True when the row with this phone number (as read) belongs to this shard.
    bool owns(std::string_view phone_number) const;
    friend bool operator==(const ShardSpec&, const ShardSpec&) = default;
};

/// Most shards accepted (a sanity bound that catches a typo like --shard 3/40000000).
inline constexpr std::uint32_t max_shard_count = 1'000'000;

/// FNV-1a 64 of `bytes`.
std::uint64_t fnv1a64(std::string_view bytes) noexcept;
/// The shard key of a phone number as read (see the rule above).
std::string shard_key(std::string_view phone_number);
/// The shard, 0..count-1, of a phone number as read.
std::uint32_t shard_of(std::string_view phone_number, std::uint32_t count);

/// Parses "I/N" (0 <= I < N, 1 <= N <= max_shard_count). Throws std::invalid_argument with a
/// sentence naming the value.
ShardSpec parse_shard(std::string_view text);

/// Looks an environment variable up; null when unset (std::getenv in the CLI, a map in tests).
using EnvLookup = std::function<const char*(const char*)>;

/// The shard of this run from the options: `--shard I/N` as given (empty: none), or `--shard-count
/// N` (0: none) with the index from JOB_COMPLETION_INDEX (Kubernetes Indexed Job), else
/// SLURM_ARRAY_TASK_ID minus SLURM_ARRAY_TASK_MIN when set (Slurm job array; so --array=1-4 works
/// as well as --array=0-3). nullopt when neither option is given. Throws std::invalid_argument when
/// both are given, when --shard-count has no index variable to go with it, or when a value is bad.
std::optional<ShardSpec> resolve_shard(std::string_view shard_option, std::uint32_t shard_count_option,
                                       const EnvLookup& env);

/// A RowReader that passes on only the rows of one shard and counts the others.
class ShardedReader final : public RowReader {
public:
    ShardedReader(std::unique_ptr<RowReader> inner, ShardSpec shard);
    bool next(InputRow& row) override;
    std::uint64_t bytes_read() const noexcept override { return inner_->bytes_read(); }
    void interrupt() noexcept override { inner_->interrupt(); }
    /// Rows read and left to other shards.
    std::uint64_t rows_other_shards() const noexcept { return others_; }

private:
    std::unique_ptr<RowReader> inner_;
    ShardSpec shard_;
    std::uint64_t others_ = 0;
};

}  // namespace cardsync
