#include "cardsync/run_summary.hpp"

#include "cardsync/json_text.hpp"

#include <fmt/format.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <stdexcept>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace cardsync {

namespace {

constexpr std::array<Outcome, 5> run_outcomes = {Outcome::updated, Outcome::skipped, Outcome::invalid,
                                                 Outcome::rejected, Outcome::failed};

double achieved_rate(const ApplyReport& r, const RunContext& ctx) {
    if (ctx.achieved_rate) return *ctx.achieved_rate;
    return r.elapsed_s > 0 ? static_cast<double>(r.requests) / r.elapsed_s : 0.0;
}

std::uint64_t transport(const ApplyReport& r, TransportError e) {
    return r.transport_errors[static_cast<std::size_t>(e)];
}

std::string run_state(const ApplyReport& r) {
    if (r.interrupted) return "interrupted";
    if (r.aborted) return "aborted";
    return "completed";
}

double ms(std::uint64_t us) { return static_cast<double>(us) / 1000; }

std::string latency_line(const char* what, const LatencyHistogram& h) {
    return fmt::format("cardsync: latency ms, {}: p50 {:.1f}, p90 {:.1f}, p99 {:.1f}, max {:.1f} ({} answers)\n",
                       what, ms(h.percentile(50)), ms(h.percentile(90)), ms(h.percentile(99)), ms(h.max()),
                       h.count());
}

void append_histogram_json(std::string& out, const LatencyHistogram& h) {
    out += fmt::format("{{\"count\":{},\"min\":{},\"mean\":{:.1f},\"p50\":{},\"p90\":{},\"p99\":{},\"max\":{},\"buckets\":[",
                       h.count(), h.min(), h.mean(), h.percentile(50), h.percentile(90), h.percentile(99), h.max());
    const char* sep = "";
    for (std::size_t i = 0; i < LatencyHistogram::bucket_count; ++i) {
        if (!h.bucket(i)) continue;
        out += fmt::format("{}[{},{},{}]", sep, LatencyHistogram::bucket_low(i), LatencyHistogram::bucket_high(i), h.bucket(i));
        sep = ",";
    }
    out += "]}";
}

template <typename Map>
void append_count_map_json(std::string& out, const Map& m) {
    out += '{';
    const char* sep = "";
    for (const auto& [key, n] : m) {
        out += fmt::format("{}\"{}\":{}", sep, key, n);
        sep = ",";
    }
    out += '}';
}

}  // namespace

ErrorStages error_stages(const ApplyReport& r) noexcept {
    ErrorStages e;
    e.connect = transport(r, TransportError::connect);
    e.tls = transport(r, TransportError::tls);
    e.write = transport(r, TransportError::write);
    e.read = transport(r, TransportError::read) + transport(r, TransportError::truncated);
    e.timeout = transport(r, TransportError::timeout);
    e.parse = transport(r, TransportError::garbled);
    for (const auto& [status, n] : r.statuses) {
        if (status >= 400 && status <= 499) e.http_4xx += n;
        if (status >= 500 && status <= 599) e.http_5xx += n;
    }
    e.retries_exhausted = r.retries_exhausted;
    return e;
}

std::string shell_quote(std::string_view arg) {
    const bool plain = !arg.empty() && arg.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                                             "0123456789_-+=./:,@%") == std::string_view::npos;
    if (plain) return std::string(arg);
    std::string out = "'";
    for (char c : arg) {
        if (c == '\'') out += "'\\''";
        else out += c;
    }
    return out + "'";
}

std::string resume_command(const std::vector<std::string>& argv) {
    std::string out;
    bool has_resume = false;
    for (std::size_t i = 0; i < argv.size(); ++i) {
        const std::string& a = argv[i];
        if (a == "--mock-api-key") {  // the value is the next argument
            ++i;
            continue;
        }
        if (a.rfind("--mock-api-key=", 0) == 0) continue;
        if (a == "--resume") has_resume = true;
        out += out.empty() ? "" : " ";
        out += shell_quote(a);
    }
    if (!out.empty() && !has_resume) out += " --resume";
    return out;
}

