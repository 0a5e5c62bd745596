// Runtime options of a CRIO_SANITIZE build, compiled into each executable: the
// sanitizer runtimes call these hooks before reading ASAN_OPTIONS, UBSAN_OPTIONS,
// LSAN_OPTIONS and TSAN_OPTIONS, which still override any option set here.

// CMake defines CRIO_<TOOL>_SUPPRESSIONS only for the files in cmake/sanitizers/ that exist.
#ifdef CRIO_LSAN_SUPPRESSIONS
#define CRIO_LSAN_SUPP ":suppressions=" CRIO_LSAN_SUPPRESSIONS
#else
#define CRIO_LSAN_SUPP ""
#endif
#ifdef CRIO_UBSAN_SUPPRESSIONS
#define CRIO_UBSAN_SUPP ":suppressions=" CRIO_UBSAN_SUPPRESSIONS
#else
#define CRIO_UBSAN_SUPP ""
#endif
#ifdef CRIO_TSAN_SUPPRESSIONS
#define CRIO_TSAN_SUPP ":suppressions=" CRIO_TSAN_SUPPRESSIONS
#else
#define CRIO_TSAN_SUPP ""
#endif

extern "C" {

// Leaks are checked at exit; a use of an uninitialised global from another
// translation unit's initialiser is an error too.
[[gnu::visibility("default"), gnu::used]] const char* __asan_default_options() {
  return "detect_leaks=1:check_initialization_order=1:strict_init_order=1";
}

[[gnu::visibility("default"), gnu::used]] const char* __lsan_default_options() {
  return "report_objects=1" CRIO_LSAN_SUPP;
}

[[gnu::visibility("default"), gnu::used]] const char* __ubsan_default_options() {
  return "print_stacktrace=1:halt_on_error=1" CRIO_UBSAN_SUPP;
}

// A race report makes the process exit with 66 at the end, like any sanitizer finding
// fails the test that saw it.
[[gnu::visibility("default"), gnu::used]] const char* __tsan_default_options() {
  return "halt_on_error=0:exitcode=66:second_deadlock_stack=1" CRIO_TSAN_SUPP;
}

}  // extern "C"
