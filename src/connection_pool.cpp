#include "cardsync/connection_pool.hpp"

#include "cardsync/answer_head.hpp"
#include "cardsync/ring_queue.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/string.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/basic_parser.hpp>
#include <boost/beast/http/error.hpp>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <fmt/core.h>

#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <optional>
#include <stdexcept>
#include <vector>

namespace cardsync {

namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;
using executor = net::io_context::executor_type;
using tcp_stream = beast::basic_stream<tcp, executor>;
using socket = net::basic_stream_socket<tcp, executor>;
using timer = net::basic_waitable_timer<Clock, net::wait_traits<Clock>, executor>;
using error_code = boost::system::error_code;
using namespace net::experimental::awaitable_operators;
// The coroutines run on the io_context's own executor type, the sockets' and timers' too: a
// completion then resumes its coroutine directly, without the type-erased any_io_executor's
// hop (a wrapped, allocated handler and outstanding-work counting) on every answer.
template <class T>
using Task = net::awaitable<T, executor>;
constexpr auto token = net::as_tuple(net::use_awaitable_t<executor>{});

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
    bool streamed = false;  // a 2xx body handed to PoolOptions::body_sink instead of kept in `body`

    void clear() {
        status = 0;
        streamed = false;
        retry_after.clear();
        retry_after_ms.clear();
        should_retry.clear();
        location.clear();
        body.clear();
    }
};

// Fills an Answer; every other header is looked at once and dropped. With a sink, a 2xx body
// goes to it piece by piece as it is read (never held whole), up to `max_body`; any other body is
// kept, up to max_response_body.
class AnswerParser final : public http::basic_parser<false> {
public:
    AnswerParser(Answer& out, const std::function<void(std::string_view)>* sink, std::size_t max_body)
        : out_(out), sink_(sink) {
        out_.clear();
        body_limit(sink ? std::max(max_body, max_response_body) : max_response_body);
        header_limit(64 * 1024);
        eager(true);  // the body in the same put() as the header when it is there
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
        out_.streamed = sink_ && out_.status / 100 == 2;
        if (length && !out_.streamed && *length <= max_response_body)
            out_.body.reserve(static_cast<std::size_t>(*length) + 64);  // + simdjson's padding
    }
    std::size_t on_body_impl(sv body, error_code& ec) override { return take(body, ec); }
    void on_chunk_header_impl(std::uint64_t, sv, error_code&) override {}
    std::size_t on_chunk_body_impl(std::uint64_t, sv body, error_code& ec) override { return take(body, ec); }
    void on_finish_impl(error_code&) override {}

    std::size_t take(sv body, error_code& ec) {
        if (out_.streamed) {
            (*sink_)(std::string_view(body.data(), body.size()));
        } else if (out_.body.size() + body.size() > max_response_body) {
            ec = http::error::body_limit;  // a kept body stays small even when a streamed one may be large
            return 0;
        } else {
            out_.body.append(body.data(), body.size());
        }
        return body.size();
    }

    Answer& out_;
    const std::function<void(std::string_view)>* sink_;
};

// Why a connection ended, set by whichever side noticed first.
struct Failure {
    TransportError kind = TransportError::none;
    std::string detail;
    bool answer_started = false;  // bytes of the front request's answer had arrived
    bool certificate = false;
};

// What the socket (or OpenSSL over it) did with one non-blocking read or write.
enum class Want { nothing, read, write };
struct IoResult {
    std::size_t bytes = 0;
    Want want = Want::nothing;  // nothing moved: wait for this readiness and try again
    error_code ec;              // eof, reset, TLS alert...; set when bytes == 0 and want == nothing

    static IoResult moved(std::size_t n) { return {n, Want::nothing, {}}; }
    static IoResult wait(Want w) { return {0, w, {}}; }
    static IoResult failed(error_code e) { return {0, Want::nothing, e}; }
};

// The socket as OpenSSL sees it (a BIO of our own): reads come from `cipher`, which the pool fills
// with Asio's async_read_some (no epoll_ctl per wait); writes go straight to the socket.
struct SocketIo {
    int fd = -1;
    beast::flat_buffer cipher;  // TLS bytes read from the socket, not yet taken by OpenSSL
    bool eof = false;           // the server closed its side
    int error = 0;              // errno of the last failed send, 0 if none
};

