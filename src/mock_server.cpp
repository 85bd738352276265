// The simulator's network shell: accept, parse HTTP/1.1 (pipelined), ask MockApi, hold answers for
// their latency, write them in request order. One reader and one writer coroutine per connection
// share a FIFO of pending answers; never two reads or two writes outstanding.
#include "cardsync/mock_server.hpp"

#include "cardsync/mock_api.hpp"
#include "cardsync/self_signed_cert.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/string.hpp>
#include <boost/beast/http/basic_parser.hpp>
#include <boost/beast/http/error.hpp>

#include <algorithm>
#include <array>
#include <atomic>
#include <charconv>
#include <deque>
#include <fstream>
#include <future>
#include <mutex>
#include <sstream>
#include <stdexcept>
#include <thread>
#include <unordered_set>

namespace cardsync {

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;
using error_code = boost::system::error_code;
using TlsStream = asio::ssl::stream<tcp::socket>;
constexpr auto nothrow = asio::as_tuple(asio::use_awaitable);

constexpr std::uint64_t body_limit = 64 * 1024;
constexpr std::size_t pending_limit = 256;        // pipelined answers queued before the reader pauses
constexpr std::size_t read_size = 16 * 1024;
constexpr auto linger = std::chrono::seconds(1);  // how long a closing connection drains the client's bytes

// What one request leaves behind for MockApi; reused, so a request costs no allocation once warm.
struct RequestScratch {
    std::string method, target, authorization, body;
    int version = 11;
    bool expect_continue = false;
};

// A Beast parser that keeps only what the simulator reads (basic_parser's documented extension point).
class RequestParser final : public http::basic_parser<true> {
public:
    explicit RequestParser(RequestScratch& s) : s_(s) {
        s.method.clear();
        s.target.clear();
        s.authorization.clear();
        s.body.clear();
        s.expect_continue = false;
        body_limit(cardsync::body_limit);
    }

private:
    void on_request_impl(http::verb, beast::string_view method, beast::string_view target, int version,
                         error_code&) override {
        s_.method.assign(method.data(), method.size());
        s_.target.assign(target.data(), target.size());
        s_.version = version;
    }
    void on_response_impl(int, beast::string_view, int, error_code&) override {}
    void on_field_impl(http::field name, beast::string_view, beast::string_view value, error_code&) override {
        if (name == http::field::authorization) s_.authorization.assign(value.data(), value.size());
        else if (name == http::field::expect && beast::iequals(value, "100-continue")) s_.expect_continue = true;
    }
    void on_header_impl(error_code&) override {}
    void on_body_init_impl(const boost::optional<std::uint64_t>& length, error_code&) override {
        if (length) s_.body.reserve(static_cast<std::size_t>(*length) + 64);  // + simdjson's padding
    }
    std::size_t on_body_impl(beast::string_view body, error_code&) override {
        s_.body.append(body.data(), body.size());
        return body.size();
    }
    void on_chunk_header_impl(std::uint64_t, beast::string_view, error_code&) override {}
    std::size_t on_chunk_body_impl(std::uint64_t, beast::string_view body, error_code&) override {
        s_.body.append(body.data(), body.size());
        return body.size();
    }
    void on_finish_impl(error_code&) override {}

