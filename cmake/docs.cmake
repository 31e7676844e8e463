# The API reference: `cmake --build build --target docs` runs Doxygen over
# the public header into build/docs/html (warnings in build/docs/warnings.log).
find_package(Doxygen QUIET)
if(DOXYGEN_FOUND AND LT_TOP_LEVEL)
  set(LT_DOCS_OUTPUT ${PROJECT_BINARY_DIR}/docs)
  configure_file(${CMAKE_CURRENT_LIST_DIR}/../docs/Doxyfile.in ${LT_DOCS_OUTPUT}/Doxyfile @ONLY)
  add_custom_target(docs
    COMMAND ${DOXYGEN_EXECUTABLE} ${LT_DOCS_OUTPUT}/Doxyfile
    COMMAND ${CMAKE_COMMAND} -E echo "API reference: ${LT_DOCS_OUTPUT}/html/index.html"
    WORKING_DIRECTORY ${PROJECT_SOURCE_DIR}
    DEPENDS ${PROJECT_SOURCE_DIR}/include/libtensor.h
    COMMENT "Doxygen: the API reference from include/libtensor.h"
    VERBATIM)
endif()

# Every public declaration documented: Doxygen's warnings (undocumented
# members, bad commands) fail this test. Runs only where doxygen exists.
if(DOXYGEN_FOUND AND LT_TOP_LEVEL AND LT_BUILD_TESTS)
  add_test(NAME api_docs_complete
    COMMAND ${CMAKE_COMMAND} -DDOXYGEN=${DOXYGEN_EXECUTABLE} -DDOXYFILE=${LT_DOCS_OUTPUT}/Doxyfile
            -DLOG=${LT_DOCS_OUTPUT}/warnings.log -P ${CMAKE_CURRENT_LIST_DIR}/check_docs.cmake
    WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
endif()
