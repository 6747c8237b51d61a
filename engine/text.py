"""Small text helpers shared by the engine, the CLI and the views."""

from __future__ import annotations

import re

# words that open a question ("what is …", "is it …"); each question pattern adds its own
WH_WORDS = r"whats|wheres|whos|hows|what|which|who|whom|whose|when|where|why|how"
QUESTION_WORDS = WH_WORDS + r"|is|are|am|does|do|did|was|were|should"
# languages a request names ("in Spanish", "into Korean"): the translation cue and the
# implied translation read this one list (cues.json writes it as {languages})
LANGUAGES = (r"english|french|spanish|german|italian|portuguese|dutch|swedish|norwegian|danish|finnish|polish|czech|"
             r"greek|turkish|russian|ukrainian|arabic|hebrew|hindi|bengali|urdu|chinese|mandarin|japanese|korean|"
             r"vietnamese|thai|indonesian|swahili")
# a language asked for: "in Korean", "into Brazilian Portuguese", "to English", "English please"
LANGUAGE_ASKED = (rf"\b(?:in|into|to)\s+(?:(?:brazilian|european|latin american|mexican|castilian|simplified|"
                  rf"traditional|canadian|swiss|standard|modern)\s+)?(?:{LANGUAGES})\b"
                  rf"|\b(?:{LANGUAGES})\s+(?:please|pls|plz|version)\b")

# a text the request says is in a language: that is the language it comes in, not the one asked
# for ("got this in the mail, it's all in french")
WRITTEN_IN = (rf"\b(?:it'?s|its|it is|they'?re|they are|all|written|(?:the )?(?:text|writing|label|sign|"
              rf"letter|menu|form|instructions?|words?|page|document|packaging|box)\s+(?:is|are))\s+"
              rf"(?:all\s+|written\s+|only\s+|entirely\s+)?in\s+({LANGUAGES})\b")


def language_asked(request: str) -> str | None:
    """The language the request asks for ("… into German", "in Spanish please"), lower case; a
    language it says a text is written in ("it's all in French") is not one asked for."""
    written = [m.span(1) for m in re.finditer(WRITTEN_IN, request or "", re.IGNORECASE)]
    for match in re.finditer(LANGUAGE_ASKED, request or "", re.IGNORECASE):
        name = re.search(LANGUAGES, match.group(0), re.IGNORECASE)
        if name is not None and not any(a <= match.start() + name.start() < b for a, b in written):
            return name.group(0).lower()
    return None


# the source a question names before it asks ("according to this lease, am I allowed …?")
ACCORDING_TO = r"(?:according to (?:this|the|that|my|your|his|her|our|their)(?: \w+){1,2},?\s+)"
QUESTION_START = re.compile(rf"^{ACCORDING_TO}?(?:{QUESTION_WORDS})\b", re.IGNORECASE)
# a question sentence, after the small words that may open it ("ok and does it say …?")
QUESTION_SENTENCE = re.compile(r"(?:^|[.!?,]\s+|\n)(?:(?:ok(?:ay)?|and|so|oh|also|but|well|hmm+)[,\s]+)*"
                               rf"{ACCORDING_TO}?"
                               rf"((?:(?:at|in|on|for|by|from|to|with|of)\s+)?(?:{QUESTION_WORDS}|will)\b"
                               r"[^.!?\n]*\?)", re.IGNORECASE)


# quoted text; the one group that matched holds the words inside the quotes
QUOTED_RE = re.compile(r"""(?<![\w])'((?:[^'\n]|'(?=\w)){2,3000}?)'(?![\w])|"([^"\n]{2,3000}?)"|“([^”\n]{2,3000}?)”""")
QUOTED_PASSAGE_WORDS = 12  # a quoted text this long is a passage to answer from, not a word or a phrase asked about


def quoted_texts(text: str) -> list[str]:
    """The words inside each pair of quotes in ``text``, in order."""
    return [next(g for g in m.groups() if g) for m in QUOTED_RE.finditer(text)]


def quoted_passages(text: str) -> list[str]:
    """The passages ``text`` quotes: ``QUOTED_PASSAGE_WORDS`` words or more, not a question."""
    return [q for q in quoted_texts(text) if len(q.split()) >= QUOTED_PASSAGE_WORDS and not q.rstrip().endswith("?")]


# small words common in French, Spanish, German, Italian, Portuguese and Dutch text and not English words
OTHER_LANGUAGE_WORDS = frozenset(
    # French
    "le la les est était sont suis sommes êtes je tu nous vous il ils elle elles et une des du au aux avec pour "
    "pas ce cette qui mais très dans sur sans moi toi lui mon mes ton tes ses notre votre leur ou où bien merci "
    "bonjour oui en "
    # Spanish
    "el los las es y por para una del lo muy pero está estoy son yo nosotros mi su más también gracias hola qué "
    # German
    "der das und ist ich nicht ein eine mit zu den dem sehr sind wir auch auf für von bei aber oder wenn danke "
    "mein dein ja kein "
    # Italian
    "di che non sono della questo questa molto ho siamo mio tuo suo grazie ciao anche "
    # Portuguese
    "não uma com os é muito eu você isso obrigado estou "
    # Dutch
    "het een niet zijn ik wij jij maar ook dank".split())
