#include "cardsync/row_prefetcher.hpp"

#include "cardsync/key_hash.hpp"
#include "cardsync/row_reader.hpp"

#include <utility>

namespace cardsync {

RowPrefetcher::RowPrefetcher(RowReader& reader, std::size_t capacity, std::size_t outlets)
    : reader_(reader), capacity_(capacity ? capacity : 1), outlets_(outlets ? outlets : 1) {
    for (auto& o : outlets_) o.queue.reserve(capacity_);
}

RowPrefetcher::~RowPrefetcher() {
    stop();
    if (thread_.joinable()) thread_.join();
}

void RowPrefetcher::on_ready(std::size_t outlet, std::function<void()> ready) {
    outlets_.at(outlet).on_ready = std::move(ready);
}

void RowPrefetcher::start() {
    thread_ = std::thread([this] { run(); });
}

void RowPrefetcher::start(std::function<void()> ready) {
    on_ready(0, std::move(ready));
    start();
}

std::size_t RowPrefetcher::outlet_of(const CheckedRow& row, std::size_t outlets) noexcept {
    if (outlets <= 1) return 0;
    const auto* update = std::get_if<ContactUpdate>(&row.checked);
    return short_key_hash(update ? update->phone_number : row.phone_number) % outlets;
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
        if (!more || error) {
            // The end (or the error) reaches every outlet; wake those whose consumer waits.
            std::vector<Outlet*> waiting;
            {
                std::lock_guard lock(mutex_);
                if (stop_) return;
                done_ = true;
                error_ = error;
                end_bytes_ = reader_.bytes_read();
                for (auto& o : outlets_)
                    if (std::exchange(o.consumer_waiting, false)) waiting.push_back(&o);
            }
            for (Outlet* o : waiting)
                if (o->on_ready) o->on_ready();
            return;
        }
        Checked checked = validate(std::move(row));  // takes the fields; the raw number stays for the record
        Item item{CheckedRow{row.line, std::move(row.phone_number), std::move(checked)}, 0};
        Outlet& o = outlets_[outlet_of(item.row, outlets_.size())];
        bool notify = false;
        {
            std::unique_lock lock(mutex_);
            if (stop_) return;
            if (o.queue.size() >= capacity_) {
                // Full: wait until half is taken, so the two threads meet once per half a queue,
                // not once per row.
                producer_waiting_ = true;
                room_.wait(lock, [&] { return stop_ || o.queue.size() <= capacity_ / 2; });
                producer_waiting_ = false;
                if (stop_) return;
            }
            item.bytes = reader_.bytes_read();
            o.queue.push_back(std::move(item));
            notify = std::exchange(o.consumer_waiting, false);
        }
        if (notify && o.on_ready) o.on_ready();
    }
}

const RowPrefetcher::CheckedRow* RowPrefetcher::peek(std::size_t ahead, std::size_t outlet) const noexcept {
    const Outlet& o = outlets_[outlet];
    if (o.taken_pos == 0) return nullptr;  // nothing given from this batch yet
    const std::size_t at = o.taken_pos - 1 + ahead;
    return at < o.taken.size() ? &o.taken[at].row : nullptr;
}

RowPrefetcher::Next RowPrefetcher::try_next(CheckedRow*& row, std::size_t outlet) {
    Outlet& o = outlets_[outlet];
    if (o.taken_pos == o.taken.size()) {
        o.taken.clear();  // moved-from rows: cheap, and outside the lock
        o.taken_pos = 0;
        // Take every queued row at once: one lock per batch, not per row.
        std::unique_lock lock(mutex_);
        if (o.queue.empty()) {
            if (done_) {
                o.bytes_taken.store(end_bytes_, std::memory_order_relaxed);
                if (error_ && !std::exchange(o.error_taken, true)) std::rethrow_exception(error_);
                return Next::end;
            }
            o.consumer_waiting = true;
            return Next::empty;
        }
        o.taken.swap(o.queue);
        const bool wake = producer_waiting_;
        lock.unlock();
        // the producer may wait on another outlet: wake it to look (it waits again if that is still full)
        if (wake) room_.notify_one();
    }
    // The rows were written on the reader's core, so their lines are not in this core's caches:
    // ask for them a few rows ahead (peek() then reads them without waiting).
    if (o.taken_pos + prefetch_distance < o.taken.size()) {
        const char* ahead = reinterpret_cast<const char*>(&o.taken[o.taken_pos + prefetch_distance]);
        for (std::size_t off = 0; off < sizeof(Item); off += 64) __builtin_prefetch(ahead + off);
    }
    Item& item = o.taken[o.taken_pos++];
    row = &item.row;
    o.bytes_taken.store(item.bytes, std::memory_order_relaxed);
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
