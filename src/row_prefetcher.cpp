#include "cardsync/row_prefetcher.hpp"

#include "cardsync/row_reader.hpp"

#include <utility>

namespace cardsync {

RowPrefetcher::RowPrefetcher(RowReader& reader, std::size_t capacity)
    : reader_(reader), capacity_(capacity ? capacity : 1) {
    queue_.reserve(capacity_);
}

RowPrefetcher::~RowPrefetcher() {
    stop();
    if (thread_.joinable()) thread_.join();
}

void RowPrefetcher::start(std::function<void()> on_ready) {
    on_ready_ = std::move(on_ready);
    thread_ = std::thread([this] { run(); });
}

void RowPrefetcher::run() {
    for (;;) {
        InputRow row;
        bool more = false;
        std::exception_ptr error;
        try {
            more = reader_.next(row);
        } catch (...) {
            error = std::current_exception();
        }
        Checked checked = more ? validate(row) : Checked{InvalidRow{}};
        bool notify = false;
        {
            std::unique_lock lock(mutex_);
            if (stop_) return;
            if (!more || error) {
                done_ = true;
                error_ = error;
                end_bytes_ = reader_.bytes_read();
            } else {
                if (queue_.size() >= capacity_) {
                    // Full: wait until half is taken, so the two threads meet once per half a queue,
                    // not once per row.
                    producer_waiting_ = true;
                    room_.wait(lock, [this] { return stop_ || queue_.size() <= capacity_ / 2; });
                    producer_waiting_ = false;
                    if (stop_) return;
                }
                queue_.push_back(Item{CheckedRow{row.line, std::move(row.phone_number), std::move(checked)},
                                      reader_.bytes_read()});
            }
            notify = consumer_waiting_;
            consumer_waiting_ = false;
        }
        if (notify && on_ready_) on_ready_();
        if (!more || error) return;
    }
}

RowPrefetcher::Next RowPrefetcher::try_next(CheckedRow*& row) {
    if (taken_pos_ == taken_.size()) {
        taken_.clear();  // moved-from rows: cheap, and outside the lock
        taken_pos_ = 0;
        // Take every queued row at once: one lock per batch, not per row.
        std::unique_lock lock(mutex_);
        if (queue_.empty()) {
            if (done_) {
                bytes_taken_.store(end_bytes_, std::memory_order_relaxed);
                if (error_) std::rethrow_exception(std::exchange(error_, nullptr));
                return Next::end;
            }
            consumer_waiting_ = true;
            return Next::empty;
        }
        taken_.swap(queue_);
        const bool wake = producer_waiting_;
        lock.unlock();
        if (wake) room_.notify_one();
    }
    Item& item = taken_[taken_pos_++];
    row = &item.row;
    bytes_taken_.store(item.bytes, std::memory_order_relaxed);
    return Next::row;
}

void RowPrefetcher::stop() {
    {
        std::lock_guard lock(mutex_);
        if (stop_) return;
        stop_ = true;
    }
    room_.notify_all();
    reader_.interrupt();
}

}  // namespace cardsync
