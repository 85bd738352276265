#include "cardsync/flat_key_map.hpp"
#include "cardsync/key_hash.hpp"
#include "cardsync/number_budget.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <bit>
#include <charconv>
#include <cstdint>
#include <functional>
#include <limits>
#include <queue>
#include <unordered_map>
#include <utility>
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

namespace {

using Rep = Duration::rep;  // times held as counts since the epoch: compact and trivially copyable

/// What the budget holds for one number, apart from its key.
struct Slot {
    Rep blocked_until = 0;      ///< the server's wait (0: none; the epoch is never a real wait)
    std::uint32_t pending = 0;  ///< expiry entries naming this number
    std::uint32_t count = 0;    ///< call times held
    // the last spec.calls call times, oldest first, inline for calls <= 3 (the API's budget);
    // for more, calls[0] is the index of the number's vector in Impl::spill
    Rep calls[3] = {0, 0, 0};
};
static_assert(sizeof(Slot) == 40, "the header's bytes-per-number figure counts 8 for the key and 40 for the slot");

/// The numbers remembered, by key (flat_key_map.hpp: no allocation per number, no string compares).
using Table = FlatKeyMap<Slot>;

/// A moment a number's entry may be dropped: a call leaving the window or a server wait passing.
/// By key, not position: the table moves slots when it grows or erases.
struct Expiry {
    Rep at;
    std::uint64_t key;
    bool operator>(const Expiry& other) const noexcept { return at > other.at; }
};

/// A FIFO ring of expiries in time order: calls are recorded at a clock that only moves forward
/// and with one window, so their expiries arrive sorted and need no heap.
class ExpiryRing {
public:
    bool empty() const noexcept { return size_ == 0; }
    const Expiry& front() const noexcept { return buffer_[head_]; }
    const Expiry& back() const noexcept { return buffer_[(head_ + size_ - 1) & (buffer_.size() - 1)]; }
    /// The entry `k` places after the front, if there is one.
    const Expiry* ahead(std::size_t k) const noexcept {
        return k < size_ ? &buffer_[(head_ + k) & (buffer_.size() - 1)] : nullptr;
    }
    void pop_front() noexcept {
        head_ = (head_ + 1) & (buffer_.size() - 1);
        --size_;
    }
    void push_back(const Expiry& e) {
        if (size_ == buffer_.size()) grow();
        buffer_[(head_ + size_) & (buffer_.size() - 1)] = e;
        ++size_;
    }

private:
    void grow() {
        std::vector<Expiry> bigger(buffer_.empty() ? 64 : buffer_.size() * 2);
        for (std::size_t k = 0; k < size_; ++k) bigger[k] = buffer_[(head_ + k) & (buffer_.size() - 1)];
        buffer_.swap(bigger);
        head_ = 0;
    }

    std::vector<Expiry> buffer_;  ///< power-of-two size
    std::size_t head_ = 0;
    std::size_t size_ = 0;
};

}  // namespace

struct NumberBudget::Impl {
    BudgetSpec spec;
    Rep window = 0;
    // A number with one call in its window and no server wait (nearly every number of a bulk run)
    // is only its key and that call's time: 16 bytes, a quarter of a Slot. At the cap every row
    // adds one such number and evicts another, so the smaller table is what the caches hold.
    // Its one expiry entry is implied. A second call or a server wait moves it to `numbers`.
    // Used when calls <= 3 (inline call times); with more, every number is in `numbers`.
    FlatKeyMap<Rep> once;
    Table numbers;
    // Expiries in time order come from two places: the ring takes the calls (nearly always in
    // order); the heap takes what would break the ring's order (a call stamped before the ring's
    // last, so it expires neither late nor lost) and the server's waits (any length).
    ExpiryRing in_order;
    std::priority_queue<Expiry, std::vector<Expiry>, std::greater<>> out_of_order;
    NumberKeys keys;  // a remembered number's key (held while it is remembered)
    // Call times of numbers when calls > 3, one vector each; freed ones are reused.
    std::vector<std::vector<Rep>> spill;
    std::vector<std::uint32_t> free_spill;

    bool inline_calls() const noexcept { return spec.calls <= 3; }

