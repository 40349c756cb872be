#!/usr/bin/env bash
# Test environment for paitui: Debian packages, a Docker engine, a local registry and the test images.
#   scripts/test-env.sh up     install what is missing (as root), start what is not running, build images
#   scripts/test-env.sh down   stop only what `up` started
# Idempotent. Each `up` records in $PAITUI_TEST_STATE/started only what it started itself, so the
# matching `down` never stops an engine or registry that was already running (someone else's).
set -euo pipefail

STATE=${PAITUI_TEST_STATE:-/tmp/paitui-test-env}
REGISTRY=${PAITUI_TEST_REGISTRY:-127.0.0.1:5000}
# cmake and build-essential build the real llama.cpp server (scripts/build-llama-server.sh).
# docker-compose (1.29.2) reads back the compose exports (tests/engine/test_compose_config.py).
# podman is the second engine (tests/engine/test_podman.py), run with runc: crun (which Podman
# prefers when installed) refuses to start containers on a hybrid cgroup hierarchy, as here.
# openssh-server: the ssh:// host tests start their own sshd on a loopback port (tests/hosts/).
PACKAGES=(docker.io docker-registry busybox-static umockdev tmux librsvg2-bin curl iproute2 cmake
  build-essential docker-compose podman openssh-server)
# Debian's docker CLI; a newer one elsewhere on PATH works too.
export PATH="$PATH:/usr/sbin:/sbin"

log() { printf 'test-env: %s\n' "$*" >&2; }

