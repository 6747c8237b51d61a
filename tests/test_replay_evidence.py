"""scripts/replay_evidence.py decides again, offline, between the candidates a run kept."""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))


def _task(i, task, dep, **args):
    return {"id": i, "task": task, "dep": dep, "args": args}


def test_the_replay_scores_each_rule_on_the_records_the_old_rule_drafted(tmp_path, capsys):
    import replay_evidence

    asr = _task(0, "automatic-speech-recognition", [-1], audio="memo.wav")
    summary = _task(1, "summarization", [0], text="<resource>-0")
    cases = [
        {"id": "a", "request": "summarize this voice memo", "files": {"memo.wav": "audio"},
         "must": ["automatic-speech-recognition", "summarization"], "links": [], "allow": None, "empty_ok": False},
        {"id": "b", "request": "transcribe this voice memo", "files": {"memo.wav": "audio"},
         "must": ["automatic-speech-recognition"], "links": [], "allow": None, "empty_ok": False},
    ]
    trace = {"files": {"memo.wav": "audio"}, "triage": {"direct": False}}
    run = {"plans": [
        # the rails read the memo but did not summarize it; the draft did both
        {"id": "a", "trace": {**trace, "candidates": {"rails": [asr], "draft": [asr, summary]}}},
        # the rails' plan has what is clearly asked: the old rule wrote no draft, so it is not compared
        {"id": "b", "trace": {**trace, "candidates": {"rails": [asr], "draft": [asr, summary]}}},
    ]}
    (tmp_path / "cases.jsonl").write_text("\n".join(json.dumps(c) for c in cases) + "\n")
    (tmp_path / "run.json").write_text(json.dumps(run))
    assert replay_evidence.main(["--requests", str(tmp_path / "run.json"), str(tmp_path / "cases.jsonl")]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("usable    over 1 records: share passed / edge F1 0.0 / 0.0; drafts chosen 0")
    assert out[1].startswith("coverage  over 1 records: share passed / edge F1 100.0 / 0.0; drafts chosen 1 "
                             "(better than the rails' plan 1, worse 0, same 0)")
