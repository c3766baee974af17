#!/usr/bin/env bash
# Installs the kiosk software as an appliance: scripts/install.sh [options] ROLE...
#
#   ROLE            kiosk (resident app under cage on tty1), hall (service-hall service), hub
#                   (central intake service); one machine may take several.
#   --prefix DIR    install under DIR instead of / (tests, staging). Paths inside units and
#                   configs include DIR; implies --no-user and --no-apt.
#   --venv-from V   reuse virtualenv V's packages (a path entry in the new venv) instead of
#                   installing them with pip: fast, no network (tests, offline images).
#   --wheelhouse D  pip installs from wheels in D only (--no-index), for offline installs.
#   --rotate DEG    kiosk panel rotation 0|90|180|270 (cage output + touchscreen calibration).
#   --x11           kiosk under Xorg + xinit (no window manager) instead of cage.
#   --no-user       do not create the system user (files stay owned by whoever runs this).
#   --no-apt        do not install Debian packages.
#
# Layout: <prefix>/opt/yibao-kiosk/<version>/{app,venv} with a `current` symlink,
# <prefix>/etc/yibao-kiosk/ (config, env files, tokens), <prefix>/var/lib/yibao-kiosk (0700),
# units in <prefix>/etc/systemd/system/. Logs go to the journal. Idempotent: every step checks
# first and a second run prints "install: nothing changed".
set -euo pipefail
SRC="$(cd "$(dirname "$0")/.." && pwd)"
DEPLOY="$SRC/scripts/deploy"

PREFIX="" VENV_FROM="" WHEELHOUSE="" ROTATE=0 X11=0 WITH_USER=1 WITH_APT=1 ROLES=()
usage() { echo "install: ${1:+$1; }usage: scripts/install.sh [--prefix DIR] [--venv-from VENV] [--wheelhouse DIR] [--rotate 0|90|180|270] [--x11] [--no-user] [--no-apt] kiosk|hall|hub..." >&2; exit 2; }
while [ $# -gt 0 ]; do
  case "$1" in
    --prefix) [ $# -ge 2 ] || usage; PREFIX="$(mkdir -p "$2" && cd "$2" && pwd)"; WITH_USER=0; WITH_APT=0; shift 2 ;;
    --venv-from) [ $# -ge 2 ] || usage; VENV_FROM="$(cd "$2" && pwd)"; shift 2 ;;
    --wheelhouse) [ $# -ge 2 ] || usage; WHEELHOUSE="$(cd "$2" && pwd)"; shift 2 ;;
    --rotate) [ $# -ge 2 ] || usage; ROTATE="$2"; shift 2 ;;
    --x11) X11=1; shift ;;
    --no-user) WITH_USER=0; shift ;;
    --no-apt) WITH_APT=0; shift ;;
    -h|--help) usage ;;
    kiosk|hall|hub) ROLES+=("$1"); shift ;;
    *) usage "unknown role or option: $1" ;;
  esac
done
[ ${#ROLES[@]} -gt 0 ] || usage "no role given"
case "$ROTATE" in 0|90|180|270) ;; *) echo "install: --rotate takes 0, 90, 180 or 270" >&2; exit 2 ;; esac
has_role() { local r; for r in "${ROLES[@]}"; do [ "$r" = "$1" ] && return 0; done; return 1; }
if [ -z "$PREFIX" ] && [ "$(id -u)" -ne 0 ]; then echo "install: run as root (or use --prefix DIR)" >&2; exit 2; fi

NAME=yibao-kiosk
USER_NAME=yibao-kiosk
VERSION="$(sed -n 's/^version = "\(.*\)"/\1/p' "$SRC/pyproject.toml" | head -1)"
OPT="$PREFIX/opt/$NAME" REL="$PREFIX/opt/$NAME/$VERSION" RELEASE="$VERSION"
ETC="$PREFIX/etc/$NAME" DATA="$PREFIX/var/lib/$NAME" UNITS="$PREFIX/etc/systemd/system"
RUN_AS="$(id -un)"; [ $WITH_USER -eq 1 ] && RUN_AS="$USER_NAME"
CHANGES=0
changed() { CHANGES=$((CHANGES + 1)); echo "install: $*"; }

