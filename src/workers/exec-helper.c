/*
 * steward's native exec helper: what src/workers/shim.ts does, without starting a
 * JavaScript runtime. The master starts it with posix_spawn (descriptor table 0, 1, 2,
 * the listeners at 3.., this helper's own image last, signals at their defaults and
 * unblocked, own session and process group); it drops the identity, sets the parent-death signal,
 * checks that the master is still its parent, leaves exactly 0-2 and the listeners open
 * across exec, sets LISTEN_PID (and WATCHDOG_PID when WATCHDOG_USEC is set, as systemd
 * does) to its own PID and execs the command.
 *
 * argv: steward-exec PARENT DEATH_SIGNAL LISTEN_FDS UID GID LABEL PATH ARGV0 [ARG...]
 * (UID, GID empty: unchanged). Messages and exit codes are the shim's: 127 when the
 * command is not found, 126 when it cannot be prepared or executed, 1 when the master
 * died before the parent-death signal was set, 2 on arguments it was not meant to get.
 *
 * Built static by scripts/exec-helper.mjs (gcc with libc6-dev) and embedded in the
 * compiled executable; run from a memfd (src/workers/native-shim.ts).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef SYS_close_range
#define SYS_close_range 436 /* the same number on every Linux architecture */
#endif
#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif

extern char **environ;

/* The names src/sys/errors.ts gives the errors these calls can return: both shims print the same line. */
static const char *errno_name(int e) {
  switch (e) {
    case 1: return "EPERM"; case 2: return "ENOENT"; case 3: return "ESRCH"; case 4: return "EINTR";
    case 5: return "EIO"; case 6: return "ENXIO"; case 7: return "E2BIG"; case 8: return "ENOEXEC";
    case 9: return "EBADF"; case 10: return "ECHILD"; case 11: return "EAGAIN"; case 12: return "ENOMEM";
    case 13: return "EACCES"; case 14: return "EFAULT"; case 16: return "EBUSY"; case 17: return "EEXIST";
    case 18: return "EXDEV"; case 19: return "ENODEV"; case 20: return "ENOTDIR"; case 21: return "EISDIR";
    case 22: return "EINVAL"; case 23: return "ENFILE"; case 24: return "EMFILE"; case 25: return "ENOTTY";
    case 26: return "ETXTBSY"; case 27: return "EFBIG"; case 28: return "ENOSPC"; case 30: return "EROFS";
    case 32: return "EPIPE"; case 36: return "ENAMETOOLONG"; case 38: return "ENOSYS"; case 40: return "ELOOP";
    default: return NULL;
  }
}

static void write_line(const char *s, size_t n) {
  for (int tries = 0; n > 0 && tries < 100; tries++) {
    ssize_t w = write(2, s, n);
    if (w > 0) s += w, n -= (size_t)w;
    else if (w < 0 && errno != EINTR && errno != EAGAIN) return;
  }
}

/* `steward: LABEL: cannot WHAT 'PATH': REASON (CODE)`; the shells' exit codes. */
static int fail(const char *label, const char *what, const char *path, int err) {
  char code[24];
  const char *name = errno_name(err);
  if (!name) snprintf(code, sizeof code, "errno %d", err), name = code;
  size_t n = strlen(label) + strlen(path) + 256;
  char *line = malloc(n);
  if (line) {
    int len = snprintf(line, n, "steward: %s: cannot %s '%s': %s (%s)\n", label, what, path, strerror(err), name);
    if (len > 0) write_line(line, (size_t)len < n ? (size_t)len : n - 1);
  }
  return err == ENOENT ? 127 : 126;
}

static int number(const char *s, long *out) {
  char *end;
  errno = 0;
  *out = strtol(s, &end, 10);
  return *s != '\0' && *end == '\0' && errno == 0;
}

int main(int argc, char **argv) {
  long parent, death, nfds, uid = -1, gid = -1;
  if (argc < 9 || !number(argv[1], &parent) || !number(argv[2], &death) || !number(argv[3], &nfds) || nfds < 0 ||
      (*argv[4] && !number(argv[4], &uid)) || (*argv[5] && !number(argv[5], &gid))) {
    static const char msg[] = "steward: the exec helper is internal to steward\n";
    write_line(msg, sizeof msg - 1);
    return 2;
  }
  const char *label = argv[6], *path = argv[7];
  /* Identity first: changing credentials clears the parent-death signal. */
  if (gid >= 0) {
    gid_t g = (gid_t)gid;
    if (setgroups(1, &g) != 0 || setgid(g) != 0) return fail(label, "prepare", path, errno);
  }
  if (uid >= 0 && setuid((uid_t)uid) != 0) return fail(label, "prepare", path, errno);
  if (prctl(PR_SET_PDEATHSIG, death, 0, 0, 0) != 0) return fail(label, "prepare", path, errno);
  /* The master may have died before the line above: then nobody would signal us. */
  if (getppid() != (pid_t)parent) return 1;
  for (int fd = 3; fd < 3 + nfds; fd++) {
    int flags = fcntl(fd, F_GETFD);
    if (flags < 0 || ((flags & FD_CLOEXEC) && fcntl(fd, F_SETFD, flags & ~FD_CLOEXEC) != 0)) return fail(label, "prepare", path, errno);
  }
  /* Everything above the listeners (this helper's own image among them) stays behind. */
  if (syscall(SYS_close_range, (unsigned)(3 + nfds), ~0U, CLOSE_RANGE_CLOEXEC) != 0) return fail(label, "prepare", path, errno);
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, NULL);

  size_t count = 0;
  int watchdog = 0;
  while (environ[count]) count++;
  char **env = malloc((count + 3) * sizeof *env);
  char pid[32], wdpid[32];
  if (!env) return fail(label, "prepare", path, ENOMEM);
  size_t k = 0;
  for (size_t i = 0; i < count; i++) {
    if (strncmp(environ[i], "WATCHDOG_USEC=", 14) == 0) watchdog = 1;
    if (strncmp(environ[i], "LISTEN_PID=", 11) != 0 && strncmp(environ[i], "WATCHDOG_PID=", 13) != 0) env[k++] = environ[i];
  }
  snprintf(pid, sizeof pid, "LISTEN_PID=%ld", (long)getpid());
  env[k++] = pid;
  if (watchdog) {
    snprintf(wdpid, sizeof wdpid, "WATCHDOG_PID=%ld", (long)getpid());
    env[k++] = wdpid;
  }
  env[k] = NULL;
  execve(path, argv + 8, env);
  return fail(label, "execute", path, errno);
}
