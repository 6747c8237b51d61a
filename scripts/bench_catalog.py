#!/usr/bin/env python3
"""Benchmark the model catalog at scale (printed, not asserted).

Generates N synthetic cards in the HuggingGPT JSONL format (default 1,000,000): the
24 task types of the p0 sample in proportions like the Hub's pipeline tags,
Zipf-like downloads, ids from a few thousand organisations, descriptions of a few
sentences drawn from model-card vocabulary, tags, licences and languages. Then it
imports them through ``hgpt catalog import``'s code path into a fresh catalog and
prints: import time and rate, top-K selection latency p50/p95 (goal <= 5 ms p50),
full-text search latency p50/p95 (goal <= 50 ms p50), open time of the built
catalog, and the database size.

    .venv/bin/python scripts/bench_catalog.py [--cards 1000000] [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

# Share of each task type, roughly as the Hub's pipeline tags are spread.
TASK_WEIGHTS = {
    "text-generation": 24, "text-classification": 12, "text2text-generation": 6,
    "token-classification": 4, "automatic-speech-recognition": 4, "image-classification": 4,
    "text-to-image": 6, "translation": 2, "sentence-similarity": 3, "question-answering": 2,
    "summarization": 1.5, "fill-mask": 2, "conversational": 1.5, "image-to-text": 1.2,
    "object-detection": 1, "image-segmentation": 0.8, "text-to-speech": 0.8, "audio-classification": 0.8,
    "image-to-image": 0.6, "depth-estimation": 0.2, "audio-to-audio": 0.3,
    "visual-question-answering": 0.3, "document-question-answering": 0.2, "tabular-classification": 0.2,
    "text-to-video": 0.2,
}
ARCHS = ["bert", "roberta", "distilbert", "deberta", "t5", "bart", "gpt2", "llama", "mistral", "qwen",
         "vit", "resnet", "convnext", "detr", "yolos", "segformer", "whisper", "wav2vec2", "hubert",
         "clip", "blip", "stable-diffusion", "speecht5", "electra", "xlm-roberta", "mpnet", "minilm"]
LANGS = ["en", "de", "fr", "es", "zh", "ja", "ru", "ar", "pt", "it", "ko", "nl", "tr", "pl", "hi"]
LANG_NAMES = {"en": "English", "de": "German", "fr": "French", "es": "Spanish", "zh": "Chinese",
              "ja": "Japanese", "ru": "Russian", "ar": "Arabic", "pt": "Portuguese", "it": "Italian",
              "ko": "Korean", "nl": "Dutch", "tr": "Turkish", "pl": "Polish", "hi": "Hindi"}
DOMAINS = ["finance", "medical", "legal", "news", "twitter", "reviews", "biology", "code", "chat",
           "scientific papers", "customer support", "e-commerce", "poetry", "sentiment", "emotion",
           "toxicity", "spam", "satellite images", "street scenes", "faces", "documents", "receipts",
           "podcasts", "music", "bird sounds", "anime", "photography", "architecture"]
DATASETS = ["imdb", "sst2", "squad", "glue", "common_voice", "librispeech", "imagenet-1k", "coco",
            "ade20k", "wikipedia", "c4", "the_pile", "cnn_dailymail", "xsum", "conll2003", "wmt16",
            "laion", "voxpopuli", "nyu_depth_v2", "docvqa", "vqav2", "ljspeech", "mnli", "yelp"]
LICENCES = ["apache-2.0", "mit", "cc-by-4.0", "cc-by-nc-4.0", "openrail", "llama2", "other", "bsd-3-clause"]
SENTENCES = [
    "This model is a fine-tuned version of {arch} on the {dataset} dataset.",
    "It was trained for {task} on {domain} data in {lang}.",
    "The model achieves strong results on the {dataset} evaluation set.",
    "Intended uses: {task} for {domain}; it may not work well outside that domain.",
    "Training used a learning rate of 2e-5, a batch size of {bs} and {epochs} epochs.",
    "Limitations: the model can reproduce biases present in {dataset}.",
    "A {size} checkpoint of {arch}, exported for fast inference on CPU.",
    "Use it with the pipeline API to run {task} on {domain} inputs.",
]


def synthetic_cards(n: int, seed: int = 0):
    rng = random.Random(seed)
    tasks, weights = list(TASK_WEIGHTS), list(TASK_WEIGHTS.values())
    for i in range(n):
        task = rng.choices(tasks, weights)[0]
        arch, lang, domain = rng.choice(ARCHS), rng.choice(LANGS), rng.choice(DOMAINS)
        dataset = rng.choice(DATASETS)
        # Zipf-like: a model's downloads fall as a power of its popularity rank.
        rank = rng.randint(1, n)
        downloads = int(50_000_000 / rank ** 1.05 * rng.uniform(0.5, 1.5))
        words = dict(arch=arch, dataset=dataset, task=task.replace("-", " "), domain=domain,
                     lang=LANG_NAMES[lang], bs=rng.choice([8, 16, 32, 64]), epochs=rng.randint(1, 10),
                     size=rng.choice(["small", "base", "large", "tiny"]))
        text = " ".join(s.format(**words) for s in rng.sample(SENTENCES, rng.randint(2, 5)))
        yield {
            "id": f"org{int(rng.paretovariate(1.2)) % 5000}/{arch}-{domain.split()[0]}-{lang}-{i}",
            "downloads": downloads, "likes": downloads // rng.randint(200, 5000),
            "pipeline_tag": task, "task": task,
            "meta": {"language": lang, "license": rng.choice(LICENCES),
                     "tags": [arch, domain, dataset], "datasets": [dataset]},
            "description": f"\n# {arch}-{domain}\n\n{text}\n",
        }


def write_jsonl(path: Path, n: int) -> None:
    with open(path, "w") as f:
        for card in synthetic_cards(n):
            f.write(json.dumps(card) + "\n")


def percentiles(samples: list[float]) -> tuple[float, float]:
    q = statistics.quantiles(samples, n=20)
    return statistics.median(samples) * 1000, q[18] * 1000


def timed(fn, args_list) -> list[float]:
    out = []
    for args in args_list:
        started = time.perf_counter()
        fn(*args)
        out.append(time.perf_counter() - started)
    return out


def build(source: Path, db_path: Path, n: int) -> None:
    from engine.catalog import Catalog
    from engine.catalog.importer import import_file

    for p in (db_path, Path(f"{db_path}-wal"), Path(f"{db_path}-shm")):
        p.unlink(missing_ok=True)
    if not source.exists():  # with --keep, a second run reuses the generated file
        started = time.perf_counter()
        write_jsonl(source, n)
        print(f"generated {n:,} cards ({source.stat().st_size / 1e6:.0f} MB JSONL) "
              f"in {time.perf_counter() - started:.1f} s")
    catalog = Catalog(db_path)
    report = import_file(catalog, source)
    print(f"import: {report.imported:,} cards in {report.seconds:.1f} s "
          f"({report.imported / report.seconds:,.0f} cards/s), {len(report.skipped)} skipped")
    catalog.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cards", type=int, default=1_000_000)
    parser.add_argument("--keep", type=Path, help="build in this folder and keep the files")
    parser.add_argument("--queries", type=int, default=1000)
    parser.add_argument("--reuse", action="store_true",
                        help="with --keep: query the catalog built by an earlier run instead of importing")
    args = parser.parse_args()

    from engine.catalog import Catalog

    folder = args.keep or Path(tempfile.mkdtemp(prefix="hgpt-bench-catalog-"))
    folder.mkdir(parents=True, exist_ok=True)
    source, db_path = folder / f"cards-{args.cards}.jsonl", folder / "catalog.db"
    if args.reuse and db_path.exists():
        print(f"reusing {db_path} (no import)")
    else:
        build(source, db_path, args.cards)

    started = time.perf_counter()
    catalog = Catalog(db_path)
    print(f"open the built catalog: {(time.perf_counter() - started) * 1000:.1f} ms")

    rng = random.Random(1)
    tasks = list(TASK_WEIGHTS)
    catalog.top_k(tasks[0], 5)  # warm the page cache once, as a running app would be
    top = timed(lambda t: catalog.top_k(t, 5), [(rng.choice(tasks),) for _ in range(args.queries)])
    p50, p95 = percentiles(top)
    print(f"top-5 selection: p50 {p50:.2f} ms, p95 {p95:.2f} ms (goal p50 <= 5 ms: "
          f"{'met' if p50 <= 5 else 'NOT met'})")
    ids = [r[0] for r in catalog.connect().execute(
        "SELECT id FROM models ORDER BY random() LIMIT 200")]
    among = timed(lambda t, a: catalog.top_k(t, 5, among=a),
                  [(rng.choice(tasks), rng.sample(ids, 20)) for _ in range(args.queries)])
    p50, p95 = percentiles(among)
    print(f"top-5 among 20 runnable ids: p50 {p50:.2f} ms, p95 {p95:.2f} ms")

    queries = ["sentiment", "speech recognition german", "finance", "medical image segmentation",
               "whisper", "receipts", "stable diffusion anime", "toxicity twitter", "bird sounds",
               "translation japanese", "depth", "question answering legal", "bert", "imagenet resnet"]
    fts = timed(lambda q: catalog.search(q, limit=10),
                [(rng.choice(queries),) for _ in range(max(50, args.queries // 5))])
    p50, p95 = percentiles(fts)
    print(f"full-text search (top 10): p50 {p50:.1f} ms, p95 {p95:.1f} ms (goal p50 <= 50 ms: "
          f"{'met' if p50 <= 50 else 'NOT met'})")
    for q in ("sentiment", "bert", "bird sounds"):
        t = timed(lambda q: catalog.search(q, limit=10), [(q,)] * 5)
        print(f"  {q!r}: {statistics.median(t) * 1000:.1f} ms")
    fts_task = timed(lambda q, t: catalog.search(q, task=t, limit=10),
                     [(rng.choice(queries), rng.choice(tasks)) for _ in range(max(50, args.queries // 10))])
    p50, p95 = percentiles(fts_task)
    print(f"full-text search within one task: p50 {p50:.1f} ms, p95 {p95:.1f} ms")
    started = time.perf_counter()
    stats = catalog.stats()
    print(f"stats (counts by task): {(time.perf_counter() - started) * 1000:.0f} ms")
    size = catalog.size_bytes()
    print(f"database: {size / 1e6:.0f} MB ({size / max(1, stats['models']):.0f} bytes per card)")
    if not args.keep:
        catalog.close()
        for p in folder.iterdir():
            p.unlink()
        folder.rmdir()


if __name__ == "__main__":
    main()
