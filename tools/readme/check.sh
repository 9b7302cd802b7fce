#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Compile every ```c block of a Markdown file (README.md).
#
#   tools/readme/check.sh README.md OUTDIR      (CC, CFLAGS from the environment)
#
# Rules, kept simple on purpose:
#  - Each ```c block is its own translation unit, with `#include "asyncio.h"`,
#    <stdio.h> and <string.h> put in front: a block may be a fragment of
#    top-level code (a frame struct, a coroutine, a handler). Unused static
#    functions are fine.
#  - A block whose first line contains `continued` is appended to the block
#    before it (to build on its declarations).
#  - A block that defines `int main` is also linked with port_posix.c ($PORT)
#    and, unless it defines ASYNCIO_IMPLEMENTATION itself, src/asyncio.c.
# Compiler messages point at README.md line numbers (#line).
set -euo pipefail
md=${1:-README.md}
out=${2:-build/readme}
CC=${CC:-cc}
PORT=${PORT:-port_posix.c}
CFLAGS=${CFLAGS:--std=c99 -Wall -Wextra -Wpedantic -Werror}
rm -rf "$out"
mkdir -p "$out"

awk -v dir="$out" -v md="$md" '
/^```c[ \t]*$/ { inblk = 1; first = 1; next }
inblk && /^```[ \t]*$/ { inblk = 0; next }
inblk {
    if (first) {
        first = 0
        if (!($0 ~ /continued/ && n > 0)) {
            n++
            file = sprintf("%s/block_%02d.c", dir, n)
            print "#include \"asyncio.h\"\n#include <stdio.h>\n#include <string.h>" >> file
        }
        printf "#line %d \"%s\"\n", NR, md >> file
    }
    print >> file
}
END { if (inblk) { print md ": unterminated ```c block" > "/dev/stderr"; exit 1 } }
' "$md"

n=0
linked=0
for f in "$out"/block_*.c; do
    [ -e "$f" ] || continue
    n=$((n + 1))
    if grep -q '^int main' "$f"; then
        # shellcheck disable=SC2086
        core=src/asyncio.c
        grep -q '^#define ASYNCIO_IMPLEMENTATION' "$f" && core=
        $CC $CFLAGS -Wno-unused-function -I. "$f" "$PORT" $core -o "${f%.c}"
        linked=$((linked + 1))
    else
        # shellcheck disable=SC2086
        $CC $CFLAGS -Wno-unused-function -I. -c "$f" -o "${f%.c}.o"
    fi
done
[ "$n" -gt 0 ] || { echo "readme: no \`\`\`c blocks in $md" >&2; exit 1; }
echo "ok   $md: $n C blocks compiled, $linked linked"