int bio_read(BIO* b, char* data, std::size_t size, std::size_t* got) {
    auto* io = static_cast<SocketIo*>(BIO_get_data(b));
    BIO_clear_retry_flags(b);
    if (io->cipher.size() == 0) {
        if (!io->eof) BIO_set_retry_read(b);  // the pool reads the socket and calls OpenSSL again
        return 0;
    }
    *got = net::buffer_copy(net::buffer(data, size), io->cipher.data());
    io->cipher.consume(*got);
    return 1;
}

// OpenSSL's thread's error queue must be empty before an SSL_ call for SSL_get_error to be right.
// It nearly always is: ERR_clear_error walks all its slots, a peek only looks (it was ~2 % of the
// client's CPU on https, called before every read and write).
void clear_tls_errors() {
    if (ERR_peek_error() != 0) ERR_clear_error();
}

// One non-blocking send: the plain path and OpenSSL's BIO both write through it.
IoResult send_some(int fd, const char* data, std::size_t size) {
    for (;;) {
        const ssize_t n = ::send(fd, data, size, MSG_NOSIGNAL);
        if (n >= 0) return IoResult::moved(static_cast<std::size_t>(n));
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) return IoResult::wait(Want::write);
        return IoResult::failed(error_code(errno, boost::system::system_category()));
    }
}

int bio_write(BIO* b, const char* data, std::size_t size, std::size_t* put) {
    auto* io = static_cast<SocketIo*>(BIO_get_data(b));
    BIO_clear_retry_flags(b);
    const IoResult r = send_some(io->fd, data, size);
    if (r.want == Want::write) BIO_set_retry_write(b);
    else if (r.ec) io->error = r.ec.value();
    *put = r.bytes;
    return r.want == Want::nothing && !r.ec ? 1 : 0;
}

long bio_ctrl(BIO* b, int cmd, long, void*) {
    if (cmd == BIO_CTRL_FLUSH) return 1;  // nothing is buffered here
    if (cmd == BIO_CTRL_EOF) {
        const auto* io = static_cast<SocketIo*>(BIO_get_data(b));
        return io->eof && io->cipher.size() == 0 ? 1 : 0;
    }
    return 0;
}

BIO_METHOD* socket_bio_method() {
    static BIO_METHOD* const method = [] {
        BIO_METHOD* m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "cardsync socket");
        if (!m) throw std::runtime_error("OpenSSL could not create a BIO method");
        BIO_meth_set_read_ex(m, bio_read);
        BIO_meth_set_write_ex(m, bio_write);
        BIO_meth_set_ctrl(m, bio_ctrl);
        BIO_meth_set_create(m, [](BIO* b) {
            BIO_set_init(b, 1);
            return 1;
        });
        return m;
    }();
    return method;
}

// The newest OpenSSL error as text, for messages ("certificate verify failed", "wrong version number").
std::string openssl_reason(unsigned long code) {
    if (const char* r = ERR_reason_error_string(code)) return r;
    return fmt::format("OpenSSL error {:#x}", code);
}

struct Connection {
    Connection(executor ex, int i) : index(i), wake(ex), watchdog(ex) { wake.expires_at(TimePoint::max()); }
    ~Connection() { drop_tls(); }
    enum class State { idle, connecting, ready };

    int index;
    State state = State::idle;
    RingQueue<Pending> queue;   // in-flight FIFO: the first `written` were sent, the rest wait
    std::size_t written = 0;
    std::optional<socket> sock;
    SSL* tls = nullptr;         // over `io` when the endpoint is https
    SocketIo io;
    beast::flat_buffer buffer;
    std::string out;            // the bytes being written: out[out_pos..] are still to go
    std::size_t out_pos = 0;
    bool write_blocked = false; // the socket took no more: the writer waits for `write_wants`
    Want write_wants = Want::write;
    bool flush_listed = false;  // in the pool's `to_flush`
    timer wake;                 // wakes the blocked writer, or the idle connection loop
    timer watchdog;             // the front request's deadline; the TLS handshake's
    std::uint64_t answered = 0; // answers on the current transport connection
    bool broken = false;        // the current session is over
    bool closing = false;       // the server announced Connection: close
    bool handshaking = false;
    bool handshake_timed_out = false;
    Failure failure;
    ResponseParser parser;
    Answer answer;              // the answer being read
    bool listed = false;        // in the pool's with_room list

    void drop_tls() {
        if (tls) SSL_free(tls);  // frees the BIO too
        tls = nullptr;
    }

