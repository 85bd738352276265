#pragma once
// A problem with the input as a whole (unreadable file, missing column): the run cannot start.

#include <cstdint>
#include <stdexcept>
#include <string>

namespace cardsync {

/// Thrown by sources and readers for file-level problems; the message names the file (and line, if any)
/// and says what to do. Per-row problems are never thrown: they become InputRow::error.
class InputError : public std::runtime_error {
public:
    explicit InputError(const std::string& what, std::uint64_t line = 0)
        : std::runtime_error(what), line_(line) {}
    /// Line the problem was found on, 0 when not tied to a line.
    std::uint64_t line() const noexcept { return line_; }

private:
    std::uint64_t line_;
};

}  // namespace cardsync
