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

#include "cardsync/contact_update.hpp"
#include "cardsync/validate.hpp"

#include <atomic>
#include <condition_variable>
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

    explicit RowPrefetcher(RowReader& reader, std::size_t capacity = 4096);
    /// Stops the thread (interrupting a read that waits on a pipe) and joins it.
    ~RowPrefetcher();
    RowPrefetcher(const RowPrefetcher&) = delete;
    RowPrefetcher& operator=(const RowPrefetcher&) = delete;

    /// Starts reading. `on_ready` must be cheap and thread-safe (e.g. post to an io_context).
    void start(std::function<void()> on_ready);
    /// The next row if one is queued (`row` then points to it in the batch taken, until the next
    /// call; the caller may move from it); `end` once the input is over. Never blocks. Rethrows, in
    /// order, the error (InputError) the reader met after the rows before it.
    Next try_next(CheckedRow*& row);
    /// Stops reading: the thread ends after its current row; a read waiting on a pipe is interrupted.
    /// Rows already queued can still be taken.
    void stop();
    /// Bytes the reader had consumed when it produced the last row taken (or the end).
    std::uint64_t bytes_read() const noexcept { return bytes_taken_.load(std::memory_order_relaxed); }

private:
    struct Item {
        CheckedRow row;
        std::uint64_t bytes;
    };
    void run();

    RowReader& reader_;
    const std::size_t capacity_;
    std::function<void()> on_ready_;
    std::mutex mutex_;
    std::condition_variable room_;
    // Two vectors swapped whole (they keep their capacity, so no allocation per row): the
    // producer fills queue_; the consumer takes it all at once as taken_ and reads it from taken_pos_.
    std::vector<Item> queue_;
    std::vector<Item> taken_;
    std::size_t taken_pos_ = 0;
    bool done_ = false;             ///< the reader returned its last row (or threw)
    std::exception_ptr error_;      ///< what it threw, delivered after the rows before it
    std::uint64_t end_bytes_ = 0;
    bool stop_ = false;
    bool consumer_waiting_ = false;
    bool producer_waiting_ = false;
    std::atomic<std::uint64_t> bytes_taken_{0};
    std::thread thread_;
};

}  // namespace cardsync
