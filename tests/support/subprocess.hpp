#pragma once
// Test helpers: run the cardsync binary (or any program) as a child with stdin from a string,
// capturing stdout and stderr and the exit status; or start one in the background (to signal it
// mid-run) and wait for it later.

#include <cerrno>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/resource.h>
#include <stdexcept>
#include <string>
#include <sys/wait.h>
#include <unistd.h>
#include <utility>
#include <vector>

namespace cardsync::test {

struct ProcessResult {
    int exit_code = -1;   ///< exit status, or 128 + signal when killed
    std::string out, err;
};

/// Runs `argv` with `env_extra` ("NAME=value") added to the environment, feeding `input` on stdin.
inline ProcessResult run_process(const std::vector<std::string>& argv, const std::string& input = {},
                                 const std::vector<std::string>& env_extra = {}) {
    ::signal(SIGPIPE, SIG_IGN);  // a child that exits before reading all its input must not kill the test
    int in_pipe[2], out_pipe[2], err_pipe[2];
    if (pipe(in_pipe) || pipe(out_pipe) || pipe(err_pipe)) throw std::runtime_error("pipe failed");
    const pid_t pid = fork();
    if (pid < 0) throw std::runtime_error("fork failed");
    if (pid == 0) {
        dup2(in_pipe[0], 0);
        dup2(out_pipe[1], 1);
        dup2(err_pipe[1], 2);
        for (int fd : {in_pipe[0], in_pipe[1], out_pipe[0], out_pipe[1], err_pipe[0], err_pipe[1]}) close(fd);
        for (const auto& e : env_extra) putenv(const_cast<char*>(e.c_str()));
        std::vector<char*> args;
        for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
        args.push_back(nullptr);
        execv(args[0], args.data());
        _exit(127);
    }
    close(in_pipe[0]);
    close(out_pipe[1]);
    close(err_pipe[1]);
    fcntl(in_pipe[1], F_SETFL, O_NONBLOCK);
    ProcessResult r;
    std::size_t written = 0;
    int in_fd = in_pipe[1];
    if (input.empty()) { close(in_fd); in_fd = -1; }
    bool out_open = true, err_open = true;
    char buf[65536];
    while (out_open || err_open) {
        pollfd fds[3] = {{out_open ? out_pipe[0] : -1, POLLIN, 0}, {err_open ? err_pipe[0] : -1, POLLIN, 0},
                         {in_fd, POLLOUT, 0}};
        if (poll(fds, 3, -1) < 0 && errno != EINTR) break;
        if (in_fd >= 0 && (fds[2].revents & (POLLOUT | POLLERR | POLLHUP))) {
            const ssize_t n = write(in_fd, input.data() + written, input.size() - written);
            if (n > 0) written += static_cast<std::size_t>(n);
            if (n < 0 && errno != EAGAIN) written = input.size();
            if (written == input.size()) { close(in_fd); in_fd = -1; }
        }
        for (int i = 0; i < 2; ++i) {
            if (!(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
            const ssize_t n = read(fds[i].fd, buf, sizeof buf);
            if (n > 0) (i == 0 ? r.out : r.err).append(buf, static_cast<std::size_t>(n));
            else if (i == 0) out_open = false;
            else err_open = false;
        }
    }
    if (in_fd >= 0) close(in_fd);
    close(out_pipe[0]);
    close(err_pipe[0]);
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {}
    r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    return r;
}

/// Starts `argv` in the background: stdin from `input_path`, stdout and stderr to files, `env_extra`
/// ("NAME=value") added. posix_spawn, not fork: a forked child of a test process holding large
/// structures (the simulator's cards) would count their pages in its peak RSS. -1 when it fails.
inline pid_t start_process(const std::vector<std::string>& argv, const std::string& input_path = "/dev/null",
                           const std::string& out_path = "/dev/null", const std::string& err_path = "/dev/null",
                           const std::vector<std::string>& env_extra = {}) {
    posix_spawn_file_actions_t files;
    posix_spawn_file_actions_init(&files);
    posix_spawn_file_actions_addopen(&files, 0, input_path.c_str(), O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&files, 1, out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_addopen(&files, 2, err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    std::vector<std::string> environment = env_extra;
    for (char** e = environ; *e; ++e) environment.emplace_back(*e);
    std::vector<char*> envp, args;
    for (auto& e : environment) envp.push_back(e.data());
    envp.push_back(nullptr);
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    pid_t pid = -1;
    if (posix_spawn(&pid, args[0], &files, nullptr, args.data(), envp.data()) != 0) pid = -1;
    posix_spawn_file_actions_destroy(&files);
    return pid;
}

struct ProcessExit {
    int code = -1;         ///< exit status, or 128 + signal when killed
    long max_rss_kb = 0;   ///< the child's peak RSS
};

/// Waits for a child from start_process().
inline ProcessExit wait_process(pid_t pid) {
    int status = 0;
    rusage usage{};
    while (wait4(pid, &status, 0, &usage) < 0 && errno == EINTR) {}
    ProcessExit e;
    e.code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    e.max_rss_kb = usage.ru_maxrss;
    return e;
}

}  // namespace cardsync::test
