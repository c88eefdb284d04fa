#!/usr/bin/env bash
# install_embed: does an installed libchat work for the programs that embed it?
#
#   run.sh BUILD_DIR SOURCE_DIR LIBDIR INCLUDEDIR VERSION [CONFIG]
#
# Installs BUILD_DIR into a scratch prefix, then builds SOURCE_DIR/examples/embed.c
# against that prefix only, three ways, and runs each binary's scenario (sign up,
# create #random-thoughts, post, read the history):
#   1. cc + `pkg-config --cflags --libs libchat`  (shared libchat.so, rpath)
#   2. cc + `pkg-config --static --libs libchat`  (libchat.a, deps from Libs.private)
#   3. an out-of-tree CMake project: find_package(libchat) + chat::chat
# and checks that the installed libchat.so exports nothing but chat_* symbols.
#
# Environment (set by tests/install/CMakeLists.txt): CHAT_CC, CHAT_CMAKE,
# CHAT_PKG_CONFIG, CHAT_NM, CHAT_SAN_FLAGS (the -fsanitize flags of a CHAT_SANITIZE
# build, which every consumer must be built with too), CHAT_KEEP_TMP=1 keeps the
# scratch directory for a post-mortem.
# Exit codes: 0 pass, 1 fail, 77 skip (ctest SKIP_RETURN_CODE).
set -euo pipefail

if [ $# -lt 5 ]; then
    echo "usage: $0 BUILD_DIR SOURCE_DIR LIBDIR INCLUDEDIR VERSION [CONFIG]" >&2
    exit 1
fi
build_dir=$1 source_dir=$2 libdir_rel=$3 incdir_rel=$4 version=$5 config=${6:-}
cc=${CHAT_CC:-cc}
cmake=${CHAT_CMAKE:-cmake}
pkg_config=${CHAT_PKG_CONFIG:-pkg-config}
nm=${CHAT_NM:-nm}
read -r -a san <<<"${CHAT_SAN_FLAGS:-}"
here=$(cd "$(dirname "$0")" && pwd)
embed_c=$source_dir/examples/embed.c

fail() { echo "FAIL: $*" >&2; exit 1; }
step() { echo; echo "== $*"; }

case $libdir_rel$incdir_rel in
/*) echo "SKIP: absolute CMAKE_INSTALL_LIBDIR/INCLUDEDIR cannot be relocated into a scratch prefix"
    exit 77 ;;
esac
[ -f "$embed_c" ] || fail "no $embed_c"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/libchat-install.XXXXXX")
cleanup() {
    if [ "${CHAT_KEEP_TMP:-0}" = 1 ]; then echo "kept $tmp"; else rm -rf "$tmp"; fi
}
trap cleanup EXIT
prefix=$tmp/prefix
libdir=$prefix/$libdir_rel
pcdir=$libdir/pkgconfig

# Asserts that OUT (the stdout of one embed run) tells the whole scenario and that
# the history holds WANT copies of the greeting, posted by the user signed in.
check_scenario() {
    local out=$1 want=$2 uid n
    cat "$out"
    uid=$(sed -n 's/^signed up ada@example\.com as \([^ ]\{1,\}\)$/\1/p' "$out")
    [ -n "$uid" ] || fail "$out: no 'signed up ada@example.com as <id>' line"
    grep -Eq '^channel #random-thoughts is [^ ]+$' "$out" ||
        fail "$out: no 'channel #random-thoughts is <id>' line"
    grep -Eq '^posted at [^ ]+$' "$out" || fail "$out: no 'posted at <ts>' line"
    grep -Fqx "history of #random-thoughts ($want messages):" "$out" ||
        fail "$out: no 'history of #random-thoughts ($want messages):' line"
    n=$(grep -Ec "^  \[[^]]+\] $uid: Hello from an embedded libchat!\$" "$out" || true)
    [ "$n" = "$want" ] ||
        fail "$out: $n history lines '[ts] $uid: Hello from an embedded libchat!', expected $want"
}

# run NAME BINARY DATA_DIR WANT: runs one scenario from a neutral directory.
run_embed() {
    local name=$1 bin=$2 data=$3 want=$4 rc=0
    step "run $name (data $data)"
    (cd "$tmp" && "$bin" "$data") >"$tmp/$name.out" 2>"$tmp/$name.err" || rc=$?
    if [ $rc -ne 0 ]; then
        cat "$tmp/$name.out" "$tmp/$name.err" >&2
        fail "$name exited with $rc"
    fi
    cat "$tmp/$name.err" >&2
    check_scenario "$tmp/$name.out" "$want"
}

# The dynamic loader must pick libchat.so.0 from the prefix, not from anywhere else.
check_loads_from_prefix() {
    local bin=$1 got
    got=$(ldd "$bin" | sed -n 's/^[[:space:]]*libchat\.so\.0 => \([^ ]*\) .*/\1/p')
    [ -n "$got" ] || { ldd "$bin" >&2; fail "$bin: libchat.so.0 not resolved"; }
    [ "$(realpath "$got")" = "$(realpath "$libdir/libchat.so.0")" ] ||
        fail "$bin loads $got, not the installed $libdir/libchat.so.0"
}

step "cmake --install $build_dir --prefix $prefix"
"$cmake" --install "$build_dir" --prefix "$prefix" ${config:+--config "$config"} >"$tmp/install.log" ||
    { cat "$tmp/install.log" >&2; fail "cmake --install"; }
