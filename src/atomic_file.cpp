#include "cardsync/atomic_file.hpp"

#include <fmt/format.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <stdexcept>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace cardsync {

void write_file_atomically(const std::string& path, std::string_view text) {
    const std::filesystem::path target(path);
    const std::filesystem::path dir = target.has_parent_path() ? target.parent_path() : std::filesystem::path(".");
    std::string name = ".";  // built in steps: g++ 12 warns (-Wrestrict, wrongly) on "." + string
    name += target.filename().string();
    name += ".XXXXXX";
    std::string tmp = (dir / name).string();
    const auto fail = [&](const char* what) {
        const std::string reason = std::strerror(errno);
        return std::runtime_error(fmt::format("cannot write '{}': {} ({})", path, what, reason));
    };
    const int fd = ::mkstemp(tmp.data());
    if (fd < 0) throw fail("creating a temporary file beside it");
    std::size_t done = 0;
    while (done < text.size()) {
        const ssize_t n = ::write(fd, text.data() + done, text.size() - done);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
            const auto err = fail("writing");
            ::close(fd);
            ::unlink(tmp.c_str());
            throw err;
        }
        done += static_cast<std::size_t>(n);
    }
    ::fchmod(fd, 0644);  // mkstemp makes 0600; a collector running as another user must read it
    if (::close(fd) != 0) {
        const auto err = fail("closing");
        ::unlink(tmp.c_str());
        throw err;
    }
    if (std::rename(tmp.c_str(), path.c_str()) != 0) {
        const auto err = fail("renaming the temporary file over it");
        ::unlink(tmp.c_str());
        throw err;
    }
}

}  // namespace cardsync