need_packages() {
  local missing=()
  for p in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if ((${#missing[@]})); then
    if [[ $(id -u) -ne 0 ]]; then
      log "missing Debian packages: ${missing[*]} (run as root to install them)"; return 1
    fi
    log "installing ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
}

engine_up() { timeout 5 docker version --format '{{.Server.Version}}' >/dev/null 2>&1; }

start_dockerd() {
  if engine_up; then log "Docker engine already running"; return; fi
  command -v dockerd >/dev/null || { log "dockerd not found"; return 1; }
  log "starting dockerd"
  nohup dockerd --host unix:///var/run/docker.sock >"$STATE/dockerd.log" 2>&1 &
  echo "dockerd $!" >>"$STATE/started"
  for _ in $(seq 1 150); do engine_up && return 0; sleep 0.2; done
  log "dockerd did not come up; see $STATE/dockerd.log"; tail -20 "$STATE/dockerd.log" >&2; return 1
}

registry_up() { curl -fsS "http://$REGISTRY/v2/" >/dev/null 2>&1; }

start_registry() {
  if registry_up; then log "registry already answering on $REGISTRY"; return; fi
  mkdir -p "$STATE/registry"
  cat >"$STATE/registry.yml" <<EOF
version: 0.1
storage:
  filesystem:
    rootdirectory: $STATE/registry
  delete:
    enabled: true
http:
  addr: $REGISTRY
EOF
  log "starting docker-registry on $REGISTRY"
  nohup docker-registry serve "$STATE/registry.yml" >"$STATE/registry.log" 2>&1 &
  echo "registry $!" >>"$STATE/started"
  for _ in $(seq 1 100); do registry_up && return 0; sleep 0.1; done
  log "registry did not come up; see $STATE/registry.log"; return 1
}

# A busybox rootfs: enough for sh, httpd, nc and sleep to stand in for an app.
build_images() {
  local img="$REGISTRY/paitest/busybox:latest"
  if docker image inspect "$img" >/dev/null 2>&1; then
    # A registry started afresh may lack the image the engine still has.
    if ! curl -fsS "http://$REGISTRY/v2/paitest/busybox/manifests/latest" \
        -H 'Accept: application/vnd.docker.distribution.manifest.v2+json' >/dev/null 2>&1; then
      docker push "$img" >/dev/null
      log "pushed $img to the registry"
    fi
    log "test images present"; return
  fi
  local root
  root=$(mktemp -d)
  mkdir -p "$root"/{bin,www,tmp,etc}
  cp /bin/busybox "$root/bin/busybox"
  for a in sh ash httpd sleep nc echo cat printf date mkdir ls rm seq test true false wget kill trap id env dd head; do
    ln -sf busybox "$root/bin/$a"
  done
  echo 'root:x:0:0:root:/root:/bin/sh' >"$root/etc/passwd"
  echo 'root:x:0:' >"$root/etc/group"
  echo ok >"$root/www/index.html"
  tar -C "$root" -c . | docker import -c 'CMD ["/bin/sh"]' -c 'ENV PATH=/bin' - "$img" >/dev/null
  rm -rf "$root"
  docker push "$img" >/dev/null
  log "built and pushed $img"
}

# A Podman service of the tests' own on $STATE/podman/podman.sock, with its own storage. The
# ulimits: Podman raises RLIMIT_NOFILE/NPROC above what a sandbox may allow, and every start then
# fails with "error setting rlimit type 7" (test-infra-facts §9); a normal host needs none.
PODMAN_DIR="$STATE/podman"
podman_up() { curl -fsS --unix-socket "$PODMAN_DIR/podman.sock" http://podman/_ping >/dev/null 2>&1; }

start_podman() {
  command -v podman >/dev/null || { log "podman not found"; return 1; }
  mkdir -p "$PODMAN_DIR"
  printf '[containers]\ndefault_ulimits = ["nofile=1024:1024", "nproc=4096:4096"]\n[engine]\nruntime = "runc"\n' \
    >"$PODMAN_DIR/containers.conf"
  printf '[[registry]]\nlocation = "%s"\ninsecure = true\n' "$REGISTRY" >"$PODMAN_DIR/registries.conf"
  if podman_up; then
    log "Podman service already answering"
  else
    log "starting the Podman service on $PODMAN_DIR/podman.sock"
    CONTAINERS_CONF="$PODMAN_DIR/containers.conf" CONTAINERS_REGISTRIES_CONF="$PODMAN_DIR/registries.conf" \
      nohup podman --root "$PODMAN_DIR/root" --runroot "$PODMAN_DIR/run" system service --time=0 \
      "unix://$PODMAN_DIR/podman.sock" >"$PODMAN_DIR/service.log" 2>&1 &
    echo "podman $!" >>"$STATE/started"
    local ok=""
    for _ in $(seq 1 150); do podman_up && { ok=1; break; }; sleep 0.1; done
    [[ -n $ok ]] || { log "podman did not come up; see $PODMAN_DIR/service.log"; return 1; }
  fi
  # The busybox stand-in, pulled from the local registry through the service's own API.
  local out
  out=$(curl -fsS --unix-socket "$PODMAN_DIR/podman.sock" -X POST \
    "http://podman/images/create?fromImage=$REGISTRY/paitest/busybox&tag=latest")
  if grep -q '"error' <<<"$out"; then log "podman could not pull the test image: $out"; return 1; fi
  log "Podman service up on $PODMAN_DIR/podman.sock with the test image"
}

up() {
  mkdir -p "$STATE"
  : >"$STATE/started"
  need_packages
  start_dockerd
  start_registry
  build_images
  start_podman
  # The real llama.cpp server image and its tiny models: cached outside the checkout, so only a
  # fresh machine pays the ~7 min compile.
  bash "$(dirname "$0")/build-llama-server.sh"
}

down() {
  [[ -f "$STATE/started" ]] || return 0
  # Newest first: Podman, the registry, then the engine.
  tac "$STATE/started" | while read -r name pid; do
    if kill -0 "$pid" 2>/dev/null; then
      log "stopping $name ($pid)"
      kill -TERM "$pid" 2>/dev/null || true
      for _ in $(seq 1 150); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    fi
  done
  rm -f "$STATE/started"
}

case "${1:-up}" in
  up) up ;;
  down) down ;;
  *) echo "usage: $0 up|down" >&2; exit 2 ;;
esac
