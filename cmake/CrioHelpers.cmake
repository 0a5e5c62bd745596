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
  # -w NoTests: a CTest entry whose filter matches no TEST_CASE fails instead of passing
  # silently (a name with a ";" would be split into two such entries).
  # Every test may start a daemon, and a daemon's pods need the pause image: the
  # pause_registry fixture (tests/daemon/pause_registry.sh) serves it for the whole run.
  # A list value would be split into property names and values on its way to the test
  # file: the labels go as one, "daemon,pod" (ctest -L takes a regular expression).
  string(REPLACE ";" "," labels "${T_LABELS}")
  catch_discover_tests(${T_NAME} TEST_PREFIX "${T_NAME}: " EXTRA_ARGS -w NoTests
                       PROPERTIES LABELS "${labels}" FIXTURES_REQUIRED pause_registry
                                  ENVIRONMENT "CRIO_TEST_PAUSE_REGISTRY=${CRIO_TEST_PAUSE_REGISTRY}")
endfunction()
