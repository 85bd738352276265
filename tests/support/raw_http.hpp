#pragma once
// Test helper: a tiny blocking HTTP/1.1 client on raw POSIX sockets, to 127.0.0.1 only. It sends
// bytes exactly as given (pipelining is one send of several requests) and reads responses framed
// by Content-Length, reporting a connection that ends early instead of hiding it.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <map>
#include <stdexcept>
#include <string>
#include <string_view>

namespace cardsync::test {

struct RawResponse {
    int status = 0;                              ///< 0: the connection ended before a status line
    std::map<std::string, std::string> headers;  ///< names lower-cased
    std::string body;
    bool complete = false;                       ///< false: the connection ended before the whole body
    std::string header(const std::string& name) const {
        auto it = headers.find(name);
        return it == headers.end() ? std::string() : it->second;
    }
};

/// One request's bytes. `token` empty: no Authorization header.
inline std::string http_request(const std::string& method, const std::string& target, const std::string& body = {},
                                const std::string& token = "mock-key", const std::string& extra_headers = {}) {
    std::string r = method + " " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\n";
    if (!token.empty()) r += "Authorization: Bearer " + token + "\r\n";
    if (!body.empty() || method == "POST" || method == "PATCH")
        r += "Content-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) + "\r\n";
    r += extra_headers;
    r += "\r\n";
    r += body;
    return r;
}

class RawClient {
public:
    explicit RawClient(std::uint16_t port, int timeout_ms = 3000) {
        fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
        if (fd_ < 0) throw std::runtime_error("socket failed");
        timeval tv{timeout_ms / 1000, (timeout_ms % 1000) * 1000};
        ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        int one = 1;
        ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        sockaddr_in addr{};
        addr.sin_family = AF_INET;
        addr.sin_port = htons(port);
        addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        if (::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
            ::close(fd_);
            throw std::runtime_error("connect to 127.0.0.1 failed");
        }
    }
    ~RawClient() {
        if (fd_ >= 0) ::close(fd_);
    }
    RawClient(const RawClient&) = delete;
    RawClient& operator=(const RawClient&) = delete;

    void send(std::string_view bytes) {
        while (!bytes.empty()) {
            const ssize_t n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
            if (n <= 0) throw std::runtime_error("send failed");
            bytes.remove_prefix(static_cast<std::size_t>(n));
        }
    }
    void shutdown_write() { ::shutdown(fd_, SHUT_WR); }

    /// Reads one response. Throws on a timeout, so a stuck server fails the test instead of hanging it.
    RawResponse read() {
        RawResponse r;
        std::size_t head_end;
        while ((head_end = buf_.find("\r\n\r\n")) == std::string::npos)
            if (!fill()) return r;
        const std::string head = buf_.substr(0, head_end);
        buf_.erase(0, head_end + 4);
        r.status = std::stoi(head.substr(9, 3));
        std::size_t pos = head.find("\r\n");
        while (pos != std::string::npos && pos < head.size()) {
            const std::size_t next = head.find("\r\n", pos + 2);
            const std::string line = head.substr(pos + 2, next == std::string::npos ? std::string::npos : next - pos - 2);
            const auto colon = line.find(':');
            if (colon != std::string::npos) {
                std::string name = line.substr(0, colon);
                for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
                r.headers[name] = line.substr(line.find_first_not_of(' ', colon + 1));
            }
            pos = next;
        }
        if (r.status == 100) return r;  // interim: no body
        const std::size_t length = std::stoul(r.header("content-length").empty() ? "0" : r.header("content-length"));
        while (buf_.size() < length)
            if (!fill()) break;
        r.complete = buf_.size() >= length;
        r.body = buf_.substr(0, std::min(length, buf_.size()));
        buf_.erase(0, r.body.size());
        return r;
    }

    /// True when the server ended the connection (EOF or reset) and sent nothing more.
    bool closed_by_server() {
        if (!buf_.empty()) return false;
        return !fill() && buf_.empty();
    }

private:
    bool fill() {  // false at EOF or reset
        char chunk[16384];
        const ssize_t n = ::recv(fd_, chunk, sizeof chunk, 0);
        if (n > 0) {
            buf_.append(chunk, static_cast<std::size_t>(n));
            return true;
        }
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) throw std::runtime_error("timed out waiting for the server");
        return false;
    }
    int fd_ = -1;
    std::string buf_;
};

}  // namespace cardsync::test
