"""The sandbox's seccomp filter: an allow-list compiled with libseccomp into BPF for bubblewrap.

The allow-list is Docker's default profile for a process without capabilities (moby
`profiles/seccomp/default.json`), made stricter:
- `io_uring_*` refused (ENOSYS, so libuv falls back to its thread pool): current Docker releases refuse it,
  Debian's Docker 20.10 still allows `io_uring_setup`;
- `ptrace`, `process_vm_readv`/`writev` refused (Docker allows them on kernels >= 4.8);
- `modify_ldt` and the 32-bit and x32 system call tables refused (a non-native architecture kills);
- `clone` with any namespace flag, `unshare`, `setns`, `mount`, `keyctl`, `add_key`, `request_key`, `bpf`,
  `perf_event_open`, `userfaultfd` and everything else not listed refused with EPERM, as Docker does;
- `clone3` answers ENOSYS (its flags sit in memory a filter cannot read; the C library falls back to `clone`).

Compiled once per process (`compile_filter`), written to a memory file; `open_filter` gives each
sandbox its own read descriptor for bubblewrap's `--seccomp FD`, since bubblewrap reads it from its offset.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import errno
import os

# Docker's default allow-list for a process without capabilities, minus what the module docstring names.
ALLOWED = (
    "accept", "accept4", "access", "adjtimex", "alarm", "bind", "brk", "capget", "capset", "chdir", "chmod",
    "chown", "clock_adjtime", "clock_getres", "clock_gettime", "clock_nanosleep", "close", "close_range",
    "connect", "copy_file_range", "creat", "dup", "dup2", "dup3", "epoll_create", "epoll_create1",
    "epoll_ctl", "epoll_pwait", "epoll_pwait2", "epoll_wait", "eventfd", "eventfd2", "execve", "execveat",
    "exit", "exit_group", "faccessat", "faccessat2", "fadvise64", "fallocate", "fanotify_mark", "fchdir",
    "fchmod", "fchmodat", "fchown", "fchownat", "fcntl", "fdatasync", "fgetxattr", "flistxattr", "flock",
    "fork", "fremovexattr", "fsetxattr", "fstat", "fstatfs", "fsync", "ftruncate", "futex", "futex_waitv",
    "futimesat", "getcpu", "getcwd", "getdents", "getdents64", "getegid", "geteuid", "getgid", "getgroups",
    "getitimer", "getpeername", "getpgid", "getpgrp", "getpid", "getppid", "getpriority", "getrandom",
    "getresgid", "getresuid", "getrlimit", "get_robust_list", "getrusage", "getsid", "getsockname",
    "getsockopt", "get_thread_area", "gettid", "gettimeofday", "getuid", "getxattr", "inotify_add_watch",
    "inotify_init", "inotify_init1", "inotify_rm_watch", "io_cancel", "ioctl", "io_destroy", "io_getevents",
    "io_pgetevents", "ioprio_get", "ioprio_set", "io_setup", "io_submit", "kill", "landlock_add_rule",
    "landlock_create_ruleset", "landlock_restrict_self", "lchown", "lgetxattr", "link", "linkat", "listen",
    "listxattr", "llistxattr", "lremovexattr", "lseek", "lsetxattr", "lstat", "madvise", "membarrier",
    "memfd_create", "mincore", "mkdir", "mkdirat", "mknod", "mknodat", "mlock", "mlock2", "mlockall", "mmap",
    "mprotect", "mq_getsetattr", "mq_notify", "mq_open", "mq_timedreceive", "mq_timedsend", "mq_unlink",
    "mremap", "msgctl", "msgget", "msgrcv", "msgsnd", "msync", "munlock", "munlockall", "munmap",
    "name_to_handle_at", "nanosleep", "newfstatat", "open", "openat", "openat2", "pause", "pidfd_open",
    "pidfd_send_signal", "pipe", "pipe2", "pkey_alloc", "pkey_free", "pkey_mprotect", "poll", "ppoll",
    "prctl", "pread64", "preadv", "preadv2", "prlimit64", "process_mrelease", "pselect6", "pwrite64",
    "pwritev", "pwritev2", "read", "readahead", "readlink", "readlinkat", "readv", "recvfrom", "recvmmsg",
    "recvmsg", "remap_file_pages", "removexattr", "rename", "renameat", "renameat2", "restart_syscall",
    "rmdir", "rseq", "rt_sigaction", "rt_sigpending", "rt_sigprocmask", "rt_sigqueueinfo", "rt_sigreturn",
    "rt_sigsuspend", "rt_sigtimedwait", "rt_tgsigqueueinfo", "sched_getaffinity", "sched_getattr",
    "sched_getparam", "sched_get_priority_max", "sched_get_priority_min", "sched_getscheduler",
    "sched_rr_get_interval", "sched_setaffinity", "sched_setattr", "sched_setparam", "sched_setscheduler",
    "sched_yield", "seccomp", "select", "semctl", "semget", "semop", "semtimedop", "sendfile", "sendmmsg",
    "sendmsg", "sendto", "setfsgid", "setfsuid", "setgid", "setgroups", "setitimer", "setpgid", "setpriority",
    "setregid", "setresgid", "setresuid", "setreuid", "setrlimit", "set_robust_list", "setsid", "setsockopt",
    "set_thread_area", "set_tid_address", "setuid", "setxattr", "shmat", "shmctl", "shmdt", "shmget",
    "shutdown", "sigaltstack", "signalfd", "signalfd4", "socketpair", "splice", "stat", "statfs", "statx",
    "symlink", "symlinkat", "sync", "sync_file_range", "syncfs", "sysinfo", "tee", "tgkill", "time",
    "timer_create", "timer_delete", "timer_getoverrun", "timer_gettime", "timer_settime", "timerfd_create",
    "timerfd_gettime", "timerfd_settime", "times", "tkill", "truncate", "umask", "uname", "unlink", "unlinkat",
    "utime", "utimensat", "utimes", "vfork", "vmsplice", "wait4", "waitid", "write", "writev",
    "arch_prctl",
)
ANSWER_ENOSYS = ("clone3", "io_uring_setup", "io_uring_enter", "io_uring_register")
# clone(2)'s namespace flags: CLONE_NEWNS | NEWCGROUP | NEWUTS | NEWIPC | NEWUSER | NEWPID | NEWNET.
CLONE_NAMESPACE_FLAGS = 0x7E020000
AF_VSOCK = 40
PERSONALITIES = (0x0, 0x8, 0x20000, 0x20008, 0xFFFFFFFF)  # PER_LINUX, PER_LINUX32, UNAME26, both, query

_ACT_ALLOW = 0x7FFF0000
_ACT_ERRNO = 0x00050000
_CMP_NE, _CMP_EQ, _CMP_MASKED_EQ = 1, 4, 7


class SeccompUnavailable(Exception):
    """libseccomp cannot be loaded or refused the filter. The message says what to install."""


class _ArgCmp(ctypes.Structure):
    _fields_ = [("arg", ctypes.c_uint), ("op", ctypes.c_int), ("datum_a", ctypes.c_uint64),
                ("datum_b", ctypes.c_uint64)]


def compile_filter() -> int:
    """Compile the allow-list; return a memory file descriptor (close-on-exec) holding its BPF program."""
    lib = _libseccomp()
    ctx = lib.seccomp_init(_ACT_ERRNO | errno.EPERM)
    if not ctx:
        raise SeccompUnavailable("seccomp_init failed")
    try:
        for name in ALLOWED:
            _rule(lib, ctx, _ACT_ALLOW, name)
        for name in ANSWER_ENOSYS:
            _rule(lib, ctx, _ACT_ERRNO | errno.ENOSYS, name)
        _rule(lib, ctx, _ACT_ALLOW, "clone", _ArgCmp(0, _CMP_MASKED_EQ, CLONE_NAMESPACE_FLAGS, 0))
        _rule(lib, ctx, _ACT_ALLOW, "socket", _ArgCmp(0, _CMP_NE, AF_VSOCK, 0))
        for persona in PERSONALITIES:
            _rule(lib, ctx, _ACT_ALLOW, "personality", _ArgCmp(0, _CMP_EQ, persona, 0))
        fd = os.memfd_create("whisklet-seccomp", os.MFD_CLOEXEC)
        if (code := lib.seccomp_export_bpf(ctx, fd)) != 0:
            os.close(fd)
            raise SeccompUnavailable(f"seccomp_export_bpf failed: {os.strerror(-code)}")
        return fd
    finally:
        lib.seccomp_release(ctx)


def open_filter(memfd: int) -> int:
    """A new read descriptor on the compiled filter, at offset 0 (pass it to the child with `pass_fds`)."""
    return os.open(f"/proc/self/fd/{memfd}", os.O_RDONLY | os.O_CLOEXEC)


def _rule(lib: ctypes.CDLL, ctx: int, action: int, name: str, *args: _ArgCmp) -> None:
    number = lib.seccomp_syscall_resolve_name(name.encode())
    if number < 0:
        return  # not a system call on this architecture
    array = (_ArgCmp * len(args))(*args)
    if (code := lib.seccomp_rule_add_array(ctx, action, number, len(args), array)) != 0:
        raise SeccompUnavailable(f"seccomp_rule_add({name}) failed: {os.strerror(-code)}")


def _libseccomp() -> ctypes.CDLL:
    path = ctypes.util.find_library("seccomp") or "libseccomp.so.2"
    try:
        lib = ctypes.CDLL(path, use_errno=True)
    except OSError as exc:
        raise SeccompUnavailable(f"libseccomp is missing ({exc}): install Debian's libseccomp2") from exc
    lib.seccomp_init.restype = ctypes.c_void_p
    lib.seccomp_init.argtypes = [ctypes.c_uint32]
    lib.seccomp_release.argtypes = [ctypes.c_void_p]
    lib.seccomp_syscall_resolve_name.argtypes = [ctypes.c_char_p]
    lib.seccomp_rule_add_array.argtypes = [ctypes.c_void_p, ctypes.c_uint32, ctypes.c_int, ctypes.c_uint,
                                           ctypes.POINTER(_ArgCmp)]
    lib.seccomp_export_bpf.argtypes = [ctypes.c_void_p, ctypes.c_int]
    return lib
