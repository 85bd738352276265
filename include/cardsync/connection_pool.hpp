#pragma once
// A pool of HTTP/1.1 keep-alive connections to one API endpoint (plain TCP or TLS), on Asio.
//
// Each connection has a FIFO of in-flight requests (at most `pipeline` deep), one reader
// coroutine and one read buffer; answers are parsed with Beast's basic_parser and matched to
// requests in order. Requests are written by a non-blocking send once the current burst of
// completions has been handled, all connections' together, so the server is woken once for many of
// them rather than once per request; only a socket that takes no more wakes a writer. TLS
// is OpenSSL over the same socket and buffer, with no stream layers between. A connection
// connects when work is first given to it and again after the server closes it (Connection:
// close, idle timeout, reset); requests not yet written stay queued on it and go out on the new
// connection. The pool knows nothing of rows, retries or rates: the engine submits raw request
// bytes and gets one Exchange back per request. It runs on the caller's io_context (one thread);
// this header keeps Asio and Beast out.

#include "cardsync/api_endpoint.hpp"
#include "cardsync/clock.hpp"
#include "cardsync/response_parser.hpp"
#include "cardsync/retry_policy.hpp"

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace boost::asio {
class io_context;
}

namespace cardsync {

/// How the pool connects.
struct PoolOptions {
    ApiEndpoint endpoint;
    int connections = 16;                               ///< connections at most (>= 1)
    int pipeline = 1;                                   ///< requests in flight per connection (1 = no pipelining)
    Duration attempt_timeout = std::chrono::seconds(30); ///< request written -> answer complete
    Duration connect_timeout = std::chrono::seconds(10); ///< TCP connect, and TLS handshake, each
    std::string cacert;                                 ///< PEM file of trusted CAs; empty: the system store
    bool insecure = false;                              ///< skip certificate and host-name verification
    std::function<void(std::string_view)> log;         ///< debug lines (connects, closes); never the key
    std::size_t max_body = max_response_body;           ///< a longer body given to body_sink fails the request
                                                        ///< (garbled); a kept body: max_response_body
    /// When set, every 2xx answer's body is handed here in pieces as it arrives, not kept nor
    /// parsed (Exchange::api stays empty): the card list of GET-all, which may be far larger than
    /// max_response_body (card_snapshot.hpp). Other answers are kept and parsed as usual, up to
    /// max_response_body. Pieces carry no request id: use it with one request in flight.
    std::function<void(std::string_view)> body_sink;
    CardText card_text = CardText::kept;               ///< what a card answer's parse keeps (response_parser.hpp)
};

/// What became of one submitted request.
struct Exchange {
    std::uint64_t id = 0;                ///< as given to submit()
    int status = 0;                      ///< HTTP status; 0 when no complete answer arrived
    ApiResponse api;                     ///< the body, classified (when status != 0; not a kept body)
    bool body_streamed = false;          ///< the body went to PoolOptions::body_sink
    std::string retry_after;             ///< header values, empty when absent
    std::string retry_after_ms;
    std::string should_retry;            ///< x-should-retry
    std::string location;
    TransportError error = TransportError::none;  ///< why there is no answer
    std::string error_detail;            ///< e.g. "Connection refused"; never holds request bytes
    bool certificate_rejected = false;   ///< the TLS peer's certificate failed verification
    bool reused = false;                 ///< written on a connection that had already answered before
    bool answer_started = false;         ///< some bytes of the answer had arrived before the failure
    bool unprocessed = false;            ///< the server had announced Connection: close before this
                                         ///< request: it was never processed, send it again freely
    TimePoint sent_at{};                 ///< when the request was handed to the socket
    TimePoint done_at{};                 ///< when the answer completed (or the failure was noticed)

    Duration latency() const noexcept { return done_at - sent_at; }  ///< sent -> answer complete (or failure)
};

/// Counters of the pool's life, for the run summary.
struct PoolStats {
    std::uint64_t connects = 0;          ///< connections established
    std::uint64_t connect_failures = 0;  ///< TCP or TLS set-up failures
    std::uint64_t tls_resumed = 0;       ///< TLS handshakes that resumed an earlier session
    std::uint64_t closes_by_server = 0;  ///< connections the server ended (close, reset, idle)
    std::uint64_t timeouts = 0;          ///< connections dropped after an attempt timed out
    std::uint64_t requests = 0;          ///< requests written
    std::uint64_t answers = 0;           ///< complete answers read
    int max_in_flight = 0;               ///< most requests in flight on one connection at once
};

class ConnectionPool {
public:
    /// Called once per submitted request, on the io_context's thread; it may submit again.
    using Completion = std::function<void(Exchange&&)>;

    /// Throws std::runtime_error when the TLS set-up fails (e.g. an unreadable --cacert file).
    ConnectionPool(boost::asio::io_context& io, PoolOptions options, Completion on_done);
    ~ConnectionPool();
    ConnectionPool(const ConnectionPool&) = delete;
    ConnectionPool& operator=(const ConnectionPool&) = delete;

    /// True when some connection can take one more request now (connected or not).
    bool has_capacity() const noexcept;
    /// Queues `request` (complete HTTP/1.1 request bytes, copied) on the next connection with room;
    /// call only when has_capacity(). On a connection that is open and writable it goes straight
    /// into the output buffer (no copy of its own). Its Exchange arrives later through the completion.
    /// `now`, when given, is the caller's fresh clock reading, taken as the send time if it is
    /// written at once (one clock read less per request).
    void submit(std::uint64_t id, std::string_view request, std::optional<TimePoint> now = std::nullopt);
    /// Requests submitted and not yet completed.
    std::size_t in_flight() const noexcept;
    /// Closes every connection. Requests not answered yet are dropped without a completion;
    /// no completion is called after this. The connections' coroutines end soon after.
    void shutdown();

    const PoolStats& stats() const noexcept;

private:
    struct Impl;
    std::shared_ptr<Impl> impl_;
};

}  // namespace cardsync
