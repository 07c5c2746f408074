#!/usr/bin/env bash
# Make sure a PostgreSQL server binary is installed (Debian's `postgresql` package).
# The test session starts and stops its own throwaway server; this only installs.
set -u
if command -v pg_ctl >/dev/null 2>&1 || ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1; then
  exit 0
fi
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  echo "Installing Debian's postgresql package for the store tests..."
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null \
    || echo "WARNING: could not install PostgreSQL; PostgreSQL store tests will be SKIPPED." >&2
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
  sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null \
    || echo "WARNING: could not install PostgreSQL; PostgreSQL store tests will be SKIPPED." >&2
else
  echo "WARNING: PostgreSQL is not installed and this user cannot install it;" \
       "PostgreSQL store tests will be SKIPPED (install Debian's 'postgresql' package to run them)." >&2
fi
exit 0
