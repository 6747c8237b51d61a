#!/usr/bin/env bash
# Build hgpt.app and a .dmg on macOS (Apple silicon or Intel):
#   installers/macos/build_macos.sh                  ad-hoc signed, for local use
#   SIGN_ID="Developer ID Application: …" NOTARY_PROFILE=hgpt installers/macos/build_macos.sh
#
# Needs Python 3.11 (python.org or Homebrew), Xcode command line tools (clang, cmake
# via `brew install cmake`) and, optionally, `brew install create-dmg` for a styled
# disk image (otherwise plain hdiutil). Text-to-speech needs `brew install espeak-ng`
# on the user's machine (the Piper voice runs it as a separate program).
#
# GPU: llama.cpp builds with Metal on by default on Apple silicon (GGML_METAL=on), so
# the controller runs on the GPU with no flag; on Intel Macs Metal is turned off below.
# torch's macOS arm64 wheel from PyPI includes the MPS back end.
#
# NOT TESTED on this project's Linux machines: no macOS host was available.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$ROOT"
VENV=${HGPT_VENV:-$ROOT/.venv-mac}
PY=${PYTHON:-python3.11}
say() { printf '\033[1m[hgpt macos]\033[0m %s\n' "$*" >&2; }

[[ -x "$VENV/bin/python" ]] || "$PY" -m venv "$VENV"
pip() { "$VENV/bin/python" -m pip --disable-pip-version-check "$@"; }
pip install -q --upgrade pip wheel
pip install -q "torch==2.13.0"
if [[ $(uname -m) == arm64 ]]; then
  export CMAKE_ARGS="${CMAKE_ARGS:--DGGML_METAL=on -DLLAVA_BUILD=OFF}"
else
  export CMAKE_ARGS="${CMAKE_ARGS:--DGGML_METAL=off -DGGML_NATIVE=OFF -DLLAVA_BUILD=OFF}"
fi
say "building llama-cpp-python with CMAKE_ARGS=$CMAKE_ARGS"
pip install -q --no-cache-dir "llama-cpp-python==0.3.36"
pip install -q -e ".[llm,experts,desktop,bundle]"
pip install -q --no-deps -r requirements-packs.txt

say "rendering icons and freezing"
"$VENV/bin/python" installers/render_icons.py >/dev/null
"$VENV/bin/python" -m PyInstaller --noconfirm --distpath dist --workpath build/pyinstaller installers/hgpt.spec
APP=dist/hgpt.app
"$APP/Contents/MacOS/hgpt" --help >/dev/null

if [[ -n "${SIGN_ID:-}" ]]; then
  say "signing with $SIGN_ID (hardened runtime)"
  codesign --force --deep --options runtime --timestamp -s "$SIGN_ID" "$APP"
else
  say "ad-hoc signing (Gatekeeper will ask the user to confirm the first start)"
  codesign --force --deep -s - "$APP"
fi

VERSION=$("$VENV/bin/python" -c "import tomllib; print(tomllib.load(open('pyproject.toml','rb'))['project']['version'])")
DMG="dist/hgpt-$VERSION-$(uname -m).dmg"
rm -f "$DMG"
if command -v create-dmg >/dev/null; then
  create-dmg --volname hgpt --volicon installers/icons/build/hgpt.icns --window-size 540 360 \
    --icon-size 96 --icon hgpt.app 140 170 --app-drop-link 400 170 "$DMG" "$APP"
else
  hdiutil create -volname hgpt -srcfolder "$APP" -ov -format UDZO "$DMG"
fi
if [[ -n "${SIGN_ID:-}" && -n "${NOTARY_PROFILE:-}" ]]; then
  say "notarizing"
  codesign -s "$SIGN_ID" "$DMG"
  xcrun notarytool submit "$DMG" --keychain-profile "$NOTARY_PROFILE" --wait
  xcrun stapler staple "$DMG"
fi
say "built $DMG. The CLI is $APP/Contents/MacOS/hgpt (link it into /usr/local/bin to use 'hgpt')."
