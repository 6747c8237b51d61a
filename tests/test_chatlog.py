"""Chat logs: turns with files, staging them into a run, and what the planner takes from them."""

from __future__ import annotations

from engine.plan.chatlog import history_files, stage_history, turn_files
from engine.plan.rails import slot_texts
from engine.plan.prompts import history_messages


def test_turn_files_from_paths_or_names(tmp_path):
    assert turn_files({"files": [str(tmp_path / "a.png"), "b.wav", "notes.txt", "data.xyz"]}) == {
        "a.png": "image", "b.wav": "audio", "notes.txt": "text"}
    assert turn_files({"files": {"c.png": "image"}}) == {"c.png": "image"}
    assert history_files([{"role": "user", "content": "x", "files": ["a.png"]},
                          {"role": "assistant", "content": "y", "files": ["out.wav"]}]) == {
        "a.png": "image", "out.wav": "audio"}


def test_stage_history_copies_existing_files_under_unique_names(tmp_path):
    old = tmp_path / "old"
    old.mkdir()
    (old / "cat.png").write_bytes(b"\x89PNG fake")
    run_dir = tmp_path / "run"
    files = {"cat.png": run_dir / "inputs" / "cat.png"}  # the user attached a cat.png again
    history = [{"role": "user", "content": "what is it?", "files": [str(old / "cat.png"), str(old / "gone.png")]},
               {"role": "assistant", "content": "A cat."}, {"role": "tool", "content": "ignored"}]
    staged = stage_history(history, run_dir, files)
    assert staged[0]["files"] == {"cat-2.png": "image"} and len(staged) == 2
    assert (run_dir / "inputs" / "cat-2.png").read_bytes() == b"\x89PNG fake"
    assert files["cat-2.png"] == run_dir / "inputs" / "cat-2.png"


def test_history_turns_name_their_files_in_the_prompt():
    turns = history_messages([{"role": "user", "content": "look", "files": {"cat.png": "image"}},
                              {"role": "assistant", "content": "A cat."}])
    assert turns[0]["content"] == "look\nFiles: cat.png (image)" and turns[1]["content"] == "A cat."


def test_texts_point_back_to_the_previous_answer():
    history = [{"role": "user", "content": "what animal is it?"}, {"role": "assistant", "content": "It is a tabby cat."}]
    assert slot_texts("Now read that aloud.", history) == ["It is a tabby cat."]
    assert "Hola amigo" in slot_texts("Read 'Hola amigo' aloud.", history)
    assert slot_texts("Read that aloud.", []) == ["Read that aloud."]
