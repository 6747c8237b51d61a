"""Text task runners: a transformers pipeline's answer turned into an ExpertResult.

Each function receives the loaded pipeline, the task's resolved arguments, the run
context and the expert's options (``max_new_tokens``, ``labels`` …). Generation is
greedy (``do_sample=False``) so an answer is reproducible, and bounded by
``max_new_tokens`` so a small laptop is never stuck in a runaway generation. A
missing or malformed argument is an ``ExpertError`` that says what to write.
"""

from __future__ import annotations

import re

from ...errors import ExpertError
from ...text import options
from ..base import ExpertContext, ExpertResult
from .runners import runner

MASK_PLACEHOLDERS = re.compile(r"\[MASK\]|<mask>|_{3,}", re.IGNORECASE)


def text_arg(args: dict, key: str = "text", task: str = "this task") -> str:
    value = str(args.get(key) or "").strip()
    if not value:
        raise ExpertError(f"{task} needs a non-empty {key!r} argument; write the text to work on")
    return value


def _gen(opts: dict, default: int) -> dict:
    return {"max_new_tokens": int(opts.get("max_new_tokens", default)), "do_sample": False}


def _scores(items: list[dict], key: str = "label") -> str:
    return ", ".join(f"{i[key]} ({float(i['score']):.2f})" for i in items)


@runner("token-classification", pipeline="token-classification", onnx="ORTModelForTokenClassification")
def token_classification(pipe, args: dict, ctx: ExpertContext, opts: dict) -> ExpertResult:
    entities = pipe(text_arg(args, task="token-classification"), aggregation_strategy="simple")
    found = [{"word": e["word"], "entity": e.get("entity_group", e.get("entity")), "score": float(e["score"]),
              "start": e.get("start"), "end": e.get("end")} for e in entities]
    text = ", ".join(f"{e['word']} ({e['entity']})" for e in found) or "no entities found"
    return ExpertResult(text=text, data={"entities": found})


@runner("text-classification", pipeline="text-classification", onnx="ORTModelForSequenceClassification")
def text_classification(pipe, args: dict, ctx: ExpertContext, opts: dict) -> ExpertResult:
    ranked = pipe(text_arg(args, task="text-classification"), top_k=int(opts.get("top_k", 3)))
    ranked = [{"label": r["label"], "score": float(r["score"])} for r in ranked]
    return ExpertResult(text=_scores(ranked[:1]), data={"labels": ranked})


@runner("zero-shot-classification", pipeline="zero-shot-classification",
        onnx="ORTModelForSequenceClassification")
def zero_shot(pipe, args: dict, ctx: ExpertContext, opts: dict) -> ExpertResult:
    labels = options(args.get("labels") or opts.get("labels"))
    if len(labels) < 2:
        raise ExpertError("zero-shot-classification needs at least two labels to choose from, "
                          "e.g. labels: 'sports, politics, science'")
    out = pipe(text_arg(args, task="zero-shot-classification"), candidate_labels=labels,
               multi_label=bool(opts.get("multi_label", False)))
    ranked = [{"label": lab, "score": float(s)} for lab, s in zip(out["labels"], out["scores"])]
    return ExpertResult(text=_scores(ranked[:1]), data={"labels": ranked})


@runner("question-answering", pipeline="question-answering", onnx="ORTModelForQuestionAnswering")
def question_answering(pipe, args: dict, ctx: ExpertContext, opts: dict) -> ExpertResult:
    out = pipe(question=text_arg(args, "text", "question-answering"),
               context=text_arg(args, "context", "question-answering"))
    return ExpertResult(text=out["answer"].strip(),
                        data={"score": float(out["score"]), "start": out["start"], "end": out["end"]})


@runner("summarization", pipeline="summarization")
def summarization(pipe, args: dict, ctx: ExpertContext, opts: dict) -> ExpertResult:
    out = pipe(text_arg(args, task="summarization"), truncation=True, **_gen(opts, 120))
    return ExpertResult(text=out[0]["summary_text"].strip())


@runner("translation", pipeline="translation")
def translation(pipe, args: dict, ctx: ExpertContext, opts: dict) -> ExpertResult:
    langs = {k: opts[k] for k in ("src_lang", "tgt_lang") if opts.get(k)}
    out = pipe(text_arg(args, task="translation"), truncation=True, **langs, **_gen(opts, 200))
    return ExpertResult(text=out[0]["translation_text"].strip(), data=langs)


@runner("text2text-generation", pipeline="text2text-generation")
def text2text(pipe, args: dict, ctx: ExpertContext, opts: dict) -> ExpertResult:
    out = pipe(text_arg(args, task="text2text-generation"), truncation=True, **_gen(opts, 120))
    return ExpertResult(text=out[0]["generated_text"].strip())


@runner("text-generation", pipeline="text-generation")
def text_generation(pipe, args: dict, ctx: ExpertContext, opts: dict) -> ExpertResult:
    out = pipe(text_arg(args, task="text-generation"), return_full_text=False, **_gen(opts, 120))
    return ExpertResult(text=out[0]["generated_text"].strip())


@runner("conversational", pipeline="text-generation")
def conversational(pipe, args: dict, ctx: ExpertContext, opts: dict) -> ExpertResult:
    """A chat turn through the tokenizer's chat template (plain continuation without one)."""
    message = text_arg(args, task="conversational")
    if not getattr(pipe.tokenizer, "chat_template", None):
        out = pipe(message, return_full_text=False, **_gen(opts, 120))
        return ExpertResult(text=out[0]["generated_text"].strip(), data={"chat_template": False})
    chat = [{"role": "user", "content": message}]
    out = pipe(chat, **_gen(opts, 120))
    reply = out[0]["generated_text"][-1]
    return ExpertResult(text=str(reply.get("content", "")).strip(), data={"chat_template": True})


@runner("fill-mask", pipeline="fill-mask", onnx="ORTModelForMaskedLM")
def fill_mask(pipe, args: dict, ctx: ExpertContext, opts: dict) -> ExpertResult:
    mask = pipe.tokenizer.mask_token
    text = MASK_PLACEHOLDERS.sub(mask, text_arg(args, task="fill-mask"))
    if mask not in text:
        raise ExpertError(f"fill-mask needs a masked word: write {mask} (or [MASK]) where the missing word goes")
    out = pipe(text, top_k=int(opts.get("top_k", 5)))
    if out and isinstance(out[0], list):  # several masks: one list per mask
        out = out[0]
    candidates = [{"token": c["token_str"].strip(), "score": float(c["score"]), "sequence": c["sequence"]}
                  for c in out]
    return ExpertResult(text=candidates[0]["sequence"].strip(), data={"candidates": candidates})


def mean_pooled(features) -> list:
    """A feature-extraction pipeline's per-token vectors -> one mean vector per text."""
    import numpy as np

    return [np.asarray(f, dtype=np.float32).reshape(-1, np.asarray(f).shape[-1]).mean(axis=0) for f in features]


@runner("sentence-similarity", pipeline="feature-extraction", onnx="ORTModelForFeatureExtraction")
def sentence_similarity(pipe, args: dict, ctx: ExpertContext, opts: dict) -> ExpertResult:
    import numpy as np

    a, b = (text_arg(args, key, "sentence-similarity") for key in ("text", "text2"))
    va, vb = mean_pooled(pipe([a, b], truncation=True))
    cosine = float(np.dot(va, vb) / (np.linalg.norm(va) * np.linalg.norm(vb) + 1e-12))
    return ExpertResult(text=f"similarity {cosine:.3f}", data={"similarity": cosine})