    RequestScratch& s_;
};

const char* reason_of(int status) {
    switch (status) {
    case 200: return "OK";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 409: return "Conflict";
    case 413: return "Content Too Large";
    case 429: return "Too Many Requests";
    case 500: return "Internal Server Error";
    case 503: return "Service Unavailable";
    default: return "Unknown";
    }
}

void append_number(std::string& out, std::uint64_t n) {
    char digits[24];
    const auto end = std::to_chars(digits, digits + sizeof digits, n).ptr;
    out.append(digits, end);
}

// Raw HTTP/1.1 bytes of an answer: cheaper than a beast::http::response and its serializer.
void append_http(std::string& out, const ApiAnswer& a, bool close, bool http10_keep_alive) {
    out.append("HTTP/1.1 ");
    append_number(out, static_cast<std::uint64_t>(a.status));
    out.push_back(' ');
    out.append(reason_of(a.status));
    out.append("\r\nContent-Type: ");
    out.append(a.content_type);
    out.append("\r\nContent-Length: ");
    append_number(out, a.body.size());
    if (a.retry_after_s >= 0) {
        out.append("\r\nRetry-After: ");
        append_number(out, static_cast<std::uint64_t>(a.retry_after_s));
    }
    if (a.allow) {
        out.append("\r\nAllow: ");
        out.append(a.allow);
    }
    if (close) out.append("\r\nConnection: close");
    else if (http10_keep_alive) out.append("\r\nConnection: keep-alive");
    out.append("\r\n\r\n");
}

struct PendingAnswer {
    std::string bytes;
    Clock::time_point ready;                        // not written before this
    ApiAnswer::Transport transport = ApiAnswer::Transport::whole;
    std::size_t cut = 0;                            // truncate: bytes actually sent
    bool close = false;                             // the connection ends after it
    bool interim = false;                           // "100 Continue": not an answer
};

tcp::socket& socket_of(tcp::socket& s) { return s; }
tcp::socket& socket_of(TlsStream& s) { return s.next_layer(); }

// Parks one coroutine until notify(): a condition variable for coroutines on one thread, cheaper
// than a steady_timer set to "never" (no timer queue, no timerfd updates on every wait).
class Wakeup {
public:
    template <class Token>
    auto async_wait(Token&& token) {
        return asio::async_initiate<Token, void()>(
            [this](auto handler) { parked_ = std::make_unique<Parked<decltype(handler)>>(std::move(handler)); },
            token);
    }
    void notify() {
        if (!parked_) return;
        auto parked = std::move(parked_);
        parked->resume();
    }

private:
    struct ParkedBase {
        virtual ~ParkedBase() = default;
        virtual void resume() = 0;
    };
    template <class Handler>
    struct Parked final : ParkedBase {
        explicit Parked(Handler h) : handler(std::move(h)) {}
        void resume() override {
            auto executor = asio::get_associated_executor(handler);
            asio::post(executor, std::move(handler));
        }
        Handler handler;
    };
    std::unique_ptr<ParkedBase> parked_;
};

struct ConnectionBase {
    virtual ~ConnectionBase() = default;
    virtual void abort() = 0;  // close now: pending reads, writes and waits end
};

// Everything the server shares between its coroutines and the MockServer handle.
struct ServerCore {
    explicit ServerCore(MockOptions o);
    void shutdown();
    template <class F>
    auto query(F f);

    MockOptions options;
    MockApi api;                                    // declared before the io_context: outlives every connection
    ApiAnswer answer;                               // scratch for MockApi::handle
    std::unordered_set<ConnectionBase*> connections;
    std::optional<asio::ssl::context> tls;
    std::string certificate_pem;
    std::string host;                               // for base_url
    // One thread; sockets, timers and the acceptor are only touched on it, so the reactor may skip
    // its per-descriptor locks. Posting from other threads (stop, the queries) stays safe.
    asio::io_context ioc{BOOST_ASIO_CONCURRENCY_HINT_UNSAFE_IO};
    tcp::acceptor acceptor{ioc};
    std::uint16_t port = 0;
    std::thread thread;
    std::promise<void> ended;
    std::mutex control;                             // serialises stop() and the queries
    bool stopped = false;
    std::atomic<bool> running{true};                // false once the io thread returned
};

using Impl = ServerCore;

template <class Stream>
struct Connection final : ConnectionBase {
    template <class... Args>
    Connection(Impl& impl, Args&&... args)
        : impl(impl),
          stream(std::forward<Args>(args)...),
          timer(stream.get_executor()),
          idle_timer(stream.get_executor()) {
        impl.connections.insert(this);
        impl.api.traffic.connection_opened();
    }
    ~Connection() override {
        std::uint64_t unanswered = 0;
        for (const auto& p : pending) unanswered += p.interim ? 0 : 1;
        impl.api.traffic.answers_done(unanswered);
        impl.api.traffic.connection_closed();
        impl.connections.erase(this);
    }
    void abort() override {
        closed = true;
        error_code ec;
        socket_of(stream).close(ec);
        timer.cancel();
        idle_timer.cancel();
        writer_wakeup.notify();
        reader_wakeup.notify();
    }
    std::string spare_string() {
        if (spare.empty()) return {};
        std::string s = std::move(spare.back());
        spare.pop_back();
        s.clear();
        return s;
    }

