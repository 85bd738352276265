#pragma once
// Where input bytes come from: a file descriptor (a file or stdin) or memory (tests, fuzzing).

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

namespace cardsync {

/// A pull source of bytes. Readers own one and ask for the next chunk.
class ByteSource {
public:
    virtual ~ByteSource() = default;
    /// Reads up to `size` bytes into `out`; returns 0 only at end of input.
    /// Throws InputError on a read error.
    virtual std::size_t read(char* out, std::size_t size) = 0;
    /// Total size when known (regular files), else 0; for progress as a share of bytes.
    virtual std::uint64_t size_hint() const noexcept { return 0; }
};

/// Reads a file, or standard input when `path` is "-". Throws InputError when it cannot be opened.
std::unique_ptr<ByteSource> open_byte_source(const std::string& path);

/// Serves bytes from a string it owns; `chunk` caps each read so tests can split records anywhere.
std::unique_ptr<ByteSource> memory_source(std::string data, std::size_t chunk = 1 << 16);

}  // namespace cardsync
