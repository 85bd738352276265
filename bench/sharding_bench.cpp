// The cost sharding adds to reading: SHA-256 of the input (every run) and the shard key of a row
// (normalise + FNV-1a 64, sharded runs), beside the reader they ride on.
#include "cardsync/csv_reader.hpp"
#include "cardsync/input_identity.hpp"
#include "cardsync/shard.hpp"

#include <benchmark/benchmark.h>

#include <string>

namespace {

using namespace cardsync;

std::string make_csv(int rows) {
    std::string out = "phone_number,first_name,last_name,image_url\n";
    for (int i = 0; i < rows; ++i)
        out += "+1555" + std::to_string(2000000 + i * 7) + ",Zoë,O'Neil,https://cdn.example.com/cards/" +
               std::to_string(i) + ".jpg\n";
    return out;
}

void Sha256Throughput(benchmark::State& state) {
    const std::string data(static_cast<std::size_t>(state.range(0)), 'x');
    for (auto _ : state) {
        Sha256 sha;
        sha.update(data.data(), data.size());
        benchmark::DoNotOptimize(sha.hex());
    }
    state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations()) * state.range(0));
}
BENCHMARK(Sha256Throughput)->Arg(64 << 10)->Arg(16 << 20);

// The reader alone, and the reader behind IdentifiedSource: the difference is what identity costs a run.
void ReadCsv(benchmark::State& state) {
    const std::string csv = make_csv(100000);
    const bool identify = state.range(0) != 0;
    for (auto _ : state) {
        std::unique_ptr<ByteSource> source = memory_source(csv, 1 << 16);
        if (identify) source = identify_input(std::move(source), "bench.csv");
        CsvReader reader(std::move(source));
        InputRow row;
        std::size_t n = 0;
        while (reader.next(row)) ++n;
        benchmark::DoNotOptimize(n);
    }
    state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * csv.size()));
}
BENCHMARK(ReadCsv)->Arg(0)->Arg(1);

void ShardOfRow(benchmark::State& state) {
    const std::string numbers[] = {"+15552000007", "+1 (555) 200-0014", "+44 20 7946 0104", "5552000021"};
    std::size_t i = 0;
    for (auto _ : state) benchmark::DoNotOptimize(shard_of(numbers[i++ % 4], 16));
    state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
}
BENCHMARK(ShardOfRow);

}  // namespace
