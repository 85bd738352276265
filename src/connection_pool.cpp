#include "cardsync/connection_pool.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/core/string.hpp>
#include <boost/beast/http/basic_parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <fmt/core.h>

#include <deque>
#include <optional>
#include <stdexcept>
#include <vector>

namespace cardsync {

namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = net::ssl;
using tcp = net::ip::tcp;
using executor = net::io_context::executor_type;
using tcp_stream = beast::basic_stream<tcp, executor>;
using tls_stream = beast::ssl_stream<tcp_stream>;
using timer = net::basic_waitable_timer<Clock, net::wait_traits<Clock>, executor>;
using error_code = boost::system::error_code;
using namespace net::experimental::awaitable_operators;
constexpr auto token = net::as_tuple(net::use_awaitable);

struct Pending {
    std::uint64_t id = 0;
    std::string bytes;     // the request, until written
    bool reused = false;   // the connection had answered before this was written
    TimePoint sent_at{};
};

// The parts of an answer the engine reads, in buffers a connection keeps from one answer to the
// next (Beast's http::parser allocates a node per header field and a fresh body per message).
struct Answer {
    int status = 0;
    std::string retry_after, retry_after_ms, should_retry, location;
    std::string body;

    void clear() {
        status = 0;
        retry_after.clear();
        retry_after_ms.clear();
        should_retry.clear();
        location.clear();
        body.clear();
    }
};

// Fills an Answer; every other header is looked at once and dropped.
class AnswerParser final : public http::basic_parser<false> {
public:
    explicit AnswerParser(Answer& out) : out_(out) {
        out_.clear();
        body_limit(max_response_body);
        header_limit(64 * 1024);
    }

private:
    using sv = beast::string_view;
    void on_request_impl(http::verb, sv, sv, int, error_code&) override {}
    void on_response_impl(int code, sv, int, error_code&) override { out_.status = code; }
    void on_field_impl(http::field name, sv name_string, sv value, error_code&) override {
        if (name == http::field::retry_after) out_.retry_after.assign(value.data(), value.size());
        else if (name == http::field::location) out_.location.assign(value.data(), value.size());
        else if (name != http::field::unknown) return;
        else if (beast::iequals(name_string, "retry-after-ms")) out_.retry_after_ms.assign(value.data(), value.size());
        else if (beast::iequals(name_string, "x-should-retry")) out_.should_retry.assign(value.data(), value.size());
    }
    void on_header_impl(error_code&) override {}
    void on_body_init_impl(boost::optional<std::uint64_t> const& length, error_code&) override {
        if (length) out_.body.reserve(static_cast<std::size_t>(*length) + 64);  // + simdjson's padding
    }
    std::size_t on_body_impl(sv body, error_code&) override {
        out_.body.append(body.data(), body.size());
        return body.size();
    }
    void on_chunk_header_impl(std::uint64_t, sv, error_code&) override {}
    std::size_t on_chunk_body_impl(std::uint64_t, sv body, error_code&) override {
        out_.body.append(body.data(), body.size());
        return body.size();
    }
    void on_finish_impl(error_code&) override {}

    Answer& out_;
};

// Why a connection ended, set by whichever coroutine noticed first.
struct Failure {
    TransportError kind = TransportError::none;
    std::string detail;
    bool answer_started = false;  // bytes of the front request's answer had arrived
    bool certificate = false;
};

struct Connection {
    Connection(executor ex, int i) : index(i), wake(ex), watchdog(ex) { wake.expires_at(TimePoint::max()); }
    enum class State { idle, connecting, ready };

    int index;
    State state = State::idle;
    std::deque<Pending> queue;  // in-flight FIFO: the first `written` were sent, the rest wait
    std::size_t written = 0;
    std::optional<tcp_stream> tcp;
    std::optional<tls_stream> tls;
    beast::flat_buffer buffer;
    std::string out;            // the bytes being written
    timer wake;                 // wakes the writer (session) or the idle connection loop
    timer watchdog;             // the front request's deadline
    std::uint64_t answered = 0; // answers on the current transport connection
    bool broken = false;        // the current session is over
    bool closing = false;       // the server announced Connection: close
    Failure failure;
    ResponseParser parser;
    Answer answer;              // the answer being read
    bool listed = false;        // in the pool's with_room list

