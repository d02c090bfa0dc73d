#!/usr/bin/env bash
# Idempotent set-up, called by `make book` and `make test`; safe to run again at any time.
#   scripts/setup.sh            virtualenv + pinned Python packages + lalib (editable) + JS assets
#   scripts/setup.sh --browser  the same, plus Debian's chromium for the browser test
#   scripts/setup.sh --torch    the same, plus the optional PyTorch reference (requirements-torch.txt)
#   (flags combine: make test passes both)
# Each step is skipped when its inputs (requirements.txt, package-lock.json) are unchanged.
set -euo pipefail
cd "$(dirname "$0")/.."

want_browser=0 want_torch=0
for arg in "$@"; do
  case "$arg" in
    --browser) want_browser=1 ;;
    --torch) want_torch=1 ;;
    *) echo "setup: unknown option $arg" >&2; exit 2 ;;
  esac
done

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
  # anywidget's front end (an AMD module); require-config.js maps "anywidget" to it.
  mkdir -p vendor/anywidget && cp node_modules/anywidget/dist/index.js vendor/anywidget/index.js
  echo "$jwant" > "$jstamp"
fi

tstamp=.venv/.torch.sha256
twant=$(sha256sum requirements-torch.txt | cut -d' ' -f1)
if [ "$want_torch" = 1 ] && [ "$(cat "$tstamp" 2>/dev/null)" != "$twant" ]; then
  echo "setup: installing the optional PyTorch reference (requirements-torch.txt)"
  .venv/bin/python -m pip install --quiet -r requirements-torch.txt
  echo "$twant" > "$tstamp"
fi

if [ "$want_browser" = 1 ] && [ ! -x /usr/bin/chromium ]; then
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
