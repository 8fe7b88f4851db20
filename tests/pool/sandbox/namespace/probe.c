/* Tries the system calls the sandbox's seccomp filter must refuse; prints "name errno" per call. */
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <sys/mount.h>
#include <sys/personality.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <unistd.h>

static void report(const char *name, long result) {
    printf("%s %d\n", name, result == -1 ? errno : 0);
}

static int child(void *arg) { (void)arg; return 0; }
static char stack[65536];

int main(void) {
    report("unshare_user", unshare(CLONE_NEWUSER));
    report("unshare_mount", unshare(CLONE_NEWNS));
    report("unshare_net", unshare(CLONE_NEWNET));
    report("clone_newuser", clone(child, stack + sizeof stack, CLONE_NEWUSER | SIGCHLD, NULL));
    report("mount", mount("tmpfs", "/tmp", "tmpfs", 0, NULL));
    report("ptrace", ptrace(PTRACE_TRACEME, 0, NULL, NULL));
    report("keyctl", syscall(SYS_keyctl, 0, 0, 0, 0, 0));
    report("add_key", syscall(SYS_add_key, "user", "k", "v", 1, -2));
    report("bpf", syscall(SYS_bpf, 0, NULL, 0));
    report("io_uring_setup", syscall(SYS_io_uring_setup, 1, NULL));
    report("perf_event_open", syscall(SYS_perf_event_open, NULL, 0, -1, -1, 0));
    report("setns", syscall(SYS_setns, 0, 0));
    report("personality", personality(READ_IMPLIES_EXEC));
    report("getpid", getpid() > 0 ? 0 : -1);
    return 0;
}
