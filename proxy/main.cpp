// wsinspect: a WebSocket intercepting proxy and frame inspector.
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <iostream>

#include "proxy/command_line.h"

namespace {

// Started with standard input, output or error closed, the first descriptor
// opened later (libuv's epoll descriptor, a socket) would take 0, 1 or 2:
// log lines would go into it, and libuv asserts at exit that its own
// descriptors are above stderr. Each closed one is opened on /dev/null.
void guard_standard_fds() {
  for (int fd = 0; fd <= 2; ++fd) {
    if (fcntl(fd, F_GETFD) != -1 || errno != EBADF) continue;
    const int null_fd = open("/dev/null", fd == 0 ? O_RDONLY : O_WRONLY);
    if (null_fd < 0) _exit(1);  // nothing can be reported anywhere
    // open() returns the lowest free descriptor, which is `fd` when lower
    // ones are open; otherwise move it there.
    if (null_fd != fd) {
      if (dup2(null_fd, fd) < 0) _exit(1);
      close(null_fd);
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  guard_standard_fds();
  const wsi::ParsedCommandLine parsed =
      wsi::parse_command_line({argv, static_cast<size_t>(argc)}, std::cout, std::cerr);
  if (!parsed.command) return parsed.exit_status;
  return wsi::run_command(*parsed.command, std::cout, std::cerr);
}
