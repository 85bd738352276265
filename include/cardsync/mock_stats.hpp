#pragma once
// What the simulator counted: a snapshot, as MockServer::stats() returns it and as
// GET /__mock/stats serialises it. Only API traffic counts (not /__mock/ requests).

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace cardsync {

struct MockStats {
    std::uint64_t requests = 0;                        ///< API requests received (parsed), any outcome
    std::map<std::string, std::uint64_t> by_method;    ///< "PATCH" -> count
    std::map<int, std::uint64_t> by_status;            ///< HTTP status sent (truncated answers included)
    std::map<int, std::uint64_t> by_code;              ///< error.code sent (1002, 2001, 1007, ...)

    std::uint64_t connections_current = 0;             ///< open now
    std::uint64_t connections_max = 0;                 ///< most open at once
    std::uint64_t connections_total = 0;               ///< accepted and served
    std::uint64_t connections_refused = 0;             ///< accepted then closed at once (max_connections)
    std::uint64_t in_flight_current = 0;               ///< received, answer not yet handed to the socket
    std::uint64_t in_flight_max = 0;

    std::uint64_t writes_applied = 0;                  ///< POST/PATCH that changed the store (2xx)
    std::uint64_t budget_rejected = 0;                 ///< 429 from the per-number budget
    std::uint64_t account_rate_rejected = 0;           ///< 429 from the account token bucket
    std::uint64_t faults_500 = 0, faults_503 = 0, faults_429 = 0;  ///< injected error answers
    std::uint64_t faults_drop = 0, faults_truncate = 0;            ///< injected transport faults
    std::uint64_t closed_by_close_every = 0;           ///< answers sent with Connection: close by close_every
    std::uint64_t closed_idle = 0;                     ///< connections closed by the idle timeout

    std::map<std::uint32_t, std::uint64_t> numbers_by_writes;  ///< k -> how many cards got exactly k writes (k > 0)
    std::vector<std::uint32_t> requests_per_100ms;     ///< API requests received in each 100 ms since start (grows
                                                       ///< with uptime: 36,000 entries an hour)

    /// One JSON object with the fields above (keys as named here; map keys as strings).
    std::string to_json() const;
    /// One plain line of key=value pairs for logs (`cardsync mock` --stats-interval, SIGUSR1), no
    /// newline: "requests=120 requests_per_s=40.0 status_200=118 status_429=2 code_1007=2
    /// writes_applied=118 connections_current=4 connections_total=4 connections_refused=0
    /// in_flight=1 budget_429=2 account_429=0 faults=0". `requests_per_s` is given by the caller
    /// (requests over its last interval).
    std::string log_line(double requests_per_s) const;
};

}  // namespace cardsync
