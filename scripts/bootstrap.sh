#!/usr/bin/env bash
# One idempotent set-up for a fresh Debian 12 / Pi OS Bookworm machine that has only Node and npm:
# system packages, node modules (with their approved install scripts), the generated GObject
# introspection types, and the TypeScript build. Each step is skipped when its inputs have not
# changed, so a second run takes seconds. Used by `npm test` and `npm run demo`.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '[bootstrap] %s\n' "$*" >&2; }

# --- 1. System packages -------------------------------------------------------------------
# GStreamer 1.22 and its plugins, the GIR files the types are generated from, node-gtk's build
# dependencies, fonts with Vietnamese glyphs, mosquitto for the fleet broker, and what the call
# tests' independent WebRTC peers (GStreamer webrtcbin under Debian's python3-gi, Chromium) need.
APT_PACKAGES=(
  gstreamer1.0-tools gstreamer1.0-plugins-base gstreamer1.0-plugins-good
  gstreamer1.0-plugins-bad gstreamer1.0-plugins-ugly gstreamer1.0-libav
  gstreamer1.0-alsa gstreamer1.0-x
  gir1.2-gstreamer-1.0 gir1.2-gst-plugins-base-1.0 gir1.2-gst-plugins-bad-1.0
  libgstreamer1.0-dev libgstreamer-plugins-base1.0-dev libgstreamer-plugins-bad1.0-dev
  libgirepository1.0-dev libcairo2-dev pkg-config build-essential
  fonts-noto-core fonts-dejavu-core
  librsvg2-common  # the TV screens are SVG, rendered by gdk-pixbuf's SVG loader
  mosquitto mosquitto-clients
  xvfb  # tests: the window output on a virtual desktop
  gstreamer1.0-nice python3-gi  # tests: webrtcbin, an independent WebRTC peer (ICE through libnice)
  chromium  # tests: a host joining from a browser, the other independent WebRTC peer
  iproute2  # tests: boxes in network namespaces joined by an impaired link
  tesseract-ocr tesseract-ocr-vie zbar-tools  # tests: the TV screens read back (OCR, QR code)
)

missing_packages() {
  local pkg status
  for pkg in "${APT_PACKAGES[@]}"; do
    status=$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)
    [[ "$status" == "install ok installed" ]] || printf '%s\n' "$pkg"
  done
}

mapfile -t missing < <(missing_packages)
if ((${#missing[@]})); then
  say "installing system packages: ${missing[*]}"
  sudo_cmd=()
  if [[ $(id -u) -ne 0 ]]; then
    command -v sudo >/dev/null || { say "need root (or sudo) to install: ${missing[*]}"; exit 1; }
    sudo_cmd=(sudo)
  fi
  "${sudo_cmd[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  "${sudo_cmd[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
  # The distribution's mosquitto service is not ours: the demo and the tests start their own.
  if command -v systemctl >/dev/null && systemctl is-enabled mosquitto >/dev/null 2>&1; then
    "${sudo_cmd[@]}" systemctl disable --now mosquitto >/dev/null 2>&1 || true
  fi
fi

# --- 2. Node modules ----------------------------------------------------------------------
# node-gtk has no prebuilt binary that can be fetched here: build it from source, always.
stamp_dir=node_modules/.diemcau
lock_hash=$(sha256sum package-lock.json | cut -d' ' -f1)
if [[ "$(cat "$stamp_dir/lock" 2>/dev/null)" != "$lock_hash" ]]; then
  say "installing node modules (npm ci)"
  npm_config_build_from_source=true npm ci --no-audit --no-fund >&2
  mkdir -p "$stamp_dir"
  printf '%s' "$lock_hash" >"$stamp_dir/lock"
  rm -f "$stamp_dir/girs"
fi

# --- 3. Generated GObject introspection types (@girs/node-*) -------------------------------
# Not on the registry: generated from the GIR files of the -dev packages above, straight into
# node_modules/@girs so that `import Gst from '@girs/node-gst-1.0'` resolves for tsc and Node.
GIR_MODULES=(Gst-1.0 GstVideo-1.0)  # and their dependencies (GLib, GObject, GstBase, …)
gir_inputs=$( { printf '%s\n' "${GIR_MODULES[@]}"; node_modules/.bin/ts-for-gir --version;
  for m in "${GIR_MODULES[@]}"; do sha256sum "/usr/share/gir-1.0/$m.gir"; done; } | sha256sum | cut -d' ' -f1)
if [[ "$(cat "$stamp_dir/girs" 2>/dev/null)" != "$gir_inputs" || ! -f node_modules/@girs/node-gst-1.0/package.json ]]; then
  say "generating @girs types for ${GIR_MODULES[*]}"
  rm -rf node_modules/@girs
  node_modules/.bin/ts-for-gir generate "${GIR_MODULES[@]}" --environments node --package \
    --ignoreVersionConflicts --noComments --outdir node_modules/@girs >&2
  printf '%s' "$gir_inputs" >"$stamp_dir/girs"
fi

# --- 4. Build -----------------------------------------------------------------------------
# Incremental: tsc compares against dist/.tsbuildinfo and does nothing when nothing changed.
node_modules/.bin/tsc -p tsconfig.json >&2
