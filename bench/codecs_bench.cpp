// Per-row cost of the codecs on the hot path: validate, encode the request, read the answer's head,
// classify the answer, encode the result record. Run: ./build/bench/codecs_bench --benchmark_min_time=0.2
#include "cardsync/answer_head.hpp"
#include "cardsync/request_codec.hpp"
#include "cardsync/response_parser.hpp"
#include "cardsync/results_writer.hpp"
#include "cardsync/validate.hpp"

#include <benchmark/benchmark.h>

namespace {

using namespace cardsync;

InputRow typical_row(std::string phone) {
    InputRow row;
    row.line = 42;
    row.phone_number = std::move(phone);
    row.fields = {"Zoë", "Ó Briain", "https://cdn.example.com/contact-card/42.jpg?v=3"};
    return row;
}

void BM_ValidateTypicalRow(benchmark::State& state) {
    const InputRow row = typical_row("+15551234567");
    for (auto _ : state) benchmark::DoNotOptimize(validate(row));
    state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_ValidateTypicalRow);

void BM_ValidateRowWithSeparators(benchmark::State& state) {
    const InputRow row = typical_row("+1 (555) 123-4567");
    for (auto _ : state) benchmark::DoNotOptimize(validate(row));
    state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_ValidateRowWithSeparators);

void BM_ValidateInvalidNumber(benchmark::State& state) {
    const InputRow row = typical_row("5551234567");
    for (auto _ : state) benchmark::DoNotOptimize(validate(row));
    state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_ValidateInvalidNumber);

void BM_AppendPatchRequest(benchmark::State& state) {
    const RequestEncoder encoder({"api.linqapp.com", "/api/partner", "sk_live_0123456789abcdef0123456789abcdef", true});
    const ContactUpdate update{42, "+15551234567", {"Zoë", "Ó Briain", "https://cdn.example.com/contact-card/42.jpg?v=3"}};
    std::string out;
    for (auto _ : state) {
        out.clear();
        encoder.append_patch(out, update.phone_number, update.fields);  // as the engine does
        benchmark::DoNotOptimize(out.data());
    }
    state.SetItemsProcessed(state.iterations());
    state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * out.size()));
}
BENCHMARK(BM_AppendPatchRequest);

void parse_bench(benchmark::State& state, std::string body, BodyKind expected) {
    ResponseParser parser;
    if (parser.parse(body).kind != expected) {
        state.SkipWithError("unexpected classification");
        return;
    }
    for (auto _ : state) benchmark::DoNotOptimize(parser.parse(body));
    state.SetItemsProcessed(state.iterations());
    state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * body.size()));
}

void BM_ParseCard(benchmark::State& state) {
    parse_bench(state,
                R"({"phone_number":"+15551234567","first_name":"Zoë","last_name":"Ó Briain",)"
                R"("image_url":"https://cdn.linqapp.com/contact-card/42.jpg","is_active":true})",
                BodyKind::card);
}
BENCHMARK(BM_ParseCard);

void BM_ParseErrorEnvelope(benchmark::State& state) {
    parse_bench(state,
                R"({"success":false,"error":{"status":429,"code":1007,"message":"Rate limited. Try again later.",)"
                R"("retry_after":587},"trace_id":"0f3c9a7e-6d1b-4c55-9a53-2b8f0c1d2e3f"})",
                BodyKind::error_envelope);
}
BENCHMARK(BM_ParseErrorEnvelope);

void BM_ParseHtmlPage(benchmark::State& state) {
    parse_bench(state, "<html><head><title>502 Bad Gateway</title></head><body><center><h1>502 Bad Gateway</h1>"
                       "</center><hr><center>nginx</center></body></html>",
                BodyKind::not_json);
}
BENCHMARK(BM_ParseHtmlPage);

// nginx's answer in the peers' benchmark, head and body, as the pool's buffer holds it.
void BM_ScanPlainAnswerHead(benchmark::State& state) {
    const std::string answer =
        "HTTP/1.1 200 OK\r\nServer: nginx\r\nDate: Sat, 28 Nov 2026 01:30:17 GMT\r\n"
        "Content-Type: application/json\r\nContent-Length: 130\r\nConnection: keep-alive\r\n\r\n"
        "{\"phone_number\":\"+15551234567\",\"first_name\":\"John\",\"last_name\":\"Doe\","
        "\"image_url\":\"https://cdn.example.com/a.jpg\",\"is_active\":true}";
    PlainAnswerHead head;
    for (auto _ : state) {
        benchmark::DoNotOptimize(scan_plain_answer_head(answer, head));
        benchmark::DoNotOptimize(head);
    }
}
BENCHMARK(BM_ScanPlainAnswerHead);

ResultRecord typical_record() {
    ResultRecord r;
    r.line = 123456;
    r.phone_number = "+15551234567";
    r.outcome = Outcome::rejected;
    r.http_status = 404;
    r.error_code = "2001";
    r.message = "no contact card for this number (404, code 2001): create it first";
    r.attempts = 1;
    r.latency_ms = 38.217;
    return r;
}

// The record of nearly every row of a run that goes well.
ResultRecord updated_record() {
    ResultRecord r = typical_record();
    r.outcome = Outcome::updated;
    r.http_status = 200;
    r.error_code.clear();
    r.message.clear();
    r.is_active = true;
    return r;
}

void record_bench(benchmark::State& state, ResultsFormat format, const ResultRecord& r = typical_record()) {
    std::string out;
    out.reserve(1 << 20);
    for (auto _ : state) {
        if (out.size() > (1 << 20) - 512) out.clear();  // like the writer: append into one buffer
        append_record(out, r, format);
        benchmark::DoNotOptimize(out.data());
    }
    state.SetItemsProcessed(state.iterations());
}

void BM_AppendRecordNdjson(benchmark::State& state) { record_bench(state, ResultsFormat::ndjson); }
BENCHMARK(BM_AppendRecordNdjson);
void BM_AppendRecordCsv(benchmark::State& state) { record_bench(state, ResultsFormat::csv); }
BENCHMARK(BM_AppendRecordCsv);
void BM_AppendRecordCsvUpdated(benchmark::State& state) { record_bench(state, ResultsFormat::csv, updated_record()); }
BENCHMARK(BM_AppendRecordCsvUpdated);

}  // namespace