ENGLISH_WORDS = frozenset("the and is are was were it you this that of to for with not be have will my your".split())


def in_another_language(text: str) -> bool:
    """Is ``text`` written in a language other than English (French, Spanish, German, Italian,
    Portuguese or Dutch), by its small words: "Ce restaurant était incroyable, je reviendrai"."""
    words = re.findall(r"[^\W\d_]+", text.lower())
    other = sum(w in OTHER_LANGUAGE_WORDS for w in words)
    distinct = len(set(words) & OTHER_LANGUAGE_WORDS)
    return len(words) >= 3 and distinct >= 2 and other > 2 * sum(w in ENGLISH_WORDS for w in words)


# a text an earlier step made, named as what a step works from ("then take that description and paint it")
MADE_TEXT = re.compile(r"\b(?:that|the|this|its|your)\s+(?:new\s+)?(?:description|caption|transcript(?:ion)?|summary|"
                       r"story|poem|translation)\b", re.IGNORECASE)
# a reading's product and a second thing made from it, asked for together ("turn this memo into
# text and an email-ready summary", "a transcript plus a translation")
READ_AND_MADE = re.compile(r"\b(?:text|transcript(?:ion)?|caption|description)\s*(?:,\s*|\band\b|\bplus\b|&|"
                           r"\bas well as\b)\s*(?:also\s+)?(?:an?\s+|the\s+)?[\w-]+", re.IGNORECASE)


# a question asked as a wish to know: "tell me how much sugar I need", "can you let me know
# when it starts", "I'd like to know who called"; group 1 is the question itself
ASKED_TO_KNOW = re.compile(r"(?:^|[.!?,;:]\s+|\n|\band\s+|\bso\s+)(?:(?:please|also|just|now)\s+)?"
                           r"(?:(?:can|could|would|will)\s+(?:you|u)\s+(?:please\s+|pls\s+)?)?"
                           r"(?:tell\s+me|let\s+me\s+know|find\s+out|figure\s+out|work\s+out|check|see|"
                           r"i(?:'d|\s+would)\s+like\s+to\s+know|i\s+(?:want|need)\s+to\s+know|i\s+wonder)\s+"
                           rf"((?:{QUESTION_WORDS}|if|whether)\b[^.!?\n]*)", re.IGNORECASE)


def questions(text: str) -> list[str]:
    """The questions a text asks, each from its question word (with a preposition before
    it: "at what time") to its "?" ("Based on this paragraph, what temperature should the
    oven be?" -> "what temperature … be?"), then those asked as a wish to know ("read it
    and tell me how much sugar I need" -> "how much sugar I need")."""
    direct = [m.group(1) for m in QUESTION_SENTENCE.finditer(text)]
    return direct + [q for q in (m.group(1).strip() for m in ASKED_TO_KNOW.finditer(text))
                     if not any(q in d for d in direct)]


def is_question(clause: str) -> bool:
    """Does the clause ask a question, directly ("how much sugar do I need", "at what time
    does it leave?") or as a wish to know ("tell me how much sugar I need")?"""
    clause = clause.strip()
    return bool(QUESTION_START.match(clause) or ASKED_TO_KNOW.match(clause) or clause in questions(clause))


# what separates the options of a list: commas, semicolons, new lines, "or", ", and"
OPTION_SEP = re.compile(r"\s*(?:[,;\n]\s*(?:or\s+|and\s+)?|\bor\b)\s*", re.IGNORECASE)


def options(text) -> list[str]:
    """The options a list names ("billing, shipping delay, or refunds" -> three), each
    without quotes or end punctuation, once each, in order."""
    items = [str(v) for v in text] if isinstance(text, (list, tuple)) else OPTION_SEP.split(str(text or ""))
    return list(dict.fromkeys(o for o in (i.strip().strip("'\"“”").strip(" .!?") for i in items) if o))


def clip(text, limit: int = 80, *, one_line: bool = False) -> str:
    """``text`` cut to ``limit`` characters with "…" at the cut, between words where one
    ends in the last third (a word cut mid-way reads as a different word: "eve…" for
    "everyone"); ``one_line`` first collapses every run of whitespace (newlines included)
    to one space."""
    text = " ".join(str(text).split()) if one_line else str(text)
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    space = cut.rfind(" ", (limit * 2) // 3) if not text[limit - 1].isspace() else limit - 1
    return (cut[:space] if space > 0 else cut).rstrip(" ,;:") + "…"
