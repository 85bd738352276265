#include "cardsync/shard.hpp"

#include "cardsync/validate.hpp"

#include <charconv>
#include <stdexcept>
#include <string>

namespace cardsync {
namespace {

// A decimal number, all of the text; nullopt otherwise (no sign, no blanks).
std::optional<std::uint64_t> parse_uint(std::string_view text) {
    std::uint64_t v = 0;
    const auto* end = text.data() + text.size();
    const auto [p, ec] = std::from_chars(text.data(), end, v);
    if (text.empty() || ec != std::errc{} || p != end) return std::nullopt;
    return v;
}

}  // namespace

std::uint64_t fnv1a64(std::string_view bytes) noexcept {
    std::uint64_t h = 0xcbf29ce484222325ULL;
    for (unsigned char c : bytes) {
        h ^= c;
        h *= 0x100000001b3ULL;
    }
    return h;
}

std::string shard_key(std::string_view phone_number) {
    if (auto normalised = normalize_e164(phone_number)) return std::move(*normalised);
    return std::string(phone_number);
}

std::uint32_t shard_of(std::string_view phone_number, std::uint32_t count) {
    if (count <= 1) return 0;
    return static_cast<std::uint32_t>(fnv1a64(shard_key(phone_number)) % count);
}

bool ShardSpec::owns(std::string_view phone_number) const { return shard_of(phone_number, count) == index; }

ShardSpec parse_shard(std::string_view text) {
    const auto bad = [&](const std::string& why) {
        return std::invalid_argument("--shard '" + std::string(text) + "': " + why);
    };
    const auto slash = text.find('/');
    if (slash == std::string_view::npos) throw bad("expected INDEX/COUNT like 0/4 (the first of 4 shards)");
    const auto index = parse_uint(text.substr(0, slash));
    const auto count = parse_uint(text.substr(slash + 1));
    if (!index || !count) throw bad("expected INDEX/COUNT like 0/4 (the first of 4 shards)");
    if (*count < 1 || *count > max_shard_count)
        throw bad("the count must be between 1 and " + std::to_string(max_shard_count));
    if (*index >= *count) throw bad("the index counts from 0, so it must be below the count");
    return ShardSpec{static_cast<std::uint32_t>(*index), static_cast<std::uint32_t>(*count)};
}

std::optional<ShardSpec> resolve_shard(std::string_view shard_option, std::uint32_t shard_count_option,
                                       const EnvLookup& env) {
    if (!shard_option.empty() && shard_count_option)
        throw std::invalid_argument("--shard I/N and --shard-count N: give one or the other");
    if (!shard_option.empty()) return parse_shard(shard_option);
    if (!shard_count_option) return std::nullopt;
    const std::uint32_t count = shard_count_option;
    if (count > max_shard_count)
        throw std::invalid_argument("--shard-count " + std::to_string(count) + ": at most " +
                                    std::to_string(max_shard_count));
    const auto from = [&](const char* name, std::uint64_t index) {
        if (index >= count)
            throw std::invalid_argument(std::string(name) + " gives shard index " + std::to_string(index) +
                                        ", not below --shard-count " + std::to_string(count) +
                                        " (indexes count from 0)");
        return ShardSpec{static_cast<std::uint32_t>(index), count};
    };
    const auto number = [&](const char* name, const char* value) {
        auto v = parse_uint(value);
        if (!v) throw std::invalid_argument(std::string(name) + "='" + value + "' is not a whole number");
        return *v;
    };
    if (const char* k8s = env("JOB_COMPLETION_INDEX")) return from("JOB_COMPLETION_INDEX", number("JOB_COMPLETION_INDEX", k8s));
    if (const char* slurm = env("SLURM_ARRAY_TASK_ID")) {
        std::uint64_t id = number("SLURM_ARRAY_TASK_ID", slurm);
        if (const char* min = env("SLURM_ARRAY_TASK_MIN")) {
            const auto lowest = number("SLURM_ARRAY_TASK_MIN", min);
            if (id < lowest)
                throw std::invalid_argument("SLURM_ARRAY_TASK_ID " + std::to_string(id) +
                                            " is below SLURM_ARRAY_TASK_MIN " + std::to_string(lowest));
            id -= lowest;
        }
        return from("SLURM_ARRAY_TASK_ID", id);
    }
    throw std::invalid_argument("--shard-count " + std::to_string(count) +
                                " takes the shard index from JOB_COMPLETION_INDEX (Kubernetes Indexed Job) or "
                                "SLURM_ARRAY_TASK_ID (Slurm job array), and neither is set: pass --shard I/N instead");
}

ShardedReader::ShardedReader(std::unique_ptr<RowReader> inner, ShardSpec shard)
    : inner_(std::move(inner)), shard_(shard) {
    warnings_ = inner_->warnings();  // the header's notes, read when the inner reader was made
}

bool ShardedReader::next(InputRow& row) {
    while (inner_->next(row)) {
        if (shard_.owns(row.phone_number)) return true;
        ++others_;
    }
    return false;
}

}  // namespace cardsync