# put_file MODE DEST [GROUP] < content: write only when content or mode differ.
put_file() {
  local mode="$1" dest="$2" group="${3:-}" tmp
  tmp="$(mktemp)"; cat >"$tmp"
  if [ ! -f "$dest" ] || ! cmp -s "$tmp" "$dest"; then
    mkdir -p "$(dirname "$dest")"
    install -m "$mode" "$tmp" "$dest"; changed "wrote $dest"
  elif [ "$(stat -c %a "$dest")" != "${mode#0}" ]; then
    chmod "$mode" "$dest"; changed "mode $mode on $dest"
  fi
  rm -f "$tmp"
  if [ -n "$group" ] && [ $WITH_USER -eq 1 ] && [ "$(stat -c %G "$dest")" != "$group" ]; then
    chgrp "$group" "$dest"; changed "group $group on $dest"
  fi
}
# keep_file MODE DEST < content: create once; a technician's edits are never overwritten.
keep_file() { if [ -e "$2" ]; then cat >/dev/null; else put_file "$@"; fi; }
XORGCONF="$PREFIX/etc/X11/xorg.conf.d/10-yibao-kiosk.conf"
render() { sed -e "s|@OPT@|$OPT|g" -e "s|@ETC@|$ETC|g" -e "s|@DATA@|$DATA|g" -e "s|@USER@|$RUN_AS|g" -e "s|@XORGCONF@|$XORGCONF|g" "$1"; }

