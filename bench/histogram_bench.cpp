// Cost of LatencyHistogram::record() (per value) and of the read side (percentile, merge).
#include "cardsync/latency_histogram.hpp"

#include <benchmark/benchmark.h>

#include <random>
#include <vector>

using cardsync::LatencyHistogram;

namespace {

std::vector<std::uint64_t> latencies(std::size_t n) {
    std::mt19937_64 random(1);
    std::lognormal_distribution<double> lognormal(10.8, 1.0);  // median ~50 ms, in us
    std::vector<std::uint64_t> values(n);
    for (auto& v : values) v = static_cast<std::uint64_t>(lognormal(random));
    return values;
}

void BM_record(benchmark::State& state) {
    const auto values = latencies(4096);
    LatencyHistogram h;
    std::size_t i = 0;
    for (auto _ : state) {
        h.record(values[i++ & 4095]);
        benchmark::ClobberMemory();
    }
    benchmark::DoNotOptimize(h.count());
    state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_record);

void BM_record_duration(benchmark::State& state) {
    const auto values = latencies(4096);
    LatencyHistogram h;
    std::size_t i = 0;
    for (auto _ : state) {
        h.record(std::chrono::microseconds(values[i++ & 4095]) + std::chrono::nanoseconds(321));
        benchmark::ClobberMemory();
    }
    state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_record_duration);

void BM_percentile(benchmark::State& state) {
    LatencyHistogram h;
    for (auto v : latencies(100'000)) h.record(v);
    for (auto _ : state) benchmark::DoNotOptimize(h.percentile(99.9));
}
BENCHMARK(BM_percentile);

void BM_merge(benchmark::State& state) {
    LatencyHistogram a, b;
    for (auto v : latencies(10'000)) b.record(v);
    for (auto _ : state) {
        a.merge(b);
        benchmark::ClobberMemory();
    }
}
BENCHMARK(BM_merge);

}  // namespace
