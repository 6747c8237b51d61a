"""The 1000 ImageNet-1k class names, read from the data files timm ships.

timm (Apache-2.0) carries the ILSVRC-2012 synset list in class-index order and the
WordNet lemmas of every synset. Importing ``timm`` pulls in torchvision, so the two
text files are read straight from timm's package folder, found with ``find_spec``
(nothing is imported). A class's display name is its first lemma, or a later lemma
that spells the first out ("tabby, tabby cat" reads "tabby cat").
"""

from __future__ import annotations

from functools import lru_cache

from ..errors import MissingDependencyError
from .packs import pack_dir


def _info_file(name: str) -> str:
    folder = pack_dir("timm")
    path = folder / "data" / "_info" / name if folder else None
    if path is None or not path.exists():
        raise MissingDependencyError("timm", "experts")
    return path.read_text(encoding="utf-8")


def display_name(lemmas: str) -> str:
    names = [n.strip() for n in lemmas.split(",") if n.strip()]
    first = names[0]
    longer = [n for n in names[1:] if first.lower() in n.lower().split()]
    return longer[0] if longer else first


@lru_cache(maxsize=1)
def class_names() -> tuple[str, ...]:
    """ImageNet-1k display names in the classifier's output order (1000 entries)."""
    synsets = _info_file("imagenet_synsets.txt").split()
    lemmas = dict(line.split("\t", 1) for line in _info_file("imagenet_synset_to_lemma.txt").splitlines()
                  if "\t" in line)
    names = tuple(display_name(lemmas[s]) for s in synsets)
    if len(names) != 1000:
        raise MissingDependencyError("timm", "experts")
    return names
