"""The task types a plan may use: names, argument slots and modalities.

A ``TaskType`` says which argument keys a task takes and the modality of each
(text, image, audio, video), and what modality it produces. The planner's grammar,
the dependency type check, argument validation and the TaskBench adapter all read
from this one table, so a new task type is one entry here plus an expert.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Iterable

from .text import LANGUAGE_ASKED, LANGUAGES

MODALITIES = ("text", "image", "audio", "video")
MEDIA = MODALITIES[1:]  # the kinds of file that are not text


@dataclass(frozen=True)
class TaskType:
    name: str
    args: dict[str, str]  # argument key -> modality, in prompt order
    output: str  # modality of the result ("text", "image", "audio", "video")
    description: str
    required: tuple[str, ...] = field(default=())

    @property
    def inputs(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(self.args.values()))

    @property
    def file_inputs(self) -> frozenset[str]:
        """The kinds of file the task takes (its text slots left out)."""
        return frozenset(m for m in self.args.values() if m != "text")

    def required_args(self) -> tuple[str, ...]:
        return self.required or tuple(self.args)[:1]


def _t(name, args, output, description, required=()):
    return TaskType(name, dict(args), output, description, tuple(required))


_TEXT = {"text": "text"}
_IMAGE = {"image": "image"}
_AUDIO = {"audio": "audio"}

_BASE = [
    _t("token-classification", _TEXT, "text", "find named entities (people, places, organisations, dates) or part-of-speech tags in a text"),
    _t("text-classification", _TEXT, "text", "classify a text, e.g. its sentiment (positive or negative) or topic"),
    _t("zero-shot-classification", {"text": "text", "labels": "text"}, "text", "classify a text into labels the user names, without training", ("text",)),
    _t("question-answering", {"text": "text", "context": "text"}, "text", "answer a question from a given passage of text", ("text", "context")),
    _t("summarization", _TEXT, "text", "summarize a long text into a short one"),
    _t("translation", _TEXT, "text", "translate text from one language to another"),
    _t("conversational", _TEXT, "text", "chat: reply to a message in a conversation"),
    _t("text-generation", _TEXT, "text", "write or continue text: a story, poem, email or paraphrase"),
    _t("text2text-generation", _TEXT, "text", "rewrite text into other text: paraphrase, correct grammar, answer"),
    _t("sentence-similarity", {"text": "text", "text2": "text"}, "text", "measure how similar two sentences or texts are", ("text", "text2")),
    _t("fill-mask", _TEXT, "text", "fill in a masked missing word in a sentence"),
    _t("tabular-classification", _IMAGE, "text", "classify a table given as an image"),
    _t("image-classification", _IMAGE, "text", "say what is in an image: which animal, object or scene it shows"),
    _t("object-detection", _IMAGE, "image", "find and locate objects in an image, drawing labelled boxes around them"),
    _t("image-segmentation", _IMAGE, "image", "segment an image into regions or masks: people, objects, background"),
    _t("depth-estimation", _IMAGE, "image", "estimate the depth of each pixel of an image as a depth map"),
    _t("image-to-text", _IMAGE, "text", "describe an image in words (captioning) or read the text written in it (OCR)"),
    _t("visual-question-answering", {"image": "image", "text": "text"}, "text", "answer a question about the content of an image", ("image", "text")),
    _t("document-question-answering", {"image": "image", "text": "text"}, "text", "answer a question about a document, form, receipt or invoice image", ("image", "text")),
    _t("image-to-image", _IMAGE, "image", "transform an image: enhance, restyle, upscale or edit it"),
    _t("text-to-image", _TEXT, "image", "generate a picture or drawing from a text description"),
    _t("text-to-video", _TEXT, "video", "generate a short video from a text description"),
    _t("automatic-speech-recognition", _AUDIO, "text", "transcribe speech in an audio recording to text"),
    _t("audio-classification", _AUDIO, "text", "classify an audio clip: the sound, command, emotion or speaker"),
    _t("text-to-speech", _TEXT, "audio", "read text aloud: turn text into spoken audio"),
    _t("audio-to-audio", _AUDIO, "audio", "transform audio: enhance speech, remove noise, separate sources"),
]

CONTROL_KINDS = ("canny", "depth", "hed", "mlsd", "normal", "openpose", "scribble", "seg")

_CONTROL = [
    _t(f"{k}-control", _IMAGE, "image", f"extract a {k} control map from an image for ControlNet")
    for k in CONTROL_KINDS
] + [
    _t(f"{k}-text-to-image", {"text": "text", "image": "image"}, "image",
       f"generate an image from text, guided by a {k} control image", ("text", "image"))
    for k in CONTROL_KINDS
]

TASK_TYPES: dict[str, TaskType] = {t.name: t for t in _BASE + _CONTROL}


# The task that turns a file of each modality into the text it holds: a step that works
# on text, asked about a file the user brought, reads the file with it first
# ("translate the text on this menu", "summarise this recording").
READERS = {"image": "image-to-text", "audio": "automatic-speech-recognition"}
# what people call a task's text when a later step takes it ("read the english caption out loud")
OUTPUT_NOUNS = {"image-to-text": "caption|description", "automatic-speech-recognition": "transcript|transcription",
                "summarization": "summary", "translation": "translation"}


def norm_name(name: str) -> str:
    """A task name compared loosely: "Image Classification" = "image-classification"."""
    return re.sub(r"[^a-z0-9]+", "-", str(name).lower()).strip("-")


def reader_of(task_types: Iterable[TaskType], modality: str) -> TaskType | None:
    """The task among ``task_types`` that reads a file of ``modality`` into text (``READERS``,
    by loose name), if there is one."""
    name = READERS.get(modality)
    return next((t for t in task_types if name and norm_name(t.name) == name), None)


def classifier_of(task_types: Iterable[TaskType], modality: str) -> TaskType | None:
    """The task among ``task_types`` that classifies a file of ``modality`` alone into a label
    (audio classification: the sound, the voice, the mood), if there is one."""
    return next((t for t in task_types if t.args and set(t.args.values()) == {modality} and t.output == "text"
                 and task_kind(t) == "classification"), None)


def askers_of(task_types: Iterable[TaskType], modality: str) -> list[TaskType]:
    """The tasks among ``task_types`` that answer a question about a file of ``modality``
    (for a picture: visual and document question answering)."""
    return [t for t in task_types if set(t.args.values()) == {modality, "text"} and t.output == "text"
            and task_kind(t) == "question-answering"]


MEDIUM_WORDS = ("image", "visual", "document", "audio", "video", "speech", "text", "tabular")


def task_kind(task: "TaskType") -> str:
    """What a task does, whatever it does it to: "image-classification" and
    "audio-classification" are both "classification"."""
    words = norm_name(task.name).split("-")
    return "-".join(words[1:] if len(words) > 1 and words[0] in MEDIUM_WORDS else words)


def named(task_types: Iterable[TaskType], name: str) -> TaskType | None:
    """The task type called ``name`` (hgpt's spelling) in ``task_types``, whichever list it is
    (hgpt's own or TaskBench's "Sentence Similarity"); None when the list has none."""
    return next((t for t in task_types if norm_name(t.name) == name), None)


def get(name: str) -> TaskType:
    from .errors import UnknownNameError

    try:
        return TASK_TYPES[name]
    except KeyError:
        raise UnknownNameError("task type", name, list(TASK_TYPES)) from None


def can_feed(source: TaskType, target: TaskType) -> bool:
    """May ``source``'s output be an input of ``target``? (the tool graph by types)"""
    return source.output in target.args.values()


# tasks whose text is a label or a list of things found, not a passage; tasks that read a passage
LABELLERS = frozenset({"token-classification", "text-classification", "zero-shot-classification",
                       "image-classification", "audio-classification", "tabular-classification",
                       "sentence-similarity"})
PASSAGE_READERS = frozenset({"summarization", "token-classification", "text-classification", "zero-shot-classification"})
# tasks whose output is a map of a picture (depth, pose, edges …): it guides a drawing, it is not a photo to look at
MAP_MAKERS = frozenset({"depth-estimation", *(f"{k}-control" for k in CONTROL_KINDS)})


def feeds_well(source: TaskType, target: TaskType) -> bool:
    """Should the planner link ``source`` into ``target``? ``can_feed``, unless the output is
    a label or a list of names and the target reads a passage: "transcribe the meeting,
    list everyone named, and summarize it" summarizes the transcript, not the names; "what's the
    sentiment of notes.txt and can you also pull out any names in it?" finds the names in the
    notes, not in the label; or the
    output is a map of a picture (depth, pose, edges) and the target does not draw from it:
    "give me a depth map of this photo and outline the objects in it" segments the photo."""
    if not can_feed(source, target):
        return False
    if norm_name(source.name) in LABELLERS and norm_name(target.name) in PASSAGE_READERS:
        return False
    return draws(target) or not is_map_maker(source)


def is_map_maker(task: TaskType) -> bool:
    """Does ``task`` make a map of a picture (depth, pose, edges …) rather than a picture?"""
    return norm_name(task.name) in MAP_MAKERS


def draws(task: TaskType) -> bool:
    """Does ``task`` draw a picture from a picture (a ControlNet drawing, an edit, image-to-image)?"""
    return task.output == "image" and (norm_name(task.name) == "image-to-image" or "text" in task.args.values())


def named_output(clause: str, task_types: Iterable[TaskType]) -> TaskType | None:
    """The one task among ``task_types`` whose text ``clause`` names by what people call it
    ("the caption", "the original transcript", "the english caption"), if exactly one is named
    and the clause asks for no language ("read the caption out loud in Spanish" is the
    translation's text; so is "the translated description")."""
    if re.search(LANGUAGE_ASKED, clause, re.IGNORECASE):
        return None
    named = [t for t in task_types if norm_name(t.name) in OUTPUT_NOUNS and re.search(
        rf"\bthe\s+(?:(?:original|first|raw|full|whole|{LANGUAGES})\s+)?(?:{OUTPUT_NOUNS[norm_name(t.name)]})\b",
        clause, re.IGNORECASE)]
    return named[0] if len(named) == 1 else None
