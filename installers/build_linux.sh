#!/usr/bin/env bash
# Build the Linux packages of hgpt from the project's .venv:
#   dist/hgpt/                    self-contained folder (PyInstaller one-folder app)
#   dist/hgpt_<version>_<arch>.deb   /opt/hgpt + /usr/bin wrappers + menu entry + icons
#   dist/hgpt.AppDir/             AppImage tree; dist/hgpt-<arch>.AppImage only when
#                                 appimagetool is on PATH (no package here provides it)
#
#   installers/build_linux.sh                 everything
#   installers/build_linux.sh --skip-freeze   reuse dist/hgpt, repackage only
#   installers/build_linux.sh --from-head     freeze the last commit (git archive HEAD into
#                                             build/src), not the working tree
#
# Uses the venv that ./scripts/setup made (HGPT_VENV moves it): the bundle carries
# exactly what the app runs with there, model packs included. PyInstaller itself is
# installed into that venv on first use (the "bundle" extra in pyproject.toml).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
VENV=${HGPT_VENV:-$ROOT/.venv}
PY="$VENV/bin/python"
SKIP_FREEZE=0
FROM_HEAD=0
for arg in "$@"; do
  case "$arg" in
    --skip-freeze) SKIP_FREEZE=1 ;;
    --from-head) FROM_HEAD=1 ;;
    -h|--help) sed -n '2,18p' "$0"; exit 0 ;;
    *) echo "build_linux.sh: unknown option $arg (try --help)" >&2; exit 2 ;;
  esac
done

say() { printf '\033[1m[hgpt build]\033[0m %s\n' "$*" >&2; }
now() { date +%s.%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.0f", b - a }'; }

[[ -x "$PY" ]] || { say "no venv at $VENV: run ./scripts/setup first"; exit 1; }
command -v dpkg-deb >/dev/null || { say "dpkg-deb is missing: sudo apt-get install dpkg"; exit 1; }

if ! "$PY" -c "import PyInstaller" 2>/dev/null; then
  say "installing PyInstaller into $VENV"
  read -r -a pins < <("$PY" -c "import tomllib; print(' '.join(tomllib.load(open('pyproject.toml', 'rb'))
['project']['optional-dependencies']['bundle']))")
  "$PY" -m pip --disable-pip-version-check install -q "${pins[@]}"
fi

say "rendering icons"
QT_QPA_PLATFORM=offscreen "$PY" installers/render_icons.py >/dev/null

if [[ $SKIP_FREEZE == 0 ]]; then
  mkdir -p build
  SRC=$ROOT
  if [[ $FROM_HEAD == 1 ]]; then
    SRC=$ROOT/build/src
    rm -rf "$SRC" && mkdir -p "$SRC"
    git archive HEAD | tar -x -C "$SRC"
    cp -r installers/icons/build "$SRC/installers/icons/"
    say "freezing commit $(git rev-parse --short HEAD) from $SRC"
  else
    dirty=$(git status --porcelain -- engine desktop installers models.lock requirements-packs.txt 2>/dev/null | wc -l)
    [[ $dirty == 0 ]] || say "note: freezing the working tree, which has $dirty uncommitted change(s) in the app's files (--from-head freezes the last commit)"
  fi
  say "freezing with PyInstaller (8-15 min on 2 cores; log: build/pyinstaller.log)"
  t0=$(now)
  # Run from the source folder so its engine/ and desktop/ shadow the venv's editable install.
  (cd "$SRC" && "$PY" -m PyInstaller --noconfirm --log-level WARN --distpath "$ROOT/dist" \
    --workpath "$ROOT/build/pyinstaller" installers/hgpt.spec) >build/pyinstaller.log 2>&1 || {
      tail -n 40 build/pyinstaller.log >&2
      say "PyInstaller failed; the full log is build/pyinstaller.log"
      exit 1
    }
  say "froze dist/hgpt in $(secs "$t0" "$(now)") s"
fi
[[ -x dist/hgpt/hgpt ]] || { say "dist/hgpt/hgpt is missing: build without --skip-freeze"; exit 1; }

say "checking the frozen CLI starts"
HGPT_HOME="$(mktemp -d)" dist/hgpt/hgpt --help >/dev/null || { say "dist/hgpt/hgpt --help failed"; exit 1; }

say "building the .deb"
t0=$(now)
deb=$("$PY" installers/linux/make_deb.py --dist dist/hgpt --out dist)
say "wrote $deb in $(secs "$t0" "$(now)") s"

say "building the AppDir"
"$PY" installers/linux/make_appdir.py --dist dist/hgpt --out dist
say "done: $(du -sh dist/hgpt | cut -f1) folder, $(du -h "$deb" | cut -f1) .deb"