    tcp_stream& lowest() { return tls ? beast::get_lowest_layer(*tls) : *tcp; }
    bool has_stream() const { return tls || tcp; }
};

bool is_ip_literal(const std::string& host) {
    error_code ec;
    net::ip::make_address(host, ec);
    return !ec;
}

std::string seconds_text(Duration d) { return fmt::format("{:g} s", to_seconds(d)); }

// The pool's state, shared with the connections' coroutines (they keep it alive until they end).
struct PoolState {
    PoolState(net::io_context& io_, PoolOptions options, ConnectionPool::Completion done)
        : io(io_), opt(std::move(options)), on_done(std::move(done)), resolver(io_) {}

    net::io_context& io;
    PoolOptions opt;
    ConnectionPool::Completion on_done;
    std::optional<ssl::context> ssl_ctx;
    tcp::resolver resolver;
    tcp::resolver::results_type endpoints;
    bool resolved = false;
    std::vector<std::unique_ptr<Connection>> conns;
    // Connections that can take one more request, in turn: submit takes the front and puts it at
    // the back while it still has room, so work spreads evenly in O(1) per request.
    std::deque<Connection*> with_room;
    PoolStats stats;
    std::size_t in_flight = 0;
    bool stopped = false;
    // The newest TLS session the server gave us (one reference held): later connections resume it
    // and skip the certificate exchange and its verification.
    SSL_SESSION* tls_session = nullptr;

    ~PoolState() {
        if (tls_session) SSL_SESSION_free(tls_session);
    }

    void log(const std::string& line) const {
        if (opt.log) opt.log(line);
    }

    bool has_room(const Connection* c) const { return c->queue.size() < static_cast<std::size_t>(opt.pipeline); }

    // Call whenever a connection's queue shrank.
    void note_room(Connection* c) {
        if (c->listed || !has_room(c)) return;
        c->listed = true;
        with_room.push_back(c);
    }

    void complete(Exchange&& ex) {
        if (stopped) return;
        --in_flight;
        on_done(std::move(ex));
    }

    // Ends the connection's session: closes the socket so every pending operation finishes.
    void fail(Connection* c, TransportError kind, std::string detail, bool answer_started) {
        if (c->broken) return;
        c->broken = true;
        c->failure = Failure{kind, std::move(detail), answer_started, false};
        close(c);
    }