    Impl& impl;
    Stream stream;
    asio::steady_timer timer;                       // the writer's: holds it until an answer is due; the linger guard
    asio::steady_timer idle_timer;                  // close_when_idle's
    std::uint64_t activity = 0;                     // reads and writes done, for close_when_idle
    Wakeup writer_wakeup;                           // an idle writer waits here for an answer
    Wakeup reader_wakeup;                           // a reader paused on a full FIFO waits here
    beast::flat_buffer in;
    RequestScratch scratch;
    std::deque<PendingAnswer> pending;              // answers in request order
    std::vector<std::string> spare;                 // recycled answer buffers
    std::string out;                                // what one write sends
    std::uint64_t answers = 0;                      // for close_every
    bool reading_done = false, closed = false;
};

template <class Stream>
void push_answer(Connection<Stream>& c, PendingAnswer p) {
    c.pending.push_back(std::move(p));
    c.writer_wakeup.notify();
}

// Hands the parsed request to MockApi and queues its answer. False: the connection ends after it.
template <class Stream>
bool queue_answer(Connection<Stream>& c, bool keep_alive) {
    Impl& impl = c.impl;
    const auto now = Clock::now();
    impl.api.traffic.request_received();
    impl.api.handle(ApiRequest{c.scratch.method, c.scratch.target, c.scratch.authorization, &c.scratch.body}, now,
                    impl.answer);
    const ApiAnswer& a = impl.answer;
    PendingAnswer p;
    p.bytes = c.spare_string();
    p.ready = now + a.delay;
    p.transport = a.transport;
    bool close = !keep_alive || a.transport != ApiAnswer::Transport::whole;
    const int every = impl.options.close_every;
    if (every > 0 && ++c.answers % static_cast<std::uint64_t>(every) == 0 && !close) {
        ++impl.api.traffic.closed_by_close_every;
        close = true;
    }
    if (a.transport != ApiAnswer::Transport::drop) {
        append_http(p.bytes, a, close, keep_alive && c.scratch.version == 10);
        const std::size_t head = p.bytes.size();
        p.bytes.append(a.body);
        p.cut = head + a.body.size() / 2;
    }
    p.close = close;
    push_answer(c, std::move(p));
    return !close;
}

template <class Stream>
void queue_malformed(Connection<Stream>& c, const error_code& ec) {
    Impl& impl = c.impl;
    impl.api.traffic.request_received();
    const bool too_large = ec == http::error::body_limit;
    impl.api.answer_malformed(too_large ? 413 : 400,
                              too_large ? "Request body is larger than 64 KiB"
                                        : "Malformed HTTP request: " + ec.message(),
                              impl.answer);
    PendingAnswer p;
    append_http(p.bytes, impl.answer, true, false);
    p.bytes.append(impl.answer.body);
    p.ready = Clock::now();
    p.close = true;
    push_answer(c, std::move(p));
}

// Closes a connection that has not finished closing by itself within `after`.
template <class Stream>
asio::awaitable<void> close_later(std::shared_ptr<Connection<Stream>> c, Clock::duration after) {
    c->timer.expires_after(after);
    auto [ec] = co_await c->timer.async_wait(nothrow);
    if (!ec) c->abort();
}

// After a "Connection: close" answer: end our side, then read and drop what the client still sends,
// so closing with unread bytes does not reset the connection under the answer. Bounded by `linger`.
asio::awaitable<void> close_gracefully(std::shared_ptr<Connection<tcp::socket>> c) {
    asio::co_spawn(c->stream.get_executor(), close_later(c, linger), asio::detached);
    error_code ec;
    c->stream.shutdown(tcp::socket::shutdown_send, ec);
    std::array<char, 4096> sink;
    for (;;) {
        auto [read_ec, n] = co_await c->stream.async_read_some(asio::buffer(sink), nothrow);
        if (read_ec) break;
    }
    c->timer.cancel();
}

asio::awaitable<void> close_gracefully(std::shared_ptr<Connection<TlsStream>> c) {
    asio::co_spawn(c->stream.get_executor(), close_later(c, linger), asio::detached);
    co_await c->stream.async_shutdown(nothrow);  // close_notify, then the peer's
    c->timer.cancel();
}

template <class Stream>
asio::awaitable<void> write_answers(std::shared_ptr<Connection<Stream>> c) {
    auto& traffic = c->impl.api.traffic;
    while (!c->closed) {
        if (c->pending.empty()) {
            if (c->reading_done) break;
            co_await c->writer_wakeup.async_wait(asio::use_awaitable);
            continue;
        }
        auto now = Clock::now();
        if (c->pending.front().ready > now) {  // latency: hold the head of the line
            c->timer.expires_at(c->pending.front().ready);
            co_await c->timer.async_wait(nothrow);
            continue;
        }
        // Everything due goes out in one write.
        c->out.clear();
        bool finish = false, abrupt = false;
        std::uint64_t answered = 0;
        while (!c->pending.empty() && !finish && c->pending.front().ready <= now) {
            PendingAnswer& p = c->pending.front();
            switch (p.transport) {
            case ApiAnswer::Transport::whole:
                c->out.append(p.bytes);
                finish = p.close;
                break;
            case ApiAnswer::Transport::drop:
                finish = abrupt = true;
                break;
            case ApiAnswer::Transport::truncate:
                c->out.append(p.bytes, 0, p.cut);
                finish = abrupt = true;
                break;
            }
            answered += p.interim ? 0 : 1;
            c->spare.push_back(std::move(p.bytes));
            c->pending.pop_front();
        }
        // Done once handed to the socket: counted after the write completes, a client that read the
        // answer could already have sent its next request, and in_flight would overcount it.
        traffic.answers_done(answered);
        if (!c->out.empty()) {
            auto [ec, n] = co_await asio::async_write(c->stream, asio::buffer(c->out), nothrow);
            if (ec) break;
            ++c->activity;
        }
        if (c->pending.size() < pending_limit) c->reader_wakeup.notify();
        if (finish) {
            if (!abrupt && !c->closed) co_await close_gracefully(c);
            break;
        }
    }
    c->abort();  // ends the reader too, if it still reads
}

template <class Stream>
asio::awaitable<void> read_requests(std::shared_ptr<Connection<Stream>> c) {
    std::optional<RequestParser> parser;
    parser.emplace(c->scratch);
    bool more = true;
    while (more && !c->closed) {
        // Parse every request already buffered (pipelining), then read more.
        while (more && c->in.size() > 0) {
            error_code ec;
            const std::size_t used = parser->put(c->in.data(), ec);
            c->in.consume(used);
            if (ec == http::error::need_more || (!ec && used == 0 && !parser->is_done())) break;
            if (ec) {
                queue_malformed(*c, ec);
                more = false;
            } else if (parser->is_done()) {
                try {
                    more = queue_answer(*c, parser->keep_alive());
                } catch (const std::exception&) {  // out of memory, say: this connection ends, the server goes on
                    c->abort();
                    more = false;
                }
                parser.emplace(c->scratch);
            } else if (parser->is_header_done() && c->scratch.expect_continue) {
                c->scratch.expect_continue = false;
                PendingAnswer p;
                p.bytes = "HTTP/1.1 100 Continue\r\n\r\n";
                p.ready = Clock::now();
                p.interim = true;
                push_answer(*c, std::move(p));
            }
        }
        if (!more) break;
        while (c->pending.size() >= pending_limit && !c->closed) {  // the client reads slower than it sends
            co_await c->reader_wakeup.async_wait(asio::use_awaitable);
        }
        if (c->closed) break;
        auto [ec, n] = co_await c->stream.async_read_some(c->in.prepare(read_size), nothrow);
        if (ec) break;  // end of stream or error: answer what was asked, then close
        c->in.commit(n);
        ++c->activity;
    }
    c->reading_done = true;
    c->writer_wakeup.notify();
}

// Closes the connection once nothing has been read or written for the idle timeout, as servers and
// load balancers do; a client stuck mid-request, one that stops reading its answers, or a stalled
// TLS handshake are all silence. An answer held back by latency is not. Activity is counted and
// looked at every quarter of the timeout (so the close comes after 1 to 1.25 timeouts): no timer
// work per request on the busy path.
template <class Stream>
asio::awaitable<void> close_when_idle(std::shared_ptr<Connection<Stream>> c, Clock::duration timeout) {
    const Clock::duration step = std::max<Clock::duration>(timeout / 4, std::chrono::milliseconds(1));
    std::uint64_t seen = c->activity;
    int quiet = 0;
    while (!c->closed) {
        c->idle_timer.expires_after(step);
        co_await c->idle_timer.async_wait(nothrow);
        if (c->closed) break;
        const bool held = !c->pending.empty() && c->pending.front().ready > Clock::now();
        if (c->activity != seen || held) {
            seen = c->activity;
            quiet = 0;
            continue;
        }
        if (++quiet < 4) continue;
        ++c->impl.api.traffic.closed_idle;
        c->abort();
    }
}

template <class Stream>
void watch_idle(const std::shared_ptr<Connection<Stream>>& c) {
    const double seconds = c->impl.options.idle_timeout_s;
    if (seconds <= 0) return;
    const auto timeout = std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
    asio::co_spawn(c->stream.get_executor(), close_when_idle(c, timeout), asio::detached);
}

asio::awaitable<void> serve_plain(Impl* impl, tcp::socket socket) {
    auto c = std::make_shared<Connection<tcp::socket>>(*impl, std::move(socket));
    watch_idle(c);
    asio::co_spawn(c->stream.get_executor(), write_answers(c), asio::detached);
    co_await read_requests(c);
}

asio::awaitable<void> serve_tls(Impl* impl, tcp::socket socket) {
    auto c = std::make_shared<Connection<TlsStream>>(*impl, std::move(socket), *impl->tls);
    watch_idle(c);
    auto [ec] = co_await c->stream.async_handshake(asio::ssl::stream_base::server, nothrow);
    if (ec || c->closed) {
        c->abort();
        co_return;
    }
    ++c->activity;
    asio::co_spawn(c->stream.get_executor(), write_answers(c), asio::detached);
    co_await read_requests(c);
}

asio::awaitable<void> accept_connections(Impl* impl) {
    asio::steady_timer backoff(impl->ioc);
    for (;;) {
        auto [ec, socket] = co_await impl->acceptor.async_accept(nothrow);
        if (!impl->acceptor.is_open()) co_return;
        if (ec) {  // out of descriptors, say: do not spin
            backoff.expires_after(std::chrono::milliseconds(50));
            co_await backoff.async_wait(nothrow);
            continue;
        }
        auto& traffic = impl->api.traffic;
        const int limit = impl->options.max_connections;
        if (limit > 0 && traffic.connections_current >= static_cast<std::uint64_t>(limit)) {
            ++traffic.connections_refused;
            error_code close_ec;
            socket.close(close_ec);
            continue;
        }
        error_code opt_ec;
        socket.set_option(tcp::no_delay(true), opt_ec);
        if (impl->tls) asio::co_spawn(impl->ioc, serve_tls(impl, std::move(socket)), asio::detached);
        else asio::co_spawn(impl->ioc, serve_plain(impl, std::move(socket)), asio::detached);
    }
}

std::string read_text_file(const std::string& path, const char* what) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw std::runtime_error(std::string("mock: cannot read the ") + what + " " + path);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

void write_text_file(const std::string& path, const std::string& text, const char* what) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << text;
    out.flush();
    if (!out) throw std::runtime_error(std::string("mock: cannot write the ") + what + " to " + path);
}

