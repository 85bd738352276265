#include "cardsync/summary_merge.hpp"

#include <fmt/core.h>
#include <simdjson.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace cardsync {

namespace {

constexpr std::array<Outcome, 5> summary_outcomes = {Outcome::updated, Outcome::skipped, Outcome::invalid,
                                                     Outcome::rejected, Outcome::failed};

// Field access that names the file and the field in every refusal.
class Reader {
public:
    Reader(simdjson::dom::element root, const std::string& source) : root_(root), source_(source) {}

    [[noreturn]] void bad(const std::string& what) const {
        throw std::runtime_error("summary '" + source_ + "': " + what);
    }

    simdjson::dom::element field(std::string_view path) const {
        simdjson::dom::element v;
        if (root_.at_pointer(path).get(v)) bad("no " + name(path) + " (not a cardsync summary, or a truncated one)");
        return v;
    }
    bool is_null(std::string_view path) const { return field(path).is_null(); }
    std::uint64_t uint(std::string_view path) const {
        std::uint64_t n = 0;
        if (field(path).get(n)) bad(name(path) + " is not a whole number");
        return n;
    }
    double number(std::string_view path) const {
        double d = 0;
        if (field(path).get(d)) bad(name(path) + " is not a number");
        return d;
    }
    std::string text(std::string_view path) const {
        std::string_view s;
        if (field(path).get(s)) bad(name(path) + " is not a string");
        return std::string(s);
    }
    bool boolean(std::string_view path) const {
        bool b = false;
        if (field(path).get(b)) bad(name(path) + " is not true or false");
        return b;
    }
    // {"200": 12, ...}: keys are whole numbers (HTTP statuses, API error codes).
    std::map<int, std::uint64_t> count_map(std::string_view path) const {
        simdjson::dom::object o;
        if (field(path).get(o)) bad(name(path) + " is not an object");
        std::map<int, std::uint64_t> m;
        for (auto [key, value] : o) {
            int k = 0;
            const auto [end, ec] = std::from_chars(key.data(), key.data() + key.size(), k);
            std::uint64_t n = 0;
            if (ec != std::errc{} || end != key.data() + key.size() || value.get(n))
                bad(fmt::format("{} has \"{}\": its keys and counts must be whole numbers", name(path), key));
            m[k] += n;
        }
        return m;
    }
    LatencyHistogram histogram(const std::string& path) const {
        LatencyHistogram h;
        simdjson::dom::array buckets;
        if (field(path + "/buckets").get(buckets)) bad(name(path) + "/buckets is not an array");
        std::uint64_t held = 0;
        for (simdjson::dom::element b : buckets) {
            simdjson::dom::array triple;
            std::uint64_t low = 0, high = 0, n = 0;
            if (b.get(triple) || triple.size() != 3 || triple.at(0).get(low) || triple.at(1).get(high) ||
                triple.at(2).get(n) || low > high)
                bad(name(path) + "/buckets holds something other than [low, high, count]");
            if (LatencyHistogram::bucket_of(low) != LatencyHistogram::bucket_of(high))
                bad(fmt::format("{}/buckets: [{}, {}] is not one bucket of this version's histogram", name(path), low, high));
            h.record_in_bucket(low, n);
            held += n;
        }
        const auto count = uint(path + "/count");
        if (held != count) bad(fmt::format("{}: its buckets hold {} values but its count is {}", name(path), held, count));
        const auto sum = static_cast<std::uint64_t>(std::llround(number(path + "/mean") * static_cast<double>(count)));
        h.set_exact(uint(path + "/min"), uint(path + "/max"), sum);
        return h;
    }
    std::vector<std::string> strings(std::string_view path) const {
        simdjson::dom::array a;
        if (field(path).get(a)) bad(name(path) + " is not an array");
        std::vector<std::string> out;
        for (simdjson::dom::element e : a) {
            std::string_view s;
            if (e.get(s)) bad(name(path) + " holds something other than text");
            out.emplace_back(s);
        }
        return out;
    }

private:
    static std::string name(std::string_view path) { return std::string(path.substr(1)); }

