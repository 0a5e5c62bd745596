# crio_library(NAME <name> SOURCES ... [PUBLIC_DEPS ...] [PRIVATE_DEPS ...])
#
# Builds libcrio-<name> twice from one object library: static (crio::<name>) and
# shared (crio::<name>_shared). Public headers live in include/crio/<name>/, and
# only symbols marked CRIO_<NAME>_EXPORT leave the shared object.
function(crio_library)
  cmake_parse_arguments(L "" "NAME" "SOURCES;PUBLIC_DEPS;PRIVATE_DEPS" ${ARGN})
  string(TOUPPER ${L_NAME} upper)
  set(obj crio_${L_NAME}_obj)
  add_library(${obj} OBJECT ${L_SOURCES})
  target_include_directories(${obj} PUBLIC
    $<BUILD_INTERFACE:${CMAKE_CURRENT_SOURCE_DIR}/include>
    $<BUILD_INTERFACE:${CMAKE_BINARY_DIR}/generated/${L_NAME}>
    PRIVATE ${CMAKE_CURRENT_SOURCE_DIR}/src)
  target_link_libraries(${obj} PUBLIC ${L_PUBLIC_DEPS} PRIVATE ${L_PRIVATE_DEPS})
  target_compile_definitions(${obj} PRIVATE CRIO_${upper}_BUILDING)
  target_compile_options(${obj} PRIVATE -Wall -Wextra -Wno-unused-parameter)

  file(MAKE_DIRECTORY ${CMAKE_BINARY_DIR}/generated/${L_NAME}/crio/${L_NAME})
  file(WRITE ${CMAKE_BINARY_DIR}/generated/${L_NAME}/crio/${L_NAME}/export.hpp
"#pragma once
// Marks the public API of libcrio-${L_NAME}; everything else stays hidden.
#define CRIO_${upper}_EXPORT [[gnu::visibility(\"default\")]]
")

  add_library(crio_${L_NAME} STATIC $<TARGET_OBJECTS:${obj}>)
  add_library(crio_${L_NAME}_shared SHARED $<TARGET_OBJECTS:${obj}>)
  foreach(t crio_${L_NAME} crio_${L_NAME}_shared)
    target_include_directories(${t} PUBLIC
      $<BUILD_INTERFACE:${CMAKE_CURRENT_SOURCE_DIR}/include>
      $<BUILD_INTERFACE:${CMAKE_BINARY_DIR}/generated/${L_NAME}>
      $<INSTALL_INTERFACE:${CMAKE_INSTALL_INCLUDEDIR}>)
    target_link_libraries(${t} PUBLIC ${L_PUBLIC_DEPS} PRIVATE ${L_PRIVATE_DEPS})
    set_target_properties(${t} PROPERTIES OUTPUT_NAME crio-${L_NAME})
  endforeach()
  set_target_properties(crio_${L_NAME}_shared PROPERTIES
    VERSION ${PROJECT_VERSION} SOVERSION ${PROJECT_VERSION_MAJOR}
    EXPORT_NAME ${L_NAME}_shared)
  set_target_properties(crio_${L_NAME} PROPERTIES EXPORT_NAME ${L_NAME})
  add_library(crio::${L_NAME} ALIAS crio_${L_NAME})
  add_library(crio::${L_NAME}_shared ALIAS crio_${L_NAME}_shared)

  install(TARGETS crio_${L_NAME} crio_${L_NAME}_shared EXPORT crioTargets
          ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
          LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR})
  install(DIRECTORY include/ DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
  install(FILES ${CMAKE_BINARY_DIR}/generated/${L_NAME}/crio/${L_NAME}/export.hpp
          DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/crio/${L_NAME})
endfunction()

# crio_test(NAME <name> SOURCES ... [DEPS ...] [LABELS ...])
#
# One Catch2 executable; every TEST_CASE becomes its own CTest test so that
# `ctest -j` runs them in parallel.
function(crio_test)
  cmake_parse_arguments(T "" "NAME" "SOURCES;DEPS;LABELS" ${ARGN})
  add_executable(${T_NAME} ${T_SOURCES})
  target_link_libraries(${T_NAME} PRIVATE ${T_DEPS} crio_test_support Catch2::Catch2WithMain)
  target_compile_options(${T_NAME} PRIVATE -Wall -Wextra -Wno-unused-parameter)
  crio_sanitizer_runtime(${T_NAME})
  # Tests that need neither the daemon nor the generated gRPC code also get the label
  # "lib" and build with the target crio_lib_tests: CI runs them in the fuzz build
  # directory, which is sanitized but compiles only the libraries.
  if(NOT "crio_daemon" IN_LIST T_DEPS AND NOT "crio_proto" IN_LIST T_DEPS)
    list(APPEND T_LABELS lib)
    if(NOT TARGET crio_lib_tests)
      add_custom_target(crio_lib_tests)
    endif()
    add_dependencies(crio_lib_tests ${T_NAME})
  endif()
  # -w NoTests: a CTest entry whose filter matches no TEST_CASE fails instead of passing
  # silently (a name with a ";" would be split into two such entries).
  catch_discover_tests(${T_NAME} TEST_PREFIX "${T_NAME}: " EXTRA_ARGS -w NoTests)
  # The properties are set from a file CTest reads after the discovered tests: passed
  # through catch_discover_tests' PROPERTIES, a list lost its separators and every label
  # after the first became a property name, so `ctest -L` missed them.
  # Every test may start a daemon, and a daemon's pods need the pause image: the
  # pause_registry fixture (tests/daemon/pause_registry.sh) serves it for the whole run.
  set(labels_file ${CMAKE_CURRENT_BINARY_DIR}/${T_NAME}_labels.cmake)
  file(WRITE ${labels_file} "if(${T_NAME}_TESTS)\n"
                            "  set_tests_properties(\${${T_NAME}_TESTS} PROPERTIES LABELS \"${T_LABELS}\"\n"
                            "    FIXTURES_REQUIRED pause_registry\n"
                            "    ENVIRONMENT \"CRIO_TEST_PAUSE_REGISTRY=${CRIO_TEST_PAUSE_REGISTRY}\")\n"
                            "endif()\n")
  set_property(DIRECTORY APPEND PROPERTY TEST_INCLUDE_FILES ${labels_file})
endfunction()