// "HOST:PORT", "[V6]:PORT" or ":PORT" (loopback); "localhost" is 127.0.0.1. Numeric hosts only.
tcp::endpoint parse_listen(const std::string& listen) {
    const auto colon = listen.rfind(':');
    if (colon == std::string::npos) throw std::invalid_argument("mock: --listen wants HOST:PORT, not \"" + listen + "\"");
    std::string host = listen.substr(0, colon);
    const std::string port_text = listen.substr(colon + 1);
    unsigned port = 0;
    const auto [end, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
    if (ec != std::errc() || end != port_text.data() + port_text.size() || port > 65535)
        throw std::invalid_argument("mock: bad port in --listen \"" + listen + "\"");
    if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
    if (host.empty() || host == "localhost") host = "127.0.0.1";
    error_code addr_ec;
    const auto address = asio::ip::make_address(host, addr_ec);
    if (addr_ec) throw std::invalid_argument("mock: --listen wants a numeric address or localhost, not \"" + host + "\"");
    return {address, static_cast<std::uint16_t>(port)};
}

ServerCore::ServerCore(MockOptions o) : options(o), api(std::move(o), Clock::now()) {
    const auto endpoint = parse_listen(options.listen);
    if (options.tls) {
        tls.emplace(asio::ssl::context::tls_server);
        tls->set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 |
                         asio::ssl::context::no_sslv3 | asio::ssl::context::no_tlsv1 | asio::ssl::context::no_tlsv1_1);
        try {
            if (!options.cert_file.empty()) {
                certificate_pem = read_text_file(options.cert_file, "certificate");
                tls->use_certificate_chain_file(options.cert_file);
                const auto& key = options.key_file.empty() ? options.cert_file : options.key_file;
                tls->use_private_key_file(key, asio::ssl::context::pem);
            } else {
                if (!options.key_file.empty()) throw std::invalid_argument("mock: --key needs --cert");
                auto identity = make_self_signed_identity();
                certificate_pem = std::move(identity.certificate_pem);
                tls->use_certificate_chain(asio::buffer(certificate_pem));
                tls->use_private_key(asio::buffer(identity.private_key_pem), asio::ssl::context::pem);
            }
        } catch (const boost::system::system_error& e) {
            throw std::runtime_error("mock: cannot use the certificate " + options.cert_file + " / key " +
                                     options.key_file + ": " + e.code().message());
        }
        if (!options.write_cert_to.empty()) write_text_file(options.write_cert_to, certificate_pem, "certificate");
    }
    error_code ec;
    acceptor.open(endpoint.protocol(), ec);
    if (!ec) acceptor.set_option(tcp::acceptor::reuse_address(true), ec);
    if (!ec) acceptor.bind(endpoint, ec);
    if (!ec) acceptor.listen(4096, ec);
    if (ec) throw std::runtime_error("mock: cannot listen on " + options.listen + ": " + ec.message());
    port = acceptor.local_endpoint().port();
    const auto address = endpoint.address();
    host = address.is_unspecified() ? (address.is_v6() ? "[::1]" : "127.0.0.1")
                                     : (address.is_v6() ? "[" + address.to_string() + "]" : address.to_string());
}

