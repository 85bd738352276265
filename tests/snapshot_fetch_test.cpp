// Taking the snapshot over real sockets on 127.0.0.1: from the simulator (its cards, a large list,
// retried faults, a refused key), and from a scripted server whose answer is not the card list.
#include "cardsync/snapshot_fetch.hpp"

#include "cardsync/mock_server.hpp"
#include "support/loopback_listener.hpp"
#include "support/temp_dir.hpp"

#include <gtest/gtest.h>
#include <fmt/format.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <thread>

namespace {

using namespace std::chrono_literals;
using cardsync::ApplyOptions;
using cardsync::MockOptions;
using cardsync::MockServer;
using cardsync::SnapshotError;
using cardsync::test::TempDir;

ApplyOptions options_for(const std::string& url, const std::string& key = "mock-key") {
    ApplyOptions o;
    o.base_url = url;
    o.api_key = key;
    o.seed = 3;
    o.transient = {10ms, 50ms};
    o.throttle = {10ms, 50ms};
    o.attempt_timeout = 5s;
    return o;
}

std::string seed_file(const TempDir& dir, int n) {
    std::string csv = "phone_number,first_name,last_name,image_url,is_active\n";
    for (int i = 0; i < n; ++i)
        csv += fmt::format("+1555{:07},First{},Last{},https://img.example/{}.png,{}\n", i, i, i, i, i == 1 ? "false" : "true");
    const auto path = dir.file("cards.csv");
    cardsync::test::write_file(path, csv);
    return path;
}

TEST(SnapshotFetch, ReadsTheSimulatorsLiveCards) {
    TempDir dir;
    MockOptions m;
    m.seed_cards_csv = seed_file(dir, 5);
    MockServer server(m);
    const auto got = cardsync::fetch_card_snapshot(options_for(server.api_url()));
    EXPECT_EQ(got.cards.size(), 4u) << "the inactive card is not listed";
    EXPECT_EQ(got.attempts, 1);
    EXPECT_GT(got.body_bytes, 0u);
    const auto c = got.cards.find("+15550000003");
    ASSERT_TRUE(c);
    EXPECT_EQ(c->first_name, "First3");
    EXPECT_EQ(c->image_url, "https://img.example/3.png");
    EXPECT_FALSE(got.cards.find("+15550000001"));
    const auto s = server.stats();
    EXPECT_EQ(s.by_method.at("GET"), 1u);
    EXPECT_EQ(s.by_method.count("PATCH") + s.by_method.count("POST"), 0u) << "no write";
}

TEST(SnapshotFetch, AHundredThousandCards) {
    TempDir dir;
    MockOptions m;
    m.seed_cards_csv = seed_file(dir, 100'000);
    MockServer server(m);
    const auto got = cardsync::fetch_card_snapshot(options_for(server.api_url()));
    EXPECT_EQ(got.cards.size(), 99'999u);
    EXPECT_GT(got.body_bytes, std::size_t{1} << 20) << "over the 1 MiB limit of ordinary answers";
    EXPECT_EQ(got.cards.find("+15550099999")->last_name, "Last99999");
}

TEST(SnapshotFetch, TransientFailuresAreRetried) {
    TempDir dir;
    MockOptions m;
    m.seed_cards_csv = seed_file(dir, 3);
    m.fail_500 = 0.6;
    m.seed = 11;
    MockServer server(m);
    auto o = options_for(server.api_url());
    o.max_attempts = 20;
    const auto got = cardsync::fetch_card_snapshot(o);
    EXPECT_EQ(got.cards.size(), 2u);
    const auto s = server.stats();
    EXPECT_EQ(static_cast<std::uint64_t>(got.attempts), s.by_method.at("GET"));
    EXPECT_EQ(s.faults_500 + 1, s.by_method.at("GET")) << "every 500 retried, then one answer";
    EXPECT_GE(s.faults_500, 1u) << "the seed must give at least one fault, or the test proves nothing";
}

TEST(SnapshotFetch, ACutAnswerIsFetchedAgainFromTheStart) {
    TempDir dir;
    MockOptions m;
    m.seed_cards_csv = seed_file(dir, 2000);
    m.truncate = 0.6;  // half the list arrives (and is parsed as it arrives), then the connection closes
    m.seed = 5;
    MockServer server(m);
    auto o = options_for(server.api_url());
    o.max_attempts = 20;
    const auto got = cardsync::fetch_card_snapshot(o);
    EXPECT_EQ(got.cards.size(), 1999u);
    EXPECT_EQ(got.cards.find("+15550001999")->first_name, "First1999");
    const auto s = server.stats();
    EXPECT_GE(s.faults_truncate, 1u) << "the seed must cut at least one answer, or the test proves nothing";
    EXPECT_EQ(static_cast<std::uint64_t>(got.attempts), s.faults_truncate + 1);
}

TEST(SnapshotFetch, AttemptsRunOutWithAClearError) {
    MockOptions m;
    m.fail_503 = 1;
    MockServer server(m);
    auto o = options_for(server.api_url());
    o.max_attempts = 2;
    try {
        cardsync::fetch_card_snapshot(o);
        ADD_FAILURE() << "no error";
    } catch (const SnapshotError& e) {
        const std::string what = e.what();
        EXPECT_NE(what.find("GET /v3/contact_card"), std::string::npos) << what;
        EXPECT_NE(what.find("503"), std::string::npos) << what;
        EXPECT_NE(what.find("nothing was sent"), std::string::npos) << what;
    }
    EXPECT_EQ(server.stats().by_method.at("GET"), 2u);
}

TEST(SnapshotFetch, AWrongKeyStopsAtOnceAndIsNeverQuoted) {
    MockServer server(MockOptions{});
    const std::string key = "wrong-key-5d1e";
    try {
        cardsync::fetch_card_snapshot(options_for(server.api_url(), key));
        ADD_FAILURE() << "no error";
    } catch (const SnapshotError& e) {
        const std::string what = e.what();
        EXPECT_NE(what.find("401"), std::string::npos) << what;
        EXPECT_NE(what.find("LINQ_API_V3_API_KEY"), std::string::npos) << what;
        EXPECT_EQ(what.find(key), std::string::npos) << what;
    }
    EXPECT_EQ(server.stats().by_method.at("GET"), 1u) << "401 is not retried";
}

// Answers every request on every connection with `answer`, until destroyed.
class FixedServer {
public:
    explicit FixedServer(std::string answer) : answer_(std::move(answer)) {
        listener_ = cardsync::test::listen_on_loopback(port_);
        thread_ = std::thread([this] { serve(); });
    }
    ~FixedServer() {
        ::shutdown(listener_, SHUT_RDWR);
        ::close(listener_);
        thread_.join();
    }
    std::string url() const { return fmt::format("http://127.0.0.1:{}/api/partner", port_); }
    int requests() const { return requests_; }

private:
    void serve() {
        for (;;) {
            const int fd = ::accept(listener_, nullptr, nullptr);
            if (fd < 0) return;
            std::string head;
            char c;
            while (::read(fd, &c, 1) == 1) {
                head += c;
                if (head.size() >= 4 && head.compare(head.size() - 4, 4, "\r\n\r\n") == 0) {
                    ++requests_;
                    (void)!::write(fd, answer_.data(), answer_.size());
                    head.clear();
                }
            }
            ::close(fd);
        }
    }
    std::string answer_;
    int listener_ = -1;
    std::uint16_t port_ = 0;
    std::atomic<int> requests_{0};
    std::thread thread_;
};

TEST(SnapshotFetch, AnAnswerThatIsNotTheCardListIsAnError) {
    const std::string body = R"({"contact_cards":[{"phone_number":"+15550000001"}]})";
    FixedServer server(fmt::format("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{}",
                                   body.size(), body));
    try {
        cardsync::fetch_card_snapshot(options_for(server.url()));
        ADD_FAILURE() << "no error";
    } catch (const SnapshotError& e) {
        EXPECT_NE(std::string(e.what()).find("card #1 (+15550000001) has no first_name"), std::string::npos) << e.what();
    }
    EXPECT_EQ(server.requests(), 1) << "a malformed 200 is not retried";
}

}  // namespace
