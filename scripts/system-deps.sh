#!/usr/bin/env bash
# What `make test` needs from Debian's packages, installed when missing: Chromium (the end-to-end
# tests drive it through Playwright; Playwright's own browser downloads are not used), nginx (the
# production e2e test runs behind it over TLS), Node.js and npm (assets, JS lint and tests) and
# Python's venv module. As root it runs apt-get; anyone else is told the exact command to run.
# PostgreSQL and Redis are services, not tools: .ci/run starts them.
set -euo pipefail

missing=()
have() { command -v "$1" >/dev/null 2>&1; }

# An explicit HOMEWARD_CHROMIUM / HOMEWARD_NGINX is what the tests use, so it is what must exist.
if [[ -n "${HOMEWARD_CHROMIUM:-}" ]]; then
  [[ -x "$HOMEWARD_CHROMIUM" ]] || { echo "HOMEWARD_CHROMIUM=$HOMEWARD_CHROMIUM is not executable" >&2; exit 1; }
else
  have chromium || missing+=(chromium)
fi
if [[ -n "${HOMEWARD_NGINX:-}" ]]; then
  [[ -x "$HOMEWARD_NGINX" ]] || { echo "HOMEWARD_NGINX=$HOMEWARD_NGINX is not executable" >&2; exit 1; }
else
  # nginx lives in /usr/sbin, which is not on an ordinary user's PATH.
  PATH="$PATH:/usr/sbin:/sbin" have nginx || missing+=(nginx)
fi
have node || missing+=(nodejs)
have npm || missing+=(npm)
have pg_dump || missing+=(postgresql-client)  # homeward backup/restore (tests/integration/test_backup.py)
"${PYTHON:-python3}" -c "import ensurepip, venv" 2>/dev/null || missing+=(python3-venv)

((${#missing[@]})) || exit 0

command=(apt-get install -y "${missing[@]}")
if [[ "$(id -u)" != 0 ]]; then
  echo "make test needs Debian packages that are not installed: ${missing[*]}" >&2
  echo "Install them as root, then run make test again:" >&2
  echo "  apt-get update && ${command[*]}" >&2
  exit 1
fi
echo "Installing from Debian's packages: ${missing[*]}"
apt-get update -qq
DEBIAN_FRONTEND=noninteractive "${command[@]}" -qq >/dev/null