    /// The number's index in `numbers`, added there if absent; a number in `once` moves over with
    /// its call and its expiry entry.
    std::size_t find_or_insert(std::uint64_t key) {
        const std::size_t in_once = once.find(key);
        const auto [i, added] = numbers.try_emplace(key);
        if (added && !inline_calls()) numbers.value_at(i).calls[0] = take_spill();
        if (in_once != FlatKeyMap<Rep>::npos) {
            Slot& s = numbers.value_at(i);
            add_call(s, once.value_at(in_once));
            s.pending = 1;
            once.erase_at(in_once);
        }
        return i;
    }

    std::uint32_t take_spill() {
        if (!free_spill.empty()) {
            const std::uint32_t index = free_spill.back();
            free_spill.pop_back();
            return index;
        }
        spill.emplace_back();
        return static_cast<std::uint32_t>(spill.size() - 1);
    }

    /// The oldest of the number's last spec.calls call times, if it holds that many.
    std::optional<Rep> limiting_call(const Slot& s) const noexcept {
        const auto limit = static_cast<std::size_t>(spec.calls);
        if (inline_calls()) return s.count >= limit ? std::optional<Rep>(s.calls[s.count - limit]) : std::nullopt;
        const auto& calls = spill[static_cast<std::size_t>(s.calls[0])];
        return calls.size() >= limit ? std::optional<Rep>(calls[calls.size() - limit]) : std::nullopt;
    }

    void add_call(Slot& s, Rep t) {
        const auto limit = static_cast<std::uint32_t>(spec.calls);
        if (!inline_calls()) {
            auto& calls = spill[static_cast<std::size_t>(s.calls[0])];
            calls.insert(std::upper_bound(calls.begin(), calls.end(), t), t);  // in order even if `t` is stale
            if (calls.size() > limit) calls.erase(calls.begin());
            return;
        }
        Rep* calls = s.calls;
        std::uint32_t at = s.count;  // where t goes: after every call at or before it
        while (at > 0 && calls[at - 1] > t) --at;
        if (s.count < limit) {
            for (std::uint32_t k = s.count; k > at; --k) calls[k] = calls[k - 1];
            calls[at] = t;
            ++s.count;
        } else if (at > 0) {  // full: the oldest leaves (if t would be the oldest, t itself does)
            for (std::uint32_t k = 0; k + 1 < at; ++k) calls[k] = calls[k + 1];
            calls[at - 1] = t;
        }
    }

    void push_expiry(std::uint64_t key, Rep at, bool server_wait) {
        const Expiry e{at, key};
        if (!server_wait && (in_order.empty() || in_order.back().at <= at)) in_order.push_back(e);
        else out_of_order.push(e);
    }
    void schedule(std::size_t i, Rep at, bool server_wait) {
        push_expiry(numbers.key_at(i), at, server_wait);
        ++numbers.value_at(i).pending;
    }

    /// The earliest expiry, if any is at or before `limit`; removed from its queue.
    std::optional<Expiry> pop_earliest(Rep limit) {
        const bool ring = !in_order.empty() && (out_of_order.empty() || in_order.front().at <= out_of_order.top().at);
        if (ring) {
            if (in_order.front().at > limit) return std::nullopt;
            const Expiry e = in_order.front();
            in_order.pop_front();
            return e;
        }
        if (out_of_order.empty() || out_of_order.top().at > limit) return std::nullopt;
        const Expiry e = out_of_order.top();
        out_of_order.pop();
        return e;
    }

    /// Drops one expiry entry of `key`; forgets the number with its last. True if forgotten.
    bool drop_entry(std::uint64_t key) {
        if (const std::size_t once_at = once.find(key); once_at != FlatKeyMap<Rep>::npos) {
            once.erase_at(once_at);  // its only entry
            keys.forget(key);
            return true;
        }
        const std::size_t i = numbers.find(key);
        Slot& s = numbers.value_at(i);
        if (--s.pending != 0) return false;
        if (!inline_calls()) {
            const auto index = static_cast<std::uint32_t>(s.calls[0]);
            spill[index].clear();
            free_spill.push_back(index);
        }
        numbers.erase_at(i);
        keys.forget(key);
        return true;
    }
};

