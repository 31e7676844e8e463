#!/bin/sh
# consumer_test.sh [BUILD_DIR] - libtensor as other programs see it.
#
# Builds and installs the library into a temporary prefix, then builds and
# runs tests/consumer/main.c (a program outside the tree) six ways:
#   1. CMake find_package(libtensor) -> libtensor::tensor (shared)
#   1b. the same with -Dlibtensor_USE_STATIC=ON           (static)
#   2. cc $(pkg-config --cflags --libs libtensor)           (shared)
#   3. cc $(pkg-config --static ...) against libtensor.a     (static)
#   4. CMake add_subdirectory(<source tree>)                 (static, tests off)
#   5. CMake FetchContent (SOURCE_DIR = the source tree)      (static, tests off)
# and checks the installed tree (header pair, libtensor.so.MAJOR soname, the
# CMake package, libtensor.pc). Exits non-zero on the first failure.
set -eu
src=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
prefix=$work/prefix
cc=${CC:-cc}

echo "-- build and install into a temporary prefix"
cmake -S "$src" -B "$work/lib" -DCMAKE_BUILD_TYPE=Release -DLT_BUILD_TESTS=OFF -DLT_BUILD_EXAMPLES=OFF \
  -DLT_BUILD_BENCH=OFF -DCMAKE_INSTALL_PREFIX="$prefix" >/dev/null
cmake --build "$work/lib" -j2 >/dev/null
cmake --install "$work/lib" >/dev/null
(cd "$prefix" && find . -type f -o -type l | sort | sed 's/^/   /')
libdir=$(dirname "$(find "$prefix" -name libtensor.pc)")/..
soname=$(objdump -p "$libdir/libtensor.so" | awk '/SONAME/ {print $2}')
major=$(sed -n 's/^#define LT_VERSION_MAJOR \([0-9]*\)/\1/p' "$prefix/include/libtensor_version.h")
[ "$soname" = "libtensor.so.$major" ] || { echo "FAIL: soname '$soname', want libtensor.so.$major"; exit 1; }
echo "   soname $soname"

echo "-- 1. CMake find_package(libtensor)"
cmake -S "$src/tests/consumer" -B "$work/pkg" -DCMAKE_PREFIX_PATH="$prefix" >"$work/log" 2>&1 ||
  { cat "$work/log"; exit 1; }
grep 'libtensor .* from' "$work/log" | sed 's/^-- /   /'
cmake --build "$work/pkg" >/dev/null
ldd "$work/pkg/consumer" | grep -q "libtensor.so.$major" || { echo "FAIL: not linked to libtensor.so.$major"; exit 1; }
"$work/pkg/consumer"

echo "-- 1b. CMake find_package(libtensor) with libtensor_USE_STATIC=ON"
cmake -S "$src/tests/consumer" -B "$work/pkgs" -DCMAKE_PREFIX_PATH="$prefix" -Dlibtensor_USE_STATIC=ON >/dev/null
cmake --build "$work/pkgs" >/dev/null
if ldd "$work/pkgs/consumer" | grep -q libtensor; then echo "FAIL: libtensor_USE_STATIC build uses libtensor.so"; exit 1; fi
"$work/pkgs/consumer"

echo "-- 2. cc \$(pkg-config --cflags --libs libtensor), shared"
export PKG_CONFIG_PATH="$libdir/pkgconfig"
echo "   pkg-config: $(pkg-config --modversion libtensor): $(pkg-config --cflags --libs libtensor)"
# shellcheck disable=SC2046
"$cc" -std=c11 -Wall -Wextra -Wpedantic -Werror "$src/tests/consumer/main.c" -o "$work/shared" \
  $(pkg-config --cflags --libs libtensor) -lm
# no LD_LIBRARY_PATH: the .pc file of a non-system prefix carries an rpath
"$work/shared"
ldd "$work/shared" | grep -q "$libdir.*libtensor.so.$major\|$(cd "$libdir" && pwd)/libtensor.so.$major" ||
  { echo "FAIL: not linked to the prefix's libtensor.so.$major"; ldd "$work/shared"; exit 1; }

echo "-- 3. cc \$(pkg-config --static --libs libtensor) with libtensor.a"
static_libs=$(pkg-config --static --libs libtensor | sed 's/-ltensor/-l:libtensor.a/')
echo "   pkg-config --static: $(pkg-config --static --libs libtensor)"
# shellcheck disable=SC2046,SC2086
"$cc" -std=c11 -Wall -Wextra -Wpedantic -Werror "$src/tests/consumer/main.c" -o "$work/static" \
  $(pkg-config --cflags libtensor) $static_libs
if ldd "$work/static" | grep -q libtensor; then echo "FAIL: static build uses libtensor.so"; exit 1; fi
"$work/static"

echo "-- 4. CMake add_subdirectory(libtensor source tree)"
cmake -S "$src/tests/consumer" -B "$work/sub" -DLT_CONSUMER_MODE=subdirectory -DLT_SOURCE_DIR="$src" \
  >"$work/log" 2>&1 || { cat "$work/log"; exit 1; }
cmake --build "$work/sub" -j2 >/dev/null
"$work/sub/consumer"
echo "-- 5. CMake FetchContent(libtensor SOURCE_DIR <source tree>)"
cmake -S "$src/tests/consumer" -B "$work/fetch" -DLT_CONSUMER_MODE=fetchcontent -DLT_SOURCE_DIR="$src" \
  >"$work/log" 2>&1 || { cat "$work/log"; exit 1; }
cmake --build "$work/fetch" -j2 >/dev/null
"$work/fetch/consumer"
echo "consumer test: all six builds ran"
