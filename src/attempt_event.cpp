#include "cardsync/attempt_event.hpp"

#include <fmt/format.h>

namespace cardsync {

std::string attempt_line(const AttemptEvent& e) {
    std::string s = fmt::format("attempt line={} number={} attempt={}{} status={}", e.line, e.number, e.attempt,
                                e.resend ? " resend=true" : "", e.status);
    if (e.api_code) s += fmt::format(" code={}", e.api_code);
    if (e.transport != TransportError::none) s += fmt::format(" transport={}", to_string(e.transport));
    s += fmt::format(" latency_ms={:.1f} verdict={}", e.latency_ms, to_string(e.verdict));
    if (e.retry_in_s) s += fmt::format(" retry_in_s={:.2f}", *e.retry_in_s);
    if (!e.reason.empty()) {
        s += " reason=\"";
        for (char c : e.reason) {
            if (c == '"' || c == '\\') s += '\\';
            s += static_cast<unsigned char>(c) < 0x20 || c == 0x7f ? ' ' : c;
        }
        s += '"';
    }
    return s;
}

}  // namespace cardsync
