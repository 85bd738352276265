#include "cardsync/mock_stats.hpp"

#include "cardsync/json_text.hpp"

#include <fmt/format.h>

namespace cardsync {

namespace {

template <class Map>
void append_map(std::string& out, const char* name, const Map& map) {
    fmt::format_to(std::back_inserter(out), ",\"{}\":{{", name);
    const char* sep = "";
    for (const auto& [key, count] : map) {
        out.append(sep);
        if constexpr (std::is_same_v<typename Map::key_type, std::string>) append_json_string(out, key);
        else fmt::format_to(std::back_inserter(out), "\"{}\"", key);
        fmt::format_to(std::back_inserter(out), ":{}", count);
        sep = ",";
    }
    out.push_back('}');
}

}  // namespace

std::string MockStats::to_json() const {
    std::string out;
    auto it = std::back_inserter(out);
    fmt::format_to(it, "{{\"requests\":{}", requests);
    append_map(out, "by_method", by_method);
    append_map(out, "by_status", by_status);
    append_map(out, "by_code", by_code);
    fmt::format_to(it,
                   ",\"connections\":{{\"current\":{},\"max\":{},\"total\":{},\"refused\":{}}}"
                   ",\"in_flight\":{{\"current\":{},\"max\":{}}}"
                   ",\"writes_applied\":{},\"budget_rejected\":{},\"account_rate_rejected\":{}"
                   ",\"faults\":{{\"500\":{},\"503\":{},\"429\":{},\"drop\":{},\"truncate\":{}}}"
                   ",\"closed_by_close_every\":{},\"closed_idle\":{}",
                   connections_current, connections_max, connections_total, connections_refused, in_flight_current,
                   in_flight_max, writes_applied, budget_rejected, account_rate_rejected, faults_500, faults_503,
                   faults_429, faults_drop, faults_truncate, closed_by_close_every, closed_idle);
    append_map(out, "numbers_by_writes", numbers_by_writes);
    fmt::format_to(it, ",\"requests_per_100ms\":[{}]}}", fmt::join(requests_per_100ms, ","));
    return out;
}

std::string MockStats::log_line(double requests_per_s) const {
    std::string out = fmt::format("requests={} requests_per_s={:.1f}", requests, requests_per_s);
    for (const auto& [status, n] : by_status) out += fmt::format(" status_{}={}", status, n);
    for (const auto& [code, n] : by_code) out += fmt::format(" code_{}={}", code, n);
    out += fmt::format(" writes_applied={} connections_current={} connections_total={} connections_refused={} in_flight={} "
                       "budget_429={} account_429={} faults={}",
                       writes_applied, connections_current, connections_total, connections_refused, in_flight_current,
                       budget_rejected, account_rate_rejected,
                       faults_500 + faults_503 + faults_429 + faults_drop + faults_truncate);
    return out;
}

}  // namespace cardsync
