// The connection pool against a scripted raw-socket server on 127.0.0.1: what it reports when the
// server reuses, closes, stalls, truncates or garbles, and how pipelined requests are matched.
#include "cardsync/connection_pool.hpp"

#include "cardsync/api_endpoint.hpp"
#include "cardsync/mock_server.hpp"
#include "cardsync/request_codec.hpp"
#include "support/loopback_listener.hpp"
#include "support/temp_dir.hpp"

#include <boost/asio/io_context.hpp>

#include <gtest/gtest.h>
#include <fmt/format.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <string>
#include <thread>
#include <vector>

namespace {

using namespace std::chrono_literals;
using cardsync::ConnectionPool;
using cardsync::Exchange;
using cardsync::TransportError;

// Serves connections one after another on its own thread; `script(k, fd)` plays connection k.
class ScriptServer {
public:
    using Script = std::function<void(int connection, int fd)>;
    explicit ScriptServer(Script script) : script_(std::move(script)) {
        listener_ = cardsync::test::listen_on_loopback(port_);
        thread_ = std::thread([this] { serve(); });
    }
    ~ScriptServer() {
        stopping_ = true;
        ::shutdown(listener_, SHUT_RDWR);
        ::close(listener_);
        thread_.join();
    }
    std::uint16_t port() const { return port_; }
    int connections() const { return accepted_; }

private:
    void serve() {
        for (int k = 0; !stopping_; ++k) {
            const int fd = ::accept(listener_, nullptr, nullptr);
            if (fd < 0) return;
            ++accepted_;
            script_(k, fd);
            ::close(fd);
        }
    }
    Script script_;
    int listener_ = -1;
    std::uint16_t port_ = 0;
    std::atomic<bool> stopping_{false};
    std::atomic<int> accepted_{0};
    std::thread thread_;
};

// Reads one request head (our requests here have no body); false when the client closed.
bool read_request(int fd) {
    std::string head;
    char c;
    while (head.size() < 4 || head.compare(head.size() - 4, 4, "\r\n\r\n") != 0) {
        if (::read(fd, &c, 1) != 1) return false;
        head += c;
    }
    return true;
}

void send_text(int fd, const std::string& text) {
    std::size_t done = 0;
    while (done < text.size()) {
        const auto n = ::write(fd, text.data() + done, text.size() - done);
        if (n <= 0) return;
        done += static_cast<std::size_t>(n);
    }
}

// Waits until the client closes (or 5 s pass).
void drain_until_closed(int fd) {
    timeval tv{5, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    char buf[256];
    while (::read(fd, buf, sizeof buf) > 0) {}
}

const std::string card_body = R"({"phone_number":"+15551234567","first_name":"Ann","is_active":true})";

std::string ok(bool close = false) {
    return "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: " + std::to_string(card_body.size()) +
           (close ? "\r\nConnection: close" : "") + "\r\n\r\n" + card_body;
}

const std::string request = "PATCH /v3/contact_card?phone_number=%2B15551234567 HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                            "Content-Length: 0\r\n\r\n";

// Drives a pool on the test thread until `want` exchanges arrived (or 10 s pass).
struct Harness {
    explicit Harness(std::uint16_t port, int pipeline = 1, std::chrono::milliseconds timeout = 5000ms,
                     std::function<void(std::string_view)> sink = {}) {
        cardsync::PoolOptions o;
        o.endpoint.tls = false;
        o.endpoint.host = "127.0.0.1";
        o.endpoint.port = std::to_string(port);
        o.endpoint.host_header = "127.0.0.1";
        o.connections = 1;
        o.pipeline = pipeline;
        o.attempt_timeout = timeout;
        o.connect_timeout = 2s;
        if (sink) {
            o.body_sink = std::move(sink);
            o.max_body = std::size_t{64} << 20;
        }
        pool.emplace(io, o, [this](Exchange&& ex) { got.push_back(std::move(ex)); });
    }
    void submit(std::uint64_t id) { pool->submit(id, request); }
    void wait_for(std::size_t want) {
        const auto give_up = std::chrono::steady_clock::now() + 10s;
        while (got.size() < want && std::chrono::steady_clock::now() < give_up) io.run_one_for(50ms);
    }
    void idle(std::chrono::milliseconds d) {
        const auto until = std::chrono::steady_clock::now() + d;
        while (std::chrono::steady_clock::now() < until) io.run_one_for(10ms);
    }
    ~Harness() {
        pool->shutdown();
        io.run_for(100ms);  // let the coroutines see the shutdown
    }
    boost::asio::io_context io;
    std::optional<ConnectionPool> pool;
    std::vector<Exchange> got;
};

TEST(ConnectionPool, KeepAliveReusesOneConnectionAndMatchesAnswersInOrder) {
    ScriptServer server([](int, int fd) {
        while (read_request(fd)) send_text(fd, ok());
    });
    Harness h(server.port());
    for (std::uint64_t id = 1; id <= 3; ++id) {
        h.submit(id);
        h.wait_for(id);
    }
    ASSERT_EQ(h.got.size(), 3u);
    for (std::size_t i = 0; i < 3; ++i) {
        EXPECT_EQ(h.got[i].id, i + 1);
        EXPECT_EQ(h.got[i].status, 200);
        EXPECT_EQ(h.got[i].api.kind, cardsync::BodyKind::card);
        EXPECT_EQ(h.got[i].api.card.first_name, "Ann");
        EXPECT_EQ(h.got[i].reused, i > 0);
    }
    EXPECT_EQ(h.pool->stats().connects, 1u);
    EXPECT_EQ(server.connections(), 1);
    EXPECT_EQ(h.pool->in_flight(), 0u);
}

TEST(ConnectionPool, ARequestLeavesOnceTheCallerReturnsToTheLoop) {
    // Requests submitted during one burst of completions leave together after it, so the server
    // is woken once for them: submit() itself must not write, even on a ready connection.
    std::atomic<int> requests_read{0};
    ScriptServer server([&](int, int fd) {
        while (read_request(fd)) {
            ++requests_read;
            send_text(fd, ok());
        }
    });
    Harness h(server.port());
    h.submit(1);
    h.wait_for(1);
    ASSERT_EQ(h.got.size(), 1u);
    h.submit(2);  // on the open, idle connection: the case a direct write would take
    std::this_thread::sleep_for(100ms);
    EXPECT_EQ(requests_read.load(), 1) << "written before the caller returned to the io_context";
    h.wait_for(2);
    ASSERT_EQ(h.got.size(), 2u);
    EXPECT_EQ(h.got[1].status, 200);
    EXPECT_TRUE(h.got[1].reused);
    EXPECT_EQ(requests_read.load(), 2);
}

TEST(ConnectionPool, PipelinedRequestsAreWrittenBeforeTheFirstAnswer) {
    ScriptServer server([](int, int fd) {
        // answer only once all three requests have arrived
        for (int i = 0; i < 3; ++i) read_request(fd);
        send_text(fd, ok() + ok() + ok());
        drain_until_closed(fd);
    });
    Harness h(server.port(), 3);
    for (std::uint64_t id = 1; id <= 3; ++id) h.submit(id);
    EXPECT_FALSE(h.pool->has_capacity());
    h.wait_for(3);
    ASSERT_EQ(h.got.size(), 3u);
    for (std::size_t i = 0; i < 3; ++i) {
        EXPECT_EQ(h.got[i].id, i + 1);
        EXPECT_EQ(h.got[i].status, 200);
    }
    EXPECT_EQ(h.pool->stats().max_in_flight, 3);
}

TEST(ConnectionPool, IdleConnectionClosedByServerIsReplacedQuietly) {
    ScriptServer server([](int, int fd) {
        if (read_request(fd)) send_text(fd, ok());  // then close: an idle timeout
    });
    Harness h(server.port());
    h.submit(1);
    h.wait_for(1);
    h.idle(100ms);  // the pool notices the close while idle
    h.submit(2);
    h.wait_for(2);
    ASSERT_EQ(h.got.size(), 2u);
    EXPECT_EQ(h.got[1].status, 200);
    EXPECT_FALSE(h.got[1].reused) << "sent on the new connection";
    EXPECT_EQ(h.pool->stats().connects, 2u);
    EXPECT_GE(h.pool->stats().closes_by_server, 1u);
}

TEST(ConnectionPool, RequestLostOnAReusedConnectionSaysNoAnswerStarted) {
    ScriptServer server([](int k, int fd) {
        if (k > 0) return;
        if (read_request(fd)) send_text(fd, ok());
        read_request(fd);  // the second request arrives, and the connection dies unanswered
    });
    Harness h(server.port());
    h.submit(1);
    h.wait_for(1);
    h.submit(2);
    h.wait_for(2);
    ASSERT_EQ(h.got.size(), 2u);
    const Exchange& lost = h.got[1];
    EXPECT_EQ(lost.status, 0);
    EXPECT_EQ(lost.error, TransportError::read);
    EXPECT_TRUE(lost.reused);
    EXPECT_FALSE(lost.answer_started);
    EXPECT_FALSE(lost.unprocessed);
}

TEST(ConnectionPool, ConnectionCloseAnswerLeavesThePipelinedRestUnprocessed) {
    ScriptServer server([](int k, int fd) {
        if (k > 0) {
            while (read_request(fd)) send_text(fd, ok());
            return;
        }
        for (int i = 0; i < 3; ++i) read_request(fd);
        send_text(fd, ok(true));
    });
    Harness h(server.port(), 3);
    for (std::uint64_t id = 1; id <= 3; ++id) h.submit(id);
    h.wait_for(3);
    ASSERT_EQ(h.got.size(), 3u);
    EXPECT_EQ(h.got[0].id, 1u);
    EXPECT_EQ(h.got[0].status, 200);
    for (std::size_t i = 1; i < 3; ++i) {
        EXPECT_EQ(h.got[i].status, 0);
        EXPECT_TRUE(h.got[i].unprocessed);
        EXPECT_NE(h.got[i].error_detail.find("Connection: close"), std::string::npos);
    }
}

struct BrokenAnswer {
    const char* name;
    std::string bytes;  // sent after reading the request; then the connection closes
    TransportError error;
    bool answer_started;
    const char* detail;
};

TEST(ConnectionPool, BrokenAnswersAreClassified) {
    const BrokenAnswer cases[] = {
        {"closed before answering", "", TransportError::read, false, "before answering"},
        {"truncated body", "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n{\"phone", TransportError::truncated, true,
         "middle of the answer"},
        {"truncated head", "HTTP/1.1 200 OK\r\nContent-Le", TransportError::truncated, true, "middle of the answer"},
        {"not HTTP", "SSH-2.0-OpenSSH_9.2\r\n\r\n", TransportError::garbled, true, "not valid HTTP"},
        {"body over 1 MiB", "HTTP/1.1 200 OK\r\nContent-Length: 2000000\r\n\r\n{", TransportError::garbled, true,
         "over 1 MiB"},
    };
    for (const auto& c : cases) {
        SCOPED_TRACE(c.name);
        ScriptServer server([&c](int, int fd) {
            if (read_request(fd)) send_text(fd, c.bytes);
        });
        Harness h(server.port());
        h.submit(7);
        h.wait_for(1);
        ASSERT_EQ(h.got.size(), 1u);
        EXPECT_EQ(h.got[0].id, 7u);
        EXPECT_EQ(h.got[0].status, 0);
        EXPECT_EQ(h.got[0].error, c.error) << cardsync::to_string(h.got[0].error) << ": " << h.got[0].error_detail;
        EXPECT_EQ(h.got[0].answer_started, c.answer_started);
        EXPECT_FALSE(h.got[0].reused);
        EXPECT_NE(h.got[0].error_detail.find(c.detail), std::string::npos) << h.got[0].error_detail;
    }
}

TEST(ConnectionPool, AnswersInPiecesAndInOtherShapesAreReadOnOneConnection) {
    // The plain shape is read without Beast (answer_head.hpp), here cut at every awkward place;
    // a chunked answer and one with a folded line go to Beast, on the same connection in between.
    const std::string plain = ok();
    const std::string chunked = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" +
                                fmt::format("{:x}\r\n", card_body.size()) + card_body + "\r\n0\r\n\r\n";
    const std::string folded = "HTTP/1.1 429 Too Many Requests\r\nRetry-After: 9\r\nX-Note: a\r\n b\r\n"
                               "Content-Length: 2\r\n\r\n{}";
    const std::size_t head_end = plain.find("\r\n\r\n");
    const std::vector<std::vector<std::string>> answers = {
        {plain.substr(0, 5), plain.substr(5, head_end - 5), plain.substr(head_end, 3), plain.substr(head_end + 3)},
        {chunked},
        {plain.substr(0, head_end + 4), plain.substr(head_end + 4, 10), plain.substr(head_end + 14)},
        {folded.substr(0, 40), folded.substr(40)},
        {plain},
    };
    ScriptServer server([&](int, int fd) {
        for (const auto& pieces : answers) {
            if (!read_request(fd)) return;
            for (const auto& piece : pieces) {
                send_text(fd, piece);
                std::this_thread::sleep_for(20ms);  // each piece its own read
            }
        }
        drain_until_closed(fd);
    });
    Harness h(server.port());
    for (std::uint64_t id = 1; id <= answers.size(); ++id) {
        h.submit(id);
        h.wait_for(id);
    }
    ASSERT_EQ(h.got.size(), answers.size());
    for (const Exchange& ex : h.got) {
        SCOPED_TRACE(ex.id);
        EXPECT_EQ(ex.error, TransportError::none) << ex.error_detail;
        EXPECT_EQ(ex.reused, ex.id > 1);
        if (ex.id == 4) {
            EXPECT_EQ(ex.status, 429);
            EXPECT_EQ(ex.retry_after, "9");
            continue;
        }
        EXPECT_EQ(ex.status, 200);
        EXPECT_EQ(ex.api.kind, cardsync::BodyKind::card);
    }
    EXPECT_EQ(server.connections(), 1);
}

TEST(ConnectionPool, SilentServerTimesOutTheAttempt) {
    ScriptServer server([](int, int fd) {
        if (read_request(fd)) drain_until_closed(fd);  // never answers
    });
    Harness h(server.port(), 1, 200ms);
    const auto start = std::chrono::steady_clock::now();
    h.submit(1);
    h.wait_for(1);
    ASSERT_EQ(h.got.size(), 1u);
    EXPECT_EQ(h.got[0].error, TransportError::timeout);
    EXPECT_TRUE(h.got[0].answer_started) << "a timed-out request is never resent for free";
    EXPECT_GE(std::chrono::steady_clock::now() - start, 200ms);
    EXPECT_EQ(h.pool->stats().timeouts, 1u);
}

TEST(ConnectionPool, RefusedConnectionIsAConnectError) {
    std::uint16_t port = 0;
    {
        ScriptServer gone([](int, int) {});
        port = gone.port();
    }
    Harness h(port);
    h.submit(1);
    h.wait_for(1);
    ASSERT_EQ(h.got.size(), 1u);
    EXPECT_EQ(h.got[0].error, TransportError::connect);
    EXPECT_NE(h.got[0].error_detail.find("127.0.0.1:" + std::to_string(port)), std::string::npos) << h.got[0].error_detail;
    EXPECT_EQ(h.pool->stats().connect_failures, 1u);
}

TEST(ConnectionPool, HintsAndLocationAreHandedOver) {
    ScriptServer server([](int, int fd) {
        const std::string envelope = R"({"success":false,"error":{"status":503,"code":4004,"message":"slow down"}})";
        if (read_request(fd))
            send_text(fd, "HTTP/1.1 503 Service Unavailable\r\nRetry-After: 7\r\nretry-after-ms: 1500\r\n"
                          "x-should-retry: false\r\nContent-Length: " + std::to_string(envelope.size()) + "\r\n\r\n" + envelope);
        if (read_request(fd)) send_text(fd, "HTTP/1.1 301 Moved Permanently\r\nLocation: https://elsewhere.example/\r\nContent-Length: 0\r\n\r\n");
        drain_until_closed(fd);
    });
    Harness h(server.port());
    h.submit(1);
    h.wait_for(1);
    h.submit(2);
    h.wait_for(2);
    ASSERT_EQ(h.got.size(), 2u);
    EXPECT_EQ(h.got[0].status, 503);
    EXPECT_EQ(h.got[0].retry_after, "7");
    EXPECT_EQ(h.got[0].retry_after_ms, "1500");
    EXPECT_EQ(h.got[0].should_retry, "false");
    EXPECT_EQ(h.got[0].api.kind, cardsync::BodyKind::error_envelope);
    EXPECT_EQ(h.got[0].api.error_code, 4004);
    EXPECT_EQ(h.got[1].status, 301);
    EXPECT_EQ(h.got[1].location, "https://elsewhere.example/");
}

TEST(ConnectionPool, UnreadableCaFileIsRefusedUpFront) {
    boost::asio::io_context io;
    cardsync::PoolOptions o;
    o.endpoint.tls = true;
    o.endpoint.host = "127.0.0.1";
    o.endpoint.port = "443";
    o.cacert = "/nonexistent/ca.pem";
    try {
        ConnectionPool pool(io, o, [](Exchange&&) {});
        ADD_FAILURE() << "accepted";
    } catch (const std::runtime_error& e) {
        EXPECT_NE(std::string(e.what()).find("/nonexistent/ca.pem"), std::string::npos) << e.what();
    }
}

TEST(ConnectionPool, BodySinkStreamsA2xxBodyAndParsesOthers) {
    // A 3 MiB 2xx body (over the 1 MiB kept-body limit), chunked, then a 404 envelope.
    const std::string big(3u << 20, 'x');
    const std::string envelope = R"({"success":false,"error":{"status":404,"code":2001,"message":"none"}})";
    ScriptServer server([&](int, int fd) {
        if (!read_request(fd)) return;
        std::string answer = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";
        for (std::size_t at = 0; at < big.size(); at += 100'000) {
            const std::size_t n = std::min<std::size_t>(100'000, big.size() - at);
            answer += fmt::format("{:x}\r\n", n) + big.substr(at, n) + "\r\n";
        }
        answer += "0\r\n\r\n";
        send_text(fd, answer);
        if (!read_request(fd)) return;
        send_text(fd, "HTTP/1.1 404 Not Found\r\nContent-Length: " + std::to_string(envelope.size()) + "\r\n\r\n" + envelope);
        drain_until_closed(fd);
    });
    std::size_t pieces = 0, bytes = 0;
    bool only_x = true;
    Harness h(server.port(), 1, 5000ms, [&](std::string_view piece) {
        ++pieces;
        bytes += piece.size();
        only_x = only_x && piece.find_first_not_of('x') == std::string_view::npos;
    });
    h.submit(1);
    h.wait_for(1);
    h.submit(2);
    h.wait_for(2);
    ASSERT_EQ(h.got.size(), 2u);
    EXPECT_EQ(h.got[0].status, 200);
    EXPECT_TRUE(h.got[0].body_streamed);
    EXPECT_EQ(bytes, big.size());
    EXPECT_TRUE(only_x);
    EXPECT_GT(pieces, 1u) << "handed over as it was read, not once at the end";
    EXPECT_EQ(h.got[1].status, 404);
    EXPECT_FALSE(h.got[1].body_streamed);
    EXPECT_EQ(h.got[1].api.kind, cardsync::BodyKind::error_envelope);
    EXPECT_EQ(h.got[1].api.error_code, 2001);
}

}  // namespace

TEST(ConnectionPool, TlsSessionsAreResumedWhenConnectionsAreReopened) {
    // The simulator closes the connection after every answer: each request needs a new TLS
    // connection, and all but the first should resume the session the server handed out.
    cardsync::test::TempDir dir;
    cardsync::MockOptions m;
    m.tls = true;
    m.write_cert_to = dir.file("cert.pem");
    m.every_number_has_card = true;
    m.budget_calls = 0;
    m.close_every = 1;
    cardsync::MockServer server(m);

    cardsync::PoolOptions o;
    o.endpoint = cardsync::parse_api_endpoint(server.api_url(), false);
    o.connections = 1;
    o.cacert = dir.file("cert.pem");
    std::vector<std::string> log;
    o.log = [&log](std::string_view line) { log.emplace_back(line); };
    boost::asio::io_context io;
    std::vector<Exchange> got;
    ConnectionPool pool(io, o, [&](Exchange&& ex) { got.push_back(std::move(ex)); });
    const cardsync::RequestTemplate tmpl{o.endpoint.host_header, o.endpoint.base_path, "mock-key"};
    for (std::uint64_t i = 1; i <= 6; ++i) {
        std::string req;
        cardsync::ContactUpdate u;
        u.phone_number = "+1555000000" + std::to_string(i);
        u.fields.first_name = "Ann";
        cardsync::append_patch_request(req, tmpl, u);
        pool.submit(i, req);
        const auto give_up = std::chrono::steady_clock::now() + 10s;
        while (got.size() < i && std::chrono::steady_clock::now() < give_up) io.run_one_for(50ms);
        ASSERT_EQ(got.size(), i);
        EXPECT_EQ(got.back().status, 200) << got.back().error_detail;
    }
    EXPECT_EQ(pool.stats().connects, 6u);
    EXPECT_GE(pool.stats().tls_resumed, 4u) << "the second connection may start before the first session arrived";
    // -v shows what was negotiated: the version and suite, and whether the session was resumed
    ASSERT_FALSE(log.empty());
    EXPECT_NE(log.front().find("connected to 127.0.0.1:"), std::string::npos) << log.front();
    EXPECT_NE(log.front().find("(TLSv1.3, TLS_AES_"), std::string::npos) << log.front();
    EXPECT_EQ(log.front().find("resumed"), std::string::npos) << "the first connection has no session to resume";
    std::size_t resumed = 0;
    for (const auto& line : log) resumed += line.find(", session resumed)") != std::string::npos;
    EXPECT_EQ(resumed, pool.stats().tls_resumed);
    pool.shutdown();
    io.run_for(100ms);
}
