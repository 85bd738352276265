#pragma once
// Which input a run read: its name, size and SHA-256, so shard results of one input can be merged
// and shards of another input refused.

#include <cstdint>
#include <string>

namespace cardsync {

struct InputIdentity {
    std::string name;        ///< the path as given, or "stdin"
    std::uint64_t bytes = 0; ///< bytes read
    std::string sha256;      ///< lowercase hex of every byte read; empty when not computed
    bool complete = false;   ///< the whole input was read (bytes and sha256 describe all of it)
};

}  // namespace cardsync