    // Decrypts what `io.cipher` holds (TLS only); Want::read when it needs more from the socket.
    IoResult decrypt(char* data, std::size_t size) {
        clear_tls_errors();
        std::size_t got = 0;
        io.error = 0;
        if (SSL_read_ex(tls, data, size, &got)) return IoResult::moved(got);
        return tls_failure(SSL_get_error(tls, 0));
    }

    IoResult write_some(const char* data, std::size_t size) {
        if (tls) {
            clear_tls_errors();
            std::size_t put = 0;
            io.error = 0;
            if (SSL_write_ex(tls, data, size, &put)) return IoResult::moved(put);
            return tls_failure(SSL_get_error(tls, 0));
        }
        return send_some(io.fd, data, size);
    }

    IoResult tls_failure(int why) {
        switch (why) {
            case SSL_ERROR_WANT_READ: return IoResult::wait(Want::read);
            case SSL_ERROR_WANT_WRITE: return IoResult::wait(Want::write);
            case SSL_ERROR_ZERO_RETURN: return IoResult::failed(net::error::eof);
            case SSL_ERROR_SYSCALL:
                if (io.error) return IoResult::failed(error_code(io.error, boost::system::system_category()));
                return IoResult::failed(net::error::eof);  // closed without a TLS close_notify
            default: {
                const unsigned long code = ERR_get_error();
                if (!code) return IoResult::failed(net::error::eof);
                return IoResult::failed(error_code(static_cast<int>(code), net::error::get_ssl_category()));
            }
        }
    }
};

bool is_ip_literal(const std::string& host) {
    error_code ec;
    net::ip::make_address(host, ec);
    return !ec;
}

std::string seconds_text(Duration d) { return fmt::format("{:g} s", to_seconds(d)); }

std::string size_text(std::size_t limit) {
    if (limit % (1 << 20) == 0) return fmt::format("the answer's body is over {} MiB", limit >> 20);
    return fmt::format("the answer's body is over {} bytes", limit);
}

struct SslCtxFree {
    void operator()(SSL_CTX* ctx) const noexcept { SSL_CTX_free(ctx); }
};

// The pool's state, shared with the connections' coroutines (they keep it alive until they end).
struct PoolState : std::enable_shared_from_this<PoolState> {
    PoolState(net::io_context& io_, PoolOptions options, ConnectionPool::Completion done)
        : io(io_), opt(std::move(options)), on_done(std::move(done)), resolver(io_) {}

    net::io_context& io;
    PoolOptions opt;
    ConnectionPool::Completion on_done;
    std::unique_ptr<SSL_CTX, SslCtxFree> ssl_ctx;
    tcp::resolver resolver;
    tcp::resolver::results_type endpoints;
    bool resolved = false;
    std::vector<std::unique_ptr<Connection>> conns;
    // Connections that can take one more request, in turn: submit takes the front and puts it at
    // the back while it still has room, so work spreads evenly in O(1) per request.
    RingQueue<Connection*> with_room;
    // Connections given requests since the last flush: written together once the current burst of
    // completions is over. Pipelined, several requests leave in one write; unpipelined, the
    // requests of all connections leave back to back, and the server takes many per wake-up
    // (sent one per answer, nginx woke ~6x as often and spent ~20 % more per request than it
    // does serving wrk; bench/HISTORY.md, sixth round).
    std::vector<Connection*> to_flush;
    std::vector<Connection*> flushing;  // to_flush as taken by the flush under way
    bool flush_posted = false;
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

    // Ends the connection's session: closes the socket so every pending wait finishes.
    void fail(Connection* c, TransportError kind, std::string detail, bool answer_started) {
        if (c->broken) return;
        c->broken = true;
        c->failure = Failure{kind, std::move(detail), answer_started, false};
        close(c);
    }

    void close(Connection* c) {
        if (c->sock) {
            error_code ignored;
            c->sock->close(ignored);
        }
        c->wake.cancel();
        c->watchdog.cancel();
    }

    // The queued requests not written yet are in `out` now: stamps them sent and counts them.
    void mark_written(Connection* c, std::optional<TimePoint> at = std::nullopt) {
        const TimePoint now = at ? *at : Clock::now();
        for (std::size_t i = c->written; i < c->queue.size(); ++i) {
            c->queue[i].reused = c->answered > 0;
            c->queue[i].sent_at = now;
            ++stats.requests;
        }
        c->written = c->queue.size();
        stats.max_in_flight = std::max(stats.max_in_flight, static_cast<int>(c->written));
    }

