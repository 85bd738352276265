#include "cardsync/mock_api.hpp"

#include "cardsync/json_text.hpp"
#include "cardsync/validate.hpp"

#include <fmt/format.h>
#include <simdjson.h>

#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace cardsync {

void TrafficCounters::connection_opened() noexcept {
    ++connections_total;
    connections_max = std::max(connections_max, ++connections_current);
}

void TrafficCounters::request_received() noexcept { in_flight_max = std::max(in_flight_max, ++in_flight_current); }

namespace {

constexpr std::string_view control_prefix = "/__mock/";
constexpr std::string_view e164_hint = " is not an E.164 number (a '+' in a query must be sent as %2B)";

enum Method : std::size_t { get, post, patch, other };

Method method_of(std::string_view m) {
    if (m == "PATCH") return patch;
    if (m == "GET") return get;
    if (m == "POST") return post;
    return other;
}

std::uint64_t splitmix64(std::uint64_t& state) {
    std::uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

double uniform(std::uint64_t& state) { return static_cast<double>(splitmix64(state) >> 11) * 0x1.0p-53; }

int hex_digit(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

// application/x-www-form-urlencoded, as web frameworks decode a query: '+' is a space, %XX a byte.
bool form_decode(std::string_view in, std::string& out) {
    out.clear();
    for (std::size_t i = 0; i < in.size(); ++i) {
        const char c = in[i];
        if (c == '+') {
            out.push_back(' ');
        } else if (c == '%') {
            const int hi = i + 2 < in.size() ? hex_digit(in[i + 1]) : -1;
            const int lo = hi >= 0 ? hex_digit(in[i + 2]) : -1;
            if (lo < 0) return false;
            out.push_back(static_cast<char>(hi * 16 + lo));
            i += 2;
        } else {
            out.push_back(c);
        }
    }
    return true;
}

enum class Param { absent, found, malformed };

// The first parameter named `name` in `query`, decoded into `value`.
Param query_param(std::string_view query, std::string_view name, std::string& value, std::string& scratch) {
    while (!query.empty()) {
        const auto amp = query.find('&');
        const auto pair = query.substr(0, amp);
        query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
        const auto eq = pair.find('=');
        const auto key = pair.substr(0, eq);
        if (key != name && !(key.find('%') != std::string_view::npos && form_decode(key, scratch) && scratch == name))
            continue;
        const auto raw = eq == std::string_view::npos ? std::string_view() : pair.substr(eq + 1);
        return form_decode(raw, value) ? Param::found : Param::malformed;
    }
    return Param::absent;
}

bool bearer_matches(std::string_view header, std::string_view key) {
    constexpr std::string_view scheme = "bearer ";
    if (header.size() <= scheme.size()) return false;
    for (std::size_t i = 0; i < scheme.size(); ++i)
        if (std::tolower(static_cast<unsigned char>(header[i])) != scheme[i]) return false;
    header.remove_prefix(scheme.size());
    while (!header.empty() && header.front() == ' ') header.remove_prefix(1);
    return header == key;
}

int whole_seconds_up(std::chrono::nanoseconds d) {
    const auto s = std::chrono::ceil<std::chrono::seconds>(d).count();
    return static_cast<int>(std::max<std::int64_t>(1, s));
}

void check_probability(const char* name, double p) {
    if (!(p >= 0 && p <= 1)) throw std::invalid_argument(fmt::format("mock: {} must be a probability in [0, 1], not {}", name, p));
}

void check_non_negative(const char* name, double v) {
    if (!(v >= 0)) throw std::invalid_argument(fmt::format("mock: {} must be >= 0, not {}", name, v));
}

}  // namespace

struct MockApi::Body {
    simdjson::ondemand::parser parser;
    std::string empty;                             // stands in for a missing body
    bool has_phone = false, has_first = false, has_last = false, has_image = false;
    std::string phone, first, last, image;
};

MockApi::MockApi(MockOptions options, Clock::time_point start)
    : options_(std::move(options)),
      start_(start),
      account_bucket_(0, 1, start),
      body_(std::make_unique<Body>()) {
    const auto& o = options_;
    check_probability("fail_500", o.fail_500);
    check_probability("fail_503", o.fail_503);
    check_probability("fail_429", o.fail_429);
    check_probability("drop", o.drop);
    check_probability("truncate", o.truncate);
    if (o.fail_500 + o.fail_503 + o.fail_429 + o.drop + o.truncate > 1 + 1e-9)
        throw std::invalid_argument("mock: the fault probabilities (500, 503, 429, drop, truncate) add up to more than 1");
    if (o.budget_calls < 0) throw std::invalid_argument("mock: budget_calls must be >= 0 (0 = no budget)");
    if (o.budget_calls > 0 && !(o.budget_window_s > 0))
        throw std::invalid_argument("mock: budget_window_s must be > 0 when there is a budget");
    check_non_negative("latency_ms", o.latency_ms);
    check_non_negative("latency_max_ms", o.latency_max_ms);
    check_non_negative("latency_tail_ms", o.latency_tail_ms);
    check_non_negative("account_rate", o.account_rate);
    check_non_negative("account_burst", o.account_burst);
    if (o.fail_503_retry_after_s) check_non_negative("fail_503_retry_after_s", *o.fail_503_retry_after_s);
    if (o.close_every < 0) throw std::invalid_argument("mock: close_every must be >= 0 (0 = never)");
    if (!(o.idle_timeout_s >= 0 && o.idle_timeout_s <= 30 * 86400.0))
        throw std::invalid_argument("mock: idle_timeout must be 0 (never) to 2592000 seconds (30 days)");
    if (o.max_connections < 0) throw std::invalid_argument("mock: max_connections must be >= 0 (0 = unlimited)");
    auto base = o.base_path;
    while (!base.empty() && base.back() == '/') base.pop_back();
    if (!base.empty() && (base.front() != '/' || base.find_first_of("?# ") != std::string::npos))
        throw std::invalid_argument("mock: base_path must be empty or start with '/' (like /api/partner), not \"" +
                                    o.base_path + "\"");
    if (std::string_view(base + "/").starts_with(control_prefix))
        throw std::invalid_argument("mock: base_path must not be under /__mock/");
    api_path_ = base + "/v3/contact_card";
    reset();
}

MockApi::~MockApi() = default;

void MockApi::reset() {
    store_.clear();
    if (!options_.seed_cards_csv.empty())
        for (auto& card : load_cards_csv(options_.seed_cards_csv)) store_.put(std::move(card));
    budget_ = NumberBudget(BudgetSpec{options_.budget_calls, seconds_to_duration(options_.budget_window_s)});
    account_bucket_ = TokenBucket(options_.account_rate,
                                  options_.account_burst > 0 ? options_.account_burst : std::max(1.0, options_.account_rate),
                                  start_);
    random_state_ = options_.seed;
}

void MockApi::answer_error(ApiAnswer& a, int status, int code, std::string_view message) {
    a.status = status;
    code_ = code;
    a.body.clear();
    auto out = std::back_inserter(a.body);
    fmt::format_to(out, "{{\"success\":false,\"error\":{{\"status\":{},\"code\":{},\"message\":", status, code);
    append_json_string(a.body, message);
    if (status == 429) fmt::format_to(out, ",\"retry_after\":{}", a.retry_after_s);
    fmt::format_to(out, "}},\"trace_id\":\"sim-{:016x}\"}}", ++trace_seq_);
}

bool MockApi::parse_body(const ApiRequest& request, Body& b, ApiAnswer& a) {
    b.has_phone = b.has_first = b.has_last = b.has_image = false;
    std::string& text = request.body ? *request.body : b.empty;
    if (text.capacity() < text.size() + simdjson::SIMDJSON_PADDING) text.reserve(text.size() + simdjson::SIMDJSON_PADDING);
    auto fail = [&](std::string_view why) {
        answer_error(a, 400, 1003, why);
        return false;
    };
    simdjson::ondemand::document doc;
    simdjson::ondemand::object object;
    if (b.parser.iterate(text.data(), text.size(), text.capacity()).get(doc) || doc.get_object().get(object))
        return fail("Request body must be a JSON object");
    for (auto field : object) {
        std::string_view key;
        if (field.unescaped_key().get(key)) return fail("Request body is malformed or contains invalid JSON");
        std::string* slot = nullptr;
        bool* has = nullptr;
        if (key == "first_name") slot = &b.first, has = &b.has_first;
        else if (key == "last_name") slot = &b.last, has = &b.has_last;
        else if (key == "image_url") slot = &b.image, has = &b.has_image;
        else if (key == "phone_number") slot = &b.phone, has = &b.has_phone;
        else continue;  // unknown members are ignored, as the API's schema-based validation does
        simdjson::ondemand::value value;
        simdjson::ondemand::json_type type;
        if (field.value().get(value) || value.type().get(type))
            return fail("Request body is malformed or contains invalid JSON");
        if (type == simdjson::ondemand::json_type::null) {
            *has = false;  // null = omitted
            continue;
        }
        std::string_view s;
        if (type != simdjson::ondemand::json_type::string || value.get_string().get(s))
            return fail(fmt::format("\"{}\" must be a string or null", key));
        slot->assign(s);
        *has = true;
    }
    if (doc.current_location().error() != simdjson::OUT_OF_BOUNDS)  // something after the object
        return fail("Request body is malformed or contains invalid JSON");
    return true;
}

void MockApi::handle(const ApiRequest& request, Clock::time_point now, ApiAnswer& a) {
    a.status = 200;
    a.content_type = "application/json";
    a.body.clear();
    a.retry_after_s = -1;
    a.allow = nullptr;
    a.transport = ApiAnswer::Transport::whole;
    a.delay = std::chrono::nanoseconds(0);
    code_ = 0;

    const auto qpos = request.target.find('?');
    const auto path = request.target.substr(0, qpos);
    const auto query = qpos == std::string_view::npos ? std::string_view() : request.target.substr(qpos + 1);
    if (path.starts_with(control_prefix)) return answer_control(request, path, a);

    serve_api(request, path, query, now, a);
    if (a.transport == ApiAnswer::Transport::drop) return;
    if (a.status >= 0 && a.status < static_cast<int>(by_status_.size())) ++by_status_[a.status];
    if (code_ > 0 && code_ < static_cast<int>(by_code_.size())) ++by_code_[code_];
}

void MockApi::answer_malformed(int status, std::string_view why, ApiAnswer& a) {
    a.content_type = "application/json";
    a.retry_after_s = -1;
    a.allow = nullptr;
    a.transport = ApiAnswer::Transport::whole;
    a.delay = std::chrono::nanoseconds(0);
    ++requests_;
    ++by_method_[other];
    answer_error(a, status, 1003, why);
    ++by_status_[status];
    ++by_code_[1003];
}

void MockApi::serve_api(const ApiRequest& request, std::string_view path, std::string_view query,
                        Clock::time_point now, ApiAnswer& a) {
    const Method method = method_of(request.method);
    ++requests_;
    ++by_method_[method];
    const auto bucket = static_cast<std::size_t>(std::max<Clock::rep>(0, (now - start_) / std::chrono::milliseconds(100)));
    if (bucket >= per_100ms_.size()) per_100ms_.resize(bucket + 1);
    ++per_100ms_[bucket];

    // A fixed set of draws per request: the faults depend only on the order of requests.
    const double u_fault = uniform(random_state_), u_kind = uniform(random_state_);
    const double u_span = uniform(random_state_), u_tail = uniform(random_state_);
    double delay_ms = options_.latency_ms;
    if (options_.latency_max_ms > options_.latency_ms) delay_ms += u_span * (options_.latency_max_ms - options_.latency_ms);
    if (options_.latency_tail_ms > 0) delay_ms -= options_.latency_tail_ms * std::log1p(-u_tail);
    a.delay = std::chrono::nanoseconds(static_cast<std::int64_t>(delay_ms * 1e6));

    if (!options_.api_key.empty() && !bearer_matches(request.authorization, options_.api_key))
        return answer_error(a, 401, 2004, "Unauthorized - missing or invalid authentication token");
    if (path != api_path_) return answer_error(a, 404, 2001, fmt::format("Resource not found: no endpoint at {}", path));
    if (method == other) {
        a.allow = "GET, POST, PATCH";
        return answer_error(a, 405, 1005, fmt::format("Method {} not allowed here; use GET, POST or PATCH", request.method));
    }

    // The number: in the query for GET and PATCH, in the body for POST.
    Body& body = *body_;
    bool have_number = true;
    std::string_view number;
    if (method == post) {
        if (!parse_body(request, body, a)) return;
        if (!body.has_phone || !body.has_first)
            return answer_error(a, 400, 1001, "A required field is missing: POST needs phone_number and first_name");
        number = body.phone;
    } else {
        switch (query_param(query, "phone_number", number_, scratch_)) {
        case Param::absent:
            if (method == patch)
                return answer_error(a, 400, 1002, "Phone number must be in E.164 format: the phone_number query parameter is missing");
            have_number = false;
            break;
        case Param::malformed:
            return answer_error(a, 400, 1002, "Phone number must be in E.164 format: malformed percent-encoding in phone_number");
        case Param::found:
            number = number_;
            break;
        }
    }
    if (have_number && !is_e164(number))
        return answer_error(a, 400, 1002, fmt::format("Phone number must be in E.164 format: \"{}\"{}", number, e164_hint));
    if (have_number)
        for (const auto& prefix : options_.outside_prefixes)
            if (number.starts_with(prefix))
                return answer_error(a, 403, 2005, fmt::format("Access denied - {} is not a number of this account", number));

    const bool write = method != get;
    if (write) {
        if (const auto allowed_at = budget_.when_allowed(number, now); allowed_at > now) {
            ++budget_rejected_;
            a.retry_after_s = whole_seconds_up(allowed_at - now);
            return answer_error(a, 429, 1007,
                                fmt::format("Rate limited: {} calls per {} s for {}. Try again in {} s", options_.budget_calls,
                                            options_.budget_window_s, number, a.retry_after_s));
        }
    }
    if (!account_bucket_.try_take(now)) {
        ++account_rate_rejected_;
        a.retry_after_s = 1;
        return answer_error(a, 429, 1007, "Rate limited: account request rate exceeded. Try again in 1 s");
    }

    // Faults, from the one draw u_fault over the stacked probabilities.
    bool commit = true;
    double edge = options_.fail_500;
    if (u_fault < edge) {
        ++faults_500_;
        if (write) budget_.record_call(number, now);
        if (write && u_kind >= 0.5)
            return answer_error(a, 500, 2022, "The update did not complete; call this endpoint again");
        return answer_error(a, 500, 3006, "Internal server error");
    }
    if (u_fault < (edge += options_.fail_503)) {
        ++faults_503_;
        if (write) budget_.record_call(number, now);
        if (options_.fail_503_retry_after_s)
            a.retry_after_s = whole_seconds_up(std::chrono::duration_cast<std::chrono::nanoseconds>(
                std::chrono::duration<double>(*options_.fail_503_retry_after_s)));
        return answer_error(a, 503, 4004,
                            "External service is temporarily unavailable: upstream write rate-limited, the card is left "
                            "not active. Wait before retrying; repeated attempts extend the limit");
    }
    if (u_fault < (edge += options_.fail_429)) {
        ++faults_429_;
        a.retry_after_s = 1;
        return answer_error(a, 429, 1007, "Rate limited. Try again in 1 s");
    }
    if (u_fault < (edge += options_.drop)) {
        ++faults_drop_;
        if (write) budget_.record_call(number, now);
        a.transport = ApiAnswer::Transport::drop;
        return;
    }
    if (u_fault < (edge += options_.truncate)) {
        ++faults_truncate_;
        a.transport = ApiAnswer::Transport::truncate;
        commit = false;
    }

    if (method == patch && !parse_body(request, body, a)) return;
    if (write) budget_.record_call(number, now);

    if (method == get) {
        if (have_number) {
            const Card* card = store_.find(number);
            if (!card || !card->is_active)
                return answer_error(a, 404, 2001, fmt::format("Resource not found: no contact card for {}", number));
            a.body.append("{\"contact_cards\":[");
            append_card_json(a.body, *card);
            a.body.append("]}");
            return;
        }
        a.body.append("{\"contact_cards\":[");
        const char* sep = "";
        for (const Card* card : store_.sorted()) {
            if (!card->is_active) continue;
            a.body.append(sep);
            append_card_json(a.body, *card);
            sep = ",";
        }
        a.body.append("]}");
        return;
    }

    Card* card = store_.find(number);
    Card preview;  // the answer of an uncommitted (truncated) write
    Card* target = nullptr;
    if (method == patch) {
        if (!card && !options_.every_number_has_card)
            return answer_error(a, 404, 2001,
                                fmt::format("Resource not found: no contact card for {}; set one up with POST", number));
        if (commit) {
            target = card ? card : &store_.find_or_add(number);
        } else {
            preview = card ? *card : Card{std::string(number), {}, {}, {}, true, 0};
            target = &preview;
        }
        if (body.has_first) target->first_name = body.first;
        if (body.has_last) target->last_name = body.last;
        if (body.has_image) target->image_url = body.image;
    } else {
        if (card && card->is_active)
            return answer_error(a, 409, 2014,
                                fmt::format("Contact card already exists for {}; use PATCH to change it", number));
        target = commit ? &store_.find_or_add(number) : &preview;
        target->phone_number = number;
        target->first_name = body.first;
        target->last_name = body.has_last ? body.last : std::string();
        target->image_url = body.has_image ? body.image : std::string();
    }
    target->is_active = true;
    if (commit) {
        ++target->writes;
        ++writes_applied_;
    }
    append_card_json(a.body, *target);
}

void MockApi::answer_control(const ApiRequest& request, std::string_view path, ApiAnswer& a) {
    const Method method = method_of(request.method);
    const Method wanted = path == "/__mock/reset" ? post : get;
    if (path != "/__mock/stats" && path != "/__mock/cards" && path != "/__mock/reset")
        return answer_error(a, 404, 2001, "Resource not found: the control paths are /__mock/stats, /__mock/cards, /__mock/reset");
    if (method != wanted) {
        a.allow = wanted == post ? "POST" : "GET";
        return answer_error(a, 405, 1005, fmt::format("Method {} not allowed on {}", request.method, path));
    }
    if (path == "/__mock/stats") {
        a.body = stats().to_json();
    } else if (path == "/__mock/cards") {
        a.content_type = "application/x-ndjson";
        a.body = cards_ndjson();
    } else {
        reset();
        a.body = "{\"reset\":true}";
    }
}

MockStats MockApi::stats() const {
    MockStats s;
    s.requests = requests_;
    static constexpr const char* method_names[] = {"GET", "POST", "PATCH", "other"};
    for (std::size_t i = 0; i < by_method_.size(); ++i)
        if (by_method_[i]) s.by_method[method_names[i]] = by_method_[i];
    for (std::size_t i = 0; i < by_status_.size(); ++i)
        if (by_status_[i]) s.by_status[static_cast<int>(i)] = by_status_[i];
    for (std::size_t i = 0; i < by_code_.size(); ++i)
        if (by_code_[i]) s.by_code[static_cast<int>(i)] = by_code_[i];
    s.connections_current = traffic.connections_current;
    s.connections_max = traffic.connections_max;
    s.connections_total = traffic.connections_total;
    s.connections_refused = traffic.connections_refused;
    s.in_flight_current = traffic.in_flight_current;
    s.in_flight_max = traffic.in_flight_max;
    s.closed_by_close_every = traffic.closed_by_close_every;
    s.closed_idle = traffic.closed_idle;
    s.writes_applied = writes_applied_;
    s.budget_rejected = budget_rejected_;
    s.account_rate_rejected = account_rate_rejected_;
    s.faults_500 = faults_500_;
    s.faults_503 = faults_503_;
    s.faults_429 = faults_429_;
    s.faults_drop = faults_drop_;
    s.faults_truncate = faults_truncate_;
    store_.for_each([&](const Card& card) {
        if (card.writes) ++s.numbers_by_writes[card.writes];
    });
    s.requests_per_100ms = per_100ms_;
    return s;
}

std::string MockApi::cards_ndjson() const {
    std::string out;
    for (const Card* card : store_.sorted()) {
        append_card_json(out, *card);
        out.push_back('\n');
    }
    return out;
}

}  // namespace cardsync
