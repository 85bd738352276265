#pragma once
// Encoding a ContactUpdate as the HTTP/1.1 request the Linq API expects, straight into a byte
// buffer (no Beast message objects on the hot path; the bytes can be written or pipelined as is).

#include "cardsync/contact_update.hpp"

#include <string>
#include <string_view>

namespace cardsync {

/// The version sent in User-Agent.
inline constexpr std::string_view user_agent = "cardsync/" CARDSYNC_VERSION;

/// Percent-encodes a query value so it decodes to the same text under RFC 3986 and under
/// form-urlencoded rules: unreserved characters kept, everything else (notably '+') as %XX.
void append_query_value(std::string& out, std::string_view value);

/// "{base_path}/v3/contact_card?phone_number=%2B15551234567"; base_path has no trailing '/'.
std::string contact_card_target(std::string_view base_path, std::string_view e164);

/// Appends the JSON body holding only the present fields, e.g. {"first_name":"Zoë"}.
void append_json_body(std::string& out, const CardFields& fields);

/// True when `value` can go into a header as is: no CR, LF, NUL or other control character (tab
/// allowed). Check the host and the API key with it before building requests: the encoders copy
/// them verbatim, so a key with a stray newline would otherwise split the request.
bool is_valid_header_value(std::string_view value) noexcept;

/// What is the same for every request of a run.
struct RequestTemplate {
    std::string host;        ///< Host header value ("api.linqapp.com" or "127.0.0.1:8080")
    std::string base_path;   ///< "/api/partner" (no trailing '/')
    std::string api_key;     ///< sent as "Authorization: Bearer <key>"; never logged
    bool keep_alive = true;  ///< false adds "Connection: close"
};

/// A run's requests with what never changes in them (the target's path, Host, the key and the other
/// fixed headers) encoded once: each request then costs a few copies besides its number and body.
/// The free functions below build one per call; the engine keeps one for the run.
class RequestEncoder {
public:
    explicit RequestEncoder(const RequestTemplate& tmpl);

    void append_patch(std::string& out, std::string_view e164, const CardFields& fields) const;
    void append_post(std::string& out, std::string_view e164, const CardFields& fields) const;
    void append_get(std::string& out, std::string_view e164 = {}) const;

private:
    std::string target_;        // "{base}/v3/contact_card"
    std::string headers_body_;  // " HTTP/1.1\r\nHost: ...\r\n" through User-Agent, with Content-Type
    std::string headers_;       // the same without Content-Type (GET)
    std::size_t fixed_size_;    // what a request adds besides its number and body, to reserve once
    bool keep_alive_;
};

/// Appends the whole `PATCH {base}/v3/contact_card?phone_number=...` request (head and body) to
/// `out`: Host, Authorization, Content-Type and Accept application/json, User-Agent, Content-Length.
void append_patch_request(std::string& out, const RequestTemplate& tmpl, std::string_view e164, const CardFields& fields);
inline void append_patch_request(std::string& out, const RequestTemplate& tmpl, const ContactUpdate& update) {
    append_patch_request(out, tmpl, update.phone_number, update.fields);
}

/// The same for `POST {base}/v3/contact_card` (create: phone_number in the body).
void append_post_request(std::string& out, const RequestTemplate& tmpl, std::string_view e164, const CardFields& fields);
inline void append_post_request(std::string& out, const RequestTemplate& tmpl, const ContactUpdate& update) {
    append_post_request(out, tmpl, update.phone_number, update.fields);
}

/// `GET {base}/v3/contact_card` (all cards, or one number when `e164` is not empty).
void append_get_request(std::string& out, const RequestTemplate& tmpl, std::string_view e164 = {});

}  // namespace cardsync
