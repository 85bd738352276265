// Cost per row of Lanes as the engine uses it: admit() each row, complete() its work once it has
// been in flight for a while (here: a FIFO of ~150 works, as with connections x pipeline). The
// numbers are distinct, so each row makes its number busy and its completion makes it idle again.
#include "cardsync/number_lanes.hpp"

#include <benchmark/benchmark.h>

#include <string>
#include <vector>

using namespace cardsync;

namespace {

std::vector<ContactUpdate> rows(std::size_t n, std::size_t repeat) {
    std::vector<ContactUpdate> out;
    out.reserve(n);
    for (std::size_t i = 0; i < n; ++i) {
        const std::size_t k = i / repeat;  // `repeat` rows in a row for each number
        out.push_back(ContactUpdate{i + 2, "+1" + std::to_string(2'015'550'000 + k * 7919 % 8'000'000'000),
                                    CardFields{"Ann", std::nullopt, std::nullopt}});
    }
    return out;
}

// The same loop without Lanes (each row copied, moved through the FIFO as a plain ContactUpdate,
// and dropped): the harness's own share of the figures below, to subtract. It uses none of the
// lanes' types, so it costs the same before and after a change to them.
void BM_harness_only(benchmark::State& state) {
    const auto input = rows(200'000, 1);
    const std::size_t in_flight = 150;
    std::vector<ContactUpdate> ring(in_flight);
    std::size_t head = 0, size = 0, i = 0;
    for (auto _ : state) {
        ring[(head + size) % in_flight] = input[i];
        ++size;
        if (size == in_flight) {
            ContactUpdate done = std::move(ring[head]);
            head = (head + 1) % in_flight;
            --size;
            benchmark::DoNotOptimize(done);
        }
        if (++i == input.size()) i = 0;
    }
    state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_harness_only)->Iterations(2'000'000);

// One row per iteration: admit it (a copy, as the engine moves its own), and once `in_flight`
// works are out, complete the oldest (and start whatever the completion hands back).
void run(benchmark::State& state, std::size_t distinct, std::size_t repeat, std::size_t in_flight) {
    const auto input = rows(distinct, repeat);
    Lanes lanes;
    std::vector<LaneWork> ring(in_flight);
    std::size_t head = 0, size = 0, i = 0;
    auto push = [&](LaneWork w) {
        ring[(head + size) % in_flight] = std::move(w);
        ++size;
    };
    for (auto _ : state) {
        if (auto w = lanes.admit(input[i])) push(std::move(*w));
        while (size == in_flight) {
            LaneWork done = std::move(ring[head]);
            head = (head + 1) % in_flight;
            --size;
            if (auto next = lanes.complete(done.number)) push(std::move(*next));
        }
        if (++i == input.size()) i = 0;
    }
    benchmark::DoNotOptimize(lanes.rows());
    state.counters["busy"] = static_cast<double>(lanes.busy());
    state.SetItemsProcessed(state.iterations());
}

// 200,000 distinct numbers, 150 in flight: every row admitted at once, every completion frees its number.
void BM_distinct_200k(benchmark::State& state) { run(state, 200'000, 1, 150); }
BENCHMARK(BM_distinct_200k)->Iterations(2'000'000);

// Each number twice in a row: the second row waits behind the first and is started by its completion.
void BM_pairs_200k(benchmark::State& state) { run(state, 200'000, 2, 150); }
BENCHMARK(BM_pairs_200k)->Iterations(2'000'000);

}  // namespace
