#!/usr/bin/env bash
# Create .venv (if needed), install the hash-locked dependencies, and put every
# workspace package's src/ directory on sys.path through a .pth file.
# Idempotent: reinstalls only when requirements/requirements.lock changed.
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-$(command -v python3.11 || command -v python3)}"
VENV=.venv
STAMP="$VENV/.lock-installed"

if [ ! -x "$VENV/bin/python" ]; then
  "$PY" -m venv "$VENV"
fi
if [ ! -f "$STAMP" ] || ! cmp -s requirements/requirements.lock "$STAMP"; then
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check \
    --require-hashes -r requirements/requirements.lock
  cp requirements/requirements.lock "$STAMP"
fi
site=$("$VENV/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
: > "$site/otd-workspace.pth"
for src in $(ls -d shared/src */src services/*/src 2>/dev/null | sort -u); do
  [ -d "$src" ] && echo "$(pwd)/$src" >> "$site/otd-workspace.pth"
done
# The operations CLI: `.venv/bin/otd` runs `python -m otd_cli` (services/ops-cli).
printf '#!/usr/bin/env bash\nexec "%s/%s/bin/python" -m otd_cli "$@"\n' "$(pwd)" "$VENV" > "$VENV/bin/otd"
chmod +x "$VENV/bin/otd"
