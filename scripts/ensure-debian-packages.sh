#!/usr/bin/env bash
# Install the Debian packages the test suite drives for real, when they are missing:
#   postgresql - the store tests start a throwaway PostgreSQL server of their own;
#   chromium   - the report tests open HTML reports in headless Chromium (driven by
#                Playwright with executable_path=/usr/bin/chromium; no browser download).
# This only installs. Tests that need a missing one are skipped with a loud reason.
set -u
missing=()
have() { for candidate in "$@"; do command -v "$candidate" >/dev/null 2>&1 && return 0; [ -x "$candidate" ] && return 0; done; return 1; }
have pg_ctl /usr/lib/postgresql/*/bin/pg_ctl || missing+=(postgresql)
have chromium /usr/bin/chromium || missing+=(chromium)
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" = "0" ]; then sudo=(); elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then sudo=(sudo); else
  echo "WARNING: ${missing[*]} not installed and this user cannot install them; the tests" \
       "that need them will be SKIPPED (install Debian's ${missing[*]} packages to run them)." >&2
  exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "WARNING: no apt-get: cannot install ${missing[*]}; the tests that need them will be SKIPPED." >&2
  exit 0
fi
echo "Installing Debian packages for the test suite: ${missing[*]}"
"${sudo[@]}" apt-get update -qq \
  && "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null \
  || echo "WARNING: could not install ${missing[*]}; the tests that need them will be SKIPPED." >&2
exit 0
