#include "cardsync/api_endpoint.hpp"

#include <boost/url/parse.hpp>
#include <boost/url/url_view.hpp>

#include <algorithm>
#include <cctype>
#include <stdexcept>

namespace cardsync {

namespace {

std::string lower(std::string_view s) {
    std::string out(s);
    std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return out;
}

[[noreturn]] void bad(std::string_view url, std::string_view why) {
    throw std::invalid_argument("--base-url '" + std::string(url) + "': " + std::string(why));
}

}  // namespace

bool is_loopback_host(std::string_view host) noexcept {
    if (host == "localhost" || host == "::1" || host == "[::1]") return true;
    // 127.0.0.0/8 written as a dotted quad
    if (host.substr(0, 4) != "127.") return false;
    int dots = 0, digits = 0;
    for (char c : host) {
        if (c == '.') {
            if (digits == 0) return false;
            ++dots;
            digits = 0;
        } else if (c >= '0' && c <= '9') {
            if (++digits > 3) return false;
        } else {
            return false;
        }
    }
    return dots == 3 && digits > 0;
}

ApiEndpoint parse_api_endpoint(std::string_view url, bool allow_insecure_http) {
    auto parsed = boost::urls::parse_absolute_uri(url);
    if (!parsed) bad(url, "not an absolute URL; expected e.g. " + std::string(default_base_url));
    const boost::urls::url_view& u = *parsed;
    ApiEndpoint ep;
    const std::string scheme = lower(u.scheme());
    if (scheme == "https") {
        ep.tls = true;
    } else if (scheme == "http") {
        ep.tls = false;
    } else {
        bad(url, "the scheme must be https (or http for a local simulator)");
    }
    if (!u.has_authority() || u.host_address().empty()) bad(url, "no host");
    if (u.has_userinfo()) bad(url, "user info in the URL is not supported; pass the key with --api-key-file or LINQ_API_V3_API_KEY");
    if (u.has_query() || u.has_fragment()) bad(url, "a base URL has no query or fragment");
    ep.host = lower(u.host_address());
    const std::string default_port = ep.tls ? "443" : "80";
    ep.port = u.has_port() && !u.port().empty() ? std::string(u.port()) : default_port;
    const std::string bracketed = u.host_type() == boost::urls::host_type::ipv6 ? "[" + ep.host + "]" : ep.host;
    ep.host_header = ep.port == default_port ? bracketed : bracketed + ":" + ep.port;
    ep.base_path = std::string(u.encoded_path());
    // Boost.URL 1.81 reads "http://127.0.0.1.evil.com/" as host 127.0.0.1 and path ".evil.com/"
    if (!ep.base_path.empty() && ep.base_path.front() != '/') bad(url, "the host is not a valid name or address");
    while (!ep.base_path.empty() && ep.base_path.back() == '/') ep.base_path.pop_back();
    if (!ep.tls && !allow_insecure_http && !is_loopback_host(ep.host)) {
        bad(url, "plain http would send the API key in clear text; use https, or pass --allow-insecure-http "
                 "if this really is a trusted network");
    }
    return ep;
}

}  // namespace cardsync
