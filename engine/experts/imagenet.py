"""The 1000 ImageNet-1k class names, in the classifier's output order.

``data/imagenet_classes.txt`` holds one display name per line: the first WordNet
lemma of each ILSVRC-2012 synset, or a later lemma that spells the first out
("tabby, tabby cat" reads "tabby cat"). It was generated once from the synset and
lemma lists timm ships (Apache-2.0); shipping the list itself spares the app timm,
whose torchvision dependency cannot load beside the CPU build of torch.
"""

from __future__ import annotations

from functools import lru_cache
from importlib.resources import files

from ..errors import ModelFileError


def display_name(lemmas: str) -> str:
    names = [n.strip() for n in lemmas.split(",") if n.strip()]
    first = names[0]
    longer = [n for n in names[1:] if first.lower() in n.lower().split()]
    return longer[0] if longer else first


@lru_cache(maxsize=1)
def class_names() -> tuple[str, ...]:
    """ImageNet-1k display names in the classifier's output order (1000 entries)."""
    text = files("engine.experts").joinpath("data/imagenet_classes.txt").read_text(encoding="utf-8")
    names = tuple(line for line in text.splitlines() if line)
    if len(names) != 1000:
        raise ModelFileError("engine/experts/data/imagenet_classes.txt is damaged; reinstall hgpt")
    return names
