#!/usr/bin/env bash
# Smoke-test the built .deb the way a user without the development tree would run it.
#
#   installers/smoke_test.sh [PATH.deb]      default: the newest dist/hgpt_*.deb
#
# 1. unpacks the .deb into a scratch root (dpkg-deb -x) and checks its layout, its
#    menu entry and the /usr/bin wrappers (pointed at the scratch root); installs the
#    package's Depends with apt-get (as installing the .deb would), as root;
# 2. runs the CLI with a clean environment (no venv on PATH, no PYTHONPATH, HGPT_HOME
#    and HOME in a temp dir) on the showcase request, and checks the answer names the
#    models it ran, the classifier saw a cat and the spoken WAV exists; under strace
#    (when installed) it also checks that no file of the source tree or its .venv was
#    opened;
# 3. checks the first start made the data folder and filled the catalog;
# 4. opens the window on a virtual X screen (Xvfb, real xcb platform plugin) and saves
#    a screenshot to build/smoke/window.png.
# Exits non-zero with a one-line reason at the first failure.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
DEB=${1:-$(ls -t "$ROOT"/dist/hgpt_*.deb 2>/dev/null | head -n1 || true)}
REQUEST="What animal is in chelsea.png? Then say the answer out loud."
OUT="$ROOT/build/smoke"

say() { printf '\033[1m[hgpt smoke]\033[0m %s\n' "$*" >&2; }
fail() { say "FAIL: $*"; exit 1; }
[[ -n "$DEB" && -f "$DEB" ]] || fail "no .deb found; build it with installers/build_linux.sh"

