#include "cardsync/stop_signal.hpp"

namespace cardsync {

// The listener runs under the lock, so once set_listener(nullptr) returns it is never called again
// (the engine can then destroy what it posts to). It must be quick and must not call back.
void StopSignal::request_stop() {
    std::lock_guard lock(mutex_);
    ++requests_;
    if (listener_) listener_();
}

int StopSignal::requests() const {
    std::lock_guard lock(mutex_);
    return requests_;
}

void StopSignal::set_listener(std::function<void()> listener) {
    std::lock_guard lock(mutex_);
    listener_ = std::move(listener);
    if (listener_)
        for (int i = 0; i < requests_; ++i) listener_();
}

}  // namespace cardsync
