#include "cardsync/byte_source.hpp"

#include "cardsync/input_error.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>

#include <fcntl.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <unistd.h>

namespace cardsync {
namespace {

std::string system_reason(int err) { return std::strerror(err); }

class FdSource final : public ByteSource {
public:
    // A pipe or terminal may wait forever: reads then poll an eventfd too, so interrupt() works.
    FdSource(int fd, bool owned, std::string name, std::uint64_t size, bool may_wait)
        : fd_(fd), owned_(owned), name_(std::move(name)), size_(size),
          wake_(may_wait ? ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK) : -1) {}
    ~FdSource() override {
        if (owned_) ::close(fd_);
        if (wake_ >= 0) ::close(wake_);
    }
    FdSource(const FdSource&) = delete;
    FdSource& operator=(const FdSource&) = delete;

    std::size_t read(char* out, std::size_t size) override {
        for (;;) {
            if (wake_ >= 0) wait_readable();
            const ssize_t n = ::read(fd_, out, size);
            if (n >= 0) return static_cast<std::size_t>(n);
            if (errno == EINTR) continue;
            throw InputError("cannot read " + name_ + ": " + system_reason(errno));
        }
    }
    std::uint64_t size_hint() const noexcept override { return size_; }
    std::string_view name() const noexcept override { return name_; }
    void interrupt() noexcept override {
        if (wake_ < 0) return;
        const std::uint64_t one = 1;
        [[maybe_unused]] const ssize_t n = ::write(wake_, &one, sizeof one);
    }

private:
    void wait_readable() {
        pollfd fds[2] = {{fd_, POLLIN, 0}, {wake_, POLLIN, 0}};
        for (;;) {
            const int n = ::poll(fds, 2, -1);
            if (n < 0 && errno == EINTR) continue;
            if (n < 0) throw InputError("cannot read " + name_ + ": " + system_reason(errno));
            if (fds[1].revents) throw InputError("reading " + name_ + " was interrupted");
            return;  // readable, at its end, or an error that read(2) reports
        }
    }

    int fd_;
    bool owned_;
    std::string name_;
    std::uint64_t size_;
    int wake_;
};

class MemorySource final : public ByteSource {
public:
    MemorySource(std::string data, std::size_t chunk) : data_(std::move(data)), chunk_(std::max<std::size_t>(chunk, 1)) {}
    std::size_t read(char* out, std::size_t size) override {
        const std::size_t n = std::min({size, chunk_, data_.size() - pos_});
        std::memcpy(out, data_.data() + pos_, n);
        pos_ += n;
        return n;
    }
    std::uint64_t size_hint() const noexcept override { return data_.size(); }

private:
    std::string data_;
    std::size_t chunk_;
    std::size_t pos_ = 0;
};

}  // namespace

std::unique_ptr<ByteSource> open_byte_source(const std::string& path) {
    const bool stdin_source = path == "-";
    const int fd = stdin_source ? STDIN_FILENO : ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) throw InputError("cannot open " + path + ": " + system_reason(errno));
    struct stat st {};
    const bool known = ::fstat(fd, &st) == 0;
    const bool regular = known && S_ISREG(st.st_mode);
    // Own the descriptor before anything can throw, so it is closed on every path.
    auto source = std::make_unique<FdSource>(fd, !stdin_source, stdin_source ? "stdin" : path,
                                             regular ? static_cast<std::uint64_t>(st.st_size) : 0, !regular);
    if (known && S_ISDIR(st.st_mode)) throw InputError("cannot read " + path + ": " + system_reason(EISDIR));
    if (regular) ::posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
    return source;
}

std::unique_ptr<ByteSource> memory_source(std::string data, std::size_t chunk) {
    return std::make_unique<MemorySource>(std::move(data), chunk);
}

}  // namespace cardsync
