"""A SQLite catalog of model cards.

Selection asks one question of it: the top-K cards for a task type among a set of
runnable model ids, ranked by downloads. On first start with no network the
catalog is filled from the cards of the installed experts, so selection works
offline immediately.
"""

from __future__ import annotations

import json
import re
import sqlite3
import threading
from pathlib import Path
from typing import Iterable

SCHEMA = """
CREATE TABLE IF NOT EXISTS models (
    id TEXT PRIMARY KEY,
    task TEXT NOT NULL,
    downloads INTEGER NOT NULL DEFAULT 0,
    likes INTEGER NOT NULL DEFAULT 0,
    licence TEXT NOT NULL DEFAULT '',
    description TEXT NOT NULL DEFAULT '',
    runtime TEXT NOT NULL DEFAULT '',
    size_mb REAL NOT NULL DEFAULT 0,
    source TEXT NOT NULL DEFAULT ''
);
CREATE TABLE IF NOT EXISTS model_tasks (
    model_id TEXT NOT NULL REFERENCES models(id) ON DELETE CASCADE,
    task TEXT NOT NULL,
    PRIMARY KEY (task, model_id)
);
CREATE INDEX IF NOT EXISTS models_task_downloads ON models(task, downloads DESC);
"""

_MARKUP = re.compile(r"(!?\[([^\]]*)\]\([^)]*\))|[#*`>|_]{1,}|<[^>]+>")


def clean_description(text: str, limit: int = 0) -> str:
    """Card text without Markdown/HTML markup, whitespace folded, optionally trimmed."""
    text = _MARKUP.sub(lambda m: m.group(2) or " ", text or "")
    text = re.sub(r"\s+", " ", text).strip()
    if limit and len(text) > limit:
        text = text[: limit - 1].rsplit(" ", 1)[0] + "…"
    return text


class Catalog:
    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        with self.connect() as db:
            db.executescript(SCHEMA)

    def connect(self) -> sqlite3.Connection:
        db = getattr(self._local, "db", None)
        if db is None:
            db = sqlite3.connect(self.path, timeout=30)
            db.row_factory = sqlite3.Row
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA foreign_keys=ON")
            self._local.db = db
        return db

    def upsert(self, cards: Iterable[dict]) -> int:
        db, n = self.connect(), 0
        with db:
            for card in cards:
                tasks = card.get("tasks") or [card.get("task") or card.get("pipeline_tag")]
                tasks = [t for t in tasks if t]
                if not card.get("id") or not tasks:
                    continue
                db.execute(
                    "INSERT OR REPLACE INTO models (id, task, downloads, likes, licence, description,"
                    " runtime, size_mb, source) VALUES (?,?,?,?,?,?,?,?,?)",
                    (card["id"], tasks[0], int(card.get("downloads") or 0), int(card.get("likes") or 0),
                     card.get("licence") or card.get("license") or "",
                     clean_description(card.get("description", "")), card.get("runtime", ""),
                     float(card.get("size_mb") or 0), card.get("source", "")),
                )
                db.executemany("INSERT OR IGNORE INTO model_tasks VALUES (?, ?)",
                               [(card["id"], t) for t in tasks])
                n += 1
        return n

    def top_k(self, task: str, k: int = 5, among: Iterable[str] | None = None,
              description_chars: int = 200) -> list[dict]:
        sql = ("SELECT m.* FROM model_tasks t JOIN models m ON m.id = t.model_id WHERE t.task = ?")
        params: list = [task]
        if among is not None:
            among = list(among)
            if not among:
                return []
            sql += f" AND m.id IN ({','.join('?' * len(among))})"
            params += among
        sql += " ORDER BY m.downloads DESC, m.likes DESC, m.id LIMIT ?"
        rows = self.connect().execute(sql, params + [k]).fetchall()
        return [self._card(r, description_chars) for r in rows]

    def get(self, model_id: str) -> dict | None:
        row = self.connect().execute("SELECT * FROM models WHERE id = ?", (model_id,)).fetchone()
        return self._card(row, 0) if row else None

    def count(self) -> int:
        return self.connect().execute("SELECT count(*) FROM models").fetchone()[0]

    @staticmethod
    def _card(row: sqlite3.Row, description_chars: int) -> dict:
        card = dict(row)
        card["description"] = clean_description(card["description"], description_chars)
        return card

    def close(self) -> None:
        db = getattr(self._local, "db", None)
        if db is not None:
            db.close()
            self._local.db = None


def open_catalog(path: str | Path, registry=None) -> Catalog:
    """Open (creating if needed) and make sure every installed expert has its card."""
    catalog = Catalog(path)
    if registry is not None:
        known = {r[0] for r in catalog.connect().execute("SELECT id FROM models")}
        fresh = [e.card() for e in registry if e.model_id not in known]
        if fresh:
            catalog.upsert(fresh)
    return catalog


def cards_json(cards: list[dict]) -> str:
    return json.dumps(cards, ensure_ascii=False)