    // Writes what `c` has queued and not written, straight from the caller: no wake-up of a
    // writer per request. Only when the socket takes no more does the session's writer wait.
    void flush(Connection* c) {
        if (c->state != Connection::State::ready || c->broken || c->write_blocked) return;
        for (;;) {
            if (c->out_pos == c->out.size()) {
                if (c->written == c->queue.size()) return;
                c->out.clear();
                c->out_pos = 0;
                for (std::size_t i = c->written; i < c->queue.size(); ++i) {
                    c->out += c->queue[i].bytes;
                    c->queue[i].bytes = std::string();
                }
                mark_written(c);
            }
            const IoResult r = c->write_some(c->out.data() + c->out_pos, c->out.size() - c->out_pos);
            if (r.bytes) {
                c->out_pos += r.bytes;
            } else if (r.want != Want::nothing) {
                c->write_blocked = true;  // retried with the same bytes, as OpenSSL requires
                c->write_wants = r.want;
                c->wake.cancel();
                return;
            } else {
                fail(c, TransportError::write, "sending the request failed: " + r.ec.message(), false);
                return;
            }
        }
    }

    void flush_later(Connection* c) {
        if (!c->flush_listed) {
            c->flush_listed = true;
            to_flush.push_back(c);
        }
        if (flush_posted) return;
        flush_posted = true;
        net::post(io, [self = shared_from_this()] { self->flush_listed_connections(); });
    }

    void flush_listed_connections() {
        flush_posted = false;
        flushing.swap(to_flush);  // a flush may list connections again: they go in the next one
        for (Connection* c : flushing) {
            c->flush_listed = false;
            if (!stopped) flush(c);
        }
        flushing.clear();  // both lists keep their capacity: no allocation per flush
    }
};

using Pool = std::shared_ptr<PoolState>;

Task<void> wait_for_wake(Connection* c) {
    c->wake.expires_at(TimePoint::max());
    auto [ec] = co_await c->wake.async_wait(token);
    (void)ec;  // cancelled = woken
}

// Reads what the socket has into `into`. Boost 1.81's Asio tries every read at once (it stops only
// after an end of stream), so a read right after a request costs one recv that finds nothing.
Task<error_code> read_socket(Connection* c, beast::flat_buffer& into) {
    constexpr std::size_t read_size = 16 * 1024;
    auto [ec, n] = co_await c->sock->async_read_some(into.prepare(read_size), token);
    into.commit(n);
    co_return ec;
}

// TLS: more ciphertext for OpenSSL. Failing that, the end of the stream is marked for the BIO.
Task<error_code> read_cipher(Connection* c) {
    const error_code ec = co_await read_socket(c, c->io.cipher);
    if (ec == net::error::eof) c->io.eof = true;
    co_return ec;
}

Task<error_code> wait_writable(Connection* c) {
    auto [ec] = co_await c->sock->async_wait(socket::wait_write, token);
    co_return ec;
}

Failure handshake_failure(Pool& pool, Connection* c, std::string why) {
    const auto& ep = pool->opt.endpoint;
    Failure f{TransportError::tls, {}, false, false};
    const long verify = SSL_get_verify_result(c->tls);
    if (verify != X509_V_OK) {
        f.certificate = true;
        f.detail = fmt::format("TLS certificate of {} rejected: {}", ep.host, X509_verify_cert_error_string(verify));
    } else if (c->handshake_timed_out) {
        f.detail = fmt::format("TLS handshake with {} timed out after {}", ep.host, seconds_text(pool->opt.connect_timeout));
    } else {
        f.detail = fmt::format("TLS handshake with {} failed: {}", ep.host, why);
    }
    return f;
}

