#include "cardsync/retry_policy.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

namespace cardsync {

std::string_view to_string(TransportError error) noexcept {
    switch (error) {
        case TransportError::none: return "none";
        case TransportError::connect: return "connect";
        case TransportError::tls: return "tls";
        case TransportError::write: return "write";
        case TransportError::read: return "read";
        case TransportError::timeout: return "timeout";
        case TransportError::truncated: return "truncated";
        case TransportError::garbled: return "garbled";
    }
    return "unknown";
}

std::string_view to_string(Verdict verdict) noexcept {
    switch (verdict) {
        case Verdict::success: return "success";
        case Verdict::permanent: return "permanent";
        case Verdict::retry: return "retry";
        case Verdict::failed: return "failed";
        case Verdict::abort_run: return "abort_run";
    }
    return "unknown";
}

namespace {

std::string_view transport_default(TransportError error) {
    switch (error) {
        case TransportError::connect: return "could not connect";
        case TransportError::tls: return "TLS handshake failed";
        case TransportError::write: return "sending the request failed";
        case TransportError::read: return "reading the answer failed";
        case TransportError::timeout: return "no answer in time";
        case TransportError::truncated: return "the answer ended early";
        case TransportError::garbled: return "the answer was not valid HTTP or not the documented JSON";
        case TransportError::none: break;
    }
    return "no answer";
}

// Our wording for the API's documented codes (linq-api.md): clearer than some server messages.
std::string_view code_text(int code) {
    switch (code) {
        case 1002: return "phone number must be in E.164 format";
        case 1007: return "rate limit exceeded";
        case 2001: return "no contact card for this number";
        case 2004: return "missing or invalid API key";
        case 2005: return "access denied to this number";
        case 2014: return "contact card already exists";
        case 2022: return "update did not complete";
        case 3006: return "internal server error";
        case 4004: return "upstream write rate-limited";
        default: return {};
    }
}

std::string_view status_phrase(int status) {
    switch (status) {
        case 300: return "Multiple Choices";
        case 301: return "Moved Permanently";
        case 302: return "Found";
        case 303: return "See Other";
        case 304: return "Not Modified";
        case 307: return "Temporary Redirect";
        case 308: return "Permanent Redirect";
        case 400: return "Bad Request";
        case 401: return "Unauthorized";
        case 403: return "Forbidden";
        case 404: return "Not Found";
        case 405: return "Method Not Allowed";
        case 408: return "Request Timeout";
        case 409: return "Conflict";
        case 410: return "Gone";
        case 413: return "Content Too Large";
        case 415: return "Unsupported Media Type";
        case 422: return "Unprocessable Content";
        case 429: return "Too Many Requests";
        case 500: return "Internal Server Error";
        case 501: return "Not Implemented";
        case 502: return "Bad Gateway";
        case 503: return "Service Unavailable";
        case 504: return "Gateway Timeout";
        case 505: return "HTTP Version Not Supported";
        default: return {};
    }
}

// Server-supplied text, made safe for a one-line record: controls become spaces, at most 200
// bytes, never cutting a UTF-8 sequence.
std::string clean(std::string_view text) {
    constexpr std::size_t limit = 200;
    const bool cut = text.size() > limit;
    if (cut) {
        std::size_t end = limit;
        while (end > 0 && (static_cast<unsigned char>(text[end]) & 0xC0) == 0x80) --end;
        text = text.substr(0, end);
    }
    std::string out(text);
    for (char& c : out)
        if (static_cast<unsigned char>(c) < 0x20 || c == 0x7F) c = ' ';
    if (cut) out += "...";
    return out;
}

std::string seconds_text(Duration d) {
    const double s = to_seconds(d);
    return s == std::floor(s) ? fmt::format("{:.0f} s", s) : fmt::format("{:.1f} s", s);
}

enum class Class { success, abort_run, permanent, transient, throttle };

Class classify_status(const AttemptResult& r) {
    if (r.transport != TransportError::none || r.http_status == 0) return Class::transient;
    const int s = r.http_status;
    if (s >= 200 && s <= 299) return Class::success;
    if (s == 401) return Class::abort_run;
    if (s == 429 || s == 503) return Class::throttle;
    if (s == 408) return Class::transient;
    if (s >= 500 && s <= 599 && s != 501 && s != 505) return Class::transient;
    return Class::permanent;  // 1xx, 3xx, other 4xx, 501, 505, anything unknown
}

// The first positive server wait: retry-after-ms, then Retry-After, then error.retry_after.
std::optional<Duration> server_wait(const AttemptResult& r) {
    for (const auto& hint : {r.retry_after_ms, r.retry_after, r.body_retry_after})
        if (hint && *hint > Duration::zero()) return hint;
    return std::nullopt;
}

}  // namespace

std::string describe(const AttemptResult& r) {
    if (r.transport != TransportError::none || r.http_status == 0) {
        const std::string detail = r.transport_detail.empty() ? std::string(transport_default(r.transport))
                                                              : clean(r.transport_detail);
        const std::string_view what = r.transport == TransportError::none ? "transport" : to_string(r.transport);
        if (r.http_status != 0) return fmt::format("HTTP {}, then {}: {}", r.http_status, what, detail);
        return fmt::format("{}: {}", what, detail);
    }
    std::string text(code_text(r.api_code));
    if (text.empty() && !r.api_message.empty()) text = clean(r.api_message);
    std::string out = r.api_code != 0 ? fmt::format("HTTP {} ({})", r.http_status, r.api_code)
                                      : fmt::format("HTTP {}", r.http_status);
    if (!text.empty()) {
        out += ": ";
        out += text;
    } else if (const auto phrase = status_phrase(r.http_status); !phrase.empty()) {
        out += ' ';
        out += phrase;
    }
    if (r.http_status >= 300 && r.http_status <= 399)
        out += r.location.empty() ? std::string("; redirect not followed")
                                  : fmt::format("; redirect to {} not followed", clean(r.location));
    return out;
}

Decision RetryPolicy::classify(const AttemptResult& result, int attempt, const Random& random) const {
    Decision d;
    const Class c = classify_status(result);
    switch (c) {
        case Class::success: d.verdict = Verdict::success; return d;
        case Class::abort_run:
            d.verdict = Verdict::abort_run;
            d.reason = describe(result) + "; check the API key (run stopped)";
            return d;
        case Class::permanent:
            d.verdict = Verdict::permanent;
            d.reason = describe(result);
            return d;
        case Class::transient:
        case Class::throttle: break;
    }

    d.throttled = c == Class::throttle;
    d.per_number = d.throttled && result.http_status == 429;
    d.reason = describe(result);
    attempt = std::max(attempt, 1);
    const int allowed = std::max(max_attempts, 1);
    d.verdict = Verdict::failed;
    if (result.should_retry == false) {
        d.reason += "; the server said not to retry (x-should-retry: false)";
        return d;
    }
    if (attempt >= allowed) {
        d.reason += fmt::format("; gave up after {} attempt{}", attempt, attempt == 1 ? "" : "s");
        return d;
    }
    if (const auto hint = server_wait(result)) {
        d.delay = *hint;
        d.server_hint = true;
    } else {
        d.delay = backoff_delay(c == Class::throttle ? throttle : transient, attempt, random ? random() : 1.0);
    }
    if (d.delay > max_wait) {
        d.reason += fmt::format("; {} asked to wait {}, over the {} limit ({} attempt{})",
                                d.server_hint ? "the server" : "backoff", seconds_text(d.delay),
                                seconds_text(max_wait), attempt, attempt == 1 ? "" : "s");
        d.delay = Duration::zero();
        return d;
    }
    d.verdict = Verdict::retry;
    return d;
}

}  // namespace cardsync