    void close(Connection* c) {
        if (c->has_stream()) c->lowest().close();
        c->wake.cancel();
        c->watchdog.cancel();
    }
};

using Pool = std::shared_ptr<PoolState>;

net::awaitable<void> wait_for_wake(Connection* c) {
    c->wake.expires_at(TimePoint::max());
    auto [ec] = co_await c->wake.async_wait(token);
    (void)ec;  // cancelled = woken
}

// Connects (and handshakes) a fresh transport for `c`. On failure, returns why.
net::awaitable<Failure> open_connection(Pool pool, Connection* c) {
    const auto& ep = pool->opt.endpoint;
    if (!pool->resolved) {
        auto [ec, results] = co_await pool->resolver.async_resolve(ep.host, ep.port, token);
        if (ec) co_return Failure{TransportError::connect, fmt::format("cannot resolve {}: {}", ep.host, ec.message())};
        if (!pool->resolved) {
            pool->endpoints = std::move(results);
            pool->resolved = true;
        }
    }
    c->tls.reset();
    c->tcp.reset();
    if (ep.tls) c->tls.emplace(pool->io.get_executor(), *pool->ssl_ctx);
    else c->tcp.emplace(pool->io.get_executor());
    auto& low = c->lowest();
    low.expires_after(pool->opt.connect_timeout);
    auto [ec, where] = co_await low.async_connect(pool->endpoints, token);
    if (ec) {
        const std::string why = ec == beast::error::timeout
                                    ? "connect timed out after " + seconds_text(pool->opt.connect_timeout)
                                    : ec.message();
        co_return Failure{TransportError::connect, fmt::format("cannot connect to {}:{}: {}", ep.host, ep.port, why)};
    }
    error_code ignored;
    low.socket().set_option(tcp::no_delay(true), ignored);
    if (ep.tls) {
        SSL* ssl_handle = c->tls->native_handle();
        if (!is_ip_literal(ep.host)) SSL_set_tlsext_host_name(ssl_handle, ep.host.c_str());
        if (!pool->opt.insecure) {
            // OpenSSL checks the name (or IP) itself, so a mismatch is reported as such.
            X509_VERIFY_PARAM* param = SSL_get0_param(ssl_handle);
            if (is_ip_literal(ep.host)) X509_VERIFY_PARAM_set1_ip_asc(param, ep.host.c_str());
            else SSL_set1_host(ssl_handle, ep.host.c_str());
        }
        if (pool->tls_session) SSL_set_session(ssl_handle, pool->tls_session);
        low.expires_after(pool->opt.connect_timeout);
        auto [hec] = co_await c->tls->async_handshake(ssl::stream_base::client, token);
        if (hec) {
            const long verify = SSL_get_verify_result(ssl_handle);
            Failure f{TransportError::tls, {}, false, false};
            if (verify != X509_V_OK) {
                f.certificate = true;
                f.detail = fmt::format("TLS certificate of {} rejected: {}", ep.host,
                                       X509_verify_cert_error_string(verify));
            } else if (hec == beast::error::timeout) {
                f.detail = fmt::format("TLS handshake with {} timed out after {}", ep.host,
                                       seconds_text(pool->opt.connect_timeout));
            } else {
                f.detail = fmt::format("TLS handshake with {} failed: {}", ep.host, hec.message());
            }
            co_return f;
        }
        if (SSL_session_reused(ssl_handle)) ++pool->stats.tls_resumed;
    }
    low.expires_never();
    co_return Failure{};
}

net::awaitable<error_code> write_bytes(Connection* c) {
    if (c->tls) {
        auto [ec, n] = co_await net::async_write(*c->tls, net::buffer(c->out), token);
        co_return ec;
    }
    auto [ec, n] = co_await net::async_write(*c->tcp, net::buffer(c->out), token);
    co_return ec;
}

net::awaitable<error_code> read_message(Connection* c, AnswerParser& parser) {
    if (c->tls) {
        auto [ec, n] = co_await http::async_read(*c->tls, c->buffer, parser, token);
        co_return ec;
    }
    auto [ec, n] = co_await http::async_read(*c->tcp, c->buffer, parser, token);
    co_return ec;
}

// Writes every queued request not yet written, in one write when several wait (pipelining).
net::awaitable<void> write_loop(Pool pool, Connection* c) {
    while (!c->broken) {
        if (c->written == c->queue.size()) {
            co_await wait_for_wake(c);
            continue;
        }
        const TimePoint now = Clock::now();
        c->out.clear();
        for (std::size_t i = c->written; i < c->queue.size(); ++i) {
            Pending& p = c->queue[i];
            c->out += p.bytes;
            p.bytes = std::string();
            p.reused = c->answered > 0;
            p.sent_at = now;
            ++pool->stats.requests;
        }
        c->written = c->queue.size();
        pool->stats.max_in_flight = std::max(pool->stats.max_in_flight, static_cast<int>(c->written));
        const error_code ec = co_await write_bytes(c);
        if (c->broken) break;
        if (ec) pool->fail(c, TransportError::write, "sending the request failed: " + ec.message(), false);
    }
}

Exchange answer_exchange(Connection* c, Pending& p) {
    Answer& a = c->answer;
    Exchange ex;
    ex.id = p.id;
    ex.status = a.status;
    ex.retry_after = a.retry_after;
    ex.retry_after_ms = a.retry_after_ms;
    ex.should_retry = a.should_retry;
    ex.location = a.location;
    ex.api = c->parser.parse(a.body);
    ex.reused = p.reused;
    ex.sent_at = p.sent_at;
    ex.latency = Clock::now() - p.sent_at;
    return ex;
}

// Reads answers in order and hands each to the pool's completion.
net::awaitable<void> read_loop(Pool pool, Connection* c) {
    while (!c->broken) {
        AnswerParser parser(c->answer);
        const error_code ec = co_await read_message(c, parser);
        if (c->broken) break;
        if (ec) {
            const bool started = parser.got_some() || c->buffer.size() > 0;
            const bool closed = ec == http::error::end_of_stream || ec == net::error::eof ||
                                ec == net::error::connection_reset || ec == ssl::error::stream_truncated;
            if (c->written == 0 && !started && closed) {
                // An idle keep-alive connection the server closed: nobody was waiting on it.
                ++pool->stats.closes_by_server;
                pool->fail(c, TransportError::read, "closed while idle", false);
            } else if (ec == http::error::body_limit) {
                pool->fail(c, TransportError::garbled, "the answer's body is over 1 MiB", true);
            } else if (ec == http::error::partial_message || (closed && started)) {
                ++pool->stats.closes_by_server;
                pool->fail(c, TransportError::truncated, "the connection closed in the middle of the answer", true);
            } else if (closed) {
                ++pool->stats.closes_by_server;
                pool->fail(c, TransportError::read, "the server closed the connection before answering (" + ec.message() + ")", false);
            } else if (ec.category() == http::make_error_code(http::error::end_of_stream).category() || ec == http::error::bad_version) {
                pool->fail(c, TransportError::garbled, "the answer is not valid HTTP/1.1: " + ec.message(), true);
            } else {
                pool->fail(c, TransportError::read, "reading the answer failed: " + ec.message(), started);
            }
            break;
        }
        if (c->written == 0) {
            pool->fail(c, TransportError::garbled, "an answer arrived with no request waiting for it", true);
            break;
        }
        Pending p = std::move(c->queue.front());
        c->queue.pop_front();
        --c->written;
        pool->note_room(c);
        ++c->answered;
        ++pool->stats.answers;
        if (!parser.keep_alive()) c->closing = true;
        Exchange ex = answer_exchange(c, p);
        pool->complete(std::move(ex));  // may queue more work on this connection
        if (c->closing) {
            ++pool->stats.closes_by_server;
            pool->fail(c, TransportError::read, "the server closed the connection (Connection: close)", false);
            break;
        }
    }
}

// Drops the connection when the front request has waited longer than the attempt timeout. It is
// never re-armed per request (that would cost a timer wake per answer): every request is sent after
// the watchdog last looked, so its deadline is never earlier than the one being waited for. Idle,
// it looks again one timeout later.
net::awaitable<void> watch_loop(Pool pool, Connection* c) {
    const Duration timeout = pool->opt.attempt_timeout;
    while (!c->broken) {
        const TimePoint now = Clock::now();
        if (c->written && now >= c->queue.front().sent_at + timeout) {
            ++pool->stats.timeouts;
            // counted as started: the server may be working on it, so it is never resent for free
            pool->fail(c, TransportError::timeout, "no answer within " + seconds_text(timeout), true);
            break;
        }
        c->watchdog.expires_at(c->written ? c->queue.front().sent_at + timeout : now + timeout);
        auto [ec] = co_await c->watchdog.async_wait(token);
        (void)ec;  // cancelled: the connection is closing
    }
}

// Completes the requests a dead session leaves behind; those never written stay queued. They are
// taken off the queue first: a completion may shut the whole pool down (and clear the queue).
void settle(PoolState& pool, Connection* c) {
    std::vector<Pending> lost(std::make_move_iterator(c->queue.begin()),
                              std::make_move_iterator(c->queue.begin() + static_cast<std::ptrdiff_t>(c->written)));
    c->queue.erase(c->queue.begin(), c->queue.begin() + static_cast<std::ptrdiff_t>(c->written));
    c->written = 0;
    pool.note_room(c);
    const TimePoint now = Clock::now();
    for (std::size_t i = 0; i < lost.size(); ++i) {
        Exchange ex;
        ex.id = lost[i].id;
        ex.reused = lost[i].reused;
        ex.sent_at = lost[i].sent_at;
        ex.latency = now - lost[i].sent_at;
        ex.error = c->failure.kind == TransportError::none ? TransportError::read : c->failure.kind;
        if (c->closing) {
            ex.unprocessed = true;
            ex.error_detail = "the server closed the connection (Connection: close) before this request";
        } else {
            ex.error_detail = c->failure.detail;
            ex.answer_started = i == 0 && c->failure.answer_started;
        }
        pool.complete(std::move(ex));
    }
}

// Fails everything queued on `c` (nothing was written): the connection could not be opened.
void fail_queued(PoolState& pool, Connection* c, const Failure& f) {
    std::deque<Pending> queued;
    queued.swap(c->queue);
    c->written = 0;
    pool.note_room(c);
    for (auto& p : queued) {
        Exchange ex;
        ex.id = p.id;
        ex.error = f.kind;
        ex.error_detail = f.detail;
        ex.certificate_rejected = f.certificate;
        ex.sent_at = Clock::now();
        pool.complete(std::move(ex));
    }
}

net::awaitable<void> run_connection(Pool pool, Connection* c) {
    while (!pool->stopped) {
        if (c->queue.empty()) {
            co_await wait_for_wake(c);
            continue;
        }
        c->state = Connection::State::connecting;
        Failure f = co_await open_connection(pool, c);
        if (pool->stopped) break;
        if (f.kind != TransportError::none) {
            ++pool->stats.connect_failures;
            pool->log(fmt::format("connection {}: {}", c->index, f.detail));
            c->state = Connection::State::idle;
            fail_queued(*pool, c, f);
            continue;
        }
        ++pool->stats.connects;
        pool->log(fmt::format("connection {}: connected to {}:{}", c->index, pool->opt.endpoint.host, pool->opt.endpoint.port));
        c->buffer.clear();
        c->answered = 0;
        c->broken = false;
        c->closing = false;
        c->failure = Failure{};
        c->state = Connection::State::ready;
        co_await ((write_loop(pool, c) && read_loop(pool, c)) && watch_loop(pool, c));
        c->state = Connection::State::idle;
        if (c->has_stream()) c->lowest().close();
        if (pool->stopped) break;
        pool->log(fmt::format("connection {}: closed after {} answers: {}", c->index, c->answered,
                              c->failure.detail.empty() ? "done" : c->failure.detail));
        settle(*pool, c);
    }
}

}  // namespace

