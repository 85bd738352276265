#pragma once
// Where the API lives: the --base-url taken apart and checked once, before anything connects.

#include <string>
#include <string_view>

namespace cardsync {

/// A checked base URL ("https://api.linqapp.com/api/partner").
struct ApiEndpoint {
    bool tls = true;           ///< https (false: plain http, loopback only unless allowed)
    std::string host;          ///< host name or IP literal, without brackets; used for SNI and verification
    std::string port;          ///< explicit or the scheme's default ("443", "80")
    std::string host_header;   ///< Host header value: host, with ":port" when not the default
    std::string base_path;     ///< path prefix without a trailing '/' ("/api/partner", or "")
};

/// The documented production base URL.
inline constexpr std::string_view default_base_url = "https://api.linqapp.com/api/partner";

/// True for "localhost", 127.0.0.0/8 and ::1: hosts whose traffic never leaves the machine.
bool is_loopback_host(std::string_view host) noexcept;

/// Parses and checks `url`: scheme http or https, a host, no user info, query or fragment.
/// Plain http is refused unless the host is loopback or `allow_insecure_http` (the key would travel
/// in clear text). Throws std::invalid_argument with a message that names the problem and the fix.
ApiEndpoint parse_api_endpoint(std::string_view url, bool allow_insecure_http = false);

}  // namespace cardsync
