#pragma once
// A request to stop a run, from any thread: the in-process counterpart of SIGINT (tests, embedding).

#include <functional>
#include <mutex>

namespace cardsync {

/// Thread-safe, one-way: once requested, a stop stays requested. Not async-signal-safe (the
/// engine handles SIGINT/SIGTERM itself).
class StopSignal {
public:
    /// Requests a stop: the run stops reading and lets in-flight requests finish within its grace
    /// period. A second request stops at once. Calls the listener, if any, on this thread, under a lock.
    void request_stop();
    /// How many stops were requested.
    int requests() const;

    /// Installs the function called on each request (the engine posts to its own thread), or
    /// removes it with nullptr (after which it is never called). Called at once for each request
    /// made before it was installed. It must be quick and must not call back into this object.
    void set_listener(std::function<void()> listener);

private:
    mutable std::mutex mutex_;
    int requests_ = 0;
    std::function<void()> listener_;
};

}  // namespace cardsync