// The TLS handshake over the connected socket, within the connect timeout.
Task<Failure> tls_handshake(Pool pool, Connection* c) {
    const auto& ep = pool->opt.endpoint;
    c->tls = SSL_new(pool->ssl_ctx.get());
    if (!c->tls) co_return Failure{TransportError::tls, "OpenSSL could not create a connection: " + openssl_reason(ERR_get_error())};
    BIO* bio = BIO_new(socket_bio_method());
    if (!bio) co_return Failure{TransportError::tls, "OpenSSL could not create a BIO: " + openssl_reason(ERR_get_error())};
    BIO_set_data(bio, &c->io);
    SSL_set_bio(c->tls, bio, bio);
    SSL_set_connect_state(c->tls);
    if (!is_ip_literal(ep.host)) SSL_set_tlsext_host_name(c->tls, ep.host.c_str());
    if (!pool->opt.insecure) {
        // OpenSSL checks the name (or IP) itself, so a mismatch is reported as such.
        X509_VERIFY_PARAM* param = SSL_get0_param(c->tls);
        if (is_ip_literal(ep.host)) X509_VERIFY_PARAM_set1_ip_asc(param, ep.host.c_str());
        else SSL_set1_host(c->tls, ep.host.c_str());
    }
    if (pool->tls_session) SSL_set_session(c->tls, pool->tls_session);

    c->handshaking = true;
    c->handshake_timed_out = false;
    c->watchdog.expires_after(pool->opt.connect_timeout);
    c->watchdog.async_wait([pool, c](error_code ec) {
        if (ec || !c->handshaking) return;
        c->handshake_timed_out = true;
        pool->close(c);
    });
    Failure result;
    for (;;) {
        clear_tls_errors();
        c->io.error = 0;
        const int r = SSL_do_handshake(c->tls);
        if (r == 1) break;
        const IoResult why = c->tls_failure(SSL_get_error(c->tls, r));
        if (why.want == Want::nothing) {
            result = handshake_failure(pool, c, why.ec == net::error::eof ? "the server closed the connection"
                                                                            : why.ec.message());
            break;
        }
        const error_code ec = why.want == Want::read ? co_await read_cipher(c) : co_await wait_writable(c);
        if (ec) {
            result = handshake_failure(pool, c, ec.message());
            break;
        }
    }
    c->handshaking = false;
    c->watchdog.cancel();
    if (result.kind == TransportError::none && SSL_session_reused(c->tls)) ++pool->stats.tls_resumed;
    co_return result;
}

// Connects (and handshakes) a fresh transport for `c`. On failure, returns why.
Task<Failure> open_connection(Pool pool, Connection* c) {
    const auto& ep = pool->opt.endpoint;
    if (!pool->resolved) {
        auto [ec, results] = co_await pool->resolver.async_resolve(ep.host, ep.port, token);
        if (ec) co_return Failure{TransportError::connect, fmt::format("cannot resolve {}: {}", ep.host, ec.message())};
        if (!pool->resolved) {
            pool->endpoints = std::move(results);
            pool->resolved = true;
        }
    }
    c->drop_tls();
    c->sock.reset();
    {
        // Beast's stream for its connect timeout over every address; the socket is then driven directly.
        tcp_stream stream(pool->io.get_executor());
        stream.expires_after(pool->opt.connect_timeout);
        auto [ec, where] = co_await stream.async_connect(pool->endpoints, token);
        if (ec) {
            const std::string why = ec == beast::error::timeout
                                        ? "connect timed out after " + seconds_text(pool->opt.connect_timeout)
                                        : ec.message();
            co_return Failure{TransportError::connect, fmt::format("cannot connect to {}:{}: {}", ep.host, ep.port, why)};
        }
        stream.expires_never();
        c->sock.emplace(stream.release_socket());
    }
    error_code ignored;
    c->sock->set_option(tcp::no_delay(true), ignored);
    c->sock->non_blocking(true, ignored);
    c->io.fd = c->sock->native_handle();
    c->io.cipher.clear();
    c->io.eof = false;
    c->io.error = 0;
    if (ep.tls) co_return co_await tls_handshake(pool, c);
    co_return Failure{};
}

// What reading an answer needs next.
struct ReadStep {
    enum Kind { done, parse_error, read, wait_write, io_error } kind = done;
    error_code ec;  // parse_error, io_error
    bool plain = false;       // done: read whole by take_plain_answer, not by Beast
    bool keep_alive = true;   // done and plain: the connection stays open
};

enum class Plain { taken, need_more, declined };

// Takes a whole answer of the plain shape (answer_head.hpp) from the connection's buffer, without
// Beast; `declined` leaves it to Beast, which then reads it from its first byte. Fills the Answer
// as AnswerParser would, and keeps its limits: a body over them is declined, for Beast to report.
Plain take_plain_answer(Connection* c, const std::function<void(std::string_view)>* sink, std::size_t max_body,
                        bool& keep_alive);

