// MockServer over real sockets on 127.0.0.1: the HTTP contract, pipelining, keep-alive, transport
// faults, connection limits, TLS, statistics and shutdown. The API rules themselves are covered
// request by request in mock_api_test.cpp; here each is checked once through the wire.
#include "cardsync/mock_server.hpp"

#include "cardsync/self_signed_cert.hpp"
#include "support/raw_http.hpp"
#include "support/temp_dir.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/host_name_verification.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/write.hpp>
#include <boost/asio/read.hpp>
#include <gtest/gtest.h>
#include <simdjson.h>

#include <chrono>
#include <memory>
#include <thread>

namespace cardsync {
namespace {

using test::http_request;
using test::RawClient;
using test::RawResponse;
using namespace std::chrono_literals;

constexpr const char* api = "/api/partner/v3/contact_card";

std::string number_target(const std::string& encoded) { return std::string(api) + "?phone_number=" + encoded; }

// A server seeded with two cards; `tweak` adjusts the options.
struct Running {
    explicit Running(void (*tweak)(MockOptions&) = nullptr) {
        test::write_file(dir.file("cards.csv"),
                         "phone_number,first_name,last_name\n+14155550101,Avery,Jonson\n+14155550102,Bri,\n");
        MockOptions o;
        o.seed_cards_csv = dir.file("cards.csv");
        o.outside_prefixes = {"+1800"};
        if (tweak) tweak(o);
        server = std::make_unique<MockServer>(o);
    }
    RawResponse once(const std::string& request) {
        RawClient c(server->port());
        c.send(request);
        return c.read();
    }
    test::TempDir dir;
    std::unique_ptr<MockServer> server;
};

int code_of(const std::string& body) {
    simdjson::dom::parser parser;
    int64_t code = 0;
    if (parser.parse(body)["error"]["code"].get(code)) return 0;
    return static_cast<int>(code);
}

TEST(MockServer, ServesEveryStatusOfTheContract) {
    Running r([](MockOptions& o) { o.budget_calls = 1; });
    struct Case {
        std::string request;
        int status;
        int code;
    } cases[] = {
        {http_request("PATCH", number_target("%2B14155550101"), R"({"last_name":"Johnson"})"), 200, 0},
        {http_request("PATCH", number_target("%2B14155550101"), R"({"last_name":"Again"})"), 429, 1007},
        {http_request("PATCH", number_target("+14155550102"), R"({"first_name":"A"})"), 400, 1002},
        {http_request("PATCH", number_target("%2B14155550102"), "{"), 400, 1003},
        {http_request("PATCH", number_target("%2B14155550102"), R"({"first_name":"A"})", ""), 401, 2004},
        {http_request("PATCH", number_target("%2B14155550102"), R"({"first_name":"A"})", "wrong"), 401, 2004},
        {http_request("PATCH", number_target("%2B18005550199"), R"({"first_name":"A"})"), 403, 2005},
        {http_request("PATCH", number_target("%2B14155550190"), R"({"first_name":"A"})"), 404, 2001},
        {http_request("POST", api, R"({"phone_number":"+14155550102","first_name":"B"})"), 409, 2014},
        {http_request("POST", api, R"({"phone_number":"+14155550191","first_name":"New"})"), 200, 0},
        {http_request("GET", number_target("%2B14155550191")), 200, 0},
        {http_request("GET", number_target("%2B14155550199")), 404, 2001},
        {http_request("DELETE", api), 405, 1005},
        {http_request("GET", "/api/partner/v3/other"), 404, 2001},
    };
    for (const auto& c : cases) {
        const auto res = r.once(c.request);
        EXPECT_EQ(res.status, c.status) << c.request;
        EXPECT_TRUE(res.complete);
        EXPECT_EQ(res.header("content-type"), "application/json");
        EXPECT_EQ(code_of(res.body), c.code) << res.body;
        if (c.status == 429) {
            EXPECT_EQ(res.header("retry-after"), "600");
        }
    }
    const auto all = r.once(http_request("GET", api));
    EXPECT_EQ(all.body,
              R"({"contact_cards":[{"phone_number":"+14155550101","first_name":"Avery","last_name":"Johnson","is_active":true},)"
              R"({"phone_number":"+14155550102","first_name":"Bri","is_active":true},)"
              R"({"phone_number":"+14155550191","first_name":"New","is_active":true}]})");
    EXPECT_EQ(r.server->cards_ndjson(),
              "{\"phone_number\":\"+14155550101\",\"first_name\":\"Avery\",\"last_name\":\"Johnson\",\"is_active\":true}\n"
              "{\"phone_number\":\"+14155550102\",\"first_name\":\"Bri\",\"is_active\":true}\n"
              "{\"phone_number\":\"+14155550191\",\"first_name\":\"New\",\"is_active\":true}\n");
}

TEST(MockServer, BudgetWindowOpensAgainAfterItPasses) {
    Running r([](MockOptions& o) {
        o.budget_calls = 3;
        o.budget_window_s = 1;
    });
    RawClient c(r.server->port());
    const auto patch = http_request("PATCH", number_target("%2B14155550101"), R"({"first_name":"A"})");
    const auto start = std::chrono::steady_clock::now();
    for (int i = 0; i < 3; ++i) {
        c.send(patch);
        EXPECT_EQ(c.read().status, 200);
    }
    c.send(patch);
    const auto limited = c.read();
    EXPECT_EQ(limited.status, 429);
    EXPECT_EQ(limited.header("retry-after"), "1");
    std::this_thread::sleep_until(start + 1100ms);  // the window is real time here
    c.send(patch);
    EXPECT_EQ(c.read().status, 200);
}

TEST(MockServer, KeepAliveServesManyRequestsOnOneConnection) {
    Running r([](MockOptions& o) { o.budget_calls = 0; });
    RawClient c(r.server->port());
    for (int i = 0; i < 100; ++i) {
        c.send(http_request("PATCH", number_target("%2B14155550101"), R"({"first_name":"N)" + std::to_string(i) + "\"}"));
        const auto res = c.read();
        ASSERT_EQ(res.status, 200);
        EXPECT_EQ(res.header("connection"), "");
    }
    const auto s = r.server->stats();
    EXPECT_EQ(s.connections_total, 1u);
    EXPECT_EQ(s.writes_applied, 100u);
    EXPECT_NE(r.server->cards_ndjson().find("N99"), std::string::npos);
}

TEST(MockServer, PipelinedRequestsAreAnsweredInOrderDespiteRandomLatency) {
    Running r([](MockOptions& o) {
        o.budget_calls = 0;
        o.latency_ms = 0;
        o.latency_max_ms = 40;  // later requests often become due before earlier ones
    });
    RawClient c(r.server->port());
    std::string burst;
    for (int i = 0; i < 10; ++i) {
        if (i % 3 == 2) burst += http_request("GET", number_target("%2B1415555019" + std::to_string(i % 10)));
        else burst += http_request("PATCH", number_target("%2B14155550101"), R"({"first_name":"P)" + std::to_string(i) + "\"}");
    }
    c.send(burst);  // one send: ten requests
    for (int i = 0; i < 10; ++i) {
        const auto res = c.read();
        if (i % 3 == 2) {
            EXPECT_EQ(res.status, 404) << i;
            EXPECT_NE(res.body.find("+1415555019" + std::to_string(i % 10)), std::string::npos) << res.body;
        } else {
            EXPECT_EQ(res.status, 200) << i;
            EXPECT_NE(res.body.find("\"P" + std::to_string(i) + "\""), std::string::npos) << res.body;
        }
    }
    EXPECT_GE(r.server->stats().in_flight_max, 2u);
}