# --- Debian packages each role needs at run time (the technician starts from a bare Debian) ---
if [ $WITH_APT -eq 1 ]; then
  pkgs=(python3 python3-venv)
  if has_role kiosk; then
    # Qt runs as an X client in both cases (Xwayland under cage): the xcb libraries it needs
    pkgs+=(fonts-noto-cjk pcscd libpcsclite1 espeak-ng tesseract-ocr tesseract-ocr-chi-sim libegl1 libgl1 libopengl0
           libxkbcommon0 libxkbcommon-x11-0 libfontconfig1 libdbus-1-3 libglib2.0-0 libpulse0 libxcb-cursor0
           libxcb-icccm4 libxcb-image0 libxcb-keysyms1 libxcb-randr0 libxcb-render-util0 libxcb-shape0
           libxcb-xinerama0 libxcb-xkb1)
    if [ $X11 -eq 1 ]; then pkgs+=(xserver-xorg-core xserver-xorg-input-libinput xserver-xorg-legacy xinit x11-xserver-utils)
    else pkgs+=(cage xwayland); fi  # cage 0.1.4 exits when it cannot start Xwayland
  fi
  has_role hub && pkgs+=(postgresql caddy)
  missing=(); for p in "${pkgs[@]}"; do dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p"); done
  if [ ${#missing[@]} -gt 0 ]; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    changed "installed Debian packages: ${missing[*]}"
  fi
fi

# --- the system user: no login, no home outside the data dir; serial ports, GPU and input ---
if [ $WITH_USER -eq 1 ]; then
  if ! getent passwd "$USER_NAME" >/dev/null; then
    useradd --system --user-group --home-dir "/var/lib/$NAME" --no-create-home --shell /usr/sbin/nologin "$USER_NAME"
    changed "created system user $USER_NAME"
  fi
  for g in dialout video render input lp; do
    if getent group "$g" >/dev/null && ! id -nG "$USER_NAME" | tr ' ' '\n' | grep -qx "$g"; then
      usermod -aG "$g" "$USER_NAME"; changed "added $USER_NAME to group $g"
    fi
  done
fi

# --- the release: app tree + virtualenv, built once per version and source content ---
source_hash() {
  (cd "$SRC" && find kiosk drivers forms assets config.toml pyproject.toml README.md -type f \
     -not -path '*/__pycache__/*' -not -name '*.pyc' -print0 | LC_ALL=C sort -z | xargs -0 sha256sum | sha256sum | cut -c1-16)
}
HASH="$(source_hash)"
# Never rebuild a release in place (it may be the one running): the same version from other
# sources goes beside it as <version>-<hash>; older releases stay for a rollback.
if [ -f "$REL/.installed" ] && [ "$(cat "$REL/.installed")" != "$HASH" ]; then
  RELEASE="$VERSION-${HASH:0:8}" REL="$OPT/$VERSION-${HASH:0:8}"
else
  RELEASE="$VERSION"
fi
if [ "$(cat "$REL/.installed" 2>/dev/null)" != "$HASH" ]; then
  rm -rf "$REL"; mkdir -p "$REL/app"  # only ever an unfinished build: .installed comes last
  # The app keeps the repository's layout, so forms/ and assets/ resolve beside kiosk/ as in a checkout.
  (cd "$SRC" && tar -c --exclude=__pycache__ --exclude='*.pyc' kiosk drivers forms assets config.toml pyproject.toml README.md) | tar -x -C "$REL/app"
  if [ -n "$VENV_FROM" ]; then
    "$VENV_FROM/bin/python" -m venv --without-pip "$REL/venv"
    site="$("$REL/venv/bin/python" -c 'import sysconfig; print(sysconfig.get_path("purelib"))')"
    # A plain path line: the source venv's own .pth files (its editable checkout) stay inactive.
    "$VENV_FROM/bin/python" -c 'import sysconfig; print(sysconfig.get_path("purelib"))' >"$site/00-yibao-deps.pth"
  else
    "${PYTHON:-python3}" -m venv "$REL/venv"
    site="$("$REL/venv/bin/python" -c 'import sysconfig; print(sysconfig.get_path("purelib"))')"
    mapfile -t deps < <("$REL/venv/bin/python" -c 'import tomllib, sys; print("\n".join(tomllib.load(open(sys.argv[1], "rb"))["project"]["dependencies"]))' "$SRC/pyproject.toml")
    pip_from=(); [ -n "$WHEELHOUSE" ] && pip_from=(--no-index --find-links "$WHEELHOUSE")
    "$REL/venv/bin/pip" install -q --disable-pip-version-check "${pip_from[@]}" "${deps[@]}"
  fi
  echo "$REL/app" >"$site/yibao-kiosk.pth"
  printf '#!%s\nimport sys\nfrom kiosk.cli import main\nsys.exit(main())\n' "$REL/venv/bin/python" >"$REL/venv/bin/kiosk"
  chmod 0755 "$REL/venv/bin/kiosk"
  "$REL/venv/bin/python" -m compileall -q "$REL/app" >/dev/null  # units cannot write __pycache__ (ProtectSystem=strict)
  echo "$HASH" >"$REL/.installed"
  changed "installed $NAME $RELEASE in $REL"
fi
if [ "$(readlink "$OPT/current" 2>/dev/null)" != "$RELEASE" ]; then
  # Switching back to older sources must not leave the data behind (kiosk update refuses the same):
  # the release's own software says whether it reads the outbox schema stored in the data dir.
  if [ -L "$OPT/current" ] && ! why="$("$REL/venv/bin/python" -m kiosk.commands.update_release "$DATA" 2>&1)"; then
    echo "install: $why; current stays $(readlink "$OPT/current")" >&2; exit 1
  fi
  ln -sfn "$RELEASE" "$OPT/current.new" && mv -T "$OPT/current.new" "$OPT/current"  # atomic switch
  changed "current -> $RELEASE"
fi

# --- `kiosk` for the technician: the installed config and data, run as the service user ---
put_file 0755 "$PREFIX/usr/local/bin/kiosk" <<EOF
#!/bin/sh
# Installed by scripts/install.sh: the appliance's kiosk command with its config and data dir.
export KIOSK_DATA_DIR="\${KIOSK_DATA_DIR:-$DATA}"
# kiosk update writes $OPT and restarts units, so it stays root (its checks of the data run as
# $USER_NAME); it finds the data dir from its --prefix and keeps its own log out of it.
if [ "\${1:-}" = update ]; then
  exec env -u KIOSK_DATA_DIR $OPT/current/venv/bin/kiosk --config $ETC/config.toml "\$@"
fi
if [ "\$(id -u)" = 0 ] && id $USER_NAME >/dev/null 2>&1; then
  exec runuser -u $USER_NAME -- env KIOSK_DATA_DIR="\$KIOSK_DATA_DIR" $OPT/current/venv/bin/kiosk --config $ETC/config.toml "\$@"
fi
exec $OPT/current/venv/bin/kiosk --config $ETC/config.toml "\$@"
EOF

# --- config (kept once written) and data dir ---
mkdir -p "$ETC"
sed -e 's/^fullscreen = false/fullscreen = true/' "$SRC/config.toml" | keep_file 0640 "$ETC/config.toml" "$USER_NAME"
if [ ! -d "$DATA" ]; then mkdir -p "$DATA"; changed "created $DATA"; fi
if [ "$(stat -c %a "$DATA")" != 700 ]; then chmod 0700 "$DATA"; changed "mode 0700 on $DATA"; fi
if [ $WITH_USER -eq 1 ] && [ "$(stat -c %U "$DATA")" != "$USER_NAME" ]; then
  chown "$USER_NAME:$USER_NAME" "$DATA"; changed "owner $USER_NAME on $DATA"
fi

# --- units per role ---
UNIT_NAMES=()
if has_role kiosk; then
  flags=""; for _ in $(seq 1 $((ROTATE / 90))); do flags="$flags -r"; done
  case "$ROTATE" in 90) xrandr=right ;; 180) xrandr=inverted ;; 270) xrandr=left ;; *) xrandr=normal ;; esac
  put_file 0644 "$ETC/kiosk.env" <<EOF