NumberBudget::NumberBudget(BudgetSpec spec) : impl_(std::make_unique<Impl>()) {
    impl_->spec = spec;
    impl_->window = spec.window.count();
}
NumberBudget::~NumberBudget() = default;
NumberBudget::NumberBudget(NumberBudget&&) noexcept = default;
NumberBudget& NumberBudget::operator=(NumberBudget&&) noexcept = default;

const BudgetSpec& NumberBudget::spec() const noexcept { return impl_->spec; }
std::size_t NumberBudget::tracked() const noexcept { return impl_->once.size() + impl_->numbers.size(); }

TimePoint NumberBudget::when_allowed(std::string_view number, TimePoint now) const {
    const std::uint64_t key = impl_->keys.find(number);  // 0: not remembered
    if (key == 0) return now;
    if (const std::size_t once_at = impl_->once.find(key); once_at != FlatKeyMap<Rep>::npos) {
        // one call, no wait: it limits only a budget of one call
        if (impl_->spec.calls != 1) return now;
        return std::max(now, TimePoint(Duration(impl_->once.value_at(once_at) + impl_->window)));
    }
    const std::size_t i = impl_->numbers.find(key);
    if (i == Table::npos) return now;
    const Slot& s = impl_->numbers.value_at(i);
    TimePoint at = std::max(now, TimePoint(Duration(s.blocked_until)));
    if (impl_->spec.enabled()) {
        if (const auto oldest = impl_->limiting_call(s)) at = std::max(at, TimePoint(Duration(*oldest + impl_->window)));
    }
    return at;
}

void NumberBudget::prefetch(std::string_view number) const noexcept {
    if (const std::uint64_t key = pack_e164(number)) impl_->once.prefetch(key);
}

void NumberBudget::record_call(std::string_view number, TimePoint now) {
    expire(now);
    if (!impl_->spec.enabled()) return;
    if (tracked() >= max_tracked_) evict_oldest();
    const Rep t = now.time_since_epoch().count();
    const std::uint64_t key = impl_->keys.add(number);
    if (impl_->inline_calls() && impl_->numbers.find(key) == Table::npos) {
        const auto [o, added] = impl_->once.try_emplace(key);
        if (added) {
            impl_->once.value_at(o) = t;
            impl_->push_expiry(key, t + impl_->window, false);
            return;
        }
    }
    const std::size_t i = impl_->find_or_insert(key);
    impl_->add_call(impl_->numbers.value_at(i), t);
    impl_->schedule(i, t + impl_->window, false);
}

void NumberBudget::note_server_wait(std::string_view number, TimePoint until) {
    const Rep t = until.time_since_epoch().count();
    const std::size_t i = impl_->find_or_insert(impl_->keys.add(number));
    Slot& s = impl_->numbers.value_at(i);
    if (t <= s.blocked_until) return;
    s.blocked_until = t;
    impl_->schedule(i, t, true);
}

// Drops expiry entries from the earliest on until one number is forgotten. A number forgotten
// early may be called again beyond its budget; the server then answers 429 with its wait, which
// is honoured. Dropping an entry of a number with others pending frees nothing yet, but the
// number goes when its last entry does, so memory never outgrows the cap.
void NumberBudget::evict_oldest() {
    while (const auto e = impl_->pop_earliest(std::numeric_limits<Rep>::max())) {
        if (impl_->drop_entry(e->key)) {
            ++evicted_;
            // at the cap every call evicts one: ask now for the entry a later call will drop
            if (const Expiry* later = impl_->in_order.ahead(8)) impl_->once.prefetch(later->key);
            return;
        }
    }
}

std::size_t NumberBudget::expire(TimePoint now) {
    std::size_t forgotten = 0;
    const Rep t = now.time_since_epoch().count();
    while (const auto e = impl_->pop_earliest(t)) forgotten += impl_->drop_entry(e->key) ? 1 : 0;
    if (forgotten != 0) {
        impl_->once.shrink_if_sparse();
        impl_->numbers.shrink_if_sparse();
    }
    return forgotten;
}

}  // namespace cardsync
