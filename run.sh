#!/usr/bin/env bash
# GraphConv Lab: one command sets up and launches the app, one sets up and runs the tests.
#   bash run.sh app    # install what is missing, then serve the app on http://localhost:8501
#   bash run.sh test   # install what is missing (test extras too), then run the whole suite (pytest)
#   bash run.sh lint   # install what is missing (test extras too), then ruff check, ruff format --check and mypy
# Extra arguments go to streamlit (app) or pytest (test); lint takes none (pyproject.toml says what it checks).
set -euo pipefail
cd "$(dirname "$0")"
mode="${1:-app}"; shift || true
VENV="${GRAPHCONV_VENV:-.venv}"

need_apt=()
# escnn -> py3nj compiles Fortran code: it needs gfortran (packages.txt lists it for Streamlit Cloud).
command -v gfortran >/dev/null 2>&1 || need_apt+=(gfortran)
# The browser test drives Debian's Chromium through Playwright.
if [ "$mode" = test ] && [ ! -x /usr/bin/chromium ]; then need_apt+=(chromium); fi
# The PostgreSQL store's tests start a real server (initdb, pg_ctl) from Debian's postgresql package: installed as
# root (those tests fail without it there, as in CI); as another user they are skipped (tests/core/training/
# postgres_server.py).
if [ "$mode" = test ] && ! ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1 && ! command -v pg_ctl >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ]; then
    need_apt+=(postgresql)
  else
    echo "[setup] note: no PostgreSQL server (apt-get install postgresql): its store tests will be skipped" >&2
  fi
fi
if [ ${#need_apt[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "[setup] installing Debian packages: ${need_apt[*]}"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}" >/dev/null
  else
    echo "[setup] error: missing ${need_apt[*]}; escnn's dependency py3nj needs a Fortran compiler (gfortran)" >&2
    echo "[setup] and the browser test needs chromium. Install them as root: apt-get install ${need_apt[*]}" >&2
    exit 1
  fi
fi

case "$mode" in test|lint) reqs=requirements-dev.txt ;; *) reqs=requirements.txt ;; esac
stamp="$VENV/.setup-stamp-$(cat requirements.txt "$reqs" | sha1sum | cut -c1-12)"
if [ ! -f "$stamp" ]; then
  echo "[setup] creating $VENV and installing $reqs (first time: about 2 minutes)"
  [ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q --disable-pip-version-check -r "$reqs"
  touch "$stamp"
fi

case "$mode" in
  app)  exec "$VENV/bin/python" -m streamlit run app.py "$@" ;;
  test) exec "$VENV/bin/python" -m pytest "$@" ;;
  lint) # all three run, so one pass lists every finding; the exit status is non-zero if any of them failed
        failed=0
        "$VENV/bin/ruff" check . || failed=1
        "$VENV/bin/ruff" format --check . || failed=1
        "$VENV/bin/mypy" || failed=1
        exit "$failed" ;;
  *)    echo "usage: bash run.sh app|test|lint [args]" >&2; exit 2 ;;
esac