struct ConnectionPool::Impl : PoolState {
    using PoolState::PoolState;
};

ConnectionPool::ConnectionPool(boost::asio::io_context& io, PoolOptions options, Completion on_done)
    : impl_(std::make_shared<Impl>(io, std::move(options), std::move(on_done))) {
    auto& opt = impl_->opt;
    opt.connections = std::max(1, opt.connections);
    opt.pipeline = std::max(1, opt.pipeline);
    if (opt.endpoint.tls) {
        auto& ctx = impl_->ssl_ctx.emplace(ssl::context::tls_client);
        // Keep the server's newest session (TLS 1.3 sends it after the handshake) for resumption.
        SSL_CTX_set_session_cache_mode(ctx.native_handle(), SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
        // (Asio keeps its verify callback in the context's app data: the pool gets a slot of its own.)
        static const int pool_slot = SSL_CTX_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);
        SSL_CTX_set_ex_data(ctx.native_handle(), pool_slot, static_cast<PoolState*>(impl_.get()));
        SSL_CTX_sess_set_new_cb(ctx.native_handle(), [](SSL* ssl, SSL_SESSION* session) -> int {
            auto* pool = static_cast<PoolState*>(SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), pool_slot));
            // A copy: OpenSSL marks the connection's own session not resumable when that connection
            // ends without a TLS close_notify, which servers closing idle connections often do.
            if (SSL_SESSION* copy = SSL_SESSION_dup(session)) {
                if (pool->tls_session) SSL_SESSION_free(pool->tls_session);
                pool->tls_session = copy;
            }
            return 0;  // the original stays OpenSSL's
        });
        ctx.set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 | ssl::context::no_sslv3 |
                        ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1);
        if (opt.insecure) {
            ctx.set_verify_mode(ssl::verify_none);
        } else {
            ctx.set_verify_mode(ssl::verify_peer);
            error_code ec;
            if (opt.cacert.empty()) {
                ctx.set_default_verify_paths(ec);
                if (ec) throw std::runtime_error("cannot load the system's trusted certificates: " + ec.message());
            } else {
                ctx.load_verify_file(opt.cacert, ec);
                if (ec) throw std::runtime_error("cannot load --cacert '" + opt.cacert + "': " + ec.message() +
                                                 " (expected PEM certificates)");
            }
        }
    }
    for (int i = 0; i < opt.connections; ++i) {
        impl_->conns.push_back(std::make_unique<Connection>(io.get_executor(), i));
        impl_->note_room(impl_->conns.back().get());
        net::co_spawn(io, run_connection(impl_, impl_->conns.back().get()), [](std::exception_ptr e) {
            if (e) std::rethrow_exception(e);
        });
    }
}

