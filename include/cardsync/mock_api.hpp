#pragma once
// The simulator's brain, without sockets: one HTTP request in, one answer out. It routes, checks
// the token, the number, the account and the budgets, draws the seeded faults, reads the JSON body
// and changes the card store. The server shell (src/mock_server.cpp) only moves bytes and timers.
// Single-threaded: the shell calls it from its one io_context thread. Time is passed in.
//
// Order of checks (the first that fails answers):
//   /__mock/ control paths (no token, no faults, not counted)
//   -> token 401/2004 -> route 404/2001, method 405/1005
//   -> number 400/1002 (POST: body 400/1003, missing field 400/1001 first, since the number is in it)
//   -> account 403/2005 -> per-number write budget 429/1007 -> account rate 429/1007
//   -> faults (500 3006|2022, 503/4004, 429/1007, drop, truncate) -> PATCH body 400/1003
//   -> card 404/2001 (PATCH, no card) or 409/2014 (POST, active card) -> apply -> 200.
// Budget: a write (POST/PATCH) counts once it passes both 429 checks, unless it is then answered
// 400; so 500/503/drop/truncate/404/409 count (the real API counts retries), 400/401/403/429 do not.
// Faults never change the store; a truncated answer is what the request would have got, uncommitted.

#include "cardsync/card_store.hpp"
#include "cardsync/mock_server.hpp"
#include "cardsync/mock_stats.hpp"
#include "cardsync/number_budget.hpp"
#include "cardsync/token_bucket.hpp"

#include <array>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace cardsync {

/// One HTTP request as the shell parsed it.
struct ApiRequest {
    std::string_view method;          ///< "PATCH", "GET", ... as sent
    std::string_view target;          ///< origin-form target: path[?query]
    std::string_view authorization;   ///< Authorization header value; empty when absent
    std::string* body = nullptr;      ///< the body (may be null = empty); handle() may grow its capacity for simdjson
};

/// What to send back for one request.
struct ApiAnswer {
    /// How the answer leaves: whole, not at all (connection closed), or cut mid-body (then closed).
    enum class Transport { whole, drop, truncate };
    int status = 200;
    const char* content_type = "application/json";
    std::string body;                       ///< reused between requests (clear keeps capacity)
    int retry_after_s = -1;                 ///< Retry-After header, whole seconds; -1: none
    const char* allow = nullptr;            ///< 405: the Allow header value
    Transport transport = Transport::whole;
    std::chrono::nanoseconds delay{0};      ///< hold the answer this long after the request arrived
};

/// Connection-level counters; the shell updates them, stats() reports them.
struct TrafficCounters {
    std::uint64_t connections_current = 0, connections_max = 0, connections_total = 0, connections_refused = 0;
    std::uint64_t in_flight_current = 0, in_flight_max = 0;
    std::uint64_t closed_by_close_every = 0;
    std::uint64_t closed_idle = 0;
    void connection_opened() noexcept;
    void connection_closed() noexcept { --connections_current; }
    void request_received() noexcept;               ///< every parsed request, control paths included
    void answers_done(std::uint64_t n) noexcept { in_flight_current -= n; }  ///< written, dropped or abandoned
};

class MockApi {
public:
    using Clock = cardsync::Clock;

    /// Checks the options and loads the seed cards. Throws std::invalid_argument (bad option) or
    /// std::runtime_error (seed file) with a message a person can act on.
    MockApi(MockOptions options, Clock::time_point start);
    ~MockApi();

    /// Answers `request`, which arrived at `now`. Fills every field of `answer`.
    void handle(const ApiRequest& request, Clock::time_point now, ApiAnswer& answer);

    /// Back to the start: seed cards reloaded, budgets and account bucket full, the fault
    /// generator re-seeded. Statistics are kept. (POST /__mock/reset.)
    void reset();

    /// Answers a request the shell could not parse (400, or 413 over the body limit): the envelope
    /// with code 1003 and `why`; counted like any API answer.
    void answer_malformed(int status, std::string_view why, ApiAnswer& answer);

    MockStats stats() const;
    /// All cards, one JSON object per line, sorted by number (GET /__mock/cards).
    std::string cards_ndjson() const;
    const CardStore& cards() const noexcept { return store_; }
    const MockOptions& options() const noexcept { return options_; }

    TrafficCounters traffic;

private:
    struct Body;                                       // a parsed JSON body
    void serve_api(const ApiRequest& request, std::string_view path, std::string_view query, Clock::time_point now,
                   ApiAnswer& answer);
    void answer_control(const ApiRequest& request, std::string_view path, ApiAnswer& answer);
    void answer_error(ApiAnswer& answer, int status, int code, std::string_view message);
    bool parse_body(const ApiRequest& request, Body& body, ApiAnswer& answer);

    MockOptions options_;
    std::string api_path_;                             // base_path + "/v3/contact_card"
    Clock::time_point start_;
    CardStore store_;
    NumberBudget budget_;                              // the same sliding window the client paces with
    TokenBucket account_bucket_;                       // account_rate
    std::uint64_t random_state_ = 0;                   // splitmix64
    std::uint64_t trace_seq_ = 0;
    std::string number_, scratch_;                     // scratch: the decoded number, a decoded key
    int code_ = 0;                                     // error.code of the answer being built; 0: none
    std::unique_ptr<Body> body_;                       // scratch, reused

    // counters (the maps of MockStats are built on demand)
    std::uint64_t requests_ = 0;
    std::array<std::uint64_t, 4> by_method_{};         // GET, POST, PATCH, other
    std::array<std::uint64_t, 600> by_status_{};
    std::array<std::uint64_t, 6000> by_code_{};
    std::uint64_t writes_applied_ = 0, budget_rejected_ = 0, account_rate_rejected_ = 0;
    std::uint64_t faults_500_ = 0, faults_503_ = 0, faults_429_ = 0, faults_drop_ = 0, faults_truncate_ = 0;
    std::vector<std::uint32_t> per_100ms_;
};

}  // namespace cardsync
