#include "cardsync/row_prefetcher.hpp"

#include "cardsync/input_error.hpp"
#include "cardsync/input_identity.hpp"
#include "cardsync/row_reader.hpp"
#include "cardsync/shard.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <unistd.h>

using namespace cardsync;
using namespace std::chrono_literals;

namespace {

// Yields `rows` rows (line = 2, 3, ...), then throws when `fail` is set, else ends.
class CountingReader final : public RowReader {
public:
    CountingReader(int rows, bool fail) : rows_(rows), fail_(fail) {}
    bool next(InputRow& row) override {
        if (produced_ == rows_) {
            if (fail_) throw InputError("input:99: broken on purpose");
            return false;
        }
        ++produced_;
        row = InputRow{};
        row.line = static_cast<std::uint64_t>(produced_ + 1);
        row.phone_number = "+1555000" + std::to_string(produced_);
        return true;
    }
    std::uint64_t bytes_read() const noexcept override { return static_cast<std::uint64_t>(produced_) * 10; }
    std::atomic<int> produced_{0};

private:
    int rows_;
    bool fail_;
};

// Waits for the prefetcher's on_ready.
struct Ready {
    std::mutex m;
    std::condition_variable cv;
    int calls = 0;
    void signal() {
        std::lock_guard lock(m);
        ++calls;
        cv.notify_all();
    }
    bool wait_for(int n, std::chrono::milliseconds limit = 5s) {
        std::unique_lock lock(m);
        return cv.wait_for(lock, limit, [&] { return calls >= n; });
    }
};

// Takes every row, waiting on on_ready when the queue is empty; returns the lines seen.
std::vector<std::uint64_t> drain(RowPrefetcher& p, Ready& ready) {
    std::vector<std::uint64_t> lines;
    RowPrefetcher::CheckedRow* row = nullptr;
    for (int waits = 0;;) {
        const auto next = p.try_next(row);
        if (next == RowPrefetcher::Next::end) return lines;
        if (next == RowPrefetcher::Next::row) {
            lines.push_back(row->line);
            continue;
        }
        if (!ready.wait_for(++waits)) ADD_FAILURE() << "no on_ready after an empty queue";
    }
}

}  // namespace