void ServerCore::shutdown() {
    error_code ec;
    acceptor.close(ec);
    for (ConnectionBase* c : connections) c->abort();
}

template <class F>
auto ServerCore::query(F f) {
    std::lock_guard lock(control);
    if (stopped || !running) return f();
    std::promise<decltype(f())> done;
    auto result = done.get_future();
    asio::post(ioc, [&] {
        try {
            done.set_value(f());
        } catch (...) {
            done.set_exception(std::current_exception());
        }
    });
    while (result.wait_for(std::chrono::milliseconds(50)) != std::future_status::ready)
        if (!running) return f();  // the thread is gone: the posted query will never run
    return result.get();
}

}  // namespace

struct MockServer::Impl : ServerCore {
    using ServerCore::ServerCore;
};

MockServer::MockServer(MockOptions options) : impl_(std::make_unique<Impl>(std::move(options))) {
    asio::co_spawn(impl_->ioc, accept_connections(impl_.get()), asio::detached);
    impl_->thread = std::thread([impl = impl_.get()] {
        impl->ioc.run();
        impl->running = false;
        impl->ended.set_value();
    });
}

MockServer::~MockServer() {
    try {
        stop();
    } catch (...) {
        // a report that cannot be written must not throw from a destructor
    }
}

std::string MockServer::base_url() const {
    return (impl_->tls ? "https://" : "http://") + impl_->host + ":" + std::to_string(impl_->port);
}

