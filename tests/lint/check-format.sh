#!/bin/sh
# Fails when a C file differs from what the project's .clang-format makes of it.
cd "$1" || exit 1
files=$(git ls-files 'src/*.[ch]' 'include/*.h' 'tests/*.[ch]' 'examples/*.[ch]' 'bench/*.[ch]' 'fuzz/*.[ch]' 2>/dev/null)
[ -n "$files" ] || files=$(find src include tests examples bench fuzz -name '*.[ch]' 2>/dev/null)
# shellcheck disable=SC2086
clang-format --dry-run -Werror $files
