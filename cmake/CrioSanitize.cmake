# CRIO_SANITIZE: the sanitizers every target in this build directory is compiled and
# linked with, comma-separated: "address,undefined" (ASan+UBSan) or "thread" (TSan).
# CRIO_FUZZ implies address,undefined. docs/testing.md says how to run them.
#
# Executables (the daemon, crio-status, the tests) also link crio_sanitizer_defaults,
# which sets the runtime options (UBSan fatal, leaks checked, the suppression files in
# cmake/sanitizers/), so `ctest` and a daemon started by a test need no environment.
set(CRIO_SANITIZE "" CACHE STRING "Sanitizers for the whole build: address,undefined or thread")
if(CRIO_FUZZ AND CRIO_SANITIZE STREQUAL "")
  set(CRIO_SANITIZE "address,undefined")
endif()

if(NOT CRIO_SANITIZE STREQUAL "")
  string(REPLACE "," ";" crio_sanitizers "${CRIO_SANITIZE}")
  foreach(s IN LISTS crio_sanitizers)
    if(NOT s MATCHES "^(address|undefined|thread)$")
      message(FATAL_ERROR "CRIO_SANITIZE: unknown sanitizer \"${s}\" (address, undefined or thread)")
    endif()
  endforeach()
  if("thread" IN_LIST crio_sanitizers AND ("address" IN_LIST crio_sanitizers OR CRIO_FUZZ))
    message(FATAL_ERROR "CRIO_SANITIZE: thread cannot be combined with address (or CRIO_FUZZ)")
  endif()
  set(crio_sanitize_compile ${CRIO_SANITIZE})
  if(CRIO_FUZZ)
    set(crio_sanitize_compile fuzzer-no-link,${CRIO_SANITIZE})
  endif()
  set(crio_sanitize_flags -fsanitize=${crio_sanitize_compile})
  if("undefined" IN_LIST crio_sanitizers)
    # A UB report ends the process with an error, so a test (or the daemon under a test)
    # cannot print it and pass.
    list(APPEND crio_sanitize_flags -fno-sanitize-recover=undefined)
  endif()
  list(APPEND crio_sanitize_flags -fno-omit-frame-pointer)
  add_compile_options(${crio_sanitize_flags})
  add_link_options(-fsanitize=${CRIO_SANITIZE})
  message(STATUS "Sanitizers: ${CRIO_SANITIZE}")

  set(crio_supp_defs "")
  foreach(tool lsan ubsan tsan)
    if(EXISTS ${PROJECT_SOURCE_DIR}/cmake/sanitizers/${tool}.supp)
      string(TOUPPER ${tool} upper)
      list(APPEND crio_supp_defs CRIO_${upper}_SUPPRESSIONS="${PROJECT_SOURCE_DIR}/cmake/sanitizers/${tool}.supp")
    endif()
  endforeach()
  add_library(crio_sanitizer_defaults OBJECT ${PROJECT_SOURCE_DIR}/cmake/sanitizers/defaults.cpp)
  target_compile_definitions(crio_sanitizer_defaults PRIVATE ${crio_supp_defs})
  # The hooks are looked up by the runtime by name; they must stay visible.
  set_target_properties(crio_sanitizer_defaults PROPERTIES CXX_VISIBILITY_PRESET default)
endif()

# crio_sanitizer_runtime(TARGET): links the runtime defaults into an executable.
function(crio_sanitizer_runtime target)
  if(TARGET crio_sanitizer_defaults)
    target_sources(${target} PRIVATE $<TARGET_OBJECTS:crio_sanitizer_defaults>)
  endif()
endfunction()