std::vector<std::string> next_steps(const ApplyReport& r, const RunContext& ctx) {
    if (ctx.next_steps) return *ctx.next_steps;
    std::vector<std::string> steps;
    const auto failed = r.count(Outcome::failed), rejected = r.count(Outcome::rejected),
               invalid = r.count(Outcome::invalid);
    const bool unread = (r.aborted || r.interrupted) && !r.input_exhausted;
    if (!unread && !r.aborted && failed + rejected + invalid == 0) return steps;
    if (r.aborted) steps.push_back("fix what stopped the run (" + r.abort_reason + ") before running it again");
    if (invalid) steps.push_back(fmt::format("fix the {} invalid rows in the input (each record's message says why)", invalid));
    if (rejected)
        steps.push_back(fmt::format("{} rows were rejected by the API (their records say why): a resumed run sends "
                                    "them again, so fix or remove them first", rejected));
    if (ctx.resume_command.empty()) {
        steps.push_back("the records went to stdout: to resume, keep them in a file and pass it as --results FILE "
                        "with --resume (rows recorded updated are skipped)");
        return steps;
    }
    std::string what;
    if (unread) what = "to finish the run";
    else if (failed) what = fmt::format("to retry the {} failed rows", failed);
    else what = "to send the rows again once fixed";
    std::string step = what + " (rows recorded updated are skipped; every other row is read and sent again, its new "
                              "record appended): " + ctx.resume_command;
    if (ctx.input_from_stdin) step += " < the same input as this run (it read stdin)";
    steps.push_back(std::move(step));
    return steps;
}

std::string summary_text(const ApplyReport& r, const RunContext& ctx) {
    std::string s = fmt::format("cardsync: {} rows: {} updated, {} skipped, {} invalid, {} rejected, {} failed", r.records(),
                                r.count(Outcome::updated), r.count(Outcome::skipped), r.count(Outcome::invalid),
                                r.count(Outcome::rejected), r.count(Outcome::failed));
    if (r.coalesced) s += fmt::format(" ({} rows coalesced with an earlier row for the same number)", r.coalesced);
    if (r.unchanged) s += fmt::format("; {} unchanged rows not sent", r.unchanged);
    if (r.creates)
        s += fmt::format("; {} cards created with POST ({} existed already: sent as PATCH)", r.creates, r.create_conflicts);
    s += '\n';
    s += fmt::format("cardsync: {} requests ({} attempts, {} retries, {} free resends) in {:.1f} s: {:.1f}/s achieved",
                     r.requests, r.attempts(), r.retries, r.resends, r.elapsed_s, achieved_rate(r, ctx));
    s += r.target_rate > 0 ? fmt::format(" of {:g}/s target", r.target_rate) : std::string(", no rate limit");
    if (r.throttled) s += fmt::format("; throttled {} times, rate at the end {:.1f}/s", r.throttled, r.final_rate);
    s += '\n';
    if (!r.statuses.empty() || !r.api_codes.empty()) {
        s += "cardsync: HTTP";
        for (const auto& [status, n] : r.statuses) s += fmt::format(" {} x{}", status, n);
        if (!r.api_codes.empty()) {
            s += "; API error codes";
            for (const auto& [code, n] : r.api_codes) s += fmt::format(" {} x{}", code, n);
        }
        s += '\n';
    }
    const ErrorStages e = error_stages(r);
    std::string errors;
    for (auto [name, n] : {std::pair{"connect", e.connect}, std::pair{"tls", e.tls}, std::pair{"write", e.write},
                           std::pair{"read", e.read}, std::pair{"timeout", e.timeout}, std::pair{"4xx", e.http_4xx},
                           std::pair{"5xx", e.http_5xx}, std::pair{"parse", e.parse},
                           std::pair{"retries exhausted", e.retries_exhausted}})
        if (n) errors += fmt::format("{}{} {}", errors.empty() ? "" : ", ", name, n);
    s += "cardsync: errors: " + (errors.empty() ? std::string("none") : errors) + '\n';
    if (r.latency.count()) {
        s += latency_line("from the actual send", r.latency);
        s += latency_line("from the intended send", r.intended_latency);
    }
    s += fmt::format("cardsync: connections: {} opened, {} failed to open, {} closed by the server, {} dropped on timeout",
                     r.pool.connects, r.pool.connect_failures, r.pool.closes_by_server, r.pool.timeouts);
    if (r.peak_rss_kib) s += fmt::format("; peak memory {:.1f} MiB", static_cast<double>(r.peak_rss_kib) / 1024);
    s += '\n';
    if (r.aborted) s += "cardsync: stopped: " + r.abort_reason + '\n';
    if (r.interrupted) s += "cardsync: interrupted\n";
    if ((r.aborted || r.interrupted) && !r.input_exhausted) {
        if (r.first_line_not_reached && *r.first_line_not_reached < r.last_line_read)  // --threads: one engine got further
            s += fmt::format("cardsync: rows from line {} on were not all reached: those up to line {} with a record were, "
                             "the rest were never read\n",
                             *r.first_line_not_reached, r.last_line_read);
        else if (r.first_line_not_reached)
            s += fmt::format("cardsync: rows from line {} on were never read\n", *r.first_line_not_reached);
        else s += fmt::format("cardsync: rows after line {} were never read\n", r.last_line_read);
    }
    for (const auto& step : next_steps(r, ctx)) s += "cardsync: next: " + step + '\n';
    return s;
}

