# What `cmake --install` and `cpack -G DEB` put on a system besides the targets: man
# pages (from docs/*.N.md, with go-md2man), pkg-config files, the default
# configuration, the systemd unit, shell completions, and the CPack settings of the
# Debian package. Paths under /etc follow the prefix as GNUInstallDirs does: /etc for
# the prefix /usr (the package), PREFIX/etc otherwise.

# Man pages.
option(CRIO_BUILD_MAN "Build the man pages from docs/*.md (needs go-md2man)" ON)
if(CRIO_BUILD_MAN)
  find_program(GO_MD2MAN go-md2man)
  if(NOT GO_MD2MAN)
    message(FATAL_ERROR "go-md2man not found: install it (scripts/install-deps.sh does) or configure with "
                        "-DCRIO_BUILD_MAN=OFF")
  endif()
  file(GLOB crio_man_sources CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/docs/*.[0-9].md)
  set(crio_man_pages)
  foreach(md ${crio_man_sources})
    get_filename_component(page ${md} NAME_WLE)  # crio.conf.5
    string(REGEX MATCH "[0-9]$" section ${page})
    set(out ${PROJECT_BINARY_DIR}/man/${page})
    add_custom_command(OUTPUT ${out}
                       COMMAND ${CMAKE_COMMAND} -E make_directory ${PROJECT_BINARY_DIR}/man
                       COMMAND ${GO_MD2MAN} -in ${md} -out ${out}
                       DEPENDS ${md} COMMENT "Man page ${page}" VERBATIM)
    list(APPEND crio_man_pages ${out})
    install(FILES ${out} DESTINATION ${CMAKE_INSTALL_MANDIR}/man${section})
  endforeach()
  add_custom_target(man ALL DEPENDS ${crio_man_pages})
endif()

# pkg-config: one file per library, crio-<name>.pc, for its shared and static build.
set(crio_pc_core_requires "fmt")
set(crio_pc_core_private "tomlplusplus nlohmann_json libcrypto libarchive")
set(crio_pc_core_description "crio's core: configuration, status, storage, files and processes")
set(crio_pc_image_requires "crio-core")
set(crio_pc_image_private "libcurl libssl libcrypto nlohmann_json yaml-cpp gpgme tomlplusplus zlib libzstd")
set(crio_pc_image_description "crio's images: references, registries, pulls and signature policy")
set(crio_pc_oci_requires "crio-core")
set(crio_pc_oci_private "nlohmann_json")
set(crio_pc_oci_description "crio's OCI layer: runtime specs, runc/crun through conmon, cgroups")
set(crio_pc_net_requires "crio-core")
set(crio_pc_net_private "nlohmann_json")
set(crio_pc_net_description "crio's pod networking through CNI")
# ${pcfiledir} is <prefix>/<libdir>/pkgconfig: one ".." per element of both.
string(REGEX REPLACE "[^/]+" ".." CRIO_PC_UP "${CMAKE_INSTALL_LIBDIR}/pkgconfig")
foreach(name core image oci net)
  set(CRIO_PC_NAME ${name})
  set(CRIO_PC_REQUIRES ${crio_pc_${name}_requires})
  set(CRIO_PC_REQUIRES_PRIVATE ${crio_pc_${name}_private})
  set(CRIO_PC_DESCRIPTION ${crio_pc_${name}_description})
  configure_file(${PROJECT_SOURCE_DIR}/packaging/pkgconfig/crio.pc.in ${PROJECT_BINARY_DIR}/pkgconfig/crio-${name}.pc
                 @ONLY)
  install(FILES ${PROJECT_BINARY_DIR}/pkgconfig/crio-${name}.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
endforeach()

# Configuration and the unit. The install-time prefix decides /etc and the unit's
# ExecStart (cpack installs with the prefix /usr).
install(CODE "
  if(CMAKE_INSTALL_PREFIX STREQUAL \"/usr\")
    set(etc /etc)
  else()
    set(etc \"\${CMAKE_INSTALL_PREFIX}/etc\")
  endif()
  file(INSTALL DESTINATION \"\${etc}/crio\" TYPE FILE FILES \"${PROJECT_SOURCE_DIR}/packaging/crio.conf\")
")
install(CODE "
  set(CRIO_BINDIR \"\${CMAKE_INSTALL_PREFIX}/bin\")
  set(unit \"\$ENV{DESTDIR}\${CMAKE_INSTALL_PREFIX}/lib/systemd/system/crio.service\")
  message(STATUS \"Installing: \${unit}\")
  configure_file(\"${PROJECT_SOURCE_DIR}/packaging/crio.service.in\" \"\${unit}\" @ONLY)
")
install(FILES ${PROJECT_SOURCE_DIR}/packaging/policy.json DESTINATION ${CMAKE_INSTALL_DATADIR}/crio)
install(FILES ${PROJECT_SOURCE_DIR}/packaging/10-crio-bridge.conflist DESTINATION ${CMAKE_INSTALL_DATADIR}/crio/cni)
install(FILES ${PROJECT_SOURCE_DIR}/packaging/grafana/crio-dashboard.json DESTINATION ${CMAKE_INSTALL_DATADIR}/crio/grafana)

# A stripped installation (cpack, `cmake --install --strip`) drops the debug information
# of the static libraries too, as Debian does; CMake strips only binaries and shared
# libraries. The libraries are installed by then (install rules run in order).
install(CODE "
  if(CMAKE_INSTALL_DO_STRIP)
    file(GLOB archives \"\$ENV{DESTDIR}\${CMAKE_INSTALL_PREFIX}/${CMAKE_INSTALL_LIBDIR}/libcrio-*.a\")
    foreach(archive \${archives})
      execute_process(COMMAND \"${CMAKE_STRIP}\" --strip-debug \${archive} COMMAND_ERROR_IS_FATAL ANY)
    endforeach()
  endif()
")

# Shell completions, from `crio completion SHELL` of the installed build.
install(CODE "
  foreach(shell bash zsh fish)
    execute_process(COMMAND \"$<TARGET_FILE:crio>\" completion \${shell} RESULT_VARIABLE rc
                    OUTPUT_VARIABLE script ERROR_VARIABLE err)
    if(NOT rc EQUAL 0 OR script STREQUAL \"\")
      message(FATAL_ERROR \"crio completion \${shell} failed: \${err}\")
    endif()
    if(shell STREQUAL bash)
      set(file \"\${CMAKE_INSTALL_PREFIX}/share/bash-completion/completions/crio\")
    elseif(shell STREQUAL zsh)
      set(file \"\${CMAKE_INSTALL_PREFIX}/share/zsh/vendor-completions/_crio\")
    else()
      set(file \"\${CMAKE_INSTALL_PREFIX}/share/fish/vendor_completions.d/crio.fish\")
    endif()
    message(STATUS \"Installing: \$ENV{DESTDIR}\${file}\")
    file(WRITE \"\$ENV{DESTDIR}\${file}\" \"\${script}\")
  endforeach()
")

# The Debian package: `cpack -G DEB` in the build directory (see README).
# cpack (and the install target) package what the build directory holds instead of
# building everything first: tests are not packaged, so they need not be built. A
# missing binary or man page fails the installation.
set(CMAKE_SKIP_INSTALL_ALL_DEPENDENCY ON)
set(CPACK_PACKAGE_NAME crio)
set(CPACK_PACKAGE_VENDOR "crio")
set(CPACK_PACKAGE_CONTACT "crio maintainers <crio@localhost>")
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "Kubernetes CRI v1 daemon in C++, configured and behaving as CRI-O")
set(CPACK_GENERATOR DEB)
# Installed with DESTDIR and the prefix /usr, so /etc paths land in /etc.
set(CPACK_SET_DESTDIR ON)
set(CPACK_INSTALL_PREFIX /usr)
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION admin)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_COMPRESSION_TYPE gzip)
# As Debian ships binaries: without debug information (which is most of their size).
set(CPACK_STRIP_FILES ON)
set(CPACK_DEBIAN_PACKAGE_DEPENDS "conmon, runc | crun, containernetworking-plugins, iptables")
set(CPACK_DEBIAN_PACKAGE_RECOMMENDS "catatonit, crun")
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA ${PROJECT_SOURCE_DIR}/packaging/debian/conffiles)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
# Only the runtime's own install rules: the tests' and benchmarks' helpers stay out.
set(CPACK_INSTALL_CMAKE_PROJECTS "${PROJECT_BINARY_DIR};crio;ALL;/")
include(CPack)