# Written by scripts/install.sh --rotate $ROTATE (run it again to change). cage -r: 90° clockwise each.
CAGE_FLAGS=${flags# }
XRANDR_ROTATE=$xrandr
EOF
  # Touch follows the picture: libinput's calibration matrix for the same rotation.
  rules="$PREFIX/etc/udev/rules.d/99-yibao-kiosk-touch.rules"
  case "$ROTATE" in
    90) matrix="0 1 0 -1 0 1" ;; 180) matrix="-1 0 1 0 -1 1" ;; 270) matrix="0 -1 1 1 0 0" ;; *) matrix="" ;;
  esac
  if [ -n "$matrix" ]; then
    sed -e "s|@MATRIX@|$matrix|" "$DEPLOY/kiosk/99-yibao-kiosk-touch.rules" | put_file 0644 "$rules"
  elif [ -e "$rules" ]; then rm -f "$rules"; changed "removed $rules"; fi
  # Kernel console blanking off before cage takes the screen; cage itself never blanks.
  put_file 0644 "$PREFIX/etc/kernel/cmdline.d/yibao-kiosk.conf" < "$DEPLOY/kiosk/cmdline.conf"
  if [ $X11 -eq 1 ]; then
    render "$DEPLOY/x11/yibao-kiosk-x11.service" | put_file 0644 "$UNITS/yibao-kiosk.service"
    render "$DEPLOY/x11/xinitrc" | put_file 0755 "$ETC/xinitrc"
    put_file 0644 "$XORGCONF" < "$DEPLOY/x11/10-yibao-kiosk.conf"
  else
    render "$DEPLOY/systemd/yibao-kiosk.service" | put_file 0644 "$UNITS/yibao-kiosk.service"
    for old in "$ETC/xinitrc" "$XORGCONF"; do [ -e "$old" ] && { rm -f "$old"; changed "removed $old"; }; done
  fi
  UNIT_NAMES+=(yibao-kiosk.service)
fi
if has_role hall; then
  keep_file 0640 "$ETC/hall.env" "$USER_NAME" <<'EOF'
# Flags for `kiosk hall serve` (scripts/deploy/systemd/yibao-hall.service). Counters and the lobby
# reach the hall over the LAN: give it TLS, e.g. --host 0.0.0.0 --tls-cert F --tls-key F.
HALL_FLAGS=--host 127.0.0.1
EOF
  keep_file 0640 "$ETC/hall-tokens" "$USER_NAME" </dev/null
  UNIT_NAMES+=(yibao-hall.service)
fi
if has_role hub; then
  keep_file 0640 "$ETC/hub.env" "$USER_NAME" <<'EOF'
# Flags for `kiosk hub serve` (scripts/deploy/systemd/yibao-hub.service). Behind Caddy it stays on
# 127.0.0.1. PostgreSQL: [hub] db = "postgresql:///yibao" in config.toml (so `kiosk hub add-token` uses it too).
HUB_FLAGS=--host 127.0.0.1 --port 8765
# Worker processes (the unit passes --workers $HUB_WORKERS; default 1). More than one needs PostgreSQL.
#HUB_WORKERS=4
EOF
  UNIT_NAMES+=(yibao-hub.service)
fi
for unit in "${UNIT_NAMES[@]}"; do
  [ "$unit" = yibao-kiosk.service ] || render "$DEPLOY/systemd/$unit" | put_file 0644 "$UNITS/$unit"
done

# --- enable at boot (offline: works in a chroot or under --prefix, no running systemd needed) ---
if command -v systemctl >/dev/null; then
  root="${PREFIX:-/}"
  for unit in "${UNIT_NAMES[@]}"; do
    if [ "$(systemctl --root="$root" is-enabled "$unit" 2>/dev/null)" != enabled ]; then
      systemctl --root="$root" enable "$unit" >/dev/null 2>&1; changed "enabled $unit"
    fi
  done
  if has_role kiosk; then
    # Boot to the kiosk, not a login prompt; Ctrl-Alt-Del does nothing.
    # (the links systemctl set-default / mask make; systemctl --root needs the targets inside the root)
    if [ "$(readlink "$UNITS/default.target" 2>/dev/null)" != /lib/systemd/system/graphical.target ]; then
      ln -sfn /lib/systemd/system/graphical.target "$UNITS/default.target"; changed "default target graphical.target"
    fi
    # No login prompt racing the kiosk for tty1 (the unit also Conflicts= with it).
    if [ -L "$UNITS/getty.target.wants/getty@tty1.service" ]; then
      rm -f "$UNITS/getty.target.wants/getty@tty1.service"; changed "disabled getty@tty1.service"
    fi
    if [ "$(readlink "$UNITS/ctrl-alt-del.target" 2>/dev/null)" != /dev/null ]; then
      ln -sfn /dev/null "$UNITS/ctrl-alt-del.target"; changed "masked ctrl-alt-del.target"
    fi
  fi
  if [ -z "$PREFIX" ] && [ -d /run/systemd/system ] && [ $CHANGES -gt 0 ]; then systemctl daemon-reload; fi
fi

if [ $CHANGES -eq 0 ]; then echo "install: nothing changed"; else echo "install: $CHANGES change(s)"; fi