TEST(MockServer, LatencyOnOneConnectionDoesNotHoldUpOthers) {
    Running r([](MockOptions& o) { o.latency_ms = 300; });
    std::vector<std::unique_ptr<RawClient>> clients;
    for (int i = 0; i < 8; ++i) clients.push_back(std::make_unique<RawClient>(r.server->port()));
    const auto start = std::chrono::steady_clock::now();
    for (auto& c : clients) c->send(http_request("GET", api));
    for (auto& c : clients) EXPECT_EQ(c->read().status, 200);
    const auto elapsed = std::chrono::steady_clock::now() - start;
    EXPECT_GE(elapsed, 290ms);
    EXPECT_LT(elapsed, 1500ms) << "eight 300 ms answers one after another would take 2.4 s";
    EXPECT_EQ(r.server->stats().in_flight_max, 8u);
}

TEST(MockServer, DropClosesWithoutAnswerAndChangesNothing) {
    Running r([](MockOptions& o) { o.drop = 1; });
    const auto before = r.server->cards_ndjson();
    RawClient c(r.server->port());
    c.send(http_request("PATCH", number_target("%2B14155550101"), R"({"first_name":"Dropped"})"));
    const auto res = c.read();
    EXPECT_EQ(res.status, 0);
    EXPECT_EQ(r.server->cards_ndjson(), before);
    EXPECT_EQ(r.server->stats().faults_drop, 1u);
}

