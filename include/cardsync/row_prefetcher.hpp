#pragma once
// Reads and validates rows on a thread of its own, ahead of the engine, into a bounded queue. The
// engine's io_context thread then never blocks in read(2): a stalled stdin pipe cannot hold up
// answers, retries or Ctrl-C, and parsing and validating the input run beside the network loop on
// a second core (validation is a fifth of the per-row work the network thread would otherwise do).
//
// The queue is bounded (`capacity` rows; the consumer takes it whole, so at most twice that are
// held), so memory stays flat whatever the input size. When the
// consumer found the queue empty, the thread calls `on_ready` once, from its own thread, as soon
// as a row (or the end, or an error) is there: the engine posts that to its io_context.
//
// With several outlets (`apply --threads N`: one engine per outlet), each row goes to the outlet
// its number hashes to, so every row of a number meets the same engine (its order, coalescing and
// budget stay in one place). Each outlet has its own bounded queue and on_ready; the end and an
// input error reach every outlet, after the rows before them.

#include "cardsync/contact_update.hpp"
#include "cardsync/validate.hpp"

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <vector>
#include <exception>
#include <functional>
#include <mutex>
#include <thread>

namespace cardsync {

class RowReader;

class RowPrefetcher {
public:
    enum class Next { row, empty, end };
    using Checked = std::variant<ContactUpdate, InvalidRow>;  ///< validate(row)
    /// A row as the engine takes it. The reader's own strings stay (and are freed) on the reader's
    /// thread: only what the engine uses crosses over.
    struct CheckedRow {
        std::uint64_t line = 0;    ///< where the record starts
        std::string phone_number;  ///< as given (an invalid row's record quotes it)
        Checked checked;           ///< what validate() made of the row
    };

    /// `capacity` rows queued per outlet at most; `outlets` consumers (1 unless --threads).
    explicit RowPrefetcher(RowReader& reader, std::size_t capacity = 4096, std::size_t outlets = 1);
    /// Stops the thread (interrupting a read that waits on a pipe) and joins it.
    ~RowPrefetcher();
    RowPrefetcher(const RowPrefetcher&) = delete;
    RowPrefetcher& operator=(const RowPrefetcher&) = delete;

    /// Sets what an outlet calls when it has something after its consumer found it empty: cheap
    /// and thread-safe (e.g. a post to an io_context). Before start().
    void on_ready(std::size_t outlet, std::function<void()> ready);
    /// Starts reading.
    void start();
    /// on_ready(0, ready), then start() (one outlet).
    void start(std::function<void()> ready);
    /// The outlet's next row if one is queued (`row` then points to it in the batch taken, until
    /// the next call; the caller may move from it); `end` once the input is over. Never blocks.
    /// Rethrows, in order, the error (InputError) the reader met after the rows before it. Each
    /// outlet has one consumer thread.
    Next try_next(CheckedRow*& row, std::size_t outlet = 0);
    /// The row `ahead` places after the one try_next() gave last, if it is already in the batch
    /// taken (nullptr otherwise): for a consumer to warm its caches for it. Rows up to
    /// `prefetch_distance` ahead have been asked for from memory already.
    const CheckedRow* peek(std::size_t ahead, std::size_t outlet = 0) const noexcept;
    static constexpr std::size_t prefetch_distance = 8;
    /// Stops reading (for every outlet): the thread ends after its current row; a read waiting on
    /// a pipe is interrupted. Rows already queued can still be taken.
    void stop();
    /// Bytes the reader had consumed when it produced the last row the outlet took (or the end).
    std::uint64_t bytes_read(std::size_t outlet = 0) const noexcept {
        return outlets_[outlet].bytes_taken.load(std::memory_order_relaxed);
    }
    /// The outlet a row goes to: by its number (as validated when valid, as given otherwise).
    static std::size_t outlet_of(const CheckedRow& row, std::size_t outlets) noexcept;

private:
    struct Item {
        CheckedRow row;
        std::uint64_t bytes;
    };
    struct Outlet {
        // Two vectors swapped whole (they keep their capacity, so no allocation per row): the
        // producer fills queue; the consumer takes it all at once as taken and reads it from taken_pos.
        std::vector<Item> queue;          // under mutex_
        std::vector<Item> taken;          // the consumer's own
        std::size_t taken_pos = 0;
        bool consumer_waiting = false;    // under mutex_
        bool error_taken = false;         // the consumer's own: error_ rethrown here already
        std::function<void()> on_ready;
        std::atomic<std::uint64_t> bytes_taken{0};
    };
    void run();

    RowReader& reader_;
    const std::size_t capacity_;
    std::vector<Outlet> outlets_;
    std::mutex mutex_;
    std::condition_variable room_;
    bool done_ = false;             ///< the reader returned its last row (or threw)
    std::exception_ptr error_;      ///< what it threw, delivered after the rows before it
    std::uint64_t end_bytes_ = 0;
    bool stop_ = false;
    bool producer_waiting_ = false;
    std::thread thread_;
};

}  // namespace cardsync
