// The RuntimeDefault seccomp profile, compiled in so the daemon needs no data file.
//
// Shape: unknown syscalls fail with ENOSYS (so libc falls back to an older call), the
// ordinary ones are allowed, and those that reach outside the container's namespaces
// are allowed only when the process holds the capability that guards them; without
// it they fail with EPERM. clone with namespace flags and clone3 need CAP_SYS_ADMIN:
// without it such a clone fails with EPERM, and clone3 with ENOSYS (its flags cannot
// be inspected, so libc falls back to clone).

#include "seccomp_default.hpp"

#include <crio/oci/spec.hpp>

#include <algorithm>
#include <cerrno>
#include <string_view>

namespace crio::oci {
namespace detail {
namespace {

constexpr std::string_view kAlways[] = {
    "_llseek", "_newselect", "accept", "accept4", "access", "adjtimex", "alarm", "bind", "brk", "capget",
    "capset", "chdir", "chmod", "chown", "chown32", "clock_adjtime", "clock_adjtime64", "clock_getres",
    "clock_getres_time64", "clock_gettime", "clock_gettime64", "clock_nanosleep", "clock_nanosleep_time64",
    "close", "close_range", "connect", "copy_file_range", "creat", "dup", "dup2", "dup3", "epoll_create",
    "epoll_create1", "epoll_ctl", "epoll_ctl_old", "epoll_pwait", "epoll_pwait2", "epoll_wait",
    "epoll_wait_old", "eventfd", "eventfd2", "execve", "execveat", "exit", "exit_group", "faccessat",
    "faccessat2", "fadvise64", "fadvise64_64", "fallocate", "fanotify_mark", "fchdir", "fchmod", "fchmodat",
    "fchmodat2", "fchown", "fchown32", "fchownat", "fcntl", "fcntl64", "fdatasync", "fgetxattr", "flistxattr",
    "flock", "fork", "fremovexattr", "fsetxattr", "fstat", "fstat64", "fstatat64", "fstatfs", "fstatfs64",
    "fsync", "ftruncate", "ftruncate64", "futex", "futex_time64", "futimesat", "get_robust_list",
    "get_thread_area", "getcpu", "getcwd", "getdents", "getdents64", "getegid", "getegid32", "geteuid",
    "geteuid32", "getgid", "getgid32", "getgroups", "getgroups32", "getitimer", "getpeername", "getpgid",
    "getpgrp", "getpid", "getppid", "getpriority", "getrandom", "getresgid", "getresgid32", "getresuid",
    "getresuid32", "getrlimit", "getrusage", "getsid", "getsockname", "getsockopt", "gettid", "gettimeofday",
    "getuid", "getuid32", "getxattr", "inotify_add_watch", "inotify_init", "inotify_init1",
    "inotify_rm_watch", "io_cancel", "io_destroy", "io_getevents", "io_setup", "io_submit", "ioctl",
    "ioprio_get", "ioprio_set", "ipc", "keyctl", "kill", "landlock_add_rule", "landlock_create_ruleset",
    "landlock_restrict_self", "lchown", "lchown32", "lgetxattr", "link", "linkat", "listen", "listxattr",
    "llistxattr", "lremovexattr", "lseek", "lsetxattr", "lstat", "lstat64", "madvise", "membarrier",
    "memfd_create", "memfd_secret", "mincore", "mkdir", "mkdirat", "mknod", "mknodat", "mlock", "mlock2",
    "mlockall", "mmap", "mmap2", "mprotect", "mq_getsetattr", "mq_notify", "mq_open", "mq_timedreceive",
    "mq_timedreceive_time64", "mq_timedsend", "mq_timedsend_time64", "mq_unlink", "mremap", "msgctl",
    "msgget", "msgrcv", "msgsnd", "msync", "munlock", "munlockall", "munmap", "nanosleep", "newfstatat",
    "open", "openat", "openat2", "pause", "pidfd_open", "pidfd_send_signal", "pipe", "pipe2", "pkey_alloc",
    "pkey_free", "pkey_mprotect", "poll", "ppoll", "ppoll_time64", "prctl", "pread64", "preadv", "preadv2",
    "prlimit64", "process_mrelease", "pselect6", "pselect6_time64", "pwrite64", "pwritev", "pwritev2", "read",
    "readahead", "readlink", "readlinkat", "readv", "recv", "recvfrom", "recvmmsg", "recvmmsg_time64",
    "recvmsg", "remap_file_pages", "removexattr", "rename", "renameat", "renameat2", "restart_syscall",
    "rmdir", "rseq", "rt_sigaction", "rt_sigpending", "rt_sigprocmask", "rt_sigqueueinfo", "rt_sigreturn",
    "rt_sigsuspend", "rt_sigtimedwait", "rt_sigtimedwait_time64", "rt_tgsigqueueinfo",
    "sched_get_priority_max", "sched_get_priority_min", "sched_getaffinity", "sched_getattr",
    "sched_getparam", "sched_getscheduler", "sched_rr_get_interval", "sched_rr_get_interval_time64",
    "sched_setaffinity", "sched_setattr", "sched_setparam", "sched_setscheduler", "sched_yield", "seccomp",
    "select", "semctl", "semget", "semop", "semtimedop", "semtimedop_time64", "send", "sendfile",
    "sendfile64", "sendmmsg", "sendmsg", "sendto", "set_robust_list", "set_thread_area", "set_tid_address",
    "setfsgid", "setfsgid32", "setfsuid", "setfsuid32", "setgid", "setgid32", "setgroups", "setgroups32",
    "setitimer", "setpgid", "setpriority", "setregid", "setregid32", "setresgid", "setresgid32", "setresuid",
    "setresuid32", "setreuid", "setreuid32", "setrlimit", "setsid", "setsockopt", "setuid", "setuid32",
    "setxattr", "shmat", "shmctl", "shmdt", "shmget", "shutdown", "sigaltstack", "signal", "signalfd",
    "signalfd4", "sigprocmask", "sigreturn", "socket", "socketcall", "socketpair", "splice", "stat", "stat64", "statfs",
    "statfs64", "statx", "symlink", "symlinkat", "sync", "sync_file_range", "syncfs", "sysinfo", "tee",
    "tgkill", "time", "timer_create", "timer_delete", "timer_getoverrun", "timer_gettime", "timer_gettime64",
    "timer_settime", "timer_settime64", "timerfd_create", "timerfd_gettime", "timerfd_gettime64",
    "timerfd_settime", "timerfd_settime64", "times", "tkill", "truncate", "truncate64", "ugetrlimit", "umask",
    "uname", "unlink", "unlinkat", "utime", "utimensat", "utimensat_time64", "utimes", "vfork", "wait4",
    "waitid", "waitpid", "write", "writev"
};

struct Guarded {
  std::string_view capability;
  std::vector<std::string_view> names;
};

const std::vector<Guarded>& guarded() {
  static const std::vector<Guarded> table = {
      {"CAP_SYS_ADMIN",
       {"bpf", "fanotify_init", "fsconfig", "fsmount", "fsopen", "fspick", "lookup_dcookie", "mount", "mount_setattr",
        "move_mount", "name_to_handle_at", "open_tree", "perf_event_open", "pivot_root", "quotactl", "quotactl_fd",
        "setdomainname", "sethostname", "setns", "syslog", "umount", "umount2", "unshare"}},
      {"CAP_SYS_PTRACE",
       {"kcmp", "pidfd_getfd", "process_madvise", "process_vm_readv", "process_vm_writev", "ptrace"}},
      {"CAP_SYS_BOOT", {"reboot"}},
      {"CAP_SYS_NICE", {"get_mempolicy", "mbind", "set_mempolicy", "set_mempolicy_home_node"}},
      {"CAP_SYS_CHROOT", {"chroot"}},
      {"CAP_SYS_MODULE", {"delete_module", "finit_module", "init_module", "query_module"}},
      {"CAP_SYS_PACCT", {"acct"}},
      {"CAP_SYS_RAWIO", {"ioperm", "iopl"}},
      {"CAP_SYS_TIME", {"clock_settime", "clock_settime64", "settimeofday", "stime"}},
      {"CAP_SYS_TTY_CONFIG", {"vhangup"}},
      {"CAP_DAC_READ_SEARCH", {"open_by_handle_at"}},
  };
  return table;
}

// Never allowed: they act on the whole host or on memory outside the container.
constexpr std::string_view kDenied[] = {
    "add_key",     "request_key", "kexec_file_load", "kexec_load", "nfsservctl", "swapon",    "swapoff",
    "uselib",      "userfaultfd", "ustat",           "vm86",       "vm86old",    "sysfs",     "bdflush",
    "move_pages",  "migrate_pages", "pciconfig_iobase", "pciconfig_read", "pciconfig_write", "_sysctl",
    "create_module", "get_kernel_syms"};

// personality(2) values that only change how the process looks to itself.
constexpr uint64_t kPersonalities[] = {0x0, 0x8, 0x20000, 0x20008, 0xffffffff};

// CLONE_NEWNS | CLONE_NEWCGROUP | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNET
constexpr uint64_t kCloneNamespaceFlags = 0x7E020000;

nlohmann::json names_json(const std::vector<std::string_view>& names) {
  nlohmann::json out = nlohmann::json::array();
  for (auto n : names) out.push_back(std::string(n));
  return out;
}

nlohmann::json architectures(bool native_only) {
#if defined(__x86_64__)
  if (native_only) return {"SCMP_ARCH_X86_64"};
  return {"SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"};
#elif defined(__aarch64__)
  if (native_only) return {"SCMP_ARCH_AARCH64"};
  return {"SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM"};
#elif defined(__s390x__)
  return {"SCMP_ARCH_S390X", "SCMP_ARCH_S390"};
#elif defined(__powerpc64__)
  return {"SCMP_ARCH_PPC64LE"};
#else
  return nlohmann::json::array();
#endif
}

std::vector<std::string_view> arch_specific() {
#if defined(__x86_64__) || defined(__i386__)
  return {"arch_prctl", "modify_ldt"};
#elif defined(__aarch64__) || defined(__arm__)
  return {"arm_fadvise64_64", "arm_sync_file_range", "breakpoint", "cacheflush", "set_tls", "sync_file_range2"};
#elif defined(__s390x__)
  return {"s390_pci_mmio_read", "s390_pci_mmio_write", "s390_runtime_instr"};
#else
  return {};
#endif
}

}  // namespace

nlohmann::json runtime_default_seccomp(const std::vector<std::string>& caps, bool native_arch_only) {
  auto has = [&](std::string_view cap) { return std::find(caps.begin(), caps.end(), cap) != caps.end(); };

  std::vector<std::string_view> allowed(std::begin(kAlways), std::end(kAlways));
  for (auto n : arch_specific()) allowed.push_back(n);
  std::vector<std::string_view> denied(std::begin(kDenied), std::end(kDenied));
  for (const auto& g : guarded()) {
    auto& into = has(g.capability) ? allowed : denied;
    into.insert(into.end(), g.names.begin(), g.names.end());
  }

  nlohmann::json syscalls = nlohmann::json::array();
  syscalls.push_back({{"names", names_json(allowed)}, {"action", "SCMP_ACT_ALLOW"}});
  for (uint64_t p : kPersonalities) {
    syscalls.push_back({{"names", {"personality"}},
                        {"action", "SCMP_ACT_ALLOW"},
                        {"args", {{{"index", 0}, {"value", p}, {"op", "SCMP_CMP_EQ"}}}}});
  }
  if (has("CAP_SYS_ADMIN")) {
    syscalls.push_back({{"names", {"clone", "clone3"}}, {"action", "SCMP_ACT_ALLOW"}});
  } else {
    syscalls.push_back(
        {{"names", {"clone"}},
         {"action", "SCMP_ACT_ALLOW"},
         {"args",
          {{{"index", 0}, {"value", kCloneNamespaceFlags}, {"valueTwo", 0}, {"op", "SCMP_CMP_MASKED_EQ"}}}}});
    // A clone asking for any new namespace is refused with EPERM (not the default
    // ENOSYS), as CRI-O's profile does: one rule per flag, since the rules' conditions
    // on one argument would be ANDed.
    for (uint64_t bit = 1; bit != 0; bit <<= 1) {
      if (!(kCloneNamespaceFlags & bit)) continue;
      syscalls.push_back({{"names", {"clone"}},
                          {"action", "SCMP_ACT_ERRNO"},
                          {"errnoRet", EPERM},
                          {"args", {{{"index", 0}, {"value", bit}, {"valueTwo", bit}, {"op", "SCMP_CMP_MASKED_EQ"}}}}});
    }
    syscalls.push_back({{"names", {"clone3"}}, {"action", "SCMP_ACT_ERRNO"}, {"errnoRet", ENOSYS}});
  }
  syscalls.push_back({{"names", names_json(denied)}, {"action", "SCMP_ACT_ERRNO"}, {"errnoRet", EPERM}});

  return {{"defaultAction", "SCMP_ACT_ERRNO"},
          {"defaultErrnoRet", ENOSYS},
          {"architectures", architectures(native_arch_only)},
          {"syscalls", std::move(syscalls)}};
}

}  // namespace detail

std::string runtime_default_seccomp_json(const std::vector<std::string>& caps, bool native_arch_only) {
  return detail::runtime_default_seccomp(caps, native_arch_only).dump();
}

}  // namespace crio::oci
