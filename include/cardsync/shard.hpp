#pragma once
// Disjoint shards of one input for job engines that run N workers (Kubernetes Indexed Jobs,
// Slurm arrays, GNU parallel): a row belongs to shard hash(normalised number) mod N.

#include <cstdint>

namespace cardsync {

struct ShardSpec {
    std::uint32_t index = 0;  ///< 0-based
    std::uint32_t count = 1;  ///< 1 = no sharding
};

}  // namespace cardsync
