# Install rules: the header pair, both libraries, a CMake package
# (find_package(libtensor) -> libtensor::tensor) and a pkg-config file.
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

set(LT_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/libtensor)

foreach(t tensor_static tensor_shared)
  target_include_directories(${t} INTERFACE "$<INSTALL_INTERFACE:${CMAKE_INSTALL_INCLUDEDIR}>")
endforeach()
set_target_properties(tensor_static PROPERTIES EXPORT_NAME tensor_static)
set_target_properties(tensor_shared PROPERTIES EXPORT_NAME tensor_shared)

install(TARGETS tensor_static tensor_shared EXPORT libtensorTargets
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR} NAMELINK_COMPONENT Development
  RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(FILES include/libtensor.h ${PROJECT_BINARY_DIR}/include/libtensor_version.h
  DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})

install(EXPORT libtensorTargets NAMESPACE libtensor:: DESTINATION ${LT_CMAKE_DIR})
configure_package_config_file(cmake/libtensorConfig.cmake.in
  ${PROJECT_BINARY_DIR}/libtensorConfig.cmake INSTALL_DESTINATION ${LT_CMAKE_DIR})
write_basic_package_version_file(${PROJECT_BINARY_DIR}/libtensorConfigVersion.cmake
  COMPATIBILITY SameMajorVersion)
install(FILES ${PROJECT_BINARY_DIR}/libtensorConfig.cmake ${PROJECT_BINARY_DIR}/libtensorConfigVersion.cmake
  DESTINATION ${LT_CMAKE_DIR})

# pkg-config: paths relative to the .pc file's own prefix so the tree can move.
if(IS_ABSOLUTE "${CMAKE_INSTALL_LIBDIR}")
  set(LT_PC_LIBDIR "${CMAKE_INSTALL_LIBDIR}")
else()
  set(LT_PC_LIBDIR "\${prefix}/${CMAKE_INSTALL_LIBDIR}")
endif()
if(IS_ABSOLUTE "${CMAKE_INSTALL_INCLUDEDIR}")
  set(LT_PC_INCLUDEDIR "${CMAKE_INSTALL_INCLUDEDIR}")
else()
  set(LT_PC_INCLUDEDIR "\${prefix}/${CMAKE_INSTALL_INCLUDEDIR}")
endif()
# A program linked with `pkg-config --libs libtensor` against a prefix the
# dynamic linker does not search (anything but /usr; /usr/local too until
# ldconfig runs) would fail to start with "libtensor.so.0: cannot open shared
# object file". Such prefixes get an rpath in the .pc file's Libs line.
if(CMAKE_INSTALL_PREFIX STREQUAL "/usr")
  set(LT_PC_RPATH_DEFAULT OFF)
else()
  set(LT_PC_RPATH_DEFAULT ON)
endif()
option(LT_PKGCONFIG_RPATH "libtensor.pc adds -Wl,-rpath,<libdir> for the shared library" ${LT_PC_RPATH_DEFAULT})
if(LT_PKGCONFIG_RPATH)
  set(LT_PC_RPATH " -Wl,-rpath,\${libdir}")
else()
  set(LT_PC_RPATH "")
endif()
configure_file(cmake/libtensor.pc.in ${PROJECT_BINARY_DIR}/libtensor.pc @ONLY)
install(FILES ${PROJECT_BINARY_DIR}/libtensor.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
