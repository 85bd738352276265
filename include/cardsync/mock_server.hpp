#pragma once
// The built-in simulator of the Linq contact-card API: a real HTTP/1.1 (and HTTPS) server on
// Boost.Beast that serves PATCH/POST/GET /v3/contact_card under a base path, with the API's
// error envelope, the per-number write budget, and deterministic (seeded) faults.
// It runs on its own thread and io_context; this header keeps Asio and Beast out.
//
// Behaviour where the API's documentation is silent (the rules in full: mock_api.hpp):
// - GET ?phone_number= for a number without an active card: 404/2001 with the envelope.
// - A JSON null field is "omitted" (kept); "" clears last_name / image_url; unknown members are
//   ignored. A body that is not a JSON object, or a field that is not a string: 400/1003 (the
//   spec's invalid_request_body); POST without phone_number or first_name: 400/1001
//   (missing_required_field); a bad number: 400/1002.
// - The write budget counts calls answered 2xx, 404, 409, 500, 503 and dropped or truncated ones;
//   400, 401, 403 and 429 answers do not count ("further calls return 429" does not extend it).
// - Faults never change the store. Fault draws follow the order in which requests arrive, so a
//   sequence is reproducible for one connection (or any fixed arrival order).
// - Control endpoints, no token, not counted in the statistics: GET /__mock/stats (JSON, as
//   MockStats::to_json), GET /__mock/cards (NDJSON, sorted by number), POST /__mock/reset (seed cards
//   reloaded, budgets and fault generator reset; statistics kept).

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
    std::string api_key = "mock-key";        ///< the accepted bearer token; empty = no check
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
    double truncate = 0;                     ///< probability of a truncated body (then close); the full
                                             ///< Content-Length is sent, half the body, then the close
                                             ///< (the five probabilities add up to at most 1)
    int close_every = 0;                     ///< every K-th answer on a connection carries Connection: close (0 = never)
    double latency_ms = 0;                   ///< fixed latency per answer
    double latency_max_ms = 0;               ///< > latency_ms: uniform in [latency_ms, latency_max_ms]
    double latency_tail_ms = 0;              ///< > 0: add an exponential tail with this mean
    double account_rate = 0;                 ///< account-wide API requests/s (token bucket; 429/1007, Retry-After 1); 0 = unlimited
    double account_burst = 0;                ///< bucket size; 0 = max(1, account_rate)
    int max_connections = 0;                 ///< refuse (close at once) beyond this many; 0 = unlimited
    double idle_timeout_s = 60;              ///< close a connection with nothing read or written for this long
                                             ///< (no answer held back by latency), as servers and load balancers
                                             ///< do; it also bounds a stalled TLS handshake; 0 = never

    // TLS
    bool tls = false;
    std::string cert_file, key_file;         ///< PEM; key_file empty: the key is in cert_file; cert_file empty:
                                             ///< a self-signed ECDSA P-256 cert for 127.0.0.1/localhost is generated
    std::string write_cert_to;               ///< where to write the generated cert (for clients' --cacert)

    // Reports written at exit
    std::string stats_out;                   ///< statistics JSON
    std::string state_out;                   ///< cards NDJSON
};

/// A running simulator. Construction binds and starts serving; destruction (or stop) shuts it down.
class MockServer {
public:
    /// Binds and starts the server thread. Throws std::invalid_argument (a bad option) or
    /// std::runtime_error (seed file, certificate, address in use) with a message a person can act on.
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
    /// These three queries are thread-safe (they run on the server's thread and wait), and still
    /// answer after stop(). Not to be called from the server's own thread.
    std::string stats_json() const;
    /// The same statistics, typed.
    MockStats stats() const;
    /// All cards as NDJSON (same as GET /__mock/cards).
    std::string cards_ndjson() const;

    /// Stops accepting, closes every connection (answers still waiting on latency are not sent),
    /// joins the thread (within about 2 s whatever the peers do); writes stats_out/state_out
    /// (throws std::runtime_error if it cannot). Idempotent.
    void stop();

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace cardsync
