# Sourced by the run scripts: find a Python >= 3.12, make the venv, install the project with its test extra.
# EAS_PYTHON=/path/to/python3.12 chooses the interpreter; EAS_VENV=/path/to/venv the venv (default: .venv).
set -euo pipefail
_here=${BASH_SOURCE[0]%/*}
[ "$_here" != "${BASH_SOURCE[0]}" ] || _here=.
ROOT=$(cd "$_here/.." && pwd)
VENV=${EAS_VENV:-$ROOT/.venv}
NEED="3.12"

# Print the real executable of a Python >= 3.12, or nothing. Interpreters that do not run (a pyenv shim for a
# version that is not selected says "command not found") count as absent.
python_ok() {
  "$1" -c 'import sys; print(sys.executable if sys.version_info >= (3, 12) else "")' 2>/dev/null || true
}

find_python() {
  local cand exe pyenv_root=${PYENV_ROOT:-$HOME/.pyenv}
  for cand in python3.12 python3.13 python3.14 python3 python \
              "$pyenv_root"/versions/3.1[2-9]*/bin/python3 \
              /usr/bin/python3.1[2-9] /usr/local/bin/python3.1[2-9] /opt/homebrew/bin/python3.1[2-9]; do
    command -v "$cand" >/dev/null 2>&1 || [ -x "$cand" ] || continue
    exe=$(python_ok "$cand")
    if [ -n "$exe" ]; then echo "$exe"; return 0; fi
  done
  return 1
}

if [ -x "$VENV/bin/python" ] && [ -z "$(python_ok "$VENV/bin/python")" ]; then
  echo "$VENV has no working Python >= $NEED (made with an older one?); remove it and run again." >&2
  exit 1
fi
if [ ! -x "$VENV/bin/python" ]; then
  if [ -n "${EAS_PYTHON:-}" ]; then
    if ! command -v "$EAS_PYTHON" >/dev/null 2>&1; then
      echo "EAS_PYTHON=$EAS_PYTHON: no such program; point it at a Python >= $NEED." >&2
      exit 1
    fi
    PY=$(python_ok "$EAS_PYTHON")
    if [ -z "$PY" ]; then
      found=$("$EAS_PYTHON" --version 2>&1 || true)
      echo "EAS_PYTHON=$EAS_PYTHON is ${found%%$'\n'*}; eas-inspector needs Python >= $NEED (mitmproxy 12 does)." >&2
      exit 1
    fi
  else
    PY=$(find_python) || {
      echo "eas-inspector needs Python >= $NEED (mitmproxy 12 does); none found on PATH or in the usual places." >&2
      echo "Install one (e.g. apt-get install python3.12, or pyenv install 3.12) or set EAS_PYTHON=/path/to/python3.12." >&2
      exit 1
    }
  fi
  echo "creating $VENV with $PY ($("$PY" --version 2>&1))" >&2
  "$PY" -m venv "$VENV"
fi
# Reinstall when pyproject.toml changes, and (for a venv outside the checkout, EAS_VENV) when the venv was
# installed from another checkout: the install is editable, so it points at one checkout's sources.
if [ "$VENV" = "$ROOT/.venv" ]; then
  STAMP="$VENV/.installed-$(cksum <"$ROOT/pyproject.toml" | cut -d' ' -f1)"
else
  STAMP="$VENV/.installed-$( (echo "$ROOT"; cat "$ROOT/pyproject.toml") | cksum | cut -d' ' -f1)"
fi
if [ ! -e "$STAMP" ]; then
  echo "installing eas-inspector and its test tools into $VENV (first run; takes a minute)" >&2
  LOG="$VENV/install.log"
  "$VENV/bin/python" -m pip install -q --upgrade pip >"$LOG" 2>&1 || echo "note: could not upgrade pip; going on" >&2
  "$VENV/bin/python" -m pip install -q -e "$ROOT[test]" >>"$LOG" 2>&1 || {
    tail -n 25 "$LOG" >&2
    echo "installing into $VENV failed (the whole log: $LOG); fix the cause and run again." >&2
    exit 1
  }
  rm -f "$VENV"/.installed-* "$VENV"/.compiled-*
  touch "$STAMP"
fi
# The codec and the .mitm reader are compiled with mypyc at install (setup.py); compile again when their sources
# change, since a package falls back to the slower pure-Python modules when a source differs from the one
# compiled (size or modification time, see eas/_native.py: a checkout that only touched the files counts too).
# The compiled sources are the ones eas/_native.py lists (NATIVE_PACKAGES), read from it as setup.py reads it.
NATIVE_SOURCES=$("$VENV/bin/python" -c 'import runpy, sys
table = runpy.run_path(sys.argv[1])["NATIVE_PACKAGES"]
print("\n".join(f"{package.replace(".", "/")}/{name}.py" for package, names in table.items() for name in names))' \
  "$ROOT/eas/_native.py")
NATIVE_STAMP="$VENV/.compiled-$( (cd "$ROOT" && cat setup.py eas/_native.py $NATIVE_SOURCES) | cksum | cut -d' ' -f1)"
native_current() {
  "$VENV/bin/python" -c 'import sys, capture.importers, eas._native as n
sys.exit(set(n.statuses.values()) != {"compiled"} or len(n.statuses) != len(n.NATIVE_PACKAGES))' 2>/dev/null
}
if [ ! -e "$NATIVE_STAMP" ] || { [ -e "$ROOT/eas/_build_stamps.py" ] && ! native_current; }; then
  if native_current; then
    :  # installed just now, from these sources
  else
    echo "compiling the WBXML codec and the .mitm reader (mypyc; about a minute)" >&2
    "$VENV/bin/python" -m pip install -q --no-deps -e "$ROOT" >>"$VENV/install.log" 2>&1 \
      || echo "note: could not compile the codec (see $VENV/install.log); the pure-Python one runs" >&2
  fi
  rm -f "$VENV"/.compiled-*
  touch "$NATIVE_STAMP"
fi
export PATH="$VENV/bin:$PATH"
