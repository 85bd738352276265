#include "cardsync/answer_head.hpp"

#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>
#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

using namespace cardsync;
namespace http = boost::beast::http;

namespace {

const std::string nginx_answer =
    "HTTP/1.1 200 OK\r\nServer: nginx\r\nDate: Sat, 28 Nov 2026 01:30:17 GMT\r\n"
    "Content-Type: application/json\r\nContent-Length: 18\r\nConnection: keep-alive\r\n\r\n"
    "{\"first_name\":\"A\"}";

HeadScan scan(const std::string& bytes) {
    PlainAnswerHead head;
    return scan_plain_answer_head(bytes, head);
}

}  // namespace

TEST(AnswerHead, ReadsNginxsAnswer) {
    PlainAnswerHead head;
    ASSERT_EQ(scan_plain_answer_head(nginx_answer, head), HeadScan::plain);
    EXPECT_EQ(head.status, 200);
    EXPECT_EQ(head.content_length, 18u);
    EXPECT_EQ(head.head_bytes, nginx_answer.size() - 18);
    EXPECT_TRUE(head.keep_alive);
    EXPECT_TRUE(head.retry_after.empty());
    EXPECT_TRUE(head.location.empty());
}

TEST(AnswerHead, ReadsTheFieldsTheEngineUsesTrimmedAndInAnyCase) {
    const std::string answer =
        "HTTP/1.1 429 Too Many Requests\r\ncontent-length:0\r\nRETRY-AFTER: \t 120 \r\n"
        "Retry-After-Ms:120000\r\nx-should-retry: true\r\nLocation: /v3/contact_card?x=1\r\n"
        "Connection: Close\r\nX-Empty:\r\n\r\n";
    PlainAnswerHead head;
    ASSERT_EQ(scan_plain_answer_head(answer, head), HeadScan::plain);
    EXPECT_EQ(head.status, 429);
    EXPECT_EQ(head.content_length, 0u);
    EXPECT_EQ(head.head_bytes, answer.size());
    EXPECT_FALSE(head.keep_alive);
    EXPECT_EQ(head.retry_after, "120");
    EXPECT_EQ(head.retry_after_ms, "120000");
    EXPECT_EQ(head.should_retry, "true");
    EXPECT_EQ(head.location, "/v3/contact_card?x=1");
}

TEST(AnswerHead, EveryCutOfAPlainHeadAsksForMore) {
    const std::size_t head_bytes = nginx_answer.size() - 18;
    for (std::size_t n = 0; n < head_bytes; ++n)
        ASSERT_EQ(scan(nginx_answer.substr(0, n)), HeadScan::need_more) << n;
    for (std::size_t n = head_bytes; n <= nginx_answer.size(); ++n)
        ASSERT_EQ(scan(nginx_answer.substr(0, n)), HeadScan::plain) << n;  // the body is the pool's to wait for
}

