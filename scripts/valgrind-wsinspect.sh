#!/bin/sh
# wsinspect under valgrind's memcheck, for the integration tests: point
# WSI_BINARY at this script and each proxy the tests start runs under
# valgrind, with one report per process in $WSI_VALGRIND_DIR. The binary is
# $WSI_VALGRIND_BINARY (default build/wsinspect, a Release build). SECURITY.md
# gives the command and what to look for.
here=$(cd "$(dirname "$0")/.." && pwd)
binary=${WSI_VALGRIND_BINARY:-$here/build/wsinspect}
dir=${WSI_VALGRIND_DIR:-/tmp/wsinspect-valgrind}
mkdir -p "$dir"
exec valgrind --leak-check=full --show-leak-kinds=definite,indirect,possible \
  --errors-for-leak-kinds=definite,indirect --track-fds=yes \
  --log-file="$dir/%p.log" "$binary" "$@"