TEST(MockServer, TruncateSendsFullLengthHeaderThenPartOfTheBody) {
    Running r([](MockOptions& o) { o.truncate = 1; });
    const auto before = r.server->cards_ndjson();
    RawClient c(r.server->port());
    c.send(http_request("PATCH", number_target("%2B14155550101"), R"({"first_name":"Cut"})"));
    const auto res = c.read();
    EXPECT_EQ(res.status, 200);
    EXPECT_FALSE(res.complete);
    EXPECT_GT(std::stoul(res.header("content-length")), res.body.size());
    EXPECT_GT(res.body.size(), 0u);
    EXPECT_EQ(r.server->cards_ndjson(), before) << "a truncated answer's write is not applied";
}

TEST(MockServer, InjectedErrorsCarryTheirHeaders) {
    Running r([](MockOptions& o) {
        o.fail_503 = 1;
        o.fail_503_retry_after_s = 2.2;
    });
    const auto res = r.once(http_request("PATCH", number_target("%2B14155550101"), R"({"first_name":"X"})"));
    EXPECT_EQ(res.status, 503);
    EXPECT_EQ(code_of(res.body), 4004);
    EXPECT_EQ(res.header("retry-after"), "3");
}

std::vector<int> statuses_for_seed(std::uint64_t seed) {
    MockOptions o;
    o.seed = seed;
    o.every_number_has_card = true;
    o.budget_calls = 0;
    o.fail_500 = 0.2;
    o.fail_503 = 0.1;
    o.fail_429 = 0.1;
    o.drop = 0.1;
    MockServer server(o);
    std::vector<int> seen;
    auto c = std::make_unique<RawClient>(server.port());
    for (int i = 0; i < 40; ++i) {
        c->send(http_request("PATCH", number_target("%2B1415555" + std::to_string(1000 + i)), R"({"first_name":"A"})"));
        const auto res = c->read();
        seen.push_back(res.status);
        if (res.status == 0) c = std::make_unique<RawClient>(server.port());  // dropped: reconnect
    }
    return seen;
}

TEST(MockServer, SameSeedGivesTheSameSequenceOfStatuses) {
    const auto a = statuses_for_seed(42), b = statuses_for_seed(42), c = statuses_for_seed(43);
    EXPECT_EQ(a, b);
    EXPECT_NE(a, c);
    EXPECT_NE(std::find(a.begin(), a.end(), 0), a.end()) << "some drops";
    EXPECT_NE(std::find(a.begin(), a.end(), 500), a.end());
}

TEST(MockServer, CloseEveryKAnswersEndsTheConnection) {
    Running r([](MockOptions& o) {
        o.close_every = 3;
        o.budget_calls = 0;
    });
    RawClient c(r.server->port());
    for (int i = 1; i <= 3; ++i) {
        c.send(http_request("GET", api));
        const auto res = c.read();
        EXPECT_EQ(res.status, 200);
        EXPECT_EQ(res.header("connection"), i == 3 ? "close" : "") << i;
    }
    EXPECT_TRUE(c.closed_by_server());

    RawClient pipelined(r.server->port());  // the requests after the closing answer are not answered
    std::string burst;
    for (int i = 0; i < 5; ++i) burst += http_request("GET", api);
    pipelined.send(burst);
    for (int i = 0; i < 3; ++i) EXPECT_EQ(pipelined.read().status, 200);
    EXPECT_TRUE(pipelined.closed_by_server());
    EXPECT_EQ(r.server->stats().closed_by_close_every, 2u);
}