TEST(AnswerHead, LeavesEveryOtherShapeToTheFullParser) {
    const std::string ok = "HTTP/1.1 200 OK\r\n";
    const std::string cl = "Content-Length: 2\r\n";
    const std::vector<std::string> others = {
        "HTTP/1.0 200 OK\r\n" + cl + "\r\nok",                                  // another version
        "HTTP/1.1 100 Continue\r\n\r\n",                                          // interim
        "HTTP/1.1 204 No Content\r\n" + cl + "\r\n",                              // no body whatever it says
        "HTTP/1.1 304 Not Modified\r\n" + cl + "\r\n",
        "HTTP/1.1 600 Odd\r\n" + cl + "\r\nok",
        "HTTP/1.1 200\r\n" + cl + "\r\nok",                                       // no space after the code
        "HTTP/1.1 2x0 OK\r\n" + cl + "\r\nok",
        ok + "Transfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n",
        ok + "Connection: keep-alive\r\n\r\nok",                                  // no length: read to the end
        ok + cl + "Content-Length: 2\r\n\r\nok",                                  // twice
        ok + cl + "Connection: upgrade\r\n\r\nok",
        ok + cl + "Connection: close\r\nConnection: close\r\n\r\nok",
        ok + cl + "Upgrade: h2c\r\n\r\nok",
        ok + cl + "Proxy-Connection: close\r\n\r\nok",
        ok + cl + "Retry-After: 1\r\nRetry-After: 2\r\n\r\nok",
        ok + cl + "Location: /a\r\nLocation: /b\r\n\r\nok",
        ok + "Content-Length: +2\r\n\r\nok",
        ok + "Content-Length: 1234567890123456789\r\n\r\n",
        ok + cl + "X-Folded: a\r\n b\r\n\r\nok",                                 // obs-fold
        ok + cl + "X-Bare: a\n\r\nok",                                            // LF without CR
        "HTTP/1.1 200 OK\n" + cl + "\r\nok",
        ok + cl + "X Space: a\r\n\r\nok",                                         // not a token
        ok + cl + "X-Colon : a\r\n\r\nok",
        ok + cl + ": no name\r\n\r\nok",
        ok + cl + "X-Ctl: a\x01" "b\r\n\r\nok",
        ok + cl + "X-Del: a\x7F\r\n\r\nok",
        ok + cl + "X-Utf8: caf\xC3\xA9\r\n\r\nok",                               // obs-text: Beast's call
        "HTTP/1.1 200 O\x01K\r\n" + cl + "\r\nok",
        ok + cl + "X-CR: a\rb\r\n\r\nok",
        ok + cl + "\r\r\nok",
        ok + cl + "X-Long: " + std::string(max_plain_head, 'a') + "\r\n\r\nok",   // too long a head
        "<html>not http</html>\r\n\r\n",
        "garbage\r\n",                                                            // said at once, no wait
    };
    for (const std::string& bytes : others) EXPECT_EQ(scan(bytes), HeadScan::other) << bytes;
    EXPECT_EQ(scan("HTTX"), HeadScan::other);  // a wrong start is known before the line ends
    EXPECT_EQ(scan(ok + "X-Folded: a\r\n b"), HeadScan::other);
}

// What Beast makes of `bytes` as one answer: its parser as the pool sets it up.
struct BeastReading {
    bool ok = false;
    bool waiting = false;  // no error, but not done: more bytes wanted
    std::size_t used = 0;
    int status = 0;
    bool keep_alive = false;
    std::string retry_after, retry_after_ms, should_retry, location, body;
};

BeastReading read_with_beast(const std::string& bytes) {
    BeastReading r;
    http::response_parser<http::string_body> parser;
    parser.eager(true);
    parser.header_limit(64 * 1024);
    parser.body_limit(1 << 20);
    boost::system::error_code ec;
    r.used = parser.put(boost::asio::buffer(bytes), ec);
    if (ec || !parser.is_done()) {
        r.waiting = !ec;
        r.body = ec.message();  // for the failure message
        return r;
    }
    r.ok = true;
    const auto& m = parser.get();
    r.status = m.result_int();
    r.keep_alive = parser.keep_alive();
    auto value = [&](auto name) { const auto it = m.find(name); return it == m.end() ? std::string() : std::string(it->value()); };
    r.retry_after = value(http::field::retry_after);
    r.location = value(http::field::location);
    r.retry_after_ms = value("Retry-After-Ms");
    r.should_retry = value("X-Should-Retry");
    r.body = m.body();
    return r;
}

