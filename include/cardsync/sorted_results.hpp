#pragma once
// A results file read back in input line order. The engine writes records as rows finish, so a
// results file is only roughly in line order (retries and waits finish later); a resumed run appends
// a second record for lines it saw again. SortedResults sorts in bounded memory: up to
// `run_records` records are sorted in memory, and when the file holds more, each sorted run is
// spilled to a temporary NDJSON file and the runs are merged (LineMerge) as they are read.
// When a line has several records (a resumed run), the last one written wins.

#include "cardsync/line_merge.hpp"
#include "cardsync/results_reader.hpp"

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace cardsync {

class SortedResults final : public RecordStream {
public:
    /// Reads all of `path` now (sorting and spilling as it goes). Spill files go in a fresh
    /// directory under `spill_dir` (default: the system's temporary directory), removed by the
    /// destructor. Throws std::runtime_error naming the file for a malformed record.
    explicit SortedResults(const std::string& path, std::size_t run_records = 200'000,
                           std::filesystem::path spill_dir = {});
    ~SortedResults() override;
    SortedResults(const SortedResults&) = delete;
    SortedResults& operator=(const SortedResults&) = delete;

    bool next(ResultRecord& record) override;
    /// Records in the file (every record, superseded ones included).
    std::uint64_t records_in_file() const noexcept { return records_; }
    /// Records replaced by a later record for the same line.
    std::uint64_t superseded() const noexcept { return superseded_; }
    /// The file ends in a record cut short (a crash mid-write); that record is left out.
    bool torn_tail() const noexcept { return torn_; }
    /// Sorted runs spilled to disk (0 when the file fit in memory).
    std::size_t spilled_runs() const noexcept { return spill_paths_.size(); }

private:
    void spill(std::vector<ResultRecord>& run);

    std::filesystem::path spill_root_, spill_dir_;
    std::vector<std::string> spill_paths_;
    std::vector<std::unique_ptr<RecordStream>> runs_;
    std::optional<LineMerge> merge_;
    std::optional<ResultRecord> pending_;
    std::uint64_t records_ = 0, superseded_ = 0;
    bool torn_ = false;
};

}  // namespace cardsync