// Silence closes a connection after the idle timeout (to within a quarter of it); traffic, or an
// answer held back by latency longer than the timeout, keeps it open.
TEST(MockServer, IdleConnectionsAreClosedAfterTheTimeout) {
    Running r([](MockOptions& o) {
        o.idle_timeout_s = 0.3;
        o.budget_calls = 0;
    });
    RawClient busy(r.server->port());
    for (int i = 0; i < 6; ++i) {  // 0.6 s in all, never 0.3 s of silence
        busy.send(http_request("GET", api));
        EXPECT_EQ(busy.read().status, 200) << i;
        std::this_thread::sleep_for(100ms);
    }

    const auto start = std::chrono::steady_clock::now();
    RawClient silent(r.server->port());
    EXPECT_TRUE(silent.closed_by_server());
    const auto waited = std::chrono::steady_clock::now() - start;
    EXPECT_GE(waited, 290ms);
    EXPECT_LT(waited, 2s);

    RawClient half(r.server->port());  // a request cut off in its head is silence too
    half.send("GET /api/partner/v3/contact_card HTTP/1.1\r\nAuthoriz");
    EXPECT_TRUE(half.closed_by_server());
    EXPECT_EQ(r.server->stats().closed_idle, 3u) << "busy too, once it fell silent";
    EXPECT_EQ(busy.read().status, 0) << "closed";
}

TEST(MockServer, AnAnswerHeldByLatencyIsNotIdleness) {
    Running r([](MockOptions& o) {
        o.idle_timeout_s = 0.1;
        o.latency_ms = 400;
        o.budget_calls = 0;
    });
    RawClient c(r.server->port());
    c.send(http_request("GET", api));
    EXPECT_EQ(c.read().status, 200);
    EXPECT_EQ(r.server->stats().closed_idle, 0u);
}

TEST(MockServer, NoIdleTimeoutKeepsSilentConnections) {
    Running r([](MockOptions& o) { o.idle_timeout_s = 0; });
    RawClient c(r.server->port(), 500);
    EXPECT_THROW(c.closed_by_server(), std::runtime_error) << "the read times out: the server did not close";
}

TEST(MockServer, ClientsAskingForCloseAndHttp10AreHonoured) {
    Running r;
    RawClient c(r.server->port());
    c.send(http_request("GET", api, {}, "mock-key", "Connection: close\r\n"));
    EXPECT_EQ(c.read().header("connection"), "close");
    EXPECT_TRUE(c.closed_by_server());

    RawClient old(r.server->port());
    old.send("GET /api/partner/v3/contact_card HTTP/1.0\r\nAuthorization: Bearer mock-key\r\nConnection: keep-alive\r\n\r\n");
    EXPECT_EQ(old.read().header("connection"), "keep-alive");
    old.send("GET /api/partner/v3/contact_card HTTP/1.0\r\nAuthorization: Bearer mock-key\r\n\r\n");
    EXPECT_EQ(old.read().status, 200);
    EXPECT_TRUE(old.closed_by_server());
}

TEST(MockServer, MaxConnectionsRefusesTheExtraOnes) {
    Running r([](MockOptions& o) { o.max_connections = 2; });
    auto a = std::make_unique<RawClient>(r.server->port());
    RawClient b(r.server->port());
    for (RawClient* c : {a.get(), &b}) {
        c->send(http_request("GET", api));
        EXPECT_EQ(c->read().status, 200);
    }
    RawClient extra(r.server->port());
    extra.send(http_request("GET", api));
    EXPECT_EQ(extra.read().status, 0) << "closed at once";
    EXPECT_EQ(r.server->stats().connections_refused, 1u);

    a.reset();  // a slot frees once the server sees the close
    for (int i = 0; i < 200 && r.server->stats().connections_current > 1; ++i) std::this_thread::sleep_for(5ms);
    RawClient again(r.server->port());
    again.send(http_request("GET", api));
    EXPECT_EQ(again.read().status, 200);
    const auto s = r.server->stats();
    EXPECT_EQ(s.connections_max, 2u);
    EXPECT_EQ(s.connections_total, 3u);
}