std::string summary_json(const ApplyReport& r, const RunContext& ctx) {
    std::string o = fmt::format("{{\"schema_version\":{},\"tool\":\"cardsync\",\"version\":", summary_schema_version);
    append_json_string(o, CARDSYNC_VERSION);
    o += ",\"input\":{\"name\":";
    append_json_string(o, r.input.name);
    o += fmt::format(",\"bytes\":{},\"sha256\":", r.input.bytes);
    append_json_string(o, r.input.sha256);
    o += fmt::format(",\"complete\":{}}}", r.input.complete);
    o += r.shard ? fmt::format(",\"shard\":{{\"index\":{},\"count\":{}}}", r.shard->index, r.shard->count)
                 : std::string(",\"shard\":null");
    o += ",\"state\":";
    append_json_string(o, run_state(r));
    o += fmt::format(",\"exit_status\":{},\"abort_reason\":", r.exit_status());
    if (r.aborted) append_json_string(o, r.abort_reason);
    else o += "null";
    o += fmt::format(",\"input_exhausted\":{},\"last_line_read\":{},\"first_line_not_reached\":{}", r.input_exhausted,
                     r.last_line_read, r.first_line_not_reached ? std::to_string(*r.first_line_not_reached) : "null");
    o += fmt::format(",\"rows\":{{\"read\":{},\"recorded\":{}", r.rows_read, r.records());
    for (auto out : run_outcomes) o += fmt::format(",\"{}\":{}", to_string(out), r.count(out));
    o += fmt::format(",\"coalesced\":{},\"other_shards\":{},\"unchanged\":{}}}", r.coalesced, r.rows_other_shards,
                     r.unchanged);
    o += fmt::format(",\"requests\":{{\"sent\":{},\"attempts\":{},\"retries\":{},\"resends\":{},\"throttled\":{}"
                     ",\"creates\":{},\"create_conflicts\":{}}}",
                     r.requests, r.attempts(), r.retries, r.resends, r.throttled, r.creates, r.create_conflicts);
    o += ",\"http_status\":";
    append_count_map_json(o, r.statuses);
    o += ",\"api_error_code\":";
    append_count_map_json(o, r.api_codes);
    const ErrorStages e = error_stages(r);
    o += fmt::format(",\"errors\":{{\"connect\":{},\"tls\":{},\"write\":{},\"read\":{},\"timeout\":{},\"http_4xx\":{},"
                     "\"http_5xx\":{},\"parse\":{},\"retries_exhausted\":{}}}",
                     e.connect, e.tls, e.write, e.read, e.timeout, e.http_4xx, e.http_5xx, e.parse, e.retries_exhausted);
    o += fmt::format(",\"wall_time_s\":{:.3f},\"rate\":{{\"target\":{},\"achieved\":{:.3f},\"final\":{}}}", r.elapsed_s,
                     r.target_rate, achieved_rate(r, ctx), r.final_rate);
    o += ",\"latency_us\":";
    append_histogram_json(o, r.latency);
    o += ",\"intended_latency_us\":";
    append_histogram_json(o, r.intended_latency);
    o += fmt::format(",\"connections\":{{\"opened\":{},\"failed\":{},\"closed_by_server\":{},\"timeouts\":{}}}",
                     r.pool.connects, r.pool.connect_failures, r.pool.closes_by_server, r.pool.timeouts);
    o += fmt::format(",\"peak_rss_kib\":{},\"resume_command\":", r.peak_rss_kib);
    if (ctx.resume_command.empty()) o += "null";
    else append_json_string(o, ctx.resume_command);
    o += ",\"next_steps\":[";
    const char* sep = "";
    for (const auto& step : next_steps(r, ctx)) {
        o += sep;
        append_json_string(o, step);
        sep = ",";
    }
    o += "]}\n";
    return o;
}