// Feeds `parser` what the connection holds (decrypting it first on TLS) until the answer is
// complete, fails, or the socket must be waited for. Not a coroutine: read_loop awaits the socket
// itself, so an answer costs no coroutine frame of its own.
ReadStep advance_answer(Connection* c, AnswerParser& parser, const std::function<void(std::string_view)>* sink,
                        std::size_t max_body, bool& try_plain) {
    for (;;) {
        if (try_plain && c->buffer.size() > 0) {
            ReadStep step{ReadStep::done, {}, true, true};
            const Plain p = take_plain_answer(c, sink, max_body, step.keep_alive);
            if (p == Plain::taken) return step;
            if (p == Plain::declined) try_plain = false;  // Beast has seen none of it: it starts afresh
        }
        while (!try_plain && c->buffer.size() > 0) {
            error_code ec;
            const std::size_t used = parser.put(c->buffer.data(), ec);
            c->buffer.consume(used);
            if (ec == http::error::need_more) break;
            if (ec) return {ReadStep::parse_error, ec};
            if (parser.is_done()) return {ReadStep::done, {}};
            if (used == 0) break;
        }
        if (!c->tls) return {ReadStep::read, {}};
        // Nothing to decrypt, in our buffer or OpenSSL's: the call would only say "want read".
        if (c->io.cipher.size() == 0 && !c->io.eof && !SSL_has_pending(c->tls)) return {ReadStep::read, {}};
        constexpr std::size_t plain_size = 16 * 1024;
        const auto space = c->buffer.prepare(plain_size);
        const IoResult r = c->decrypt(static_cast<char*>(space.data()), space.size());
        if (r.bytes) {
            c->buffer.commit(r.bytes);
            continue;
        }
        if (r.want == Want::read) return {ReadStep::read, {}};
        if (r.want == Want::write) return {ReadStep::wait_write, {}};
        return {ReadStep::io_error, r.ec};
    }
}

Plain take_plain_answer(Connection* c, const std::function<void(std::string_view)>* sink, std::size_t max_body,
                        bool& keep_alive) {
    const std::string_view bytes(static_cast<const char*>(c->buffer.data().data()), c->buffer.size());
    PlainAnswerHead head;
    const HeadScan scan = scan_plain_answer_head(bytes, head);
    if (scan == HeadScan::need_more) return Plain::need_more;
    if (scan == HeadScan::other) return Plain::declined;
    const bool streamed = sink && head.status / 100 == 2;
    if (head.content_length > (streamed ? std::max(max_body, max_response_body) : max_response_body))
        return Plain::declined;
    const auto length = static_cast<std::size_t>(head.content_length);
    if (bytes.size() - head.head_bytes < length) return Plain::need_more;
    Answer& a = c->answer;  // cleared by the answer's AnswerParser
    a.status = head.status;
    a.retry_after.assign(head.retry_after);
    a.retry_after_ms.assign(head.retry_after_ms);
    a.should_retry.assign(head.should_retry);
    a.location.assign(head.location);
    a.streamed = streamed;
    const std::string_view body = bytes.substr(head.head_bytes, length);
    if (streamed) {
        if (!body.empty()) (*sink)(body);
    } else {
        a.body.reserve(length + 64);  // + simdjson's padding
        a.body.assign(body);
    }
    keep_alive = head.keep_alive;
    c->buffer.consume(head.head_bytes + length);
    return Plain::taken;
}

// Waits for the socket when a flush could not write everything, then writes the rest. (OpenSSL
// wanting to read first is served by the reader, which flushes again after its next read.)
Task<void> write_loop(Pool pool, Connection* c) {
    while (!c->broken) {
        if (!c->write_blocked || c->write_wants == Want::read) {
            co_await wait_for_wake(c);
            continue;
        }
        const error_code ec = co_await wait_writable(c);
        if (c->broken) break;
        if (ec) {
            pool->fail(c, TransportError::write, "sending the request failed: " + ec.message(), false);
            break;
        }
        c->write_blocked = false;
        pool->flush(c);
    }
}

Exchange answer_exchange(Connection* c, Pending& p, CardText card_text) {
    Answer& a = c->answer;
    Exchange ex;
    ex.id = p.id;
    ex.status = a.status;
    ex.retry_after = a.retry_after;
    ex.retry_after_ms = a.retry_after_ms;
    ex.should_retry = a.should_retry;
    ex.location = a.location;
    ex.body_streamed = a.streamed;
    if (!a.streamed) ex.api = c->parser.parse(a.body, card_text);
    ex.reused = p.reused;
    ex.sent_at = p.sent_at;
    ex.done_at = Clock::now();
    return ex;
}