TEST(MockServer, MalformedOversizedChunkedAndExpectContinue) {
    Running r([](MockOptions& o) { o.budget_calls = 0; });
    {
        RawClient c(r.server->port());
        c.send("NOT HTTP AT ALL\r\n\r\n");
        const auto res = c.read();
        EXPECT_EQ(res.status, 400);
        EXPECT_EQ(res.header("connection"), "close");
        EXPECT_TRUE(c.closed_by_server());
    }
    {
        RawClient c(r.server->port());
        c.send("PATCH /api/partner/v3/contact_card?phone_number=%2B14155550101 HTTP/1.1\r\nAuthorization: Bearer "
               "mock-key\r\nContent-Length: 70000\r\n\r\n");
        EXPECT_EQ(c.read().status, 413);
    }
    {
        RawClient c(r.server->port());
        c.send("PATCH /api/partner/v3/contact_card?phone_number=%2B14155550101 HTTP/1.1\r\nAuthorization: Bearer "
               "mock-key\r\nTransfer-Encoding: chunked\r\n\r\n8\r\n{\"first_\r\nf\r\nname\":\"Chunky\"}\r\n0\r\n\r\n");
        const auto res = c.read();
        EXPECT_EQ(res.status, 200);
        EXPECT_NE(res.body.find("Chunky"), std::string::npos);
    }
    {
        RawClient c(r.server->port());
        const std::string body = R"({"first_name":"Patient"})";
        c.send("PATCH /api/partner/v3/contact_card?phone_number=%2B14155550101 HTTP/1.1\r\nAuthorization: Bearer "
               "mock-key\r\nExpect: 100-continue\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n");
        EXPECT_EQ(c.read().status, 100);
        c.send(body);
        const auto res = c.read();
        EXPECT_EQ(res.status, 200);
        EXPECT_NE(res.body.find("Patient"), std::string::npos);
    }
}

TEST(MockServer, StatsCountRequestsConnectionsAndStatuses) {
    Running r;
    {
        RawClient a(r.server->port()), b(r.server->port());
        a.send(http_request("GET", api));
        b.send(http_request("PATCH", number_target("%2B14155550190"), R"({"first_name":"A"})"));
        EXPECT_EQ(a.read().status, 200);
        EXPECT_EQ(b.read().status, 404);
        EXPECT_EQ(r.server->stats().connections_current, 2u);
    }
    RawClient c(r.server->port());
    c.send(http_request("GET", "/__mock/stats", {}, ""));
    const auto res = c.read();
    ASSERT_EQ(res.status, 200);
    simdjson::dom::parser parser;
    simdjson::dom::element doc = parser.parse(res.body);
    EXPECT_EQ(int64_t(doc["requests"]), 2);
    EXPECT_EQ(int64_t(doc["by_method"]["PATCH"]), 1);
    EXPECT_EQ(int64_t(doc["by_status"]["404"]), 1);
    EXPECT_EQ(int64_t(doc["by_code"]["2001"]), 1);
    EXPECT_GE(int64_t(doc["connections"]["max"]), 2);
    EXPECT_EQ(int64_t(doc["connections"]["total"]), 3);
    EXPECT_GE(simdjson::dom::array(doc["requests_per_100ms"]).size(), 1u);
    EXPECT_EQ(r.server->stats_json().find("{\"requests\":2,"), 0u);

    c.send(http_request("GET", "/__mock/cards", {}, ""));
    const auto cards = c.read();
    EXPECT_EQ(cards.header("content-type"), "application/x-ndjson");
    EXPECT_EQ(cards.body, r.server->cards_ndjson());
}

TEST(MockServer, StopWithClientsConnectedDoesNotHangAndWritesReports) {
    test::TempDir dir;
    MockOptions o;
    o.latency_ms = 10000;  // answers that will not be due before the stop
    o.stats_out = dir.file("stats.json");
    o.state_out = dir.file("state.ndjson");
    const auto stats_path = o.stats_out, state_path = o.state_out;
    Running r;
    r.server = std::make_unique<MockServer>(o);
    RawClient idle(r.server->port()), waiting(r.server->port()), partial(r.server->port());
    waiting.send(http_request("GET", api));
    partial.send("PATCH /api/partner/v3/contact_card?phone_number=%2B1415");
    std::this_thread::sleep_for(50ms);  // let the server read them
    const auto start = std::chrono::steady_clock::now();
    r.server->stop();
    EXPECT_LT(std::chrono::steady_clock::now() - start, 2500ms);
    EXPECT_EQ(waiting.read().status, 0);
    EXPECT_TRUE(idle.closed_by_server());
    r.server->stop();  // idempotent
    EXPECT_EQ(test::read_file(state_path), r.server->cards_ndjson());
    EXPECT_EQ(test::read_file(stats_path), r.server->stats_json() + "\n");
    EXPECT_NE(test::read_file(stats_path).find("\"requests\":1,"), std::string::npos);
    EXPECT_EQ(r.server->stats().connections_current, 0u);
}

