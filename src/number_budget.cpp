#include "cardsync/key_hash.hpp"
#include "cardsync/number_budget.hpp"

#include <boost/container/small_vector.hpp>
#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <functional>
#include <queue>
#include <unordered_map>
#include <vector>

namespace cardsync {

namespace {

constexpr Duration max_window = std::chrono::hours(24 * 30);

std::string_view trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
    return s;
}

std::optional<long long> whole_number(std::string_view s) {
    long long value = 0;
    if (s.empty() || s.front() < '0' || s.front() > '9') return std::nullopt;
    const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
    if (ec != std::errc() || end != s.data() + s.size()) return std::nullopt;
    return value;
}

}  // namespace

std::optional<BudgetSpec> parse_budget(std::string_view text) {
    text = trim(text);
    if (text == "0" || text == "off" || text == "OFF" || text == "Off") return BudgetSpec{0, BudgetSpec{}.window};
    const auto slash = text.find('/');
    if (slash == std::string_view::npos) return std::nullopt;
    const auto calls = whole_number(text.substr(0, slash));
    std::string_view window = text.substr(slash + 1);
    Duration unit = std::chrono::seconds(1);
    if (!window.empty()) {
        switch (window.back()) {
            case 's': unit = std::chrono::seconds(1); window.remove_suffix(1); break;
            case 'm': unit = std::chrono::minutes(1); window.remove_suffix(1); break;
            case 'h': unit = std::chrono::hours(1); window.remove_suffix(1); break;
            default: break;
        }
    }
    const auto amount = whole_number(window);
    if (!calls || *calls > 1'000'000 || !amount || *amount <= 0 || *amount > max_window / unit) return std::nullopt;
    return BudgetSpec{static_cast<int>(*calls), *amount * unit};
}

std::string to_string(const BudgetSpec& spec) {
    if (!spec.enabled()) return "off";
    return fmt::format("{}/{}s", spec.calls, std::chrono::duration_cast<std::chrono::seconds>(spec.window).count());
}

struct NumberBudget::Impl {
    struct Entry {
        // the last spec.calls call times, oldest first; inline for the API's 3 (no allocation per number)
        boost::container::small_vector<TimePoint, 3> calls;
        TimePoint blocked_until{};      ///< the server's wait
        std::size_t pending = 0;        ///< expiry-queue entries naming this number
    };
    using Map = std::unordered_map<std::string, Entry, ShortKeyHash, std::equal_to<>>;
    // Map nodes never move, so the queue may point at them; a node is erased when its last
    // queue entry leaves, which is when its window and wait have passed.
    struct Expiry {
        TimePoint at;
        Map::value_type* node;
        bool operator>(const Expiry& other) const noexcept { return at > other.at; }
    };

    BudgetSpec spec;
    Map numbers;
    std::priority_queue<Expiry, std::vector<Expiry>, std::greater<>> expiries;

    Map::value_type& node(std::string_view number) {
        auto it = numbers.find(number);
        if (it == numbers.end()) it = numbers.emplace(std::string(number), Entry{}).first;
        return *it;
    }
    void schedule(Map::value_type& n, TimePoint at) {
        expiries.push({at, &n});
        ++n.second.pending;
    }
};

NumberBudget::NumberBudget(BudgetSpec spec) : impl_(std::make_unique<Impl>()) {
    impl_->spec = spec;
}
NumberBudget::~NumberBudget() = default;
NumberBudget::NumberBudget(NumberBudget&&) noexcept = default;
NumberBudget& NumberBudget::operator=(NumberBudget&&) noexcept = default;

const BudgetSpec& NumberBudget::spec() const noexcept { return impl_->spec; }
std::size_t NumberBudget::tracked() const noexcept { return impl_->numbers.size(); }

TimePoint NumberBudget::when_allowed(std::string_view number, TimePoint now) const {
    const auto it = impl_->numbers.find(number);
    if (it == impl_->numbers.end()) return now;
    const Impl::Entry& e = it->second;
    TimePoint at = std::max(now, e.blocked_until);
    const auto limit = static_cast<std::size_t>(impl_->spec.calls);
    if (impl_->spec.enabled() && e.calls.size() >= limit) at = std::max(at, e.calls[e.calls.size() - limit] + impl_->spec.window);
    return at;
}

void NumberBudget::record_call(std::string_view number, TimePoint now) {
    expire(now);
    if (!impl_->spec.enabled()) return;
    if (impl_->numbers.size() >= max_tracked_) evict_oldest();
    auto& n = impl_->node(number);
    auto& calls = n.second.calls;
    calls.insert(std::upper_bound(calls.begin(), calls.end(), now), now);  // in order even if `now` is stale
    if (calls.size() > static_cast<std::size_t>(impl_->spec.calls)) calls.erase(calls.begin());
    impl_->schedule(n, now + impl_->spec.window);
}

void NumberBudget::note_server_wait(std::string_view number, TimePoint until) {
    auto& n = impl_->node(number);
    if (until <= n.second.blocked_until) return;
    n.second.blocked_until = until;
    impl_->schedule(n, until);
}

// Drops expiry entries from the earliest on until one number is forgotten. A number forgotten
// early may be called again beyond its budget; the server then answers 429 with its wait, which
// is honoured. Dropping an entry of a number with others pending frees nothing yet, but the
// number goes when its last entry does, so memory never outgrows the cap.
void NumberBudget::evict_oldest() {
    auto& q = impl_->expiries;
    while (!q.empty()) {
        Impl::Map::value_type* n = q.top().node;
        q.pop();
        if (--n->second.pending == 0) {
            impl_->numbers.erase(impl_->numbers.find(n->first));
            ++evicted_;
            return;
        }
    }
}

std::size_t NumberBudget::expire(TimePoint now) {
    std::size_t forgotten = 0;
    auto& q = impl_->expiries;
    while (!q.empty() && q.top().at <= now) {
        Impl::Map::value_type* n = q.top().node;
        q.pop();
        if (--n->second.pending == 0) {
            impl_->numbers.erase(impl_->numbers.find(n->first));  // by iterator: the key lives in the node
            ++forgotten;
        }
    }
    return forgotten;
}

}  // namespace cardsync
