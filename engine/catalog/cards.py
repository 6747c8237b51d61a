"""Model cards from every source, turned into catalog rows.

Cards arrive in several shapes: the HuggingGPT reference implementation's JSONL
(``id, downloads, likes, pipeline_tag, task, meta{…}, description``), the Hub
API's ``list_models`` JSON (``id``/``modelId, pipeline_tag, tags, library_name,
cardData, lastModified, sha, safetensors, siblings``), an installed expert's
``Expert.card()`` and a cached model's README front matter. ``normalize`` maps any
of them to one row dict whose keys are the ``models`` columns; a field the source
does not know is ``None``, so an upsert keeps what another source already said
(a Hub sync refreshes downloads without forgetting where a model is installed).

``clean_description`` turns card text (Markdown with HTML, tables, code, badges)
into plain sentences for the full-text index and for the controller's prompt.
"""

from __future__ import annotations

import html
import json
import re
from typing import Any, Iterable

from ..errors import UserInputError

DESCRIPTION_CHARS = 2000  # what is stored; prompts trim further

# Library (Hub ``library_name`` or tag) -> the runtime that can run it on a laptop CPU.
LIBRARY_RUNTIMES = {
    "transformers": "transformers",
    "sentence-transformers": "sentence-transformers",
    "timm": "timm",
    "diffusers": "diffusers",
    "onnx": "onnxruntime",
    "gguf": "llama.cpp",
    "ctranslate2": "faster-whisper",
    "spacy": "spacy",
}

_DTYPE_BYTES = {"F64": 8, "I64": 8, "U64": 8, "F32": 4, "I32": 4, "U32": 4, "F16": 2, "BF16": 2,
                "I16": 2, "U16": 2, "I8": 1, "U8": 1, "F8_E4M3": 1, "F8_E5M2": 1, "BOOL": 1}


class CardError(UserInputError):
    """A record cannot become a catalog card (no id, a field of the wrong type)."""


# -- description ---------------------------------------------------------------------
# One pattern per kind of markup, each run only when a cheap substring test says the
# text holds that kind: a million cards are cleaned at import time.
_FRONT_MATTER = re.compile(r"\A\s*---\s*\n.*?\n---\s*(\n|\Z)", re.S)
_STEPS = [  # (substring that must be present, pattern, replacement)
    ("<!--", re.compile(r"<!--.*?(-->|\Z)", re.S), " "),
    ("```", re.compile(r"```.*?(```|\Z)", re.S), " "),
    ("~~~", re.compile(r"~~~.*?(~~~|\Z)", re.S), " "),
    ("![", re.compile(r"!\[[^\]]*\]\([^)]*\)"), " "),                     # images, badges
    ("](", re.compile(r"\[([^\]]*)\]\((?:[^()\s]|\([^()\s]*\))*\)"), r"\1"),  # [text](url)
    ("---", re.compile(r"^[ \t]*\|?[ \t]*:?-{3,}[^\n]*$", re.M), " "),       # table and horizontal rules
    ("http", re.compile(r"https?://[^\s>)\]]+"), " "),                      # bare URLs
    ("<", re.compile(r"<[^<>]{0,400}>"), " "),                              # HTML tags
    ("_", re.compile(r"_+"), lambda m: _emphasis(m)),                       # _emphasis_, not snake_case
]
_LINE_MARKS = re.compile(r"\n[ \t]{0,3}(?:#{1,6}|>+|[-+](?=\s)|\d+\.(?=\s))")  # headings, quotes, lists
RAW_CHARS = 4 * DESCRIPTION_CHARS  # longer card text is cut before cleaning


def clean_description(text: str, limit: int = 0) -> str:
    """Card text without Markdown/HTML markup, whitespace folded, optionally trimmed."""
    text = text or ""
    if limit:
        text = text[: max(RAW_CHARS, 4 * limit)]
    if text.lstrip().startswith("---"):
        text = _FRONT_MATTER.sub("", text)
    for needle, pattern, replacement in _STEPS:
        if needle in text:
            text = pattern.sub(replacement, text)
    text = _LINE_MARKS.sub("\n ", "\n" + text).replace("*", " ").replace("`", " ").replace("|", " ")
    if "&" in text:
        text = html.unescape(text)
    return trim(" ".join(text.split()), limit)


def _emphasis(match: re.Match) -> str:
    """Underscores at a word's edge are markup; inside a word (snake_case) they stay."""
    text, start, end = match.string, match.start(), match.end()
    inside = start > 0 and text[start - 1].isalnum() and end < len(text) and text[end].isalnum()
    return match.group(0) if inside else " "


def trim(text: str, limit: int) -> str:
    if not limit or len(text) <= limit:
        return text
    cut = text[: limit - 1]
    return (cut.rsplit(" ", 1)[0] if " " in cut else cut) + "…"


