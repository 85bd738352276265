// libFuzzer target: any bytes as an API response body. ResponseParser must classify every input
// without crashing, reading out of bounds or leaking, and its answer must be self-consistent.
// Built only with -DCARDSYNC_FUZZ=ON (clang); run: ./response_parser_fuzz -max_len=4096 corpus/

#include "cardsync/response_parser.hpp"

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    static cardsync::ResponseParser parser;  // reused, as on a connection: state must not leak between bodies
    std::string body(reinterpret_cast<const char*>(data), size);
    const std::string original = body;
    const cardsync::ApiResponse r = parser.parse(body);
    if (body != original) std::abort();  // parse may pad the capacity, never change the contents
    switch (r.kind) {
    case cardsync::BodyKind::card:
    case cardsync::BodyKind::error_envelope: break;
    case cardsync::BodyKind::empty:
    case cardsync::BodyKind::not_json:
    case cardsync::BodyKind::unexpected:
    case cardsync::BodyKind::too_large:
        if (r.error_message.empty()) std::abort();  // every failure says why
        break;
    default: std::abort();
    }
    // The same bytes parsed twice give the same answer.
    std::string again = original;
    const cardsync::ApiResponse r2 = parser.parse(again);
    if (r2.kind != r.kind || r2.error_message != r.error_message || r2.card.first_name != r.card.first_name) std::abort();
    return 0;
}
