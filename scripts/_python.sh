# Sourced by the run scripts: find a Python >= 3.12, make .venv, install the project with its test extra.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
VENV=${EAS_VENV:-$ROOT/.venv}

find_python() {
  local cand v
  for cand in "${EAS_PYTHON:-}" python3.12 python3.13 python3.14 python3 \
              "$HOME"/.pyenv/versions/3.1[2-9]*/bin/python3 /usr/bin/python3.1[2-9] /usr/local/bin/python3.1[2-9]; do
    [ -n "$cand" ] || continue
    command -v "$cand" >/dev/null 2>&1 || [ -x "$cand" ] || continue
    v=$("$cand" -c 'import sys; print(int(sys.version_info >= (3, 12)))' 2>/dev/null) || continue
    if [ "$v" = 1 ]; then command -v "$cand" 2>/dev/null || echo "$cand"; return 0; fi
  done
  return 1
}

if [ ! -x "$VENV/bin/python" ]; then
  PY=$(find_python) || {
    echo "eas-inspector needs Python >= 3.12 (mitmproxy 12 does); none found." >&2
    echo "Install one (e.g. apt-get install python3.12, or pyenv install 3.12) or set EAS_PYTHON=/path/to/python3.12." >&2
    exit 1
  }
  echo "creating $VENV with $PY ($("$PY" --version))" >&2
  "$PY" -m venv "$VENV"
fi
STAMP="$VENV/.installed-$(cat "$ROOT/pyproject.toml" | cksum | cut -d' ' -f1)"
if [ ! -e "$STAMP" ]; then
  "$VENV/bin/python" -m pip install -q --upgrade pip >&2
  "$VENV/bin/python" -m pip install -q -e "$ROOT[test]" >&2
  rm -f "$VENV"/.installed-*; touch "$STAMP"
fi
export PATH="$VENV/bin:$PATH"