# -- normalization -------------------------------------------------------------------
def normalize(raw: Any, source: str = "", synced_at: str | None = None) -> dict:
    """One card in any known shape -> a ``models`` row (None = unknown) plus ``tasks``."""
    if not isinstance(raw, dict):
        raise CardError(f"expected a JSON object, got {type(raw).__name__}")
    model_id = raw.get("id") or raw.get("modelId") or raw.get("model_id")
    if not isinstance(model_id, str) or not model_id.strip():
        raise CardError("no model id (expected an 'id' or 'modelId' field)")
    meta = _first_dict(raw.get("meta"), raw.get("cardData"), raw.get("card_data"))
    task = _text(raw.get("pipeline_tag") or raw.get("task") or meta.get("pipeline_tag"), "pipeline_tag")
    tags = _strings(raw.get("tags")) + _strings(meta.get("tags"))
    library = _text(raw.get("library_name") or raw.get("library") or meta.get("library_name"), "library_name")
    row = {
        "id": model_id.strip(),
        "task": task,
        "downloads": _count(raw.get("downloads"), "downloads"),
        "likes": _count(raw.get("likes"), "likes"),
        "tags": json.dumps(list(dict.fromkeys(tags))) if tags else None,
        "library": library,
        "licence": _licence(raw, meta, tags),
        "languages": _languages(raw, meta),
        "description": (clean_description(raw["description"], DESCRIPTION_CHARS)
                        if isinstance(raw.get("description"), str) else None),
        "size_mb": _size_mb(raw),
        "runtime": raw.get("runtime") or _runtime(library, tags),
        "installed": _flag(raw.get("installed")),
        "installed_path": _opt_str(raw.get("installed_path")),
        "installed_revision": _opt_str(raw.get("installed_revision")),
        "pinned": _flag(raw.get("pinned")),
        "source": source or _opt_str(raw.get("source")),
        "last_modified": _opt_str(raw.get("lastModified") or raw.get("last_modified")),
        "sha": _opt_str(raw.get("sha")),
        "synced_at": synced_at,
    }
    row["tasks"] = list(dict.fromkeys(t for t in [task, *_strings(raw.get("tasks"))] if t))
    if not task and row["tasks"]:
        row["task"] = row["tasks"][0]
    return row


def _first_dict(*values) -> dict:
    return next((v for v in values if isinstance(v, dict)), {})


def _text(value, field: str) -> str | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise CardError(f"'{field}' should be text, got {type(value).__name__}")
    return value.strip()


def _opt_str(value) -> str | None:
    return str(value) if value not in (None, "") else None


def _count(value, field: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise CardError(f"'{field}' should be a number, got {value!r}")
    try:
        return max(0, int(float(value)))
    except ValueError:
        raise CardError(f"'{field}' should be a number, got {value!r}") from None


def _flag(value) -> int | None:
    return None if value is None else int(bool(value))


def _strings(value) -> list[str]:
    if isinstance(value, str):
        return [value] if value.strip() else []
    if isinstance(value, (list, tuple)):
        return [str(v) for v in value if isinstance(v, (str, int, float)) and str(v).strip()]
    return []


def _licence(raw: dict, meta: dict, tags: list[str]) -> str | None:
    value = raw.get("licence") or raw.get("license") or meta.get("license") or meta.get("licence")
    names = _strings(value) or [t.split(":", 1)[1] for t in tags if t.startswith("license:")]
    return ", ".join(dict.fromkeys(names)) or None


def _languages(raw: dict, meta: dict) -> str | None:
    names = (_strings(raw.get("languages")) or _strings(raw.get("language"))
             or _strings(meta.get("language")) or _strings(meta.get("languages")))
    return json.dumps(list(dict.fromkeys(names))) if names else None


def _runtime(library: str | None, tags: Iterable[str]) -> str | None:
    if library:
        return LIBRARY_RUNTIMES.get(library.lower())
    return next((LIBRARY_RUNTIMES[t] for t in tags if t in LIBRARY_RUNTIMES), None)


def _size_mb(raw: dict) -> float | None:
    """Megabytes of weights: stated, summed from file sizes, or from tensor counts by dtype."""
    stated = raw.get("size_mb")
    if isinstance(stated, (int, float)) and not isinstance(stated, bool) and stated > 0:
        return round(float(stated), 1)
    siblings = raw.get("siblings")
    if isinstance(siblings, list):
        sizes = [s.get("size") for s in siblings if isinstance(s, dict)]
        if sizes and all(isinstance(s, int) for s in sizes):
            return round(sum(sizes) / 1e6, 1)
    params = (raw.get("safetensors") or {}).get("parameters") if isinstance(raw.get("safetensors"), dict) else None
    if isinstance(params, dict) and params:
        total = sum(int(n) * _DTYPE_BYTES.get(str(d).upper(), 4) for d, n in params.items()
                    if isinstance(n, (int, float)))
        return round(total / 1e6, 1) if total else None
    if isinstance(raw.get("usedStorage"), int) and raw["usedStorage"] > 0:
        return round(raw["usedStorage"] / 1e6, 1)
    return None


def read_card_text(text: str) -> tuple[dict, str]:
    """A README: (its YAML front matter as a dict, the text after it)."""
    match = _FRONT_MATTER.match(text or "")
    if not match:
        return {}, text or ""
    import yaml

    try:
        meta = yaml.safe_load(match.group(0).strip().strip("-")) or {}
    except yaml.YAMLError:
        meta = {}
    return (meta if isinstance(meta, dict) else {}), text[match.end():]
