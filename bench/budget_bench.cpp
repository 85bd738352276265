// Cost per row of NumberBudget as the engine uses it: when_allowed() then record_call() for each
// row's number, at the default budget (3/10m) and cap (100,000 numbers).
#include "cardsync/number_budget.hpp"

#include <benchmark/benchmark.h>

#include <string>
#include <vector>

using namespace cardsync;
using namespace std::chrono_literals;

namespace {

std::vector<std::string> numbers(std::size_t n) {
    std::vector<std::string> out;
    out.reserve(n);
    for (std::size_t i = 0; i < n; ++i) out.push_back("+1" + std::to_string(2'015'550'000 + i * 7919 % 8'000'000'000));
    return out;
}

// One row per iteration over `distinct` numbers in turn, `step` apart in time.
void run(benchmark::State& state, std::size_t distinct, Duration step) {
    const auto rows = numbers(distinct);
    NumberBudget budget;  // 3/10m, max_tracked 100,000
    TimePoint now = TimePoint{} + 1000h;
    std::size_t i = 0;
    for (auto _ : state) {
        const std::string& n = rows[i];
        benchmark::DoNotOptimize(budget.when_allowed(n, now));
        budget.record_call(n, now);
        now += step;
        if (++i == rows.size()) i = 0;
    }
    state.counters["tracked"] = static_cast<double>(budget.tracked());
    state.counters["evicted"] = static_cast<double>(budget.evicted());
    state.SetItemsProcessed(state.iterations());
}

// A fast run over 200,000 distinct numbers: each row a miss, the cap forgetting one number per row.
void BM_distinct_200k(benchmark::State& state) { run(state, 200'000, 50us); }
BENCHMARK(BM_distinct_200k)->Iterations(2'000'000);

// Distinct numbers whose windows pass: expiry (not the cap) forgets them, 60,000 tracked.
void BM_distinct_expiring(benchmark::State& state) { run(state, 1'000'000, 10ms); }
BENCHMARK(BM_distinct_expiring)->Iterations(2'000'000);

// 1,000 numbers over and over: each row a hit on a number with its 3 calls in the window.
void BM_repeated_1k(benchmark::State& state) { run(state, 1'000, 10ms); }
BENCHMARK(BM_repeated_1k)->Iterations(2'000'000);

}  // namespace
