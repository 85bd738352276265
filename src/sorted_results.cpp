#include "cardsync/sorted_results.hpp"

#include "cardsync/results_writer.hpp"

#include <algorithm>
#include <cstdlib>
#include <stdexcept>

namespace cardsync {
namespace {

class ResultsFileStream final : public RecordStream {
public:
    explicit ResultsFileStream(const std::string& path) : reader_(path) {}
    bool next(ResultRecord& record) override { return reader_.next(record); }

private:
    ResultsReader reader_;
};

// Sorts a run by line, keeping only the last record written for each line; returns how many it dropped.
std::uint64_t sort_keep_last(std::vector<ResultRecord>& run) {
    std::stable_sort(run.begin(), run.end(), [](const auto& a, const auto& b) { return a.line < b.line; });
    std::size_t out = 0;
    for (std::size_t i = 0; i < run.size(); ++i) {
        if (i + 1 < run.size() && run[i + 1].line == run[i].line) continue;  // a later record wins
        if (out != i) run[out] = std::move(run[i]);
        ++out;
    }
    const std::uint64_t dropped = run.size() - out;
    run.resize(out);
    return dropped;
}

}  // namespace

SortedResults::SortedResults(const std::string& path, std::size_t run_records, std::filesystem::path spill_dir)
    : spill_root_(spill_dir.empty() ? std::filesystem::temp_directory_path() : std::move(spill_dir)) {
    run_records = std::max<std::size_t>(run_records, 1);
    std::vector<ResultRecord> run;
    run.reserve(std::min<std::size_t>(run_records, 1 << 16));
    {
        ResultsReader reader(path);
        ResultRecord rec;
        while (reader.next(rec)) {
            ++records_;
            if (run.size() == run_records) spill(run);  // only when more come: the last run stays in memory
            run.push_back(std::move(rec));
        }
        torn_ = reader.torn_tail();
    }
    superseded_ += sort_keep_last(run);
    runs_.push_back(std::make_unique<VectorRecordStream>(std::move(run)));  // the last run stays in memory
    std::vector<RecordStream*> streams;
    for (auto& r : runs_) streams.push_back(r.get());
    merge_.emplace(std::move(streams));
}

SortedResults::~SortedResults() {
    runs_.clear();
    std::error_code ignored;
    if (!spill_dir_.empty()) std::filesystem::remove_all(spill_dir_, ignored);
}

void SortedResults::spill(std::vector<ResultRecord>& run) {
    if (spill_dir_.empty()) {
        std::string tmpl = (spill_root_ / "cardsync-merge-XXXXXX").string();
        if (!::mkdtemp(tmpl.data()))
            throw std::runtime_error("cannot make a directory for sorting under '" + spill_root_.string() + "'");
        spill_dir_ = tmpl;
    }
    superseded_ += sort_keep_last(run);
    const std::string file = (spill_dir_ / ("run-" + std::to_string(spill_paths_.size()) + ".ndjson")).string();
    {
        ResultsWriter out(file, ResultsFormat::ndjson);
        for (const auto& r : run) out.write(r);
        out.close();
    }
    spill_paths_.push_back(file);
    runs_.push_back(std::make_unique<ResultsFileStream>(file));
    run.clear();
}

bool SortedResults::next(ResultRecord& record) {
    ResultRecord r;
    std::size_t stream = 0;
    while (merge_->next(r, stream)) {
        // Runs are in file order, and equal lines come out in run order: the last one is the latest.
        if (pending_ && pending_->line == r.line) {
            *pending_ = std::move(r);
            ++superseded_;
            continue;
        }
        if (pending_) {
            record = std::move(*pending_);
            pending_ = std::move(r);
            return true;
        }
        pending_ = std::move(r);
    }
    if (!pending_) return false;
    record = std::move(*pending_);
    pending_.reset();
    return true;
}

}  // namespace cardsync