for f in "$libdir/libchat.so" "$libdir/libchat.so.0" "$libdir/libchat.a" \
         "$pcdir/libchat.pc" "$libdir/cmake/libchat/libchatConfig.cmake" \
         "$libdir/cmake/libchat/libchatConfigVersion.cmake" \
         "$libdir/cmake/libchat/libchatTargets.cmake" "$prefix/$incdir_rel/chat/chat.h"; do
    [ -e "$f" ] || fail "not installed: $f"
done

step "exported symbols of libchat.so"
"$nm" -D --defined-only "$libdir/libchat.so" | awk 'NF >= 3 { print $3 }' | sort >"$tmp/exports"
echo "$(wc -l <"$tmp/exports") symbols"
grep -qx chat_open "$tmp/exports" || fail "libchat.so does not export chat_open"
if grep -v '^chat_' "$tmp/exports" >"$tmp/stray"; then
    cat "$tmp/stray" >&2
    fail "libchat.so exports symbols outside chat_* (hidden visibility, CHAT_API)"
fi

# Only the prefix's .pc; the system directories still serve sqlite3, jansson, ...
export PKG_CONFIG_PATH=$pcdir
unset PKG_CONFIG_SYSROOT_DIR PKG_CONFIG_ALLOW_SYSTEM_CFLAGS PKG_CONFIG_ALLOW_SYSTEM_LIBS

step "pkg-config: shared"
"$pkg_config" --exists --print-errors libchat || fail "pkg-config cannot use libchat.pc"
pcver=$("$pkg_config" --modversion libchat)
[ "$pcver" = "$version" ] || fail "pkg-config --modversion says $pcver, expected $version"
read -r -a cflags <<<"$("$pkg_config" --cflags libchat)"
read -r -a libs <<<"$("$pkg_config" --libs libchat)"
echo "cflags: ${cflags[*]}"
echo "libs:   ${libs[*]}"
# The .pc must point at this prefix, wherever it was configured to go.
pc_inc=$("$pkg_config" --variable=includedir libchat)
pc_lib=$("$pkg_config" --variable=libdir libchat)
[ "$(realpath "$pc_inc")" = "$(realpath "$prefix/$incdir_rel")" ] ||
    fail "libchat.pc includedir is $pc_inc, not in $prefix"
[ "$(realpath "$pc_lib")" = "$(realpath "$libdir")" ] ||
    fail "libchat.pc libdir is $pc_lib, not in $prefix"
# Strict C11: the installed headers must not need _GNU_SOURCE or warn.
"$cc" -std=c11 -Wall -Wextra -Werror ${san[@]+"${san[@]}"} -o "$tmp/embed-pc" "$embed_c" \
    "${cflags[@]}" "${libs[@]}" -Wl,-rpath,"$libdir" || fail "cc with pkg-config --libs"
check_loads_from_prefix "$tmp/embed-pc"
run_embed embed-pc "$tmp/embed-pc" "$tmp/data-pc" 1

step "pkg-config: static"
read -r -a slibs <<<"$("$pkg_config" --static --libs libchat)"
echo "libs:   ${slibs[*]}"
# -lchat would find libchat.so first; take libchat.a by name, everything else as listed.
sargs=()
for a in "${slibs[@]}"; do
    if [ "$a" = -lchat ]; then sargs+=("-l:libchat.a"); else sargs+=("$a"); fi
done
"$cc" -std=c11 -Wall -Wextra -Werror ${san[@]+"${san[@]}"} -o "$tmp/embed-static" "$embed_c" \
    "${cflags[@]}" "${sargs[@]}" || fail "cc with pkg-config --static --libs (Libs.private incomplete?)"
if readelf -d "$tmp/embed-static" | grep -q 'NEEDED.*libchat'; then
    fail "embed-static still needs libchat.so"
fi
run_embed embed-static "$tmp/embed-static" "$tmp/data-static" 1

step "CMake: find_package(libchat) + chat::chat"
"$cmake" -S "$here/consumer" -B "$tmp/consumer" \
    -DCMAKE_C_COMPILER="$cc" \
    -DCMAKE_PREFIX_PATH="$prefix" \
    -DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF \
    -DCMAKE_FIND_USE_SYSTEM_PACKAGE_REGISTRY=OFF \
    -DCMAKE_C_FLAGS="${san[*]:-}" -DCMAKE_EXE_LINKER_FLAGS="${san[*]:-}" \
    -DEMBED_SOURCE="$embed_c" -DCHAT_EXPECT_PREFIX="$prefix" \
    -DCHAT_EXPECT_VERSION="$version" >"$tmp/consumer-configure.log" 2>&1 ||
    { cat "$tmp/consumer-configure.log" >&2; fail "configuring the find_package consumer"; }
"$cmake" --build "$tmp/consumer" >"$tmp/consumer-build.log" 2>&1 ||
    { cat "$tmp/consumer-build.log" >&2; fail "building the find_package consumer"; }
check_loads_from_prefix "$tmp/consumer/embed"
run_embed embed-cmake "$tmp/consumer/embed" "$tmp/data-cmake" 1

# embed.c's second-run path (login, find the channel) on data written by another
# build of the same library: the history now holds two greetings.
run_embed embed-cmake-again "$tmp/consumer/embed" "$tmp/data-pc" 2

echo
echo "PASS: installed libchat $version works through pkg-config (shared, static) and find_package"