// Reads answers in order and hands each to the pool's completion.
Task<void> read_loop(Pool pool, Connection* c) {
    while (!c->broken) {
        const auto* sink = pool->opt.body_sink ? &pool->opt.body_sink : nullptr;
        AnswerParser parser(c->answer, sink, pool->opt.max_body);
        bool try_plain = true;  // until the answer proves not plain, Beast sees none of it
        bool plain = false, plain_keep_alive = true;
        error_code ec;
        for (;;) {
            const ReadStep step = advance_answer(c, parser, sink, pool->opt.max_body, try_plain);
            if (step.kind == ReadStep::done || step.kind == ReadStep::parse_error) {
                ec = step.ec;
                plain = step.plain;
                plain_keep_alive = step.keep_alive;
                break;
            }
            if (step.kind == ReadStep::io_error) {
                ec = step.ec;
            } else if (step.kind == ReadStep::wait_write) {
                std::tie(ec) = co_await c->sock->async_wait(socket::wait_write, token);
            } else {
                // Asio tries this read at once, and right after a request it usually finds nothing:
                // one wasted recv per answer. Yielding to the rest of the batch first removed most
                // of them, but the extra posts and polls cost as much CPU (measured: no change).
                beast::flat_buffer& into = c->tls ? c->io.cipher : c->buffer;
                std::size_t n = 0;
                std::tie(ec, n) = co_await c->sock->async_read_some(into.prepare(16 * 1024), token);
                into.commit(n);
                if (c->tls && ec == net::error::eof) c->io.eof = true;  // for OpenSSL, through the BIO
                if (c->tls && !ec && c->write_blocked && c->write_wants == Want::read) {
                    c->write_blocked = false;  // OpenSSL wanted to read before it could write on
                    pool->flush(c);
                }
            }
            if (ec == net::error::eof) {
                // an answer that ends with the connection is complete; others are cut
                if (!parser.got_some()) ec = http::error::end_of_stream;
                else parser.put_eof(ec);
                break;
            }
            if (ec) break;
        }
        if (c->broken) break;
        if (ec) {
            const bool started = parser.got_some() || c->buffer.size() > 0;
            const bool closed = ec == http::error::end_of_stream || ec == net::error::eof ||
                                ec == net::error::connection_reset;
            if (c->written == 0 && !started && closed) {
                // An idle keep-alive connection the server closed: nobody was waiting on it.
                ++pool->stats.closes_by_server;
                pool->fail(c, TransportError::read, "closed while idle", false);
            } else if (ec == http::error::body_limit) {
                pool->fail(c, TransportError::garbled, size_text(c->answer.streamed ? pool->opt.max_body : max_response_body), true);
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
        Pending p = c->queue.take_front();
        --c->written;
        pool->note_room(c);
        ++c->answered;
        ++pool->stats.answers;
        if (!(plain ? plain_keep_alive : parser.keep_alive())) c->closing = true;
        Exchange ex = answer_exchange(c, p, pool->opt.card_text);
        pool->complete(std::move(ex));  // may queue (and write) more work on this connection
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
Task<void> watch_loop(Pool pool, Connection* c) {
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
    const std::vector<Pending> lost = c->queue.take_front(c->written);
    c->written = 0;
    pool.note_room(c);
    const TimePoint now = Clock::now();
    for (std::size_t i = 0; i < lost.size(); ++i) {
        Exchange ex;
        ex.id = lost[i].id;
        ex.reused = lost[i].reused;
        ex.sent_at = lost[i].sent_at;
        ex.done_at = now;
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
    const std::vector<Pending> queued = c->queue.take_front(c->queue.size());
    c->written = 0;
    pool.note_room(c);
    for (const auto& p : queued) {
        Exchange ex;
        ex.id = p.id;
        ex.error = f.kind;
        ex.error_detail = f.detail;
        ex.certificate_rejected = f.certificate;
        ex.sent_at = Clock::now();
        ex.done_at = ex.sent_at;
        pool.complete(std::move(ex));
    }
}

Task<void> run_connection(Pool pool, Connection* c) {
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
        if (c->tls)
            pool->log(fmt::format("connection {}: connected to {}:{} ({}, {}{})", c->index, pool->opt.endpoint.host,
                                  pool->opt.endpoint.port, SSL_get_version(c->tls), SSL_get_cipher_name(c->tls),
                                  SSL_session_reused(c->tls) ? ", session resumed" : ""));
        else
            pool->log(fmt::format("connection {}: connected to {}:{}", c->index, pool->opt.endpoint.host, pool->opt.endpoint.port));
        c->buffer.clear();
        c->out.clear();
        c->out_pos = 0;
        c->write_blocked = false;
        c->answered = 0;
        c->broken = false;
        c->closing = false;
        c->failure = Failure{};
        c->state = Connection::State::ready;
        pool->flush(c);
        co_await ((write_loop(pool, c) && read_loop(pool, c)) && watch_loop(pool, c));
        c->state = Connection::State::idle;
        pool->close(c);
        if (pool->stopped) break;
        pool->log(fmt::format("connection {}: closed after {} answers: {}", c->index, c->answered,
                              c->failure.detail.empty() ? "done" : c->failure.detail));
        settle(*pool, c);
    }
}

// Verification, protocol floor and session cache for the pool's TLS connections.
std::unique_ptr<SSL_CTX, SslCtxFree> make_tls_context(PoolState& pool) {
    const auto& opt = pool.opt;
    std::unique_ptr<SSL_CTX, SslCtxFree> ctx(SSL_CTX_new(TLS_client_method()));
    if (!ctx) throw std::runtime_error("OpenSSL could not set up TLS: " + openssl_reason(ERR_get_error()));
    SSL_CTX* raw = ctx.get();
    SSL_CTX_set_min_proto_version(raw, TLS1_2_VERSION);
    // Partial writes and a write retried from a moved buffer: the pool writes from its own string.
    // Read-ahead takes whole socket reads, not one record header and body at a time.
    SSL_CTX_set_mode(raw, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    SSL_CTX_set_read_ahead(raw, 1);
    // Keep the server's newest session (TLS 1.3 sends it after the handshake) for resumption.
    SSL_CTX_set_session_cache_mode(raw, SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
    static const int pool_slot = SSL_CTX_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);
    SSL_CTX_set_ex_data(raw, pool_slot, &pool);
    SSL_CTX_sess_set_new_cb(raw, [](SSL* ssl, SSL_SESSION* session) -> int {
        auto* state = static_cast<PoolState*>(SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), pool_slot));
        // A copy: OpenSSL marks the connection's own session not resumable when that connection
        // ends without a TLS close_notify, which servers closing idle connections often do.
        if (SSL_SESSION* copy = SSL_SESSION_dup(session)) {
            if (state->tls_session) SSL_SESSION_free(state->tls_session);
            state->tls_session = copy;
        }
        return 0;  // the original stays OpenSSL's
    });
    if (opt.insecure) {
        SSL_CTX_set_verify(raw, SSL_VERIFY_NONE, nullptr);
        return ctx;
    }
    SSL_CTX_set_verify(raw, SSL_VERIFY_PEER, nullptr);
    ERR_clear_error();
    if (opt.cacert.empty()) {
        if (SSL_CTX_set_default_verify_paths(raw) != 1)
            throw std::runtime_error("cannot load the system's trusted certificates: " + openssl_reason(ERR_get_error()));
    } else if (SSL_CTX_load_verify_locations(raw, opt.cacert.c_str(), nullptr) != 1) {
        throw std::runtime_error("cannot load --cacert '" + opt.cacert + "': " + openssl_reason(ERR_get_error()) +
                                 " (expected PEM certificates)");
    }
    return ctx;
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
    if (opt.endpoint.tls) impl_->ssl_ctx = make_tls_context(*impl_);
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

void ConnectionPool::submit(std::uint64_t id, std::string_view request, std::optional<TimePoint> now) {
    auto& pool = *impl_;
    Connection* c = nullptr;
    while (!pool.with_room.empty() && !c) {
        c = pool.with_room.take_front();
        c->listed = false;
        if (!pool.has_room(c)) c = nullptr;
    }
    if (!c) throw std::logic_error("ConnectionPool::submit without capacity");
    ++pool.in_flight;
    if (c->state == Connection::State::ready && !c->broken && !c->write_blocked && c->written == c->queue.size()) {
        // Straight into the output buffer, no copy into the queue; written with the burst's flush,
        // pipelined requests for one connection together. Never behind a write OpenSSL must retry
        // unchanged: that is write_blocked.
        if (c->out_pos == c->out.size()) {
            c->out.clear();
            c->out_pos = 0;
        }
        c->out.append(request);
        c->queue.push_back(Pending{id, {}, false, {}});
        pool.mark_written(c, now);
        pool.note_room(c);
        pool.flush_later(c);
        return;
    }
    c->queue.push_back(Pending{id, std::string(request), false, {}});
    pool.note_room(c);
    switch (c->state) {
        case Connection::State::idle: c->wake.cancel(); break;  // connects, then writes
        case Connection::State::connecting: break;              // writes once connected
        case Connection::State::ready: pool.flush_later(c); break;  // with the burst, like the path above
    }
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
