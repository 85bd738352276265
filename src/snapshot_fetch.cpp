#include "cardsync/snapshot_fetch.hpp"

#include "cardsync/connection_pool.hpp"
#include "cardsync/request_codec.hpp"
#include "cardsync/retry_after.hpp"
#include "cardsync/text.hpp"

#include <boost/asio/io_context.hpp>
#include <fmt/core.h>

#include <optional>
#include <stdexcept>
#include <thread>

namespace cardsync {

std::string describe(const FetchedSnapshot& s) {
    const double kib = static_cast<double>(s.body_bytes) / 1024;
    return fmt::format("{} live cards ({:.1f} {} answer, {} request{}, {:.2f} s)", s.cards.size(),
                       kib < 1024 ? kib : kib / 1024, kib < 1024 ? "KiB" : "MiB", s.attempts, s.attempts == 1 ? "" : "s",
                       s.elapsed_s);
}

FetchedSnapshot fetch_card_snapshot(const ApplyOptions& opt) {
    const ApiEndpoint endpoint = parse_api_endpoint(opt.base_url, opt.allow_insecure_http);
    if (opt.api_key.empty()) throw std::invalid_argument("no API key: set LINQ_API_V3_API_KEY or pass --api-key-file");
    RequestTemplate tmpl;
    tmpl.host = endpoint.host_header;
    tmpl.base_path = endpoint.base_path;
    tmpl.api_key = opt.api_key;
    std::string request;
    append_get_request(request, tmpl);

    RetryPolicy policy;
    policy.max_attempts = std::max(1, opt.max_attempts);
    policy.max_wait = opt.max_retry_wait;
    policy.transient = opt.transient;
    policy.throttle = opt.throttle;
    const Random random = opt.seed ? seeded_random(opt.seed) : system_random();

    boost::asio::io_context io{1};
    std::optional<Exchange> answer;
    // The card list is parsed as it arrives (one request in flight); a malformed list is
    // remembered, not thrown through the pool, and the rest of its bytes ignored.
    std::optional<CardSnapshotBuilder> builder;
    std::string parse_error;
    PoolOptions po = pool_options(opt, endpoint);
    po.connections = 1;  // the card list is one request
    po.pipeline = 1;
    po.max_body = max_snapshot_body;
    po.body_sink = [&builder, &parse_error](std::string_view piece) {
        if (!parse_error.empty() || !builder) return;
        try {
            builder->feed(piece);
        } catch (const SnapshotError& e) {
            parse_error = e.what();
        }
    };
    ConnectionPool pool(io, std::move(po), [&answer](Exchange&& ex) { answer = std::move(ex); });

    FetchedSnapshot out;
    const TimePoint start = Clock::now();
    std::string failure;
    for (;;) {
        answer.reset();
        builder.emplace();  // a retried GET starts over
        parse_error.clear();
        pool.submit(static_cast<std::uint64_t>(out.attempts), request);
        ++out.attempts;
        while (!answer && io.run_one() != 0) {
        }
        if (!answer) {  // cannot happen while the pool lives; say so rather than loop
            failure = "the connection pool stopped without an answer";
            break;
        }
        Exchange& ex = *answer;
        const std::string message = redact_secret(ex.api.error_message, opt.api_key);
        AttemptResult r;
        r.http_status = ex.status;
        r.transport = ex.error;
        r.transport_detail = ex.error_detail;
        if (ex.status != 0) {
            if (ex.api.kind == BodyKind::error_envelope) {
                r.api_code = ex.api.error_code;
                r.api_message = message;
                if (ex.api.retry_after_s) r.body_retry_after = seconds_to_duration(*ex.api.retry_after_s);
            }
            if (!ex.retry_after.empty()) r.retry_after = parse_retry_after(ex.retry_after, std::chrono::system_clock::now());
            if (!ex.retry_after_ms.empty()) r.retry_after_ms = parse_retry_after_ms(ex.retry_after_ms);
            if (ex.should_retry == "false") r.should_retry = false;
        }
        const Decision d = policy.classify(r, out.attempts, random);
        if (d.verdict == Verdict::success) {
            out.body_bytes = builder->bytes();
            try {
                if (!ex.body_streamed) throw SnapshotError(fmt::format("the answer (HTTP {}) has no body", ex.status));
                if (!parse_error.empty()) throw SnapshotError(parse_error);
                out.cards = builder->finish();
            } catch (const SnapshotError& e) {
                failure = redact_secret(e.what(), opt.api_key);
                break;
            }
            builder.reset();
            out.elapsed_s = to_seconds(Clock::now() - start);
            pool.shutdown();
            io.run();  // let the connection's coroutines end
            return out;
        }
        if (d.verdict != Verdict::retry) {
            failure = redact_secret(d.reason, opt.api_key);
            if (d.verdict == Verdict::abort_run) failure += ": check LINQ_API_V3_API_KEY or --api-key-file";
            break;
        }
        if (opt.log)
            opt.log(redact_secret(fmt::format("snapshot: {}; attempt {} in {:.3g} s", d.reason, out.attempts + 1,
                                         to_seconds(d.delay)), opt.api_key));
        std::this_thread::sleep_for(d.delay);  // nothing else runs yet: the writes start after the snapshot
    }
    pool.shutdown();
    io.run();
    throw SnapshotError("could not read the live cards (GET /v3/contact_card): " + failure +
                        "; nothing was sent");
}

}  // namespace cardsync