    simdjson::dom::element root_;
    const std::string& source_;
};

std::size_t transport(TransportError e) { return static_cast<std::size_t>(e); }

// Worst first: an aborted shard needs fixing, an interrupted one only finishing.
int state_rank(const ApplyReport& r) { return r.aborted ? 2 : r.interrupted ? 1 : 0; }

// Rates add up across shards running side by side; one shard without a limit leaves the whole without one.
double sum_of_limits(double a, double b) { return a <= 0 || b <= 0 ? 0.0 : a + b; }

}  // namespace

ParsedSummary parse_run_summary(std::string_view json, const std::string& source) {
    simdjson::dom::parser parser;
    simdjson::dom::element root;
    if (auto e = parser.parse(simdjson::padded_string(json)).get(root))
        throw std::runtime_error("summary '" + source + "': not JSON (" + simdjson::error_message(e) + ")");
    const Reader in(root, source);
    const auto version = in.uint("/schema_version");
    if (version != static_cast<std::uint64_t>(summary_schema_version))
        in.bad(fmt::format("schema_version {} is not {} (written by another version of cardsync)", version,
                           summary_schema_version));

    ParsedSummary s;
    s.source = source;
    ApplyReport& r = s.report;
    r.input.name = in.text("/input/name");
    r.input.bytes = in.uint("/input/bytes");
    r.input.sha256 = in.text("/input/sha256");
    r.input.complete = in.boolean("/input/complete");
    if (!in.is_null("/shard")) {
        const auto index = in.uint("/shard/index"), count = in.uint("/shard/count");
        if (count < 1 || count > max_shard_count || index >= count)
            in.bad(fmt::format("shard {}/{} is not a shard (0 <= index < count)", index, count));
        r.shard = ShardSpec{static_cast<std::uint32_t>(index), static_cast<std::uint32_t>(count)};
    }
    const auto state = in.text("/state");
    if (state == "aborted") r.aborted = true;
    else if (state == "interrupted") r.interrupted = true;
    else if (state != "completed") in.bad("state '" + state + "' is not completed, interrupted or aborted");
    if (r.aborted) r.abort_reason = in.is_null("/abort_reason") ? std::string() : in.text("/abort_reason");
    r.input_exhausted = in.boolean("/input_exhausted");
    r.last_line_read = in.uint("/last_line_read");
    if (!in.is_null("/first_line_not_reached")) r.first_line_not_reached = in.uint("/first_line_not_reached");

    r.rows_read = in.uint("/rows/read");
    for (auto o : summary_outcomes) r.outcomes[static_cast<std::size_t>(o)] = in.uint("/rows/" + std::string(to_string(o)));
    if (r.records() != in.uint("/rows/recorded"))
        in.bad(fmt::format("rows/recorded is {} but its outcomes add up to {}", in.uint("/rows/recorded"), r.records()));
    r.coalesced = in.uint("/rows/coalesced");
    r.rows_other_shards = in.uint("/rows/other_shards");
    r.unchanged = in.uint("/rows/unchanged");

    r.requests = in.uint("/requests/sent");
    r.resends = in.uint("/requests/resends");
    r.retries = in.uint("/requests/retries");
    r.throttled = in.uint("/requests/throttled");
    r.creates = in.uint("/requests/creates");
    r.create_conflicts = in.uint("/requests/create_conflicts");
    r.statuses = in.count_map("/http_status");
    r.api_codes = in.count_map("/api_error_code");
    // http_4xx / http_5xx are derived from the statuses when written again.
    r.transport_errors[transport(TransportError::connect)] = in.uint("/errors/connect");
    r.transport_errors[transport(TransportError::tls)] = in.uint("/errors/tls");
    r.transport_errors[transport(TransportError::write)] = in.uint("/errors/write");
    r.transport_errors[transport(TransportError::read)] = in.uint("/errors/read");  // read and truncated together
    r.transport_errors[transport(TransportError::timeout)] = in.uint("/errors/timeout");
    r.transport_errors[transport(TransportError::garbled)] = in.uint("/errors/parse");
    r.retries_exhausted = in.uint("/errors/retries_exhausted");

    r.elapsed_s = in.number("/wall_time_s");
    r.target_rate = in.number("/rate/target");
    s.achieved_rate = in.number("/rate/achieved");
    r.final_rate = in.number("/rate/final");
    r.latency = in.histogram("/latency_us");
    r.intended_latency = in.histogram("/intended_latency_us");
    r.pool.connects = in.uint("/connections/opened");
    r.pool.connect_failures = in.uint("/connections/failed");
    r.pool.closes_by_server = in.uint("/connections/closed_by_server");
    r.pool.timeouts = in.uint("/connections/timeouts");
    r.peak_rss_kib = in.uint("/peak_rss_kib");
    s.next_steps = in.strings("/next_steps");
    return s;
}

