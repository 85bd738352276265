#pragma once
// Shared by the reader fuzz targets: read everything, check the invariants every input must keep.

#include "cardsync/input_error.hpp"
#include "cardsync/row_reader.hpp"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace cardsync::fuzz {

#define FUZZ_CHECK(cond)                                                                   \
    do {                                                                                   \
        if (!(cond)) {                                                                     \
            std::fprintf(stderr, "invariant failed: %s (%s:%d)\n", #cond, __FILE__, __LINE__); \
            std::abort();                                                                  \
        }                                                                                  \
    } while (0)

struct Outcome {
    std::string thrown;  // InputError message, if the reader refused the input
    std::vector<InputRow> rows;
};

inline bool same(const InputRow& a, const InputRow& b) {
    return a.line == b.line && a.phone_number == b.phone_number && a.fields == b.fields && a.error == b.error;
}

// Reads all rows of `input` in chunks of `chunk` bytes and checks the per-row invariants.
template <class Reader>
Outcome read_checked(const std::string& input, std::size_t chunk) {
    Outcome out;
    const auto lines = static_cast<std::uint64_t>(std::count(input.begin(), input.end(), '\n')) + 1;
    try {
        Reader reader(memory_source(input, chunk));
        InputRow row;
        std::uint64_t last = 0;
        while (reader.next(row)) {
            FUZZ_CHECK(row.line >= 1);
            FUZZ_CHECK(row.line > last);  // every record starts on a later line than the one before
            FUZZ_CHECK(row.line <= lines);
            last = row.line;
            // An empty value is never "given": it means omitted.
            FUZZ_CHECK(!row.fields.first_name || !row.fields.first_name->empty());
            FUZZ_CHECK(!row.fields.last_name || !row.fields.last_name->empty());
            FUZZ_CHECK(!row.fields.image_url || !row.fields.image_url->empty());
            FUZZ_CHECK(row.phone_number.size() <= input.size());
            FUZZ_CHECK(reader.bytes_read() <= input.size());
            out.rows.push_back(row);
        }
        FUZZ_CHECK(reader.bytes_read() == input.size());
        FUZZ_CHECK(!reader.next(row));  // stays at the end
    } catch (const InputError& e) {
        out.thrown = e.what();
        FUZZ_CHECK(!out.thrown.empty());
    }
    return out;
}

// The same input must give the same rows whatever the chunking; the chunk size comes from the
// first byte so the fuzzer explores splits at every position.
template <class Reader>
Outcome check_input(const std::uint8_t* data, std::size_t size) {
    if (size == 0) return {};
    static const std::size_t chunks[] = {1, 2, 3, 5, 7, 11, 16, 64};
    const std::size_t chunk = chunks[data[0] % 8];
    const std::string input(reinterpret_cast<const char*>(data + 1), size - 1);
    const Outcome small = read_checked<Reader>(input, chunk);
    const Outcome whole = read_checked<Reader>(input, input.size() + 1);
    FUZZ_CHECK(small.thrown == whole.thrown);
    FUZZ_CHECK(small.rows.size() == whole.rows.size());
    for (std::size_t i = 0; i < small.rows.size(); ++i) FUZZ_CHECK(same(small.rows[i], whole.rows[i]));
    return whole;
}

}  // namespace cardsync::fuzz