need=()
command -v xvfb-run >/dev/null || need+=(xvfb xauth)
command -v espeak-ng >/dev/null || need+=(espeak-ng)
command -v strace >/dev/null || need+=(strace)
if [[ ${#need[@]} -gt 0 && $(id -u) == 0 ]] && command -v apt-get >/dev/null; then
  say "installing ${need[*]}"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null 2>&1 \
    || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}") >/dev/null 2>&1 \
    || say "could not install ${need[*]}"
fi
command -v xvfb-run >/dev/null || fail "xvfb-run is missing: sudo apt-get install xvfb xauth"

WORK="$(mktemp -d /tmp/hgpt-smoke.XXXXXX)"
trap 'rm -rf "$WORK"' EXIT
mkdir -p "$OUT" "$WORK/home" "$WORK/data" "$WORK/bin"
SCRATCH="$WORK/root"
APP="$SCRATCH/opt/hgpt"

say "unpacking $(basename "$DEB") into a scratch root"
dpkg-deb -x "$DEB" "$SCRATCH"
for f in opt/hgpt/hgpt opt/hgpt/hgpt-desktop usr/bin/hgpt usr/bin/hgpt-desktop \
         usr/share/applications/hgpt.desktop usr/share/icons/hicolor/256x256/apps/hgpt.png \
         usr/share/icons/hicolor/scalable/apps/hgpt.svg opt/hgpt/_internal/models.lock; do
  [[ -e "$SCRATCH/$f" ]] || fail "the package lacks /$f"
done
if command -v desktop-file-validate >/dev/null; then
  desktop-file-validate "$SCRATCH/usr/share/applications/hgpt.desktop" || fail "hgpt.desktop is invalid"
fi
# The package's Depends, installed the way apt does for a user who installs the .deb
# (apt-get satisfy resolves the same field, versions included; Recommends are left
# out, so the window below proves Depends alone are enough).
depends=$(dpkg-deb -f "$DEB" Depends)
absent=()
for dep in $(tr ',' '\n' <<<"$depends" | sed 's/(.*//; s/|.*//; s/ //g'); do
  dpkg-query -W -f='${Status}' "$dep" 2>/dev/null | grep -q "ok installed" || absent+=("$dep")
done
if [[ ${#absent[@]} -gt 0 ]]; then
  [[ $(id -u) == 0 ]] && command -v apt-get >/dev/null \
    || fail "the package depends on ${absent[*]}, not installed here: sudo apt-get satisfy '$depends'"
  say "installing the package's Depends with apt-get: ${absent[*]}"
  { DEBIAN_FRONTEND=noninteractive apt-get satisfy -y -qq --no-install-recommends "$depends" >/dev/null 2>&1 \
    || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get satisfy -y -qq --no-install-recommends \
        "$depends"); } >"$WORK/apt.txt" 2>&1 \
    || fail "apt-get could not satisfy the package's Depends: $(tail -n1 "$WORK/apt.txt")"
fi
# The wrappers exec /opt/hgpt/...; run copies that point into the scratch root instead.
for exe in hgpt hgpt-desktop; do
  sed "s|/opt/hgpt/|$APP/|" "$SCRATCH/usr/bin/$exe" >"$WORK/bin/$exe"
  chmod +x "$WORK/bin/$exe"
done

# A user's environment: system PATH (never the venv), nothing Python-specific.
cp "$ROOT/samples/chelsea.png" "$WORK/chelsea.png"
clean_env=(env -i "HOME=$WORK/home" "PATH=$WORK/bin:/usr/local/bin:/usr/bin:/bin" "LANG=C.UTF-8"
           "HGPT_HOME=$WORK/data" "HGPT_CONFIG_DIR=$WORK/home/.config/hgpt" "TMPDIR=$WORK")
[[ -n "${HGPT_THREADS:-}" ]] && clean_env+=("HGPT_THREADS=$HGPT_THREADS")

say "hgpt --help"
"${clean_env[@]}" hgpt --help >"$WORK/help.txt" 2>&1 || fail "hgpt --help failed: $(tail -n1 "$WORK/help.txt")"
grep -q "ask" "$WORK/help.txt" || fail "hgpt --help does not list the ask command"

say "hgpt models verify (the bundled packs against models.lock's sha256)"
"${clean_env[@]}" hgpt models verify >"$OUT/verify.txt" 2>&1 || fail "hgpt models verify failed: $(tail -n1 "$OUT/verify.txt")"
# Every model of models.lock whose pack the package ships must be verified; one split
# across several packs (Qwen2.5-Coder-1.5B, 22 of requirements-packs.txt's lines) travels
# joined in _internal/share/hgpt/models instead of as parts, so its joined file is hashed
# against the lock here (verify looks for the parts and lists it as missing).
PYTHON=$(command -v python3) || fail "python3 is needed to read models.lock"
"$PYTHON" -I -S - "$APP/_internal" "$ROOT/requirements-packs.txt" "$OUT/verify.txt" >"$WORK/packs.txt" <<'EOF' \
  || fail "the bundled models do not all verify ($(tail -n1 "$OUT/verify.txt")); see above"
import hashlib, re, sys, tomllib
from pathlib import Path

internal, packs_file, report = Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3])
lock = tomllib.loads((internal / "models.lock").read_text())["models"]
norm = lambda name: re.sub(r"[-_.]+", "-", name).lower()
packs = {norm(re.split(r"[=<>!~;\[ ]", line.strip())[0]) for line in packs_file.read_text().splitlines()
         if re.match(r"^[A-Za-z0-9].*==", line)}
status = {}
for line in report.read_text().splitlines():
    words = line.split()
    if len(words) == 2 and words[0] in ("verified", "unverifiable", "missing", "mismatch"):
        status[words[1]] = words[0]
assert "mismatch" not in status.values(), f"mismatch: {[n for n, s in status.items() if s == 'mismatch']}"
verified, joined = [], []
for name, entry in lock.items():
    source = entry.get("source", "")
    if not source.startswith("pypi:") or norm(source[5:].split("==")[0]) not in packs:
        continue
    if "joined" in entry:
        spec = entry["joined"]
        path = internal / "share" / "hgpt" / "models" / spec["path"]
        assert path.is_file(), f"{name}: the package lacks its joined file {path}"
        size = path.stat().st_size
        assert size == spec["size"], f"{name}: {path} is {size:,} bytes, models.lock says {spec['size']:,}"
        digest = hashlib.sha256()
        with path.open("rb") as fh:
            while chunk := fh.read(1 << 22):
                digest.update(chunk)
        assert digest.hexdigest() == spec["sha256"], f"{name}: {path}'s sha256 differs from models.lock"
        joined.append(f"{name} {size / 1e6:,.0f} MB")
    else:
        assert status.get(name) == "verified", f"{name} is {status.get(name, 'not listed')} in hgpt models verify"
        verified.append(name)
assert verified, "models.lock names none of the bundled packs"
print(f"{len(verified)} packed models verified; joined, sha256 as models.lock pins: {', '.join(joined) or 'none'}")
EOF
say "$(tail -n1 "$OUT/verify.txt"); $(cat "$WORK/packs.txt")"
# Bigger models are downloads: offline (the default) the app must say how to allow it.
set +e
"${clean_env[@]}" hgpt models pull whisper-base >"$WORK/pull.txt" 2>&1
code=$?
set -e
[[ $code == 2 ]] && grep -q -- "--online" "$WORK/pull.txt" \
  || fail "offline 'hgpt models pull' should exit 2 naming --online, got $code: $(tail -n1 "$WORK/pull.txt")"

say "hgpt ask \"$REQUEST\" --attach chelsea.png"
trace=()
command -v strace >/dev/null && trace=(strace -f -qq -e trace=openat,execve -o "$WORK/trace.txt")
start=$(date +%s)
(cd "$WORK" && "${clean_env[@]}" "${trace[@]}" hgpt ask "$REQUEST" --attach chelsea.png) \
  >"$OUT/ask.txt" 2>"$OUT/ask.err" || fail "hgpt ask exited $? ($(tail -n1 "$OUT/ask.err")); see $OUT/ask.txt"
say "answered in $(( $(date +%s) - start )) s"
cat "$OUT/ask.txt"

# Check the run record with a Python that is not the venv's (isolated mode, no site-packages).
PYTHON=$(command -v python3) || fail "python3 is needed to read the run record"
"$PYTHON" -I -S - "$WORK/data" "$OUT/ask.txt" "$APP" <<'EOF' || fail "the run record does not show a real answer (see above)"
import json, sqlite3, sys, wave
from pathlib import Path

home, text, app = Path(sys.argv[1]), Path(sys.argv[2]).read_text(), Path(sys.argv[3])
records = sorted(home.glob("runs/*/run.json"), key=lambda p: p.stat().st_mtime)
records = [json.loads(p.read_text()) for p in records]
record = next((r for r in reversed(records) if isinstance(r, dict) and "tasks" in r), None)
assert record, f"no run record under {home}/runs"
assert record["status"] == "done", f"run status is {record['status']}"
controller = record.get("provenance", {}).get("controller", {})
assert Path(controller.get("path", "")).is_relative_to(app), \
    f"the controller {controller.get('name')} came from {controller.get('path')}, not from the package"
tasks = record["tasks"]
assert len(tasks) >= 2, f"expected classification and speech, got {[t['task'] for t in tasks.values()]}"
# The record keeps the answer as its parts: the controller's direct answer and the
# engine's workflow steps, which name every model (engine/answer.py).
answer = "\n".join([record["answer"], *record.get("workflow", [])])
for info in tasks.values():
    assert info["status"] == "done", f"{info['task']} {info['status']}: {info.get('error')}"
    assert info["model_id"] in answer and info["model_id"] in text, f"answer lacks {info['model_id']}"
labels = " ".join(t.get("text", "") for t in tasks.values()).lower()
assert "cat" in labels, f"no cat in the results: {labels[:200]}"
wavs = [Path(f) for t in tasks.values() for f in t.get("files", []) if f.endswith(".wav")]
assert wavs and wavs[0].is_file(), "no WAV file was written"
with wave.open(str(wavs[0])) as w:
    seconds = w.getnframes() / w.getframerate()
assert seconds > 0.3, f"{wavs[0]} holds only {seconds:.2f} s of audio"
catalog = home / "catalog.db"
assert catalog.is_file(), "the first start did not create catalog.db"
with sqlite3.connect(catalog) as db:
    n = db.execute("SELECT count(*) FROM models").fetchone()[0]
assert n >= len(tasks), f"the catalog holds {n} models"
print(f"controller: {record.get('controller')}; models: {', '.join(t['model_id'] for t in tasks.values())}; "
      f"wav {wavs[0].name} {seconds:.1f} s; catalog {n} models")
EOF

if [[ -f "$WORK/trace.txt" ]]; then
  opened=$(grep -c 'openat(' "$WORK/trace.txt" || true)
  (( opened > 1000 )) || fail "strace recorded only $opened file opens; the trace did not work"
  if grep -E "\"$ROOT/" "$WORK/trace.txt" | grep -v ENOENT >"$WORK/leaks.txt"; then
    head -n 5 "$WORK/leaks.txt" >&2
    fail "the packaged app opened files from the source tree $ROOT (above)"
  fi
  say "strace: $opened file opens, none in $ROOT"
fi

say "hgpt-desktop on a virtual X screen"
rm -f "$OUT/window.png"
"${clean_env[@]}" "HGPT_STARTUP_PROBE=1" "HGPT_STARTUP_SHOT=$OUT/window.png" "QT_QPA_PLATFORM=xcb" \
  timeout 180 xvfb-run -a -s "-screen 0 1280x800x24" hgpt-desktop >"$OUT/desktop.txt" 2>&1 \
  || fail "hgpt-desktop did not start under Xvfb: $(grep -v '^$' "$OUT/desktop.txt" | tail -n1)"
grep -q "hgpt-window-shown" "$OUT/desktop.txt" || fail "no window appeared; see $OUT/desktop.txt"
[[ -s "$OUT/window.png" ]] || fail "no screenshot was saved"
say "window shown; screenshot $OUT/window.png"
say "PASS"
