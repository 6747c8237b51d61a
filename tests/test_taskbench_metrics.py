"""TaskBench metrics against cases computed by hand, and the adapters around them."""

from __future__ import annotations

import pytest

from engine.plan.graph import Plan, Task
from engine.taskbench import (Scoreboard, content_type, graph_of, indel_ratio, nodes_to_links,
                              plan_to_nodes, record_nodes, task_types_from_tools)

TOOLS = [
    {"id": "Automatic Speech Recognition", "input-type": ["audio"], "output-type": ["text"]},
    {"id": "Summarization", "input-type": ["text"], "output-type": ["text"]},
    {"id": "Translation", "input-type": ["text"], "output-type": ["text"]},
    {"id": "Image Classification", "input-type": ["image"], "output-type": ["text"]},
    {"id": "Question Answering", "input-type": ["text", "text"], "output-type": ["text"]},
    {"id": "Sentence Similarity", "input-type": ["text", "text"], "output-type": []},
    {"id": "Visual Question Answering", "input-type": ["image", "text"], "output-type": ["text"]},
]


def rec(kind, *nodes):
    return {"type": kind, "task_nodes": [{"task": t, "arguments": list(a)} for t, *a in nodes]}


ASR_SUM = rec("chain", ("Automatic Speech Recognition", "example.wav"), ("Summarization", "<node-0>"))
ASR_TRANS = [{"task": "Automatic Speech Recognition", "arguments": ["example.wav"]},
             {"task": "Translation", "arguments": ["<node-0>"]}]


def test_one_wrong_node_halves_every_f1():
    board = Scoreboard(TOOLS)
    board.add(ASR_SUM, ASR_TRANS)
    s = board.to_dict()["overall"]
    # nodes: TP 1 (ASR), FP 1 (Translation), FN 1 (Summarization) -> 2/(2+1+1)
    assert s["node_f1"] == pytest.approx(50.0)
    assert s["edge_f1"] == 0.0  # (ASR, Summarization) vs (ASR, Translation)
    assert s["t_f1"] == pytest.approx(50.0)  # ASR-audio shared; Summ-text vs Trans-text
    assert s["v_f1"] == pytest.approx(50.0)
    # tool ids [1, 2] vs [1, 3]: LCS 1 -> ratio 2/4 -> NED 0.5
    assert s["ned"] == pytest.approx(0.5)
    assert board.to_dict()["chain"]["n"] == 1 and board.to_dict()["single"]["n"] == 0


def test_failed_plan_counts_as_empty_prediction_and_totals_are_micro():
    board = Scoreboard(TOOLS)
    board.add(ASR_SUM, ASR_TRANS)
    board.add(rec("single", ("Image Classification", "cat.jpg")), None)
    s = board.to_dict()["overall"]
    # nodes over both records: TP 1, FP 1, FN 2 -> 2/(2+1+2)
    assert s["node_f1"] == pytest.approx(40.0)
    assert s["ned"] == pytest.approx(1 - (0.5 + 0.0) / 2)
    assert s["failed_pct"] == pytest.approx(50.0) and s["empty_pct"] == pytest.approx(50.0)
    assert board.to_dict()["single"]["node_f1"] == 0.0


def test_perfect_dag_prediction():
    gold = rec("dag", ("Image Classification", "example.jpg"), ("Translation", "hola"),
               ("Question Answering", "<node-0>", "<node-1>"))
    board = Scoreboard(TOOLS)
    board.add(gold, gold["task_nodes"])
    s = board.to_dict()["dag"]
    assert (s["node_f1"], s["edge_f1"], s["t_f1"], s["v_f1"], s["ned"]) == (100.0, 100.0, 100.0, 100.0, 0.0)


def test_reference_arguments_are_named_by_source_output_and_valued_by_source_name():
    out = {t["id"]: (t["output-type"] or ["none"])[0] for t in TOOLS}
    nodes = [{"task": "Sentence Similarity", "arguments": ["a", "b"]},
             {"task": "Summarization", "arguments": ["<node-0>"]},
             {"task": "Translation", "arguments": ["<node-1>", "<node-2>", "<node-9>"]}]
    g = graph_of(nodes, out)
    assert g.links == {("Sentence Similarity", "Summarization"), ("Summarization", "Translation")}
    assert "Summarization-none-Sentence Similarity" in g.arg_values
    assert "Translation-text-Summarization" in g.arg_values
    assert g.arg_names == {"Sentence Similarity-text", "Summarization-none", "Translation-text"}


