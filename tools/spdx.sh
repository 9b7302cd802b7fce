#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# SPDX license identifiers in every tracked source file.
#
#   tools/spdx.sh           add the line where it is missing (idempotent)
#   tools/spdx.sh --check   list the files without it; exit 1 if there are any
#
# C sources, headers and linker scripts (*.c, *.h, *.ld) get
#     /* SPDX-License-Identifier: MIT */
# as their first line. Makefiles, *.mk, shell and Python scripts, CMake files
# (CMakeLists.txt, *.cmake, *.cmake.in) and any other script with a #! line
# get
#     # SPDX-License-Identifier: MIT
# as their first line, or as the second, right after the #! line.
# Only files git tracks are looked at (run it after `git add` for new ones).
#
# This file is one of those it edits: everything runs inside main(), and the
# call is on the last line together with the exit, so bash has read the whole
# script before the file changes under it.
set -euo pipefail

LICENSE_ID=MIT
C_LINE="/* SPDX-License-Identifier: $LICENSE_ID */"
HASH_LINE="# SPDX-License-Identifier: $LICENSE_ID"

# style FILE: "c", "hash" or "" (not a source file).
style() {
    case "$1" in
    *.c | *.h | *.ld) echo c ;;
    Makefile | */Makefile | *.mk | *.sh | *.py | CMakeLists.txt | */CMakeLists.txt | *.cmake | *.cmake.in)
        echo hash ;;
    *)
        if head -c 2 "$1" | grep -q '^#!'; then echo hash; fi ;;
    esac
}

# has_line FILE STYLE: the identifier is where it belongs.
has_line() {
    local first second
    first=$(sed -n 1p "$1")
    if [ "$2" = c ]; then
        [ "$first" = "$C_LINE" ]
    else
        second=$(sed -n 2p "$1")
        [ "$first" = "$HASH_LINE" ] || { [ "${first#\#!}" != "$first" ] && [ "$second" = "$HASH_LINE" ]; }
    fi
}

# add_line FILE STYLE
add_line() {
    local tmp
    tmp=$(mktemp)
    if [ "$2" = c ]; then
        { printf '%s\n' "$C_LINE"; cat "$1"; } >"$tmp"
    elif head -c 2 "$1" | grep -q '^#!'; then
        { sed -n 1p "$1"; printf '%s\n' "$HASH_LINE"; sed 1d "$1"; } >"$tmp"
    else
        { printf '%s\n' "$HASH_LINE"; cat "$1"; } >"$tmp"
    fi
    cat "$tmp" >"$1" # keeps the file's mode
    rm -f "$tmp"
}

main() {
    local check=0 missing=0 added=0 total=0 f s
    case "${1:-}" in
    --check) check=1 ;;
    "") ;;
    *) echo "usage: tools/spdx.sh [--check]" >&2; return 2 ;;
    esac
    cd "$(git rev-parse --show-toplevel)"

    while IFS= read -r -d '' f; do
        [ -f "$f" ] || continue # deleted in the work tree
        s=$(style "$f")
        [ -n "$s" ] || continue
        total=$((total + 1))
        has_line "$f" "$s" && continue
        if [ "$check" = 1 ]; then
            echo "$f"
            missing=$((missing + 1))
        else
            add_line "$f" "$s"
            added=$((added + 1))
        fi
    done < <(git ls-files -z)

    if [ "$check" = 1 ]; then
        if [ "$missing" -gt 0 ]; then
            echo "spdx: $missing of $total source files have no SPDX-License-Identifier line" >&2
            return 1
        fi
        echo "spdx: all $total source files have their SPDX-License-Identifier line"
    else
        echo "spdx: added the line to $added files ($total source files)"
    fi
}

main "$@"; exit $?
