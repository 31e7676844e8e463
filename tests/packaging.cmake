# Tests of the library as a package (included by tests/CMakeLists.txt):
# the version, the public header's hygiene, and the example's plots.

# test_version compares the generated header with project()'s number.
target_compile_definitions(test_version PRIVATE LT_TEST_PROJECT_VERSION="${PROJECT_VERSION}")

# The public header compiles alone, warning-free, as C11 and as C++11, and
# defines nothing outside the LT_/lt_ prefix (tools/check_header.sh).
find_program(LT_CXX_COMPILER NAMES c++ g++ clang++)
add_test(NAME header_hygiene
  COMMAND sh ${PROJECT_SOURCE_DIR}/tools/check_header.sh ${CMAKE_C_COMPILER} "${LT_CXX_COMPILER}"
          ${PROJECT_SOURCE_DIR}/include ${PROJECT_BINARY_DIR}/include $<TARGET_FILE:tensor_static>)