ConnectionPool::~ConnectionPool() { shutdown(); }

bool ConnectionPool::has_capacity() const noexcept {
    // every request in flight holds one queue slot on one connection
    return !impl_->stopped &&
           impl_->in_flight < static_cast<std::size_t>(impl_->opt.connections) * static_cast<std::size_t>(impl_->opt.pipeline);
}

void ConnectionPool::submit(std::uint64_t id, std::string request) {
    auto& pool = *impl_;
    Connection* c = nullptr;
    while (!pool.with_room.empty() && !c) {
        c = pool.with_room.front();
        pool.with_room.pop_front();
        c->listed = false;
        if (!pool.has_room(c)) c = nullptr;
    }
    if (!c) throw std::logic_error("ConnectionPool::submit without capacity");
    c->queue.push_back(Pending{id, std::move(request), false, {}});
    ++pool.in_flight;
    pool.note_room(c);
    c->wake.cancel();
}

std::size_t ConnectionPool::in_flight() const noexcept { return impl_->in_flight; }

void ConnectionPool::shutdown() {
    if (impl_->stopped) return;
    impl_->stopped = true;
    impl_->resolver.cancel();
    for (auto& c : impl_->conns) {
        c->broken = true;
        impl_->close(c.get());
        c->queue.clear();
        c->written = 0;
    }
    impl_->with_room.clear();
    impl_->in_flight = 0;
}

const PoolStats& ConnectionPool::stats() const noexcept { return impl_->stats; }

}  // namespace cardsync
