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
    /// How messages name this input: the path, "stdin", or "input" for memory.
    virtual std::string_view name() const noexcept { return "input"; }
    /// Makes a read that waits for data (a pipe, a terminal) return at once by throwing InputError,
    /// now and from then on. Safe to call from another thread than the reading one.
    virtual void interrupt() noexcept {}
};

/// Reads a file, or standard input when `path` is "-", with read(2) straight into the caller's buffer.
/// Throws InputError naming the path and the system's reason when it cannot be opened (or is a directory).
std::unique_ptr<ByteSource> open_byte_source(const std::string& path);

/// Serves bytes from a string it owns; `chunk` (at least 1) caps each read so tests can split records anywhere.
std::unique_ptr<ByteSource> memory_source(std::string data, std::size_t chunk = 1 << 16);

}  // namespace cardsync
