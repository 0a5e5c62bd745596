# The HTTP/1.1 status API (crio/http/status_api.*) as its own small library, so the
# daemon and the tests link the same code. Included from crio/CMakeLists.txt (and from
# tests/status until the daemon includes it).
if(NOT TARGET crio_status_api)
  add_library(crio_status_api STATIC ${CMAKE_CURRENT_LIST_DIR}/status_api.cpp)
  # Daemon headers are included as "crio/http/status_api.hpp" from the source root.
  target_include_directories(crio_status_api PUBLIC ${PROJECT_SOURCE_DIR})
  target_link_libraries(crio_status_api
    PUBLIC crio::core Boost::headers nlohmann_json::nlohmann_json Threads::Threads)
  target_compile_options(crio_status_api PRIVATE -Wall -Wextra -Wno-unused-parameter)
endif()
