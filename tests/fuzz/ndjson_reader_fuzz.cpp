// libFuzzer target: the NDJSON reader over arbitrary bytes (first byte picks the chunk size).
// The reader never throws on content: every problem is a row error.
#include "cardsync/ndjson_reader.hpp"

#include "reader_fuzz_common.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const auto outcome = cardsync::fuzz::check_input<cardsync::NdjsonReader>(data, size);
    FUZZ_CHECK(outcome.thrown.empty());
    return 0;
}