def test_unknown_tool_names_count_for_nothing_in_node_f1():
    board = Scoreboard(TOOLS)
    board.add(rec("single", ("Entity Recognition", "some text")), [{"task": "Translation", "arguments": ["x"]}])
    nodes = board.splits["overall"].nodes
    assert (nodes.tp, nodes.fp, nodes.fn) == (0, 1, 0)


def test_irregular_records_are_read():
    odd = {"type": "single", "task_nodes": {"step_1": {"task": "Summarization", "arguments": ["x", 250]}}}
    assert record_nodes(odd)[0]["task"] == "Summarization"
    board = Scoreboard(TOOLS)
    board.add(odd, [{"task": "Summarization", "arguments": [{"text": "x"}, ["a", "b"]]}])
    assert board.to_dict()["overall"]["node_f1"] == 100.0
    assert graph_of(record_nodes(odd), {}).arg_values == {"Summarization-text-x", "Summarization-text-250"}


def test_indel_ratio_matches_levenshtein_ratio():
    assert indel_ratio("abc", "abd") == pytest.approx(4 / 6)
    assert indel_ratio([], []) == 1.0
    assert indel_ratio([1], []) == 0.0
    assert indel_ratio([1, 2, 3], [3, 2, 1]) == pytest.approx(2 / 6)


def test_content_type_from_extension():
    assert content_type("'example.jpg'") == "image"
    assert content_type("speech.wav") == "audio"
    assert content_type("clip.mp4") == "video"
    assert content_type("Hello world") == "text"


def test_task_types_from_tools():
    types = {t.name: t for t in task_types_from_tools(TOOLS)}
    assert types["Question Answering"].args == {"text": "text", "text2": "text"}
    assert types["Visual Question Answering"].args == {"image": "image", "text": "text"}
    assert types["Sentence Similarity"].output == "none"
    assert types["Image Classification"].output == "text"


def test_plan_to_nodes_and_links():
    plan = Plan([Task(0, "Image Classification", [-1], {"image": "example.jpg"}),
                 Task(1, "Translation", [0], {"text": "<resource>-0"})])
    nodes = plan_to_nodes(plan)
    assert nodes == [{"task": "Image Classification", "arguments": ["example.jpg"]},
                     {"task": "Translation", "arguments": ["<node-0>"]}]
    assert nodes_to_links(nodes) == [{"source": "Image Classification", "target": "Translation"}]


def test_link_latest_links_each_slot_to_the_latest_fitting_output():
    from engine.taskbench import link_latest

    types = {t.name: t for t in task_types_from_tools(TOOLS)}
    nodes = link_latest(["Automatic Speech Recognition", "Summarization", "Image Classification",
                         "Question Answering", "Unknown Tool"], types)
    assert [n["arguments"] for n in nodes] == [[""], ["<node-0>"], [""], ["<node-2>", "<node-2>"], []]
    # an edge check can refuse a link: then the slot stays unlinked
    no_qa = link_latest(["Summarization", "Question Answering"], types,
                        edge_ok=lambda source, target: target.name != "Question Answering")
    assert no_qa[1]["arguments"] == ["", ""]


def test_a_record_becomes_a_demonstration_with_links_and_files():
    from engine.taskbench import record_demo

    tools = [{"id": "Image-to-Text", "input-type": ["image"], "output-type": ["text"]},
             {"id": "Translation", "input-type": ["text"], "output-type": ["text"]},
             {"id": "Sentence Similarity", "input-type": ["text", "text"], "output-type": ["text"]}]
    types = {t.name: t for t in task_types_from_tools(tools)}
    record = {"instruction": "Caption 'photo.png' in French and compare it with 'un chat'.",
              "task_nodes": [{"task": "Image-to-Text", "arguments": ["photo.png"]},
                             {"task": "Translation", "arguments": ["<node-0>"]},
                             {"task": "Sentence Similarity", "arguments": ["<node-1>", "un chat", "extra"]}]}
    demo = record_demo(record, types)
    assert demo.files == {"photo.png": "image"}
    assert [(t["task"], t["args"]) for t in demo.plan] == [
        ("Image-to-Text", {"image": "photo.png"}), ("Translation", {"text": "<resource>-0"}),
        ("Sentence Similarity", {"text": "<resource>-1", "text2": "un chat"})]  # what no slot takes is dropped
    # a reference to a later node, or an unknown tool, cannot be a plan
    forward = {**record, "task_nodes": [{"task": "Translation", "arguments": ["<node-1>"]},
                                        {"task": "Image-to-Text", "arguments": ["photo.png"]}]}
    unknown = {**record, "task_nodes": [{"task": "Juggling", "arguments": ["photo.png"]}]}
    assert record_demo(forward, types) is None and record_demo(unknown, types) is None
