"""Small text helpers shared by the engine, the CLI and the views."""

from __future__ import annotations

# words that open a question ("what is …", "is it …"); each question pattern adds its own
QUESTION_WORDS = r"what|which|who|whom|whose|when|where|why|how|is|are|does|do|did|was|were"
# languages a request names ("in Spanish", "into Korean"): the translation cue and the
# implied translation read this one list (cues.json writes it as {languages})
LANGUAGES = (r"english|french|spanish|german|italian|portuguese|dutch|swedish|norwegian|danish|finnish|polish|czech|"
             r"greek|turkish|russian|ukrainian|arabic|hebrew|hindi|bengali|urdu|chinese|mandarin|japanese|korean|"
             r"vietnamese|thai|indonesian|swahili")
# a language asked for: "in Korean", "into Brazilian Portuguese", "to English", "English please"
LANGUAGE_ASKED = (rf"\b(?:in|into|to)\s+(?:(?:brazilian|european|latin american|mexican|castilian|simplified|"
                  rf"traditional|canadian|swiss|standard|modern)\s+)?(?:{LANGUAGES})\b"
                  rf"|\b(?:{LANGUAGES})\s+(?:please|pls|plz|version)\b")


def clip(text, limit: int = 80, *, one_line: bool = False) -> str:
    """``text`` cut to ``limit`` characters with "…" at the cut; ``one_line`` first
    collapses every run of whitespace (newlines included) to one space."""
    text = " ".join(str(text).split()) if one_line else str(text)
    return text if len(text) <= limit else text[: limit - 1] + "…"
