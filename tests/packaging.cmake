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

# test_plots: the pure parts of mlp_names' SVG plots (examples/).
target_link_libraries(test_plots PRIVATE mlp_plots)

# mlp_names --plot-loss/--plot-emb: well-formed (xmllint) and not blank when
# rendered by headless Chromium; skipped (with a message) without chromium.
if(TARGET mlp_names)
  add_test(NAME svg_render COMMAND sh ${PROJECT_SOURCE_DIR}/tools/check_svg_render.sh $<TARGET_FILE:mlp_names>)
  set_tests_properties(svg_render PROPERTIES SKIP_RETURN_CODE 77)
endif()