ParsedSummary read_run_summary(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw std::runtime_error("cannot read summary '" + path + "': " + std::strerror(errno));
    std::ostringstream text;
    text << in.rdbuf();
    return parse_run_summary(text.str(), path);
}

MergedSummary merge_summaries(const std::vector<ParsedSummary>& shards) {
    if (shards.empty()) throw std::invalid_argument("no shard summaries to merge");
    MergedSummary m;
    ApplyReport& r = m.report;
    const ApplyReport& first = shards.front().report;
    r.target_rate = first.target_rate;
    r.final_rate = first.final_rate;
    r.input_exhausted = true;
    double achieved = 0;
    const ParsedSummary* worst = &shards.front();
    const InputIdentity* whole = nullptr;  // a shard that read all of the input describes it best
    std::uint64_t last_line_exhausted = 0;
    std::optional<std::uint64_t> last_line_stopped;
    std::vector<std::string> steps;
    for (const auto& s : shards) {
        const ApplyReport& x = s.report;
        add_counts(r, x);
        r.elapsed_s = std::max(r.elapsed_s, x.elapsed_s);
        r.peak_rss_kib = std::max(r.peak_rss_kib, x.peak_rss_kib);  // each shard is its own process
        if (&s != &shards.front()) {
            r.target_rate = sum_of_limits(r.target_rate, x.target_rate);
            r.final_rate = sum_of_limits(r.final_rate, x.final_rate);
        }
        achieved += s.achieved_rate;
        if (state_rank(x) > state_rank(worst->report)) worst = &s;
        if (!whole || (x.input.complete && !whole->complete) ||
            (x.input.complete == whole->complete && x.input.bytes > whole->bytes))
            whole = &x.input;
        // Every shard reads every line: the merged run reached a line when all of them did.
        r.input_exhausted = r.input_exhausted && x.input_exhausted;
        if (x.input_exhausted) last_line_exhausted = std::max(last_line_exhausted, x.last_line_read);
        else last_line_stopped = std::min(last_line_stopped.value_or(x.last_line_read), x.last_line_read);
        if (x.first_line_not_reached)
            r.first_line_not_reached = std::min(r.first_line_not_reached.value_or(*x.first_line_not_reached),
                                                *x.first_line_not_reached);
        const std::string name =
            x.shard ? fmt::format("shard {}/{}", x.shard->index, x.shard->count) : "'" + s.source + "'";
        for (const auto& step : s.next_steps) steps.push_back(name + ": " + step);
    }
    r.input = *whole;
    for (const auto& s : shards) r.input.complete = r.input.complete && s.report.input.complete;
    r.last_line_read = last_line_stopped.value_or(last_line_exhausted);
    r.aborted = worst->report.aborted;
    r.interrupted = !r.aborted && worst->report.interrupted;
    if (r.aborted) {
        const auto& w = worst->report;
        r.abort_reason = w.shard ? fmt::format("shard {}/{}: {}", w.shard->index, w.shard->count, w.abort_reason)
                                 : w.abort_reason;
    }
    m.context.achieved_rate = achieved;
    m.context.next_steps = std::move(steps);
    return m;
}

}  // namespace cardsync
