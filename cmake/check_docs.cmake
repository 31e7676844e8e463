# cmake -DDOXYGEN=... -DDOXYFILE=... -DLOG=... -P check_docs.cmake
# Runs Doxygen and fails when it wrote any warning (an undocumented public
# declaration, a malformed command), printing them.
execute_process(COMMAND ${DOXYGEN} ${DOXYFILE} RESULT_VARIABLE rc OUTPUT_QUIET ERROR_VARIABLE err)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "doxygen failed (${rc}): ${err}")
endif()
file(STRINGS ${LOG} warnings)
list(LENGTH warnings count)
message(STATUS "doxygen: ${count} warnings")
if(count GREATER 0)
  string(REPLACE ";" "\n" text "${warnings}")
  message(FATAL_ERROR "API reference incomplete:\n${text}")
endif()