TEST(MockServer, ListenErrorsAreClear) {
    Running r;
    MockOptions o;
    o.listen = "127.0.0.1:" + std::to_string(r.server->port());
    try {
        MockServer second(o);
        ADD_FAILURE() << "bound a port in use";
    } catch (const std::runtime_error& e) {
        EXPECT_NE(std::string(e.what()).find("cannot listen on 127.0.0.1:"), std::string::npos) << e.what();
    }
    o.listen = "example.com:80";
    EXPECT_THROW(MockServer{o}, std::invalid_argument);
    o.listen = "127.0.0.1";
    EXPECT_THROW(MockServer{o}, std::invalid_argument);
    EXPECT_EQ(r.server->base_url(), "http://127.0.0.1:" + std::to_string(r.server->port()));
    EXPECT_EQ(r.server->api_url(), r.server->base_url() + "/api/partner");
    EXPECT_EQ(r.server->certificate_pem(), "");
}

// One HTTPS request with certificate verification against `ca_file`; the status, or -1 when the
// handshake fails.
int tls_get(std::uint16_t port, const std::string& ca_file, const std::string& host_name = "127.0.0.1") {
    namespace asio = boost::asio;
    asio::io_context ioc;
    asio::ssl::context ctx(asio::ssl::context::tls_client);
    if (!ca_file.empty()) ctx.load_verify_file(ca_file);
    ctx.set_verify_mode(asio::ssl::verify_peer);
    asio::ssl::stream<asio::ip::tcp::socket> stream(ioc, ctx);
    stream.set_verify_callback(asio::ssl::host_name_verification(host_name));
    stream.next_layer().connect({asio::ip::make_address("127.0.0.1"), port});
    boost::system::error_code ec;
    stream.handshake(asio::ssl::stream_base::client, ec);
    if (ec) return -1;
    asio::write(stream, asio::buffer(http_request("GET", api, {}, "mock-key", "Connection: close\r\n")));
    std::string response;
    char chunk[4096];
    for (;;) {
        const std::size_t n = stream.read_some(asio::buffer(chunk), ec);
        response.append(chunk, n);
        if (ec) break;
    }
    return response.size() > 12 ? std::stoi(response.substr(9, 3)) : 0;
}

TEST(MockServerTls, GeneratedCertificateVerifiesFromTheWrittenPem) {
    test::TempDir dir;
    MockOptions o;
    o.tls = true;
    o.write_cert_to = dir.file("cert.pem");
    MockServer server(o);
    EXPECT_EQ(server.base_url().rfind("https://127.0.0.1:", 0), 0u);
    EXPECT_EQ(test::read_file(o.write_cert_to), server.certificate_pem());
    EXPECT_EQ(tls_get(server.port(), o.write_cert_to), 200);
    EXPECT_EQ(tls_get(server.port(), o.write_cert_to, "localhost"), 200);
    EXPECT_EQ(tls_get(server.port(), o.write_cert_to, "example.com"), -1) << "the name is checked";
    EXPECT_EQ(tls_get(server.port(), ""), -1) << "not trusted without the PEM";
}

TEST(MockServerTls, AStalledHandshakeIsClosedByTheIdleTimeout) {
    test::TempDir dir;
    MockOptions o;
    o.tls = true;
    o.idle_timeout_s = 0.2;
    o.write_cert_to = dir.file("cert.pem");
    MockServer server(o);
    RawClient stalled(server.port());  // TCP only: no ClientHello ever comes
    EXPECT_TRUE(stalled.closed_by_server());
    EXPECT_EQ(server.stats().closed_idle, 1u);
    EXPECT_EQ(tls_get(server.port(), o.write_cert_to), 200) << "other handshakes are still served";
}

TEST(MockServerTls, UsesAGivenCertificateAndKey) {
    test::TempDir dir;
    const auto identity = make_self_signed_identity();
    test::write_file(dir.file("cert.pem"), identity.certificate_pem);
    test::write_file(dir.file("key.pem"), identity.private_key_pem);
    MockOptions o;
    o.tls = true;
    o.cert_file = dir.file("cert.pem");
    o.key_file = dir.file("key.pem");
    MockServer server(o);
    EXPECT_EQ(server.certificate_pem(), identity.certificate_pem);
    EXPECT_EQ(tls_get(server.port(), o.cert_file), 200);

    o.key_file = dir.file("cert.pem");  // no key in there
    EXPECT_THROW(MockServer{o}, std::runtime_error);
}

}  // namespace
}  // namespace cardsync
