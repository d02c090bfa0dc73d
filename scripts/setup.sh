#!/usr/bin/env bash
# Idempotent set-up, called by `make book` and `make test`; safe to run again at any time.
#   scripts/setup.sh            virtualenv + pinned Python packages + lalib (editable) + JS assets
#   scripts/setup.sh --browser  the same, plus Debian's chromium for the browser test
# Each step is skipped when its inputs (requirements.txt, package-lock.json) are unchanged.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-$(command -v python3.11 || command -v python3)}
if [ ! -x .venv/bin/python ]; then
  echo "setup: creating .venv with $PYTHON"
  "$PYTHON" -m venv .venv
fi

stamp=.venv/.requirements.sha256
want=$(cat requirements.txt pyproject.toml | sha256sum | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "setup: installing pinned requirements into .venv"
  .venv/bin/python -m pip install --quiet --upgrade pip
  .venv/bin/python -m pip install --quiet -r requirements.txt
  .venv/bin/python -m pip install --quiet --no-deps --no-build-isolation -e .
  echo "$want" > "$stamp"
fi

# JavaScript the built book serves from its own _static/ (see _config.yml).
jstamp=node_modules/.lock.sha256
jwant=$(sha256sum package-lock.json | cut -d' ' -f1)
if [ "$(cat "$jstamp" 2>/dev/null)" != "$jwant" ] || [ ! -d vendor ]; then
  command -v npm >/dev/null || { echo "setup: npm is needed for the book's JS assets (apt-get install npm)"; exit 1; }
  echo "setup: installing JS assets (npm ci) and copying them to vendor/"
  npm ci --no-audit --no-fund --loglevel=error
  rm -rf vendor && mkdir -p vendor/mathjax vendor/jupyter-widgets
  mj=node_modules/mathjax/es5
  cp "$mj/tex-mml-chtml.js" vendor/mathjax/
  # The combined component loads fonts, TeX extensions and menu parts from beside itself.
  for d in input output/chtml a11y ui adaptors; do
    mkdir -p "vendor/mathjax/$(dirname "$d")" && cp -r "$mj/$d" "vendor/mathjax/$d"
  done
  cp node_modules/requirejs/require.js vendor/require.js
  hm=node_modules/@jupyter-widgets/html-manager/dist
  cp "$hm/embed-amd.js" "$hm"/*.woff* "$hm"/*.ttf "$hm"/*.eot "$hm"/*.svg vendor/jupyter-widgets/
  echo "$jwant" > "$jstamp"
fi

if [ "${1:-}" = "--browser" ] && [ ! -x /usr/bin/chromium ]; then
  echo "setup: installing Debian's chromium for the browser test"
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
    sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  else
    echo "setup: /usr/bin/chromium is missing and apt-get needs root: install Debian's chromium" >&2
    exit 1
  fi
fi
