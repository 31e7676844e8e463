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
if(LT_SANITIZE)
  set_tests_properties(header_hygiene PROPERTIES ENVIRONMENT "LT_CHECK_LDFLAGS=-fsanitize=${LT_SANITIZERS}")
endif()

# test_plots: the pure parts of mlp_names' SVG plots (examples/).
target_link_libraries(test_plots PRIVATE mlp_plots)

# mlp_names --plot-loss/--plot-emb: well-formed (xmllint) and not blank when
# rendered by headless Chromium; skipped (with a message) without chromium.
if(TARGET mlp_names)
  add_test(NAME svg_render COMMAND sh ${PROJECT_SOURCE_DIR}/tools/check_svg_render.sh $<TARGET_FILE:mlp_names>)
  set_tests_properties(svg_render PROPERTIES SKIP_RETURN_CODE 77)
endif()

# docs/tutorial.md: its C blocks are verbatim excerpts of examples/tutorial.c
# (tutorial_in_sync), and that program runs a short training on names.txt
# (tutorial_run; skipped with a message when the data set is absent).
add_test(NAME tutorial_in_sync
  COMMAND ${CMAKE_COMMAND} -DMD=${PROJECT_SOURCE_DIR}/docs/tutorial.md -DSRC=${PROJECT_SOURCE_DIR}/examples/tutorial.c
          -P ${PROJECT_SOURCE_DIR}/cmake/check_tutorial.cmake)
if(TARGET tutorial)
  set(LT_NAMES_TXT ${PROJECT_SOURCE_DIR}/../shared/data/names.txt)
  # the notebook's split sizes, parameter count and initial dev loss
  add_test(NAME tutorial_run COMMAND sh -c [=[
    if [ ! -f "$1" ]; then echo "SKIP: $1 not found (names.txt from karpathy/makemore)"; exit 77; fi
    out=$("$0" "$1" 2000) || { echo "$out"; exit 1; }
    echo "$out"
    for want in "X (182625, 3)  Y (182625)" "X (22655, 3)  Y (22655)" "parameters: 11897" "0 26.0105"; do
      echo "$out" | grep -qF "$want" || { echo "FAIL: output lacks '$want'"; exit 1; }
    done]=] $<TARGET_FILE:tutorial> ${LT_NAMES_TXT})
  set_tests_properties(tutorial_run PROPERTIES SKIP_RETURN_CODE 77)
endif()