std::string metrics_text(const ApplyReport& r, const RunContext& ctx) {
    // One label set for every sample, so shards writing to one collector directory stay apart.
    const std::string shard = r.shard ? fmt::format("shard=\"{}\",shard_count=\"{}\"", r.shard->index, r.shard->count) : "";
    const auto labels = [&](const std::string& extra) {
        std::string all = shard;
        if (!extra.empty()) all += (all.empty() ? "" : ",") + extra;
        return all.empty() ? std::string() : "{" + all + "}";
    };
    std::string m;
    const auto family = [&](const char* name, const char* type, const char* help) {
        m += fmt::format("# HELP {} {}\n# TYPE {} {}\n", name, help, name, type);
    };
    const auto sample = [&](const std::string& name, const std::string& extra, double value) {
        m += fmt::format("{}{} {}\n", name, labels(extra), value);
    };
    family("cardsync_rows", "gauge", "Rows recorded by the last run, per outcome.");
    for (auto out : run_outcomes) sample("cardsync_rows", fmt::format("outcome=\"{}\"", to_string(out)), static_cast<double>(r.count(out)));
    family("cardsync_rows_other_shards", "gauge", "Rows the last run read and left to other shards.");
    sample("cardsync_rows_other_shards", "", static_cast<double>(r.rows_other_shards));
    family("cardsync_rows_unchanged", "gauge", "Rows the last run recorded skipped as unchanged (--skip-unchanged).");
    sample("cardsync_rows_unchanged", "", static_cast<double>(r.unchanged));
    family("cardsync_creates", "gauge", "Numbers the last run created with POST (--create-missing).");
    sample("cardsync_creates", "", static_cast<double>(r.creates));
    family("cardsync_create_conflicts", "gauge", "POSTs of the last run answered 409/2014 and sent again as PATCH.");
    sample("cardsync_create_conflicts", "", static_cast<double>(r.create_conflicts));
    family("cardsync_requests", "gauge", "Requests sent by the last run (attempts and free resends).");
    sample("cardsync_requests", "", static_cast<double>(r.requests));
    family("cardsync_attempts", "gauge", "Requests counted as attempts by the last run.");
    sample("cardsync_attempts", "", static_cast<double>(r.attempts()));
    family("cardsync_retries", "gauge", "Retries scheduled by the last run.");
    sample("cardsync_retries", "", static_cast<double>(r.retries));
    family("cardsync_http_responses", "gauge", "HTTP answers of the last run per status, every attempt counted.");
    for (const auto& [status, n] : r.statuses) sample("cardsync_http_responses", fmt::format("status=\"{}\"", status), static_cast<double>(n));
    family("cardsync_api_errors", "gauge", "API error codes answered in the last run, every attempt counted.");
    for (const auto& [code, n] : r.api_codes) sample("cardsync_api_errors", fmt::format("code=\"{}\"", code), static_cast<double>(n));
    const ErrorStages e = error_stages(r);
    family("cardsync_errors", "gauge", "Failed attempts of the last run by stage (retries_exhausted: requests).");
    for (auto [stage, n] : {std::pair{"connect", e.connect}, std::pair{"tls", e.tls}, std::pair{"write", e.write},
                            std::pair{"read", e.read}, std::pair{"timeout", e.timeout}, std::pair{"http_4xx", e.http_4xx},
                            std::pair{"http_5xx", e.http_5xx}, std::pair{"parse", e.parse},
                            std::pair{"retries_exhausted", e.retries_exhausted}})
        sample("cardsync_errors", fmt::format("stage=\"{}\"", stage), static_cast<double>(n));
    family("cardsync_run_duration_seconds", "gauge", "Wall time of the last run.");
    sample("cardsync_run_duration_seconds", "", r.elapsed_s);
    family("cardsync_rate_target", "gauge", "Requests per second asked for (0 = no limit).");
    sample("cardsync_rate_target", "", r.target_rate);
    family("cardsync_rate_achieved", "gauge", "Requests per second achieved over the last run.");
    sample("cardsync_rate_achieved", "", achieved_rate(r, ctx));
    family("cardsync_latency_seconds", "summary",
           "Answer latency of the last run, from the actual send (from=\"sent\") and from the intended send (from=\"intended\").");
    for (auto [from, h] : {std::pair{"sent", &r.latency}, std::pair{"intended", &r.intended_latency}}) {
        for (auto [q, p] : {std::pair{"0.5", 50.0}, std::pair{"0.9", 90.0}, std::pair{"0.99", 99.0}, std::pair{"1", 100.0}})
            sample("cardsync_latency_seconds", fmt::format("from=\"{}\",quantile=\"{}\"", from, q),
                   static_cast<double>(p == 100.0 ? h->max() : h->percentile(p)) / 1e6);
        sample("cardsync_latency_seconds_sum", fmt::format("from=\"{}\"", from), h->mean() * static_cast<double>(h->count()) / 1e6);
        sample("cardsync_latency_seconds_count", fmt::format("from=\"{}\"", from), static_cast<double>(h->count()));
    }
    family("cardsync_run_exit_status", "gauge", "Exit status of the last run (0 ok, 1 rows not fine, 3 aborted, 130 interrupted).");
    sample("cardsync_run_exit_status", "", r.exit_status());
    family("cardsync_run_finished_timestamp_seconds", "gauge", "When the last run ended (Unix time).");
    sample("cardsync_run_finished_timestamp_seconds", "", ctx.finished_unix_s);
    return m;
}


}  // namespace cardsync
