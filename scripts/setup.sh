#!/usr/bin/env bash
# Sets up everything the kiosk and its tests need on a fresh Debian machine (run as root):
# Debian packages (only when missing) and a virtualenv in .venv. Idempotent: a second run only
# checks, which takes a second or two.
set -euo pipefail
cd "$(dirname "$0")/.."

DEB_PACKAGES=(
  # OCR engine option: Tesseract with simplified Chinese
  tesseract-ocr tesseract-ocr-chi-sim
  # PC/SC stack and the virtual reader the social-security card emulator plugs into
  pcscd vsmartcard-vpcd libpcsclite-dev swig
  # CJK font (Qt is told "Noto Sans CJK SC" explicitly, or it picks the Japanese variant)
  fonts-noto-cjk fonts-dejavu-core
  # Qt runtime: virtual keyboard needs libpulse0; xcb/EGL for a real display
  libpulse0 libegl1 libgl1 libopengl0 libxkbcommon0 libxkbcommon-x11-0 libfontconfig1 libdbus-1-3
  libglib2.0-0 libxcb-cursor0 libxcb-icccm4 libxcb-image0 libxcb-keysyms1 libxcb-randr0
  libxcb-render-util0 libxcb-shape0 libxcb-xinerama0 libxcb-xkb1
  # offline Mandarin voice prompts; PDF → PNG for certificate tests; PostgreSQL for hub tests
  espeak-ng poppler-utils postgresql
  # hall browser tests (Selenium drives Debian's own browser; none is ever downloaded)
  chromium chromium-driver
  # appliance tests (tests/test_install.py): systemd-analyze verify, cage (the kiosk unit's
  # compositor), xinit (the X11 unit), Xvfb + xwd (the resident app with no window manager)
  systemd cage xwayland xinit xvfb x11-apps
  # build tools for any wheel that compiles
  make gcc python3-dev python3-venv
)

missing=()
for pkg in "${DEB_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing Debian packages: ${missing[*]}"
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

PYTHON="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
  echo "setup: creating .venv"
  "$PYTHON" -m venv .venv
fi
stamp=".venv/.installed-$(sha256sum pyproject.toml | cut -c1-16)"
if [ ! -f "$stamp" ]; then
  echo "setup: installing Python packages into .venv"
  .venv/bin/python -m pip install -q --upgrade pip >/dev/null
  .venv/bin/python -m pip install -q -e '.[dev]' 2>&1 | { grep -v '^WARNING: Location' || true; }
  rm -f .venv/.installed-*
  touch "$stamp"
fi
# The project's own bytecode, as `make install` compiles it for the appliance: with
# PYTHONDONTWRITEBYTECODE set (some shells and CI images do), every `kiosk` process and every
# test subprocess would otherwise compile kiosk/ and drivers/ from source (~0.35 s a start).
.venv/bin/python -m compileall -q kiosk drivers >/dev/null
