#pragma once
// Whole small files (summaries, metrics, shard manifests) replaced in one step.

#include <string>
#include <string_view>

namespace cardsync {

/// Writes `text` to `path` through a temporary file in the same directory, then rename(2): a reader
/// (a textfile collector) sees the old file or the new one, never half of one. Throws
/// std::runtime_error naming the path and the system's reason.
void write_file_atomically(const std::string& path, std::string_view text);

}  // namespace cardsync
