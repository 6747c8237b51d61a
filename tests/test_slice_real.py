"""The vertical slice for real: the README's showcase request through the real CLI,
with the embedded SmolLM2 controller (llama.cpp) and the real experts."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import wave
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHOWCASE = "What animal is in chelsea.png? Then say the answer out loud."

pytestmark = pytest.mark.slow


def hgpt(*args, home: Path, timeout=600) -> subprocess.CompletedProcess:
    env = {**os.environ, "HGPT_HOME": str(home), "HGPT_THREADS": "2"}
    return subprocess.run([sys.executable, "-m", "engine.cli", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def showcase_record(tmp_path_factory):
    import llama_cpp  # noqa: F401  (the runs below need the embedded controller)
    home = tmp_path_factory.mktemp("home")
    proc = hgpt("ask", SHOWCASE, "--attach", str(ROOT / "samples" / "chelsea.png"), "--json", home=home)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return json.loads(proc.stdout)


def test_showcase_plans_classification_then_speech(showcase_record):
    plan = showcase_record["plan"]
    assert [t["task"] for t in plan] == ["image-classification", "text-to-speech"]
    assert plan[0]["args"]["image"] == "chelsea.png"
    assert plan[1]["args"]["text"] == "<resource>-0" and plan[1]["dep"] == [0]


def test_showcase_finds_a_cat_and_speaks_it(showcase_record):
    tasks = showcase_record["tasks"]
    assert tasks["0"]["status"] == "done" and "cat" in tasks["0"]["text"].lower()
    assert tasks["1"]["status"] == "done"
    wav = Path(tasks["1"]["files"][0])
    assert wav.suffix == ".wav" and wav.parent.parent == Path(showcase_record["run_dir"]).parent
    with wave.open(str(wav)) as w:
        seconds = w.getnframes() / w.getframerate()
    assert 0.3 < seconds < 15


def test_showcase_answer_names_models_and_files(showcase_record):
    # the answer as shown: the direct answer, then the engine's account of each step
    answer = "\n".join([showcase_record["answer"], *showcase_record["workflow"]])
    for info in showcase_record["tasks"].values():
        assert info["model_id"] in answer
        for f in info.get("files", []):
            assert f in answer
    assert showcase_record["selections"]["0"]["candidates"]
    assert showcase_record["peak_rss_mb"] > 0


def test_showcase_text_output_streams_stages(tmp_path):
    import llama_cpp  # noqa: F401
    proc = hgpt("ask", SHOWCASE, "--attach", str(ROOT / "samples" / "chelsea.png"), home=tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    out = proc.stdout
    for heading in ("▸ Planning", "▸ Choosing models", "▸ Running models", "▸ Answer"):
        assert heading in out
    assert out.index("▸ Planning") < out.index("▸ Answer")


def test_bad_inputs_exit_nonzero_with_one_line(tmp_path):
    not_gguf = tmp_path / "model.gguf"
    not_gguf.write_text("hello")
    cases = [
        (("ask", ""), "empty"),
        (("ask", "look", "--attach", str(tmp_path / "nope.png")), "no such file"),
        (("ask", "hi", "--controller", str(tmp_path / "missing.gguf")), "does not exist"),
        (("ask", "hi", "--controller", str(not_gguf)), "not a GGUF"),
    ]
    for args, message in cases:
        proc = hgpt(*args, home=tmp_path / "home", timeout=120)
        assert proc.returncode == 2, (args, proc.stdout, proc.stderr)
        assert message in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "home" / "runs").exists()


def test_plan_command_shows_the_graph_and_why_without_running(tmp_path):
    import llama_cpp  # noqa: F401
    home = tmp_path / "home"
    proc = hgpt("plan", SHOWCASE, "--attach", str(ROOT / "samples" / "chelsea.png"), home=home)
    assert proc.returncode == 0, proc.stderr[-2000:]
    lines = proc.stdout.splitlines()
    assert "  [0] image-classification: image=chelsea.png" in lines
    assert "  [1] text-to-speech: text=<resource>-0  (after 0)" in lines
    assert "  'What animal is in chelsea.png' → image-classification" in lines
    assert any(line.startswith("task types on offer: ") for line in lines)
    assert "whose plan: the rails' plan is usable: no draft was written" in lines
    assert not (home / "runs").exists() or not any((home / "runs").iterdir())  # nothing was run
    as_json = json.loads(hgpt("plan", SHOWCASE, "--attach", str(ROOT / "samples" / "chelsea.png"), "--json",
                              home=home).stdout)
    assert [t["task"] for t in as_json["tasks"]] == ["image-classification", "text-to-speech"]
    assert as_json["trace"]["steps"][1] == {"clause": "say the answer out loud", "tasks": ["text-to-speech"]}
    bad = hgpt("plan", "", home=home, timeout=120)
    assert bad.returncode == 2 and "empty" in bad.stderr