TEST(RowPrefetcher, DeliversEveryRowInOrderThenTheEnd) {
    CountingReader reader(10'000, false);
    Ready ready;
    RowPrefetcher p(reader, 64);
    p.start([&] { ready.signal(); });
    const auto lines = drain(p, ready);
    ASSERT_EQ(lines.size(), 10'000u);
    for (std::size_t i = 0; i < lines.size(); ++i) ASSERT_EQ(lines[i], i + 2);
    EXPECT_EQ(p.bytes_read(), 100'000u);
    RowPrefetcher::CheckedRow* row = nullptr;
    EXPECT_EQ(p.try_next(row), RowPrefetcher::Next::end);  // and stays at the end
}

TEST(RowPrefetcher, AnInputErrorComesAfterTheRowsBeforeIt) {
    CountingReader reader(3, true);
    Ready ready;
    RowPrefetcher p(reader, 8);
    p.start([&] { ready.signal(); });
    RowPrefetcher::CheckedRow* row = nullptr;
    int rows = 0;
    for (int waits = 0; rows < 3;) {
        const auto next = p.try_next(row);
        if (next == RowPrefetcher::Next::row) ++rows;
        else ASSERT_TRUE(ready.wait_for(++waits));
    }
    // then the error, once the reader has met it
    const auto deadline = std::chrono::steady_clock::now() + 5s;
    bool thrown = false;
    while (!thrown && std::chrono::steady_clock::now() < deadline) {
        try {
            ASSERT_EQ(p.try_next(row), RowPrefetcher::Next::empty) << "expected the reader's error, not more rows";
            std::this_thread::sleep_for(1ms);
        } catch (const InputError& e) {
            EXPECT_NE(std::string(e.what()).find("input:99"), std::string::npos);
            thrown = true;
        }
    }
    EXPECT_TRUE(thrown);
}

TEST(RowPrefetcher, ReadsAheadNoMoreThanItsCapacityBesideTheBatchTaken) {
    CountingReader reader(1'000'000, false);
    RowPrefetcher p(reader, 100);
    p.start([] {});
    std::this_thread::sleep_for(100ms);
    EXPECT_LE(reader.produced_.load(), 101);  // 100 queued, one more read and waiting for room
    EXPECT_GE(reader.produced_.load(), 100);
    RowPrefetcher::CheckedRow* row = nullptr;
    ASSERT_EQ(p.try_next(row), RowPrefetcher::Next::row);  // takes the whole queue: room for 100 more
    std::this_thread::sleep_for(100ms);
    EXPECT_LE(reader.produced_.load(), 201);
    EXPECT_GE(reader.produced_.load(), 200);
    for (int i = 0; i < 98; ++i) ASSERT_EQ(p.try_next(row), RowPrefetcher::Next::row);  // from the batch taken
    std::this_thread::sleep_for(100ms);
    EXPECT_LE(reader.produced_.load(), 201) << "it reads on only once the consumer takes the queue again";
    ASSERT_EQ(p.try_next(row), RowPrefetcher::Next::row);  // the batch's last row
    ASSERT_EQ(p.try_next(row), RowPrefetcher::Next::row);  // the next batch
    EXPECT_EQ(row->line, 102u);
    std::this_thread::sleep_for(100ms);
    EXPECT_LE(reader.produced_.load(), 301);
    EXPECT_GE(reader.produced_.load(), 300);
}

TEST(RowPrefetcher, PeekShowsTheRowsAheadInTheBatchTakenOnly) {
    CountingReader reader(10, false);
    RowPrefetcher p(reader, 100);
    EXPECT_EQ(p.peek(1), nullptr);  // nothing taken yet
    Ready ready;
    p.start([&] { ready.signal(); });
    RowPrefetcher::CheckedRow* row = nullptr;
    // wait for the whole input to be queued, so that the first take gets one batch of ten
    const auto deadline = std::chrono::steady_clock::now() + 5s;
    while (reader.produced_.load() < 10 && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(1ms);
    std::this_thread::sleep_for(20ms);
    ASSERT_EQ(p.try_next(row), RowPrefetcher::Next::row);
    ASSERT_EQ(row->line, 2u);
    EXPECT_EQ(p.peek(0), row);  // the row just given
    ASSERT_NE(p.peek(4), nullptr);
    EXPECT_EQ(p.peek(4)->line, 6u);
    EXPECT_EQ(p.peek(9)->line, 11u);  // the batch's last row
    EXPECT_EQ(p.peek(10), nullptr);   // past the batch taken
    ASSERT_EQ(p.try_next(row), RowPrefetcher::Next::row);
    EXPECT_EQ(row->line, 3u) << "peeking takes nothing";
    EXPECT_EQ(p.peek(8)->line, 11u);
    EXPECT_EQ(p.peek(9), nullptr);
}

TEST(RowPrefetcher, RowsComeValidated) {
    CountingReader reader(3, false);  // numbers without names: "nothing to update"
    RowPrefetcher p(reader, 10);
    Ready ready;
    p.start([&ready] { ready.signal(); });
    RowPrefetcher::CheckedRow* row = nullptr;
    RowPrefetcher::Next next;
    for (int waits = 0; (next = p.try_next(row)) == RowPrefetcher::Next::empty;)
        ASSERT_TRUE(ready.wait_for(++waits));
    ASSERT_EQ(next, RowPrefetcher::Next::row);
    const auto* bad = std::get_if<InvalidRow>(&row->checked);
    ASSERT_NE(bad, nullptr);
    InputRow input;
    input.line = row->line;
    input.phone_number = row->phone_number;
    EXPECT_EQ(bad->message, std::get<InvalidRow>(validate(input)).message);
}

// Plain, or behind the wrappers a sharded run puts around its input (hashing source, shard filter).
void check_interrupted_by_stop(bool wrapped) {
    int fds[2];
    ASSERT_EQ(::pipe(fds), 0);
    const std::string header = "phone_number,first_name\n";
    ASSERT_EQ(::write(fds[1], header.data(), header.size()), static_cast<ssize_t>(header.size()));
    std::unique_ptr<RowReader> reader;
    if (wrapped) {
        auto source = identify_input(open_byte_source("/dev/fd/" + std::to_string(fds[0])), "-");
        reader = std::make_unique<ShardedReader>(make_row_reader(InputFormat::csv, std::move(source)), ShardSpec{0, 1});
    } else {
        reader = make_row_reader(InputFormat::csv, open_byte_source("/dev/fd/" + std::to_string(fds[0])));
    }
    Ready ready;
    const auto started = std::chrono::steady_clock::now();
    {
        RowPrefetcher p(*reader, 16);
        p.start([&] { ready.signal(); });
        RowPrefetcher::CheckedRow* row = nullptr;
        EXPECT_EQ(p.try_next(row), RowPrefetcher::Next::empty);
        const std::string line = "+15550000001,Ann\n";
        ASSERT_EQ(::write(fds[1], line.data(), line.size()), static_cast<ssize_t>(line.size()));
        ASSERT_TRUE(ready.wait_for(1));
        ASSERT_EQ(p.try_next(row), RowPrefetcher::Next::row);
        EXPECT_EQ(row->phone_number, "+15550000001");
        EXPECT_EQ(p.try_next(row), RowPrefetcher::Next::empty);  // the thread now waits on the pipe
        std::this_thread::sleep_for(50ms);
    }  // the destructor stops it: the pipe's writer is still open, so only the interrupt ends the read
    EXPECT_LT(std::chrono::steady_clock::now() - started, 3s);
    ::close(fds[0]);
    ::close(fds[1]);
}

TEST(RowPrefetcher, AReadWaitingOnAPipeIsInterruptedByStop) { check_interrupted_by_stop(false); }

TEST(RowPrefetcher, TheInterruptPassesThroughShardAndIdentityWrappers) { check_interrupted_by_stop(true); }

TEST(RowPrefetcher, OutletsShareTheRowsByNumberAndEachGetsTheEnd) {
    // 300 rows over 100 numbers (each three times), three outlets
    class Repeating final : public RowReader {
    public:
        bool next(InputRow& row) override {
            if (given_ == 300) return false;
            row = InputRow{};
            row.line = static_cast<std::uint64_t>(++given_ + 1);
            row.phone_number = "+1555000" + std::to_string(1000 + given_ % 100);
            row.fields.first_name = "A";
            return true;
        }
        std::uint64_t bytes_read() const noexcept override { return static_cast<std::uint64_t>(given_); }

    private:
        int given_ = 0;
    } reader;
    RowPrefetcher p(reader, 8, 3);  // small queues: the reader waits for room often
    std::vector<Ready> ready(3);
    for (std::size_t i = 0; i < 3; ++i) p.on_ready(i, [&ready, i] { ready[i].signal(); });
    p.start();
    std::vector<std::vector<std::uint64_t>> lines(3);
    std::vector<std::vector<std::string>> numbers(3);
    std::vector<std::thread> consumers;
    for (std::size_t i = 0; i < 3; ++i) {
        consumers.emplace_back([&, i] {
            RowPrefetcher::CheckedRow* row = nullptr;
            for (int waits = 0;;) {
                const auto next = p.try_next(row, i);
                if (next == RowPrefetcher::Next::end) return;
                if (next == RowPrefetcher::Next::row) {
                    EXPECT_EQ(RowPrefetcher::outlet_of(*row, 3), i);
                    lines[i].push_back(row->line);
                    numbers[i].push_back(row->phone_number);
                    continue;
                }
                if (!ready[i].wait_for(++waits)) {
                    ADD_FAILURE() << "outlet " << i << ": no on_ready";
                    return;
                }
            }
        });
    }
    for (auto& c : consumers) c.join();
    std::set<std::uint64_t> all;
    std::map<std::string, std::size_t> outlet_of_number;
    for (std::size_t i = 0; i < 3; ++i) {
        EXPECT_TRUE(std::is_sorted(lines[i].begin(), lines[i].end())) << "outlet " << i << " keeps input order";
        EXPECT_GT(lines[i].size(), 30u) << "the numbers spread over the outlets";
        all.insert(lines[i].begin(), lines[i].end());
        for (const auto& n : numbers[i]) {
            const auto [at, fresh] = outlet_of_number.emplace(n, i);
            EXPECT_EQ(at->second, i) << n << " went to two outlets";
        }
    }
    EXPECT_EQ(all.size(), 300u) << "every row once";
    EXPECT_EQ(p.bytes_read(0), 300u) << "the end carries the input's size";
}

TEST(RowPrefetcher, AnInputErrorReachesEveryOutletAfterItsRows) {
    CountingReader reader(40, /*fail=*/true);
    RowPrefetcher p(reader, 4096, 2);
    std::vector<Ready> ready(2);
    for (std::size_t i = 0; i < 2; ++i) p.on_ready(i, [&ready, i] { ready[i].signal(); });
    p.start();
    std::size_t rows = 0;
    for (std::size_t i = 0; i < 2; ++i) {
        RowPrefetcher::CheckedRow* row = nullptr;
        bool threw = false;
        for (int waits = 0; !threw;) {
            try {
                const auto next = p.try_next(row, i);
                if (next == RowPrefetcher::Next::row) {
                    ++rows;
                    continue;
                }
                if (next == RowPrefetcher::Next::end) break;
                ASSERT_TRUE(ready[i].wait_for(++waits));
            } catch (const InputError& e) {
                threw = true;
                EXPECT_NE(std::string(e.what()).find("input:99"), std::string::npos);
            }
        }
        EXPECT_TRUE(threw) << "outlet " << i;
        EXPECT_EQ(p.try_next(row, i), RowPrefetcher::Next::end) << "once thrown, the outlet is at its end";
    }
    EXPECT_EQ(rows, 40u);
}
