// libFuzzer target: the CSV reader over arbitrary bytes (first byte picks the chunk size).
#include "cardsync/csv_reader.hpp"

#include "reader_fuzz_common.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    cardsync::fuzz::check_input<cardsync::CsvReader>(data, size);
    return 0;
}