std::string MockServer::api_url() const {
    auto base = impl_->options.base_path;
    while (!base.empty() && base.back() == '/') base.pop_back();
    return base_url() + base;
}

std::uint16_t MockServer::port() const { return impl_->port; }

std::string MockServer::certificate_pem() const { return impl_->certificate_pem; }

std::string MockServer::stats_json() const {
    return impl_->query([impl = impl_.get()] { return impl->api.stats().to_json(); });
}

MockStats MockServer::stats() const {
    return impl_->query([impl = impl_.get()] { return impl->api.stats(); });
}

std::string MockServer::cards_ndjson() const {
    return impl_->query([impl = impl_.get()] { return impl->api.cards_ndjson(); });
}

void MockServer::stop() {
    std::lock_guard lock(impl_->control);
    if (impl_->stopped) return;
    impl_->stopped = true;
    asio::post(impl_->ioc, [impl = impl_.get()] { impl->shutdown(); });
    // Closing every socket ends every coroutine; a peer that keeps a TLS shutdown hanging is not waited for.
    if (impl_->ended.get_future().wait_for(std::chrono::seconds(2)) != std::future_status::ready) impl_->ioc.stop();
    impl_->thread.join();
    if (!impl_->options.stats_out.empty())
        write_text_file(impl_->options.stats_out, impl_->api.stats().to_json() + "\n", "statistics");
    if (!impl_->options.state_out.empty()) write_text_file(impl_->options.state_out, impl_->api.cards_ndjson(), "cards");
}

}  // namespace cardsync
