# crio_cli: command-line parsing of the daemon binary (crio/cli.hpp), kept apart from
# the daemon so tests can drive it. Included from crio/CMakeLists.txt (and from
# tests/config/CMakeLists.txt when the daemon directory is not configured).
if(NOT TARGET crio_cli)
  add_library(crio_cli STATIC ${CMAKE_CURRENT_LIST_DIR}/cli.cpp ${CMAKE_CURRENT_LIST_DIR}/cli_docs.cpp)
  target_include_directories(crio_cli PUBLIC ${CMAKE_CURRENT_LIST_DIR})
  target_link_libraries(crio_cli PUBLIC crio::core PRIVATE Boost::program_options)
  target_compile_options(crio_cli PRIVATE -Wall -Wextra -Wno-unused-parameter)
endif()
