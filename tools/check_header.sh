#!/bin/sh
# check_header.sh CC CXX INCLUDE_DIR GENERATED_INCLUDE_DIR LIBTENSOR_A
#
# Header hygiene for include/libtensor.h, the library's only public header:
#  1. it compiles alone, twice included, as C11 with -Wall -Wextra -Wpedantic -Werror;
#  2. the same as C++11 (CXX may be empty: then a visible SKIP line), and a C++
#     program linked against the static library calls it (extern "C" works);
#  3. every macro it defines, every type, tag, enumerator and function it
#     declares, and every external symbol of the static library starts with
#     LT_/lt_ (tools/check_header_names.py), so nothing can clash with user code.
set -eu
cc=$1 cxx=$2 inc=$3 geninc=$4 lib=$5
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
flags="-Wall -Wextra -Wpedantic -Werror -I$inc -I$geninc"

cat > "$tmp/use.c" <<'SRC'
#include "libtensor.h"
#include "libtensor.h" /* the include guard works */
int main(void)
{
    lt_shape s = LT_SHAPE(2, 3);
    lt_ctx *ctx = lt_ctx_new();
    lt_tensor *t = lt_zeros(ctx, LT_F32, s);
    int ok = t && lt_numel(t) == 6 && lt_version_number() == LT_VERSION_NUMBER;
    lt_ctx_free(ctx);
    return ok ? 0 : 1;
}
SRC
"$cc" -std=c11 $flags -c "$tmp/use.c" -o "$tmp/use_c.o"
echo "header: compiles as C11 (-Wall -Wextra -Wpedantic -Werror)"

if [ -n "$cxx" ] && [ "${cxx%NOTFOUND}" = "$cxx" ]; then
  cp "$tmp/use.c" "$tmp/use.cpp"
  "$cxx" -std=c++11 $flags -c "$tmp/use.cpp" -o "$tmp/use_cpp.o"
  # shellcheck disable=SC2086 # LT_CHECK_LDFLAGS: e.g. the sanitizer flags the library was built with
  "$cxx" "$tmp/use_cpp.o" "$lib" -lm -lpthread ${LT_CHECK_LDFLAGS:-} -o "$tmp/use_cpp"
  "$tmp/use_cpp"
  echo "header: compiles as C++11 (-Wall -Wextra -Wpedantic -Werror); a C++ program links and runs"
else
  echo "header: SKIP the C++ check: no C++ compiler found"
fi

python3 "$here/check_header_names.py" "$cc" "$inc" "$geninc" "$lib"
