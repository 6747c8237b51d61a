"""A replay's verdict per task: byte-identical, equal within tolerance, or different, and why.

``compare(recorded, replayed)`` takes the recorded run (``engine.rerun.Recorded``) and
the replay's record and, for each task of the plan, compares the outputs: the text,
the structured data and every file by sha256. Outputs that are not byte-identical are
compared by value where hgpt knows the format — WAV samples, image pixels, numbers in
the data — and called *within tolerance* when they differ by no more than
``TOLERANCE`` (a few units in the last place of 16-bit audio, of 8-bit pixels, a
relative 1e-4 for numbers). Otherwise they *differ*, and the provenance of the two
runs says why when it can: another model revision, other library versions, another
seed, other settings, other inputs; when all of those are the same, the expert is
not deterministic.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

IDENTICAL, WITHIN, DIFFERS, NOT_COMPARED = "identical", "within tolerance", "differs", "not compared"
TOLERANCE = {"audio": 4 / 32768, "image": 2, "number": 1e-4}


def compare(recorded, replayed: dict) -> list[dict]:
    out = []
    for task in recorded.record.get("plan", []):
        key = str(task["id"])
        old, new = recorded.task_info(task["id"]), replayed.get("tasks", {}).get(key, {})
        verdict = {"id": task["id"], "task": task["task"], "model_id": new.get("model_id") or old.get("model_id", "")}
        verdict.update(_one(recorded.run_dir, Path(replayed.get("run_dir", ".")), old, new))
        out.append(verdict)
    return out


def _one(old_dir: Path, new_dir: Path, old: dict, new: dict) -> dict:
    if old.get("status") != "done":
        return {"verdict": NOT_COMPARED, "why": f"the recorded task {old.get('status', 'did not run')}"}
    if new.get("status") != "done":
        return {"verdict": DIFFERS, "why": f"the replayed task {new.get('status', 'did not run')}: "
                                           f"{new.get('error', '')}".rstrip(": ")}
    details, exact, within = [], True, True
    old_text, new_text = old.get("text") or "", new.get("text") or ""
    if old_text != new_text:
        exact = False
        within = within and _numbers_close(old_text, new_text)
        details.append("text: numbers within tolerance" if within else f"text {old_text[:60]!r} became {new_text[:60]!r}")
    data_gap = _data_gap(old.get("data") or {}, new.get("data") or {})
    if data_gap != 0.0:
        exact = False
        within = within and data_gap is not None and data_gap <= TOLERANCE["number"]
        details.append("data: " + ("other values" if data_gap is None else f"numbers differ by {data_gap:.2e} (relative)"))
    old_files, new_files = list(old.get("files", [])), list(new.get("files", []))
    if len(old_files) != len(new_files):
        return {"verdict": DIFFERS, "why": f"{len(new_files)} output files instead of {len(old_files)}; "
                                           + _why(old, new)}
    for a, b in zip(old_files, new_files):
        a, b = _at(old_dir, a), _at(new_dir, b)
        if not a.is_file():
            return {"verdict": NOT_COMPARED, "why": f"the recorded output {a.name} is gone"}
        if _sha(a) == _sha(b):
            continue
        exact = False
        gap = _file_gap(a, b)
        within = within and gap is not None and gap[1] <= TOLERANCE[gap[0]]
        details.append(f"{b.name}: " + ("not comparable by value" if gap is None else f"{gap[0]} differs by {gap[1]:.3g}"))
    if exact:
        return {"verdict": IDENTICAL, "why": "text, data and every file byte-identical"}
    if within:
        return {"verdict": WITHIN, "why": "; ".join(details)}
    return {"verdict": DIFFERS, "why": "; ".join(details + [_why(old, new)])}


def _at(folder: Path, name: str) -> Path:
    path = Path(name)
    return path if path.is_absolute() else folder / path


def _sha(path: Path) -> str:
    from .provenance import sha256_of

    try:
        return sha256_of(path)
    except OSError:
        return ""


def _numbers_close(a: str, b: str) -> bool:
    """The same text except for numbers that are equal within tolerance."""
    import re

    if a == b:
        return True
    pattern = re.compile(r"-?\d+(?:\.\d+)?(?:e-?\d+)?")
    if pattern.sub("#", a) != pattern.sub("#", b):
        return False
    xs, ys = [float(x) for x in pattern.findall(a)], [float(y) for y in pattern.findall(b)]
    return len(xs) == len(ys) and all(math.isclose(x, y, rel_tol=TOLERANCE["number"], abs_tol=1e-6)
                                      for x, y in zip(xs, ys))


def _data_gap(a: Any, b: Any) -> float | None:
    """0.0 when equal; the largest relative difference when only numbers differ; None otherwise."""
    if isinstance(a, bool) or isinstance(b, bool):
        return 0.0 if a == b else None
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        if a == b:
            return 0.0
        return abs(a - b) / max(abs(a), abs(b), 1e-12)
    if isinstance(a, dict) and isinstance(b, dict):
        if set(a) != set(b):
            return None
        gaps = [_data_gap(a[k], b[k]) for k in a]
        return None if None in gaps else max(gaps, default=0.0)
    if isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            return None
        gaps = [_data_gap(x, y) for x, y in zip(a, b)]
        return None if None in gaps else max(gaps, default=0.0)
    return 0.0 if a == b else None


def _file_gap(a: Path, b: Path) -> tuple[str, float] | None:
    """(kind, largest difference) of two files hgpt can read by value, or None."""
    import numpy as np

    suffix = a.suffix.lower()
    try:
        if suffix == ".wav":
            x, y = _wav(a), _wav(b)
            if x is None or y is None or x.shape != y.shape:
                return None
            return "audio", float(np.abs(x - y).max()) if x.size else 0.0
        if suffix in (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".gif"):
            from PIL import Image

            with Image.open(a) as ia, Image.open(b) as ib:
                x, y = np.asarray(ia.convert("RGBA"), dtype=np.int16), np.asarray(ib.convert("RGBA"), dtype=np.int16)
            if x.shape != y.shape:
                return None
            return "image", float(np.abs(x - y).max()) if x.size else 0.0
    except (OSError, ValueError):
        return None
    return None


def _wav(path: Path):
    import wave

    import numpy as np

    with wave.open(str(path), "rb") as w:
        if w.getsampwidth() != 2:
            return None
        frames = w.readframes(w.getnframes())
    return np.frombuffer(frames, dtype="<i2").astype(np.float64) / 32768


def _why(old: dict, new: dict) -> str:
    """What differs between the two tasks' provenance, in words."""
    a, b = old.get("provenance") or {}, new.get("provenance") or {}
    if not a:
        return "the recorded run has no provenance to compare with (recorded by an older hgpt)"
    reasons = []
    if a.get("model_id") != b.get("model_id"):
        reasons.append(f"another model ({a.get('model_id')} → {b.get('model_id')})")
    elif a.get("revision") != b.get("revision") or _files(a) != _files(b):
        reasons.append(f"another model revision ({a.get('revision') or '?'} → {b.get('revision') or '?'})")
    la, lb = a.get("runtime", {}).get("libraries", {}), b.get("runtime", {}).get("libraries", {})
    changed = [f"{k} {la.get(k, '-')} → {lb.get(k, '-')}" for k in sorted(set(la) | set(lb)) if la.get(k) != lb.get(k)]
    if changed:
        reasons.append("other library versions (" + ", ".join(changed) + ")")
    if a.get("runtime", {}).get("device") != b.get("runtime", {}).get("device"):
        reasons.append(f"another device ({a.get('runtime', {}).get('device')} → {b.get('runtime', {}).get('device')})")
    if a.get("seed") != b.get("seed"):
        reasons.append(f"another seed ({a.get('seed')} → {b.get('seed')})")
    if a.get("settings") != b.get("settings"):
        reasons.append("other settings")
    if a.get("inputs") != b.get("inputs"):
        reasons.append("other inputs")
    if a.get("controller") != b.get("controller"):
        reasons.append("another controller")
    if reasons:
        return "why: " + "; ".join(reasons)
    seeded = " (it has no fixed seed)" if a.get("seed") is None else ""
    return f"why: same model, libraries, device, settings and inputs: {a.get('model_id')} is not deterministic{seeded}"


def _files(p: dict) -> list:
    return [(f.get("path"), f.get("sha256")) for f in p.get("files", [])]


def summary(verdicts: list[dict], of_run: str) -> tuple[str, list[str]]:
    """The replay's answer: one line overall and one per task."""
    counts: dict[str, int] = {}
    for v in verdicts:
        counts[v["verdict"]] = counts.get(v["verdict"], 0) + 1
    parts = ", ".join(f"{n} {word}" for word, n in counts.items())
    lines = [f"[{v['id']}] {v['task']} ({v['model_id']}): {v['verdict']} — {v['why']}" for v in verdicts]
    return f"Replay of run {of_run}: {parts}.", lines