TEST(AnswerHead, WhatItReadsBeastReadsTheSameOnGeneratedAnswers) {
    // Answers put together from plain and awkward pieces, then perhaps damaged at one byte. Any
    // answer read here as plain must be one Beast parses to the same status, fields, keep-alive
    // and body, using exactly the head and the Content-Length. Declining is always allowed, but
    // the plain pieces alone must be read (or this test would pass with a scanner that declines all).
    const std::vector<std::string> status_lines = {"HTTP/1.1 200 OK", "HTTP/1.1 201 Created", "HTTP/1.1 429 Too Many",
                                                   "HTTP/1.1 503 ", "HTTP/1.1 404 Not\tFound", "HTTP/1.0 200 OK",
                                                   "HTTP/1.1 204 No Content", "HTTP/1.1 101 Switching"};
    const std::vector<std::string> plain_fields = {
        "Server: nginx", "Date: Sat, 28 Nov 2026 01:30:17 GMT", "Content-Type: application/json",
        "Retry-After: 30", "retry-after-ms:  1500 ", "X-Should-Retry: false", "Location: /v3/x?y=1",
        "Connection: keep-alive", "Connection: close", "X-Tab:\ta\tb\t", "X-Empty:", "Vary: Accept-Encoding"};
    const std::vector<std::string> awkward_fields = {
        "Transfer-Encoding: chunked", "Connection: upgrade", "Upgrade: websocket", "Proxy-Connection: keep-alive",
        "X-Utf8: caf\xC3\xA9", " folded", "Bad Name: x", "Content-Length: 7"};
    std::mt19937 random(20261128);
    int read_plain = 0, checked = 0;
    for (int k = 0; k < 20'000; ++k) {
        const bool plain_only = k % 2 == 0;
        std::string bytes = status_lines[plain_only ? random() % 5 : random() % status_lines.size()] + "\r\n";
        const std::string body(random() % 40, 'b');
        const int fields = static_cast<int>(random() % 6);
        const int length_at = static_cast<int>(random() % (fields + 1));
        for (int f = 0; f <= fields; ++f) {
            if (f == length_at) bytes += "Content-Length: " + std::to_string(body.size()) + "\r\n";
            if (f == fields) break;
            const bool awkward = !plain_only && random() % 4 == 0;
            const std::string& field =
                awkward ? awkward_fields[random() % awkward_fields.size()] : plain_fields[random() % plain_fields.size()];
            if (!plain_only || field.rfind("Connection", 0) != 0 || bytes.find("\nConnection") == std::string::npos)
                bytes += field + "\r\n";
        }
        bytes += "\r\n" + body;
        if (!plain_only && random() % 3 == 0) {  // damage one byte
            const std::size_t at = random() % bytes.size();
            const char damage[] = {'\0', '\n', '\r', ' ', ':', '\x7F', '\x80', 'X', '\t', '"'};
            bytes[at] = damage[random() % sizeof damage];
        }
        PlainAnswerHead head;
        const HeadScan s = scan_plain_answer_head(bytes, head);
        if (plain_only && bytes.find("HTTP/1.1 ") == 0) {
            // every piece here is plain, bar a repeated single field
            const bool repeated = [&] {
                for (const char* name : {"\nRetry-After:", "\nretry-after-ms:", "\nX-Should-Retry:", "\nLocation:"}) {
                    const auto first = bytes.find(name);
                    if (first != std::string::npos && bytes.find(name, first + 1) != std::string::npos) return true;
                }
                return false;
            }();
            if (!repeated) {
                EXPECT_EQ(s, HeadScan::plain) << bytes;
            }
        }
        if (s != HeadScan::plain) continue;
        ++read_plain;
        const BeastReading beast = read_with_beast(bytes);
        if (bytes.size() < head.head_bytes + head.content_length) {  // the pool waits for the rest of the body
            ASSERT_TRUE(beast.waiting) << beast.body << ": " << bytes;  // Beast waits too
            ++checked;
            continue;
        }
        ASSERT_TRUE(beast.ok) << beast.body << ": " << bytes;
        ASSERT_EQ(beast.used, head.head_bytes + head.content_length) << bytes;
        ASSERT_EQ(beast.status, head.status) << bytes;
        ASSERT_EQ(beast.keep_alive, head.keep_alive) << bytes;
        ASSERT_EQ(beast.retry_after, head.retry_after) << bytes;
        ASSERT_EQ(beast.retry_after_ms, head.retry_after_ms) << bytes;
        ASSERT_EQ(beast.should_retry, head.should_retry) << bytes;
        ASSERT_EQ(beast.location, head.location) << bytes;
        ASSERT_EQ(beast.body, bytes.substr(head.head_bytes, head.content_length)) << bytes;
        ++checked;
    }
    EXPECT_GT(read_plain, 8'000);
    EXPECT_EQ(checked, read_plain);
}
