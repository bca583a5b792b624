#!/usr/bin/env bash
# Static checks on the project's own C sources: clang-format (the project's .clang-format),
# cppcheck, and clang-tidy (.clang-tidy) against the build's compile_commands.json.
#   tests/lint.sh BUILD_DIR
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:?usage: tests/lint.sh BUILD_DIR}
mapfile -t includes < <(find engine gateway -type d -printf '-I%p\n')
mapfile -t sources < <(git ls-files '*.c' '*.h' 2>/dev/null || find engine gateway proto examples tests -name '*.[ch]')
[ ${#sources[@]} -gt 0 ] || { echo "lint: no sources"; exit 1; }
status=0

echo "lint: clang-format on ${#sources[@]} files"
clang-format --dry-run -Werror "${sources[@]}" || status=1

echo "lint: cppcheck"
# ctu*: cppcheck's cross-unit analysis mistakes the several functions one pipe macro expands to on
# a single line for one another (false positives that vanish on the preprocessed file).
cppcheck --quiet --error-exitcode=1 --std=c11 --enable=warning,portability,performance \
    --inline-suppr --suppress=missingIncludeSystem --suppress=ctuuninitvar \
    --suppress=ctunullpointer -D_GNU_SOURCE "${includes[@]}" \
    "${sources[@]}" || status=1

echo "lint: clang-tidy"
mapfile -t units < <(printf '%s\n' "${sources[@]}" | grep '\.c$' | grep -v '^tests/fuzz/')
if [ -f "$build/compile_commands.json" ]; then
    findings=$(clang-tidy --quiet -p "$build" "${units[@]}" 2>/dev/null | grep -E 'warning:|error:' || true)
    [ -n "$findings" ] && echo "$findings" && status=1
else
    echo "lint: $build/compile_commands.json missing" && status=1
fi
[ $status -eq 0 ] && echo "lint: clean"
exit $status
