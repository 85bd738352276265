// Throughput of the input readers on realistic rows, from memory (no disk in the loop).
#include "cardsync/csv_reader.hpp"
#include "cardsync/ndjson_reader.hpp"

#include <benchmark/benchmark.h>

#include <string>

namespace {

using namespace cardsync;

constexpr int rows = 100000;

const char* const first_names[] = {"Avery", "Zoë", "José", "Renée", "Łukasz", "D'Arcy", "محمد", "裕子", "Sam 🚀", "Olivia"};
const char* const last_names[] = {"Johnson", "O'Neil", "Lefèvre", "Groß", "Nguyễn", "כהן", "Whitfield-Smythe", "D'Angelo"};

std::string phone(int i) { return "+1555" + std::to_string(2000000 + i * 7); }
std::string url(int i) { return "https://cdn.example.com/cards/" + std::to_string(i) + ".jpg"; }

// quote_all: every cell quoted (some exporters do that), so the quoted path is measured too.
std::string make_csv(bool quote_all) {
    std::string out = "phone_number,first_name,last_name,image_url\n";
    const auto cell = [&](const std::string& text) {
        if (!quote_all) return out += text;
        return out += "\"" + text + "\"";
    };
    for (int i = 0; i < rows; ++i) {
        cell(phone(i)), out += ',';
        cell(first_names[i % 10]), out += ',';
        cell(last_names[i % 8]), out += ',';
        if (i % 10 != 3) cell(url(i));
        out += '\n';
    }
    return out;
}

std::string make_ndjson() {
    std::string out;
    for (int i = 0; i < rows; ++i) {
        out += "{\"phone_number\": \"" + phone(i) + "\", \"first_name\": \"" + first_names[i % 10] +
               "\", \"last_name\": \"" + last_names[i % 8] + "\"";
        if (i % 10 != 3) out += ", \"image_url\": \"" + url(i) + "\"";
        out += "}\n";
    }
    return out;
}

template <class Reader>
void read_all(benchmark::State& state, const std::string& input) {
    InputRow row;
    std::uint64_t count = 0;
    for (auto _ : state) {
        state.PauseTiming();
        auto source = memory_source(input, 1 << 16);  // the copy of the input is not timed
        state.ResumeTiming();
        Reader reader(std::move(source));
        while (reader.next(row)) {
            benchmark::DoNotOptimize(row.phone_number.data());
            ++count;
        }
    }
    if (count != static_cast<std::uint64_t>(rows) * state.iterations()) state.SkipWithError("row count mismatch");
    state.SetBytesProcessed(static_cast<std::int64_t>(input.size()) * state.iterations());
    state.SetItemsProcessed(static_cast<std::int64_t>(count));
}

void BM_CsvReader(benchmark::State& state) {
    static const std::string input = make_csv(false);
    read_all<CsvReader>(state, input);
}

void BM_CsvReaderAllQuoted(benchmark::State& state) {
    static const std::string input = make_csv(true);
    read_all<CsvReader>(state, input);
}

void BM_NdjsonReader(benchmark::State& state) {
    static const std::string input = make_ndjson();
    read_all<NdjsonReader>(state, input);
}

BENCHMARK(BM_CsvReader)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_CsvReaderAllQuoted)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_NdjsonReader)->Unit(benchmark::kMillisecond);

}  // namespace
