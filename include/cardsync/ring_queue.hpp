#pragma once
// A FIFO in a ring of slots that are kept from one element to the next: pushing and popping one
// element at a time allocates nothing once the ring is as large as the queue has been. The
// connection pool's per-connection queues of requests in flight use it; std::deque, which they
// used before, allocated and freed a 512-byte node every few elements (every nine requests on
// each connection).
//
// Slots are move-assigned, never destroyed until the queue goes: an element type that owns memory
// keeps what a taken element left behind (moved-from) until the slot is written again.

#include <algorithm>
#include <cstddef>
#include <utility>
#include <vector>

namespace cardsync {

template <class T>
class RingQueue {
public:
    std::size_t size() const noexcept { return size_; }
    bool empty() const noexcept { return size_ == 0; }
    /// The i-th element from the front (i < size()).
    T& operator[](std::size_t i) noexcept { return slots_[(head_ + i) & (slots_.size() - 1)]; }
    const T& operator[](std::size_t i) const noexcept { return slots_[(head_ + i) & (slots_.size() - 1)]; }
    T& front() noexcept { return (*this)[0]; }

    void push_back(T value) {
        if (size_ == slots_.size()) grow();
        ++size_;
        (*this)[size_ - 1] = std::move(value);
    }
    /// Removes the front element and returns it (not empty()).
    T take_front() {
        T value = std::move(front());
        head_ = (head_ + 1) & (slots_.size() - 1);
        --size_;
        return value;
    }
    /// Removes the first `n` elements (n <= size()) and returns them in order.
    std::vector<T> take_front(std::size_t n) {
        std::vector<T> out;
        out.reserve(n);
        while (n-- > 0) out.push_back(take_front());
        return out;
    }
    void clear() {
        while (size_ > 0) take_front();
    }

private:
    // Doubles (a power of two, so an index wraps with a mask), the elements in order from slot 0.
    void grow() {
        std::vector<T> bigger(std::max<std::size_t>(4, slots_.size() * 2));
        for (std::size_t i = 0; i < size_; ++i) bigger[i] = std::move((*this)[i]);
        slots_.swap(bigger);
        head_ = 0;
    }

    std::vector<T> slots_;
    std::size_t head_ = 0;
    std::size_t size_ = 0;
};

}  // namespace cardsync
