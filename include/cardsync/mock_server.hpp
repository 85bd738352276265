#pragma once
// The built-in simulator of the Linq contact-card API: a real HTTP/1.1 (and HTTPS) server on
// Boost.Beast that serves PATCH/POST/GET /v3/contact_card under a base path, with the API's
// error envelope, the per-number write budget, and deterministic (seeded) faults.
// It runs on its own thread and io_context; this header keeps Asio and Beast out.

#include "cardsync/mock_stats.hpp"

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace cardsync {

/// Everything the simulator can be told (CLI: `cardsync mock --help`, and `apply --mock-*`).
struct MockOptions {
    std::string listen = "127.0.0.1:0";      ///< HOST:PORT; port 0 = ephemeral
    std::string api_key = "mock-key";        ///< the accepted bearer token
    std::string base_path = "/api/partner";  ///< API prefix

    // Card store
    std::string seed_cards_csv;              ///< CSV of existing cards (phone_number,first_name,last_name,image_url[,is_active])
    bool every_number_has_card = false;      ///< a PATCH on a number without a card creates it (no 404)
    std::vector<std::string> outside_prefixes;  ///< numbers starting with one of these are outside the account (403/2005)

    // Per-number write budget (POST and PATCH share it)
    int budget_calls = 3;                    ///< calls per number per window; 0 = no budget
    double budget_window_s = 600;            ///< window length in seconds

    // Faults, all drawn from one generator seeded with `seed`
    std::uint64_t seed = 1;
    double fail_500 = 0;                     ///< probability of 500 (half 3006, half 2022)
    double fail_503 = 0;                     ///< probability of 503/4004
    std::optional<double> fail_503_retry_after_s;  ///< Retry-After sent with those 503s
    double fail_429 = 0;                     ///< probability of a spurious 429 (Retry-After 1)
    double drop = 0;                         ///< probability of closing the connection before answering
    double truncate = 0;                     ///< probability of a truncated body (then close)
    int close_every = 0;                     ///< answer with Connection: close every K answers (0 = never)
    double latency_ms = 0;                   ///< fixed latency per answer
    double latency_max_ms = 0;               ///< > latency_ms: uniform in [latency_ms, latency_max_ms]
    double latency_tail_ms = 0;              ///< > 0: add an exponential tail with this mean
    double account_rate = 0;                 ///< account-wide requests/s (token bucket); 0 = unlimited
    double account_burst = 0;                ///< bucket size; 0 = max(1, account_rate)
    int max_connections = 0;                 ///< refuse (close at once) beyond this many; 0 = unlimited

    // TLS
    bool tls = false;
    std::string cert_file, key_file;         ///< PEM; when tls and empty: a self-signed cert is generated
    std::string write_cert_to;               ///< where to write the generated cert (for clients' --cacert)

    // Reports written at exit
    std::string stats_out;                   ///< statistics JSON
    std::string state_out;                   ///< cards NDJSON
};

/// A running simulator. Construction binds and starts serving; destruction (or stop) shuts it down.
class MockServer {
public:
    /// Binds and starts the server thread. Throws std::runtime_error with a clear message on failure.
    explicit MockServer(MockOptions options);
    ~MockServer();
    MockServer(const MockServer&) = delete;
    MockServer& operator=(const MockServer&) = delete;

    /// "http://127.0.0.1:PORT" (or https); the API is at base_url() + base_path.
    std::string base_url() const;
    /// base_url() + options.base_path: what a client passes as --base-url.
    std::string api_url() const;
    std::uint16_t port() const;
    /// PEM of the certificate in use (empty without TLS).
    std::string certificate_pem() const;

    /// The statistics as JSON (same as GET /__mock/stats): requests by method, status and code;
    /// current and max concurrent connections and in-flight requests; requests per 100 ms.
    std::string stats_json() const;
    /// The same statistics, typed.
    MockStats stats() const;
    /// All cards as NDJSON (same as GET /__mock/cards).
    std::string cards_ndjson() const;

    /// Stops accepting, closes connections, joins the thread; writes stats_out/state_out. Idempotent.
    void stop();

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace cardsync
