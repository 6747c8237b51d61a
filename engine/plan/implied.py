"""Steps a plan implies but a writer left out.

A ControlNet task (``<kind>-text-to-image``) draws from a control map of its kind:
a pose skeleton, an edge map, a depth map. Fed a photo, it draws from the photo's
pixels as if they were the map. "A new picture in the same pose as this photo" is
two steps, the map and the drawing; writers, small and large, often write only the
second. ``add_control_maps`` puts the map-making step in front of any ControlNet
task whose image is not a map of its kind (a file named for its kind, such as
``pose.png``, is taken as a map the user made).

The other way round, a request that keeps a photo's pose, outlines, depth, lines or
layout while making something new ("keep the outlines of my bedroom but make it a
cyberpunk room") asks for that ControlNet drawing even when its clauses name only
the map or a plain restyle: ``add_guided_drawing`` turns the plan's image-to-image
or text-to-image step on that photo into the drawing, or draws from the map the plan
already makes, or adds the drawing; ``add_control_maps`` then puts the map first.
"""

from __future__ import annotations

import re
from pathlib import PurePath
from typing import Iterable, Mapping

from ..tasks import READERS, TaskType, classifier_of, named, norm_name, reader_of, task_kind
from ..text import (LANGUAGE_ASKED, QUESTION_START, WH_WORDS, WRITTEN_IN, in_another_language, is_question, questions,
                    quoted_texts)
from .graph import RESOURCE_RE, Plan, Task, renumber, without
from .ranking import QUOTED_RE, split_clauses

DRAWS_FROM_MAP = "-text-to-image"
ALSO_MAKES = {"depth": ("depth-estimation",), "seg": ("image-segmentation",)}  # maps by another name
# what of a picture each kind of map keeps; the more specific kinds first ("soft edges" before "edges")
KEPT_FEATURE = {
    "openpose": r"pose|posture|stance|body position",
    "scribble": r"scribble|doodle",
    "normal": r"normal map|surface normals?",
    "seg": r"segmentation|segments|regions",
    "mlsd": r"straight lines|lines|architecture",
    "hed": r"soft (?:edges|outlines?|lines)|hed|line drawings?|line art",
    "depth": r"depth|3d layout|3d structure|perspective|layout|close to the camera|far (?:back|away)|near and far",
    "canny": r"outlines?|edges|contours",
}
KEEPS = r"\b(?:keep(?:s|ing)?|take|taking|same|matching|match|follow(?:s|ing)?|preserv\w*|retain\w*|based on|guided by|use|using)\b"
# … or the feature first ("her pose is the same as the boy's in this image")
KEPT_AS = r"[^.?!]{0,20}?\b(?:(?:is|are|be)\s+(?:the\s+)?same\s+as|identical\s+to|match(?:es)?)\b"
KEEPS_FEATURE = {kind: re.compile(KEEPS + r"[^.?!]{0,40}?\b(?:" + words + r")\b|\b(?:" + words + r")\b" + KEPT_AS,
                                  re.IGNORECASE)
                 for kind, words in KEPT_FEATURE.items()}
MAKES_NEW = re.compile(r"\b(make|makes|turn|redesign|generate|create|render|draw|paint|transform|reimagine|"
                       r"new (?:picture|image|photo|version))\b", re.IGNORECASE)
# the user's own doodle is a scribble map ("I drew this doodle, can you make it into a real picture")
USERS_DOODLE = re.compile(r"\b(?:this|my|the|our|these)\s+(?:little\s+|quick\s+|rough\s+)?(?:doodles?|scribbles?|sketch(?:es)?)\b|"
                          r"\b(?:i|we) (?:drew|sketched|doodled|scribbled)\b|"
                          r"\b(?:drew|sketched|doodled|scribbled) (?:this|these|that|it)\b", re.IGNORECASE)
# an order for a new picture ("make a picture of a knight …", "draw me a dragon", "generate a pencil-sketch
# style portrait")
NEW_PICTURE = re.compile(r"\b(?:make|generate|create|draw|paint|render|design)\s+(?:me\s+)?(?:an?|some|the)\s+"
                         r"(?:[\w-]+\s+){0,3}(?:picture|image|drawing|painting|illustration|photo|pic|portrait|version)s?\b|\bdraw (?:me )?(?:an?|some)\b",
                         re.IGNORECASE)
RESTYLES = ("image-to-image", "text-to-image")  # what a writer plans instead of the drawing
# what was made, named as what a later step works on ("… then caption the result")
THE_RESULT = re.compile(r"\bthe (?:result|outcome|output|new (?:picture|image|one|drawing)|drawing|final (?:picture|image))\b",
                        re.IGNORECASE)


IN_LANGUAGE = re.compile(LANGUAGE_ASKED, re.IGNORECASE)


def add_translation(plan: Plan, request: str, task_types: Mapping[str, TaskType]) -> list[str]:
    """Translate the plan's last text when the request asks for a language and no task translates.
    The translation comes right after that text, and what took the text takes the translation:
    "describe the photo in Spanish, then read that out loud" speaks the Spanish caption."""
    translation = named(task_types.values(), "translation")
    if translation is None or not IN_LANGUAGE.search(request):
        return []
    if _translates(plan):
        return []
    last = next((t for t in reversed(plan.tasks) if task_types[t.task].output == "text"), None)
    if last is None:
        return []
    slot, made = next(iter(translation.args)), f"<resource>-{last.id}"
    at = last.id + 1
    _insert(plan, Task(at, translation.name, [last.id], {slot: made}))
    for task in plan.tasks[at + 1:]:
        task.args = {k: f"<resource>-{at}" if v == made else v for k, v in task.args.items()}
        task.dep = task.references() or [-1]
    return [f"the request asks for a language: {translation.name} translates the output of task {last.id}"]


def _translates(plan: Plan) -> bool:
    return any(norm_name(t.task) == "translation" for t in plan.tasks)


# a picture whose text the request says is in another language ("got this in the mail, it's all in french")
WRITTEN_IN_OTHER = re.compile(WRITTEN_IN, re.IGNORECASE)
ABOUT_THE_PICTURE = ("image-to-text", "visual-question-answering", "document-question-answering", "image-classification",
                     "translation")


def _written_in_another(request: str) -> bool:
    return any(m.group(1).lower() != "english" for m in WRITTEN_IN_OTHER.finditer(request))


def add_foreign_reading(plan: Plan, request: str, files: Mapping[str, str],
                        task_types: Mapping[str, TaskType]) -> list[str]:
    """Read the one picture the request brings and translate its text, when the request says that
    text is in another language and the plan only asks about the picture or translates ("got this
    in the mail, it's all in french... do i need to pay something??": the letter read, then put in
    English, for the answer to go by). A plan that does more with it is left as it is."""
    reader, translation = reader_of(task_types.values(), "image"), named(task_types.values(), "translation")
    pictures = [name for name, modality in files.items() if modality == "image"]
    if reader is None or translation is None or len(pictures) != 1 or not _written_in_another(request):
        return []
    if any(norm_name(t.task) not in ABOUT_THE_PICTURE for t in plan.tasks):
        return []
    if any(t.task == reader.name for t in plan.tasks) and _translates(plan):
        return []
    plan.tasks = [Task(0, reader.name, [-1], {next(iter(reader.args)): pictures[0]}),
                  Task(1, translation.name, [0], {next(iter(translation.args)): "<resource>-0"})]
    return [f"the text in {pictures[0]} is in another language: {reader.name} reads it and {translation.name} "
            "translates it"]


# a question about what a text in another language says ("what does it mean: '…'", "what's this in English?")
MEANING = re.compile(r"\bwhat\s+(?:does|do)\s+(?:it|this|that|these|those|(?:this|that|the)\s+\w+)\s+(?:\w+\s+)?mean\b|"
                     r"\bwhat(?:'s|\s+is)\s+(?:it|this|that)\s+in\s+english\b|\bwhat\s+language\s+is\s+(?:it|this|that)\b|"
                     r"\bwhat(?:'s|\s+is)\s+(?:it|this|that)\s+saying\b", re.IGNORECASE)


def add_meaning(plan: Plan, request: str, task_types: Mapping[str, TaskType]) -> list[str]:
    """Translate the text the request quotes when it is in another language and the request asks
    what it means ("what does it mean: 'Ce restaurant était incroyable …' also is it a good review?"),
    unless the plan translates already. The translation comes first; the rest of the plan stays."""
    translation = named(task_types.values(), "translation")
    if translation is None or not MEANING.search(request) or _translates(plan):
        return []
    foreign = next((q for q in quoted_texts(request) if in_another_language(q)), None)
    if foreign is None:
        return []
    _insert(plan, Task(0, translation.name, [-1], {next(iter(translation.args)): foreign}))
    return [f"the request asks what a text in another language means: {translation.name} translates it"]


# a question that asks for the words themselves ("what is she saying?"), not about what they say
# ("when did the landlord say the rent goes up?")
WHAT_IS_SAID = (r"^what\b(?:\s+[\w']+){0,3}?\s+(say|says|said|saying|talking about)"
                r"(?:\s+(?:in|on|during)\s+(?:the|this|that|my|his|her|their|it)\b[^?]*)?\s*[?.!]*\s*$")
ABOUT_THE_WORDS = re.compile(WHAT_IS_SAID + r"|\b(spoken|speaking|write (?:it |them |that |this )?down|"
                             r"transcri\w*|words?|language|lyrics|"
                             r"(?:sing|sang|sung|rap|rapp)\w*\s+about)\b", re.IGNORECASE)
ASKS_THE_WORDS = re.compile(WHAT_IS_SAID, re.IGNORECASE)  # "what are they saying?": the transcript itself
# a question about the sound itself, which audio classification answers ("what is making that noise?")
ABOUT_THE_SOUND = re.compile(r"\b(sound\w*|nois\w*|animals?|birds?|instruments?|genres?|music|songs?|accents?|"
                             r"emotions?|emotional|moods?|feel(?:s|ing)?|kind|type|making|singing|playing|speakers?|voices?|"
                             r"who(?:'s| is| was)(?: \w+)? (?:speaking|talking)|"
                             # how the speaker feels, not what they feel it about ("what is she upset about")
                             r"(?:angry|upset|happy|sad|mad|annoyed|stressed|nervous|scared|calm|excited|frustrated|"
                             r"worried)(?!\s+(?:about|with|at|that|because|over|by)\b))\b", re.IGNORECASE)
# a recording described as a sound, not as words someone says ("a bird that sings outside my window")
SOUND_SOURCE = re.compile(r"\b(?:birds?|animals?|instruments?|music|songs?|sings?|singing|chirp\w*|tweet(?:s|ing)|"
                          r"bark\w*|meow\w*|howl\w*|hoot\w*|croak\w*|roar\w*|purr\w*|growl\w*|squawk\w*|"
                          r"whistl\w*|nois\w*|hum(?:s|ming)?|buzz\w*|beep\w*|rattl\w*|squeak\w*|click\w*|knock\w*|"
                          r"screech\w*|scream\w*|shriek\w*|squeal\w*|hiss\w*|thump\w*|bang(?:s|ing)?|crash\w*|"
                          r"crackl\w*|creak\w*|clank\w*|clang\w*|whin(?:e|es|ing)|wail\w*|caw\w*|quack\w*|"
                          r"cluck\w*|honk\w*|siren\w*|scratch(?:es|ing)|tap(?:s|ping)|drip(?:s|ping)|cr(?:y|ies|ying)|"
                          r"dogs?|pupp(?:y|ies)|cats?|kittens?|parrots?|owls?|frogs?|crickets?|insects?)\b",
                          re.IGNORECASE)
MAX_QUESTION_TEXT = 300
WH_START = re.compile(rf"^(?:{WH_WORDS})\b", re.IGNORECASE)


def add_question(plan: Plan, request: str, task_types: Mapping[str, TaskType]) -> list[str]:
    """Answer the request's question from the transcript when the plan only transcribes,
    or only classifies the sound of a recording the question is not about ("when did the
    plumber say he can come?" is asked of the words, not of the sound). When another of its
    questions is about the sound or the speaker, the classification stays and the transcript
    and its answer come after it ("who is speaking in this and what are they upset about"); when
    the plan transcribes and the questions not about the words are all about the voice, the
    recording is classified too ("who's talking, a man or a woman? and what are they saying?")."""
    reader, classifier = reader_of(task_types.values(), "audio"), classifier_of(task_types.values(), "audio")
    both = _words_and_sound(plan, request, reader, classifier, task_types)
    if both:
        return both
    # "there's a bird that sings outside my window, i recorded it. what is it": a question about a
    # sound the request describes, and no word asks what is said: the sound is classified
    heard = bool(SOUND_SOURCE.search(request)) and not ABOUT_THE_WORDS.search(request)
    if heard and classifier is not None and (_answers_its_transcript(plan, reader, task_types, request)
                                             or _sorts_its_transcript(plan, reader, task_types)):
        # "is this a dog barking or a car alarm": not answered from the words the recording holds
        audio = next(iter(plan.tasks[0].args.values()), "")
        plan.tasks = [Task(0, classifier.name, [-1], {next(iter(classifier.args)): audio})]
        return [f"the request asks about a sound, not about words: {classifier.name} classifies the recording"]
    if reader is None or len(plan.tasks) != 1:
        return []
    asked = [q for q in questions(request) if not ABOUT_THE_WORDS.search(q)]
    parts = split_clauses(request)
    clauses = [c for c in parts if is_question(c)]
    # one question in two clauses ("who is speaking and what is it about"), or a wh-question with no "?" after
    # the scene ("in this voice note from my landlord, what day did he say the plumber is coming"; a clause
    # opening "was" or "is" is as often no question: "was driving and rambled …")
    if not asked and (len(clauses) > 1 or (len(parts) > 1 and clauses and WH_START.match(clauses[0]))):
        asked = [c for c in clauses if not ABOUT_THE_WORDS.search(c) and not ABOUT_THE_SOUND.search(c)]
    only = plan.tasks[0]
    audio = next(iter(only.args.values()), "")
    if only.task == reader.name and classifier is not None and (asked or clauses or "?" in request) and heard:
        plan.tasks = [Task(0, classifier.name, [-1], {next(iter(classifier.args)): audio})]
        return [f"the request asks about a sound, not about words: {classifier.name} classifies the recording"]
    # "is that a child speaking? and what do they say?": the voice classified, and the words read
    if (not asked and classifier is not None and only.task == classifier.name
            and any(ASKS_THE_WORDS.search(re.sub(r"^(?:and|so|also|oh)\s+", "", c, flags=re.I))
                    for c in parts)):
        plan.tasks = [only, Task(1, reader.name, [-1], {next(iter(reader.args)): audio})]
        return [f"the request also asks what is said: {reader.name} transcribes the recording"]
    if not asked:
        return []
    keep: list[Task] = []
    if classifier is not None and only.task == classifier.name:
        if ABOUT_THE_SOUND.search(" ".join(asked)) or heard or (ABOUT_THE_SOUND.search(request) and len(clauses) < 2):
            return []
        if any(ABOUT_THE_SOUND.search(c) for c in clauses):
            keep = [only]
        transcript = Task(len(keep), reader.name, [-1], {next(iter(reader.args)): audio})
    elif only.task == reader.name:
        if classifier is not None and all(ABOUT_THE_SOUND.search(q) for q in asked):  # "who's talking, a man
            # or a woman? and what are they saying?": the words are the transcript, the voice is classified
            plan.tasks = [only, Task(1, classifier.name, [-1], {next(iter(classifier.args)): audio})]
            return [f"the request asks about the voice too: {classifier.name} classifies the recording"]
        transcript = only
    else:
        return []
    question = request.strip() if len(request) <= MAX_QUESTION_TEXT and not keep else asked[0]
    answer = answering(task_types.values(), transcript, question)
    if answer is None:
        return []
    plan.tasks = [*keep, transcript, answer]
    return [f"the request asks a question about what is said: {answer.task} answers it from the transcript"]


def _words_and_sound(plan: Plan, request: str, reader, classifier, task_types: Mapping[str, TaskType]) -> list[str]:
    """One clause asks what is said, another about a sound the recording holds ("what did the
    plumber say, and is that my dog barking in the background?"): the recording is transcribed
    and classified, whichever of the two the plan has (alone, or the transcript and a question
    answered from it). A plan that does more with the words is left as it is ("transcribe the
    lyrics and tell me if the song is about love or politics" sorts them)."""
    if reader is None or classifier is None or not plan.tasks:
        return []
    audio = next(iter(plan.tasks[0].args.values()), "")
    if plan.tasks[0].task not in (reader.name, classifier.name) or not audio:
        return []
    if len(plan.tasks) > 1 and not _answers_its_transcript(plan, reader, task_types, request):
        return []
    parts = [re.sub(r"^(?:and|so|also|oh|plus)\s+", "", c, flags=re.I) for c in split_clauses(request)]
    words = [c for c in parts if ASKS_THE_WORDS.search(c) or ABOUT_THE_WORDS.search(c)]
    sounds = [c for c in parts if SOUND_SOURCE.search(c) and c not in words]
    if not words or not sounds:
        return []
    plan.tasks = [Task(0, reader.name, [-1], {next(iter(reader.args)): audio}),
                  Task(1, classifier.name, [-1], {next(iter(classifier.args)): audio})]
    return [f"the request asks what is said and about a sound: {reader.name} transcribes the recording "
            f"and {classifier.name} classifies it"]


def _on_its_transcript(plan: Plan, reader) -> Task | None:
    """The one task after a recording's transcript that takes it, when the plan is those two alone."""
    if reader is None or len(plan.tasks) != 2 or plan.tasks[0].task != reader.name or plan.tasks[1].dep != [0]:
        return None
    return plan.tasks[1]


def _sorts_its_transcript(plan: Plan, reader, task_types: Mapping[str, TaskType]) -> bool:
    """Is the plan a recording's transcript sorted by a text classifier, and nothing else ("my dog
    does this when I leave, is he stressed or bored?": the mood of the words, where the sound's is asked)?"""
    then = _on_its_transcript(plan, reader)
    return then is not None and task_kind(task_types[then.task]) == "classification"


def _answers_its_transcript(plan: Plan, reader, task_types: Mapping[str, TaskType], request: str) -> bool:
    """Is the plan a recording's transcript and a question answered from it, and nothing else?"""
    if _on_its_transcript(plan, reader) is None:
        return False
    answer = answering(task_types.values(), plan.tasks[0], request.strip())
    return answer is not None and answer.task == plan.tasks[1].task


# an order to make a file's words into a piece of writing ("turn my voice note into an email"; a file's
# name may come between: "turn memo.m4a into a polite follow-up email")
INTO_WRITING = re.compile(r"\b(?:turn|make|convert|change|rewrite|put|write)\b(?:[^.?!]|\.(?=\w)){0,60}?\b(?:into|as)\s+(?:an?|some)\s+"
                          r"(?:[\w-]+\s+){0,4}(?:email|e-mail|letter|message|tweet|post|poem|story|essay|to-?do list|"
                          r"checklist|memo|text)s?\b", re.IGNORECASE)


def add_writing(plan: Plan, request: str, task_types: Mapping[str, TaskType]) -> list[str]:
    """Write the piece the request asks for from a file's words, when the plan only reads the
    file: "turn my voice note into an email" transcribes the note, then writes the email."""
    writer = named(task_types.values(), "text-generation")
    if writer is None or len(plan.tasks) != 1 or not INTO_WRITING.search(request):
        return []
    only = plan.tasks[0]
    if only.task not in READERS.values():
        return []
    plan.tasks.append(Task(1, writer.name, [0], {next(iter(writer.args)): "<resource>-0"}))
    return [f"the request asks for a piece of writing from what {only.task} reads: {writer.name} writes it"]


# a request that asks whether files are the same or how they differ
COMPARING = r"same|different|differ\w*|difference|compar\w*|match\w*|similar\w*"
COMPARES = re.compile(rf"\b(?:{COMPARING})\b", re.IGNORECASE)
# the request asks for the same work on every file of a kind it brings ("transcribe both recordings")
EACH_FILE = re.compile(r"\b(?:both|each|all|every|these two|those two|the two|these three|the three)\b", re.IGNORECASE)
# … unless it asks for one answer about them together ("are these the same?", "which of these is sharper?")
TOGETHER = re.compile(rf"\b(?:{COMPARING}|which|better|worse|between|versus|vs|\w+er than)\b", re.IGNORECASE)
MAX_TASKS = 6


def add_each_file(plan: Plan, request: str, files: Mapping[str, str]) -> list[str]:
    """Do the plan's work on each file of the kind it reads when the request asks for it on all
    of them ("describe both pictures", "translate each file into German"): the plan, a chain
    from one file, is written again for every other file of that kind."""
    if not plan.tasks or not EACH_FILE.search(request) or TOGETHER.search(request):
        return []
    head = plan.tasks[0]
    read = [v for v in head.args.values() if isinstance(v, str) and v in files]
    others_read = [v for t in plan.tasks[1:] for v in t.args.values() if isinstance(v, str) and v in files]
    if len(read) != 1 or others_read or any(len(t.references()) > 1 for t in plan.tasks):
        return []
    kind = files[read[0]]
    rest = [name for name, modality in files.items() if modality == kind and name != read[0]]
    if not rest or len(plan.tasks) * (len(rest) + 1) > MAX_TASKS:
        return []
    chain = list(plan.tasks)
    for name in rest:
        offset = len(plan.tasks)
        copy = renumber(chain, {t.id: t.id + offset for t in chain})
        copy[0].args = {k: (name if v == read[0] else v) for k, v in copy[0].args.items()}
        plan.tasks += copy
    return [f"the request asks for the same work on each {kind} file: the plan is done for {', '.join(rest)} too"]


def question_args(asker: TaskType, picture: str, question: str) -> dict[str, str]:
    """The arguments that ask ``question`` of ``picture`` with ``asker`` (its image slot, then its text slot)."""
    image_slot = next(k for k, m in asker.args.items() if m == "image")
    text_slot = next(k for k, m in asker.args.items() if m == "text")
    return {image_slot: picture, text_slot: question}


def add_picture_question(plan: Plan, request: str, files: Mapping[str, str],
                         task_types: Mapping[str, TaskType]) -> list[str]:
    """Ask a second question of the one picture the request brings when the plan sorts the
    answer to the first instead ("how many people are in this photo and are they happy?": not
    the sentiment of "3", but "are they happy?" asked of the photo). Only for a direct question
    of its own clause, in a request that brings no text to sort."""
    pictures = [name for name, kind in files.items() if kind == "image"]
    asker = named(task_types.values(), "visual-question-answering")
    if asker is None or len(pictures) != 1 or set(files.values()) != {"image"} or QUOTED_RE.search(request):
        return []
    asked = [c for c in split_clauses(request) if QUESTION_START.match(c)]
    sorters = [t for t in plan.tasks if norm_name(t.task) == "text-classification" and t.references()
               and all("image" in task_types[plan.tasks[r].task].args.values() for r in t.references())]
    if len(asked) != 2 or len(sorters) != 1:
        return []
    left = asked[1:]
    sorter = sorters[0]
    old = sorter.task
    sorter.task, sorter.dep = asker.name, [-1]
    sorter.args = question_args(asker, pictures[0], left[0] + ("?" if left[0] + "?" in request else ""))
    return [f"task {sorter.id} ({old}) sorted an answer about the picture: {asker.name} asks the picture instead"]


# a question about how something in a picture looks, not about the words on it
LOOKS = re.compile(r"\b(?:colou?rs?|shape|looks? like|how (?:big|large|small|tall|old)|wearing|background)\b", re.IGNORECASE)
# a question about what a picture shows ("how many people are there?", "is there a moat?")
# what someone or something in a picture does, or where it is ("holding", "on the left")
DOING_OR_WHERE = r"holding|doing|standing|sitting|on the (?:left|right)|behind|in front"
SEEN = re.compile(LOOKS.pattern + r"|\b(?:how many|is there|are there|" + DOING_OR_WHERE + r")\b", re.IGNORECASE)
# a question about the words on a picture (a page, a sign), which is answered from its text read again
ABOUT_WORDS = re.compile(r"\b(?:words?|text|written|writing|says?|read|letters?|title|heading|names?|numbers?)\b",
                         re.IGNORECASE)


def ask_the_picture(plan: Plan, files: Mapping[str, str], task_types: Mapping[str, TaskType]) -> Plan:
    """A question answered from a caption of the one picture the request brings, where nothing
    else uses the caption, is asked of the picture ("here is my holiday snap. please answer this
    question about it: 'is anyone wearing sunglasses?'": not a caption and a question answered
    from the caption's words). A question about the words on the picture ("what does the sign
    say about parking?") is still answered from the words read. Returns the plan, changed or not."""
    asker = named(task_types.values(), "visual-question-answering")
    pictures = [name for name, kind in files.items() if kind == "image"]
    if asker is None or len(pictures) != 1 or len(files) != 1:
        return plan
    for answer in plan.tasks:
        if norm_name(answer.task) != "question-answering" or len(answer.references()) != 1:
            continue
        caption = plan.tasks[answer.references()[0]]
        texts = [str(v) for v in answer.args.values() if not RESOURCE_RE.search(str(v))]
        users = [t for t in plan.tasks if caption.id in t.references()]
        if (norm_name(caption.task) != "image-to-text" or pictures[0] not in caption.args.values() or users != [answer]
                or len(texts) != 1 or not is_question(texts[0]) or ABOUT_WORDS.search(texts[0])):
            continue
        asked = Task(caption.id, asker.name, [-1], question_args(asker, pictures[0], texts[0]))
        tasks = [asked if t is caption else t for t in plan.tasks if t is not answer]
        moved = {t.id: t.id - (t.id > answer.id) for t in plan.tasks if t is not answer}
        moved[answer.id] = caption.id  # what used the answer uses the picture's answer
        changed = Plan(renumber(tasks, moved), list(plan.repairs), plan.raw)
        changed.repairs.append(f"task {answer.id} answered a question from a caption of {pictures[0]}: "
                               f"{asker.name} asks the picture instead")
        return changed
    return plan


# what a picture shows in particular, which a label of the whole picture does not answer
# ("what is the cat looking at?", "what colour is the car?", "who is on the left?")
IN_PARTICULAR = re.compile(r"\b(?:colou?rs?|wearing|" + DOING_OR_WHERE + r"|looking at|eating|drinking|carrying|"
                           r"riding|playing with|pointing at|lying on|next to)\b", re.IGNORECASE)


def ask_what_it_shows(plan: Plan, request: str, files: Mapping[str, str],
                      task_types: Mapping[str, TaskType]) -> list[str]:
    """A question about what the one picture brought shows in particular, planned as a label of
    the whole picture, is asked of the picture: "what is the cat in this photo looking at?" is
    not answered by "tiger cat". Offline, without a visual question answerer, the pre-flight
    then says which model to pull (a label would have been reported as the answer)."""
    asker = named(task_types.values(), "visual-question-answering")
    labeller = named(task_types.values(), "image-classification")
    pictures = [name for name, kind in files.items() if kind == "image"]
    if asker is None or labeller is None or len(pictures) != 1 or len(plan.tasks) != 1:
        return []
    only = plan.tasks[0]
    question = request.strip()
    if (only.task != labeller.name or pictures[0] not in only.args.values() or not is_question(question)
            or not IN_PARTICULAR.search(question) or ABOUT_WORDS.search(question)
            or len(question) > MAX_QUESTION_TEXT):
        return []
    plan.tasks = [Task(0, asker.name, [-1], question_args(asker, pictures[0], question))]
    return [f"the request asks what {pictures[0]} shows in particular: {asker.name} asks the picture, "
            f"not {labeller.name}"]


# an order to make one file like another ("match the colours of this picture to the other one")
MATCHED_TO = re.compile(r"(?:^\s*|\b(?:you|u|please|pls|and|then)\s+)match\b[^.?!]{0,40}?\bto\b", re.IGNORECASE)


def add_comparison(plan: Plan, request: str, files: Mapping[str, str], task_types: Mapping[str, TaskType]) -> list[str]:
    """Compare the two files the request brings (pictures, recordings or texts) by what each one
    holds, when it asks whether they are the same or how they differ and the plan (of one or two
    steps) does not use both: "do these two recordings say the same thing?" transcribes both and
    measures how similar the transcripts are; "does the text in this photo match my notes?"
    reads the photo and compares it with the notes. Not an order that makes one file like the
    other ("… in the same style as this painting")."""
    similarity = named(task_types.values(), "sentence-similarity")
    both = [(name, kind) for name, kind in files.items() if kind == "text" or kind in READERS]
    if similarity is None or len(both) != 2 or not COMPARES.search(request) or not 0 < len(plan.tasks) <= 2:
        return []
    if MAKES_NEW.search(request) or MATCHED_TO.search(request):  # "make this photo in the same style as this
        return []  # painting", "match the colours of this picture to the other one" change one file
    used = {v for t in plan.tasks for v in t.args.values()}
    readers = {kind: reader_of(task_types.values(), kind) for _, kind in both if kind != "text"}
    if all(name in used for name, _ in both) or None in readers.values() or len(similarity.args) != 2:
        return []
    tasks, texts = [], []
    for name, kind in both:
        if kind == "text":
            texts.append(name)
            continue
        reader = readers[kind]
        tasks.append(Task(len(tasks), reader.name, [-1], {next(iter(reader.args)): name}))
        texts.append(f"<resource>-{tasks[-1].id}")
    compare = Task(len(tasks), similarity.name, [-1], dict(zip(similarity.args, texts)))
    compare.dep = compare.references() or [-1]
    plan.tasks = [*tasks, compare]
    return [f"the request compares {both[0][0]} with {both[1][0]}: {similarity.name} compares what each holds"]


def answering(task_types: Iterable[TaskType], source: Task, question: str) -> Task | None:
    """The question-answering task after ``source``, asked ``question`` of its text: the first
    slot takes the question, the second the passage it is answered from; None when there is
    no such task type."""
    answerer = named(task_types, "question-answering")
    slots = list(answerer.args) if answerer is not None else []
    if len(slots) < 2:
        return None
    return Task(source.id + 1, answerer.name, [source.id], {slots[0]: question, slots[1]: f"<resource>-{source.id}"})


def map_makers(kind: str) -> set[str]:
    return {f"{kind}-control", *ALSO_MAKES.get(kind, ())}


def add_control_maps(plan: Plan, task_types: Mapping[str, TaskType]) -> list[str]:
    """Insert the ``<kind>-control`` step each ControlNet task needs; returns notes. A map made
    by another name that feeds nothing but drawings of its kind is made by the control step
    (``_as_control_maps``)."""
    notes = _as_control_maps(plan, task_types)
    position = 0
    while position < len(plan.tasks):
        task = plan.tasks[position]
        kind = task.task[: -len(DRAWS_FROM_MAP)] if task.task.endswith(DRAWS_FROM_MAP) else ""
        maker = f"{kind}-control"
        image = str(task.args.get("image", ""))
        if kind and maker in task_types and image and not _is_map(plan, image, kind):
            _insert(plan, Task(position, maker, [-1], {"image": image}))  # this task moves up one
            plan.tasks[position + 1].args["image"] = f"<resource>-{position}"
            notes.append(f"task {position + 1} ({task.task}) draws from a control map: {maker} makes it first")
            position += 1
        position += 1
    for task in plan.tasks:  # the maps and the tasks that now take them
        task.dep = task.references() or [-1]
    return notes


def _as_control_maps(plan: Plan, task_types: Mapping[str, TaskType]) -> list[str]:
    """A depth estimation or segmentation whose output only a ControlNet drawing of its kind
    takes becomes that kind's control step: the map that drawing was trained on (the seg map
    in the ADE20K palette, the depth map as the ControlNet authors made it), still shown."""
    notes = []
    for task in plan.tasks:
        kind = next((k for k, names in ALSO_MAKES.items() if task.task in names), "")
        maker = f"{kind}-control"
        users = [t for t in plan.tasks if task.id in t.references()]
        if kind and maker in task_types and users and all(t.task == kind + DRAWS_FROM_MAP for t in users):
            notes.append(f"task {task.id} ({task.task}) makes the map task {users[0].id} draws from: {maker} makes it")
            task.task = maker
    return notes


def _is_map(plan: Plan, image: str, kind: str) -> bool:
    refs = RESOURCE_RE.findall(image)
    if refs:
        source = int(refs[0])
        return 0 <= source < len(plan.tasks) and plan.tasks[source].task in map_makers(kind)
    return kind in PurePath(image).stem.lower()


def _insert(plan: Plan, new: Task) -> None:
    """Put ``new`` at position ``new.id``; the tasks from there on, and references to them, move up one."""
    plan.tasks = renumber(plan.tasks, {t.id: t.id + (t.id >= new.id) for t in plan.tasks})
    plan.tasks.insert(new.id, new)


def guided_kind(request: str) -> str:
    """The kind of control map a request keeps while it makes something new, else ''."""
    if not MAKES_NEW.search(request):
        return ""
    kept = next((kind for kind, pattern in KEEPS_FEATURE.items() if pattern.search(request)), "")
    return kept or ("scribble" if USERS_DOODLE.search(request) else "")


def made_map_kind(plan: Plan, request: str, pictures: Iterable[str]) -> str:
    """The kind of control map the plan already makes of the user's picture, when the request
    also asks for a new picture ("make a picture of a knight doing the pose I'm doing here") or
    the plan restyles the map itself (a map is not a picture to restyle: "get the soft edges of
    this, then create a watercolor landscape from them"): the new picture is drawn from that
    map. Else ''."""
    makers = [(kind, t) for t in plan.tasks for kind in KEPT_FEATURE
              if t.task in map_makers(kind) and t.args.get("image") in set(pictures)]
    restyled = {t.args.get("image") for t in plan.tasks if t.task == "image-to-image"}
    if not NEW_PICTURE.search(request) and not any(f"<resource>-{t.id}" in restyled for _, t in makers):
        return ""
    kinds = [kind for kind, _ in makers]
    return kinds[0] if len(set(kinds)) == 1 else ""


def add_guided_drawing(plan: Plan, request: str, files: Mapping[str, str],
                       task_types: Mapping[str, TaskType]) -> list[str]:
    """Make the plan draw from the kept map of a user's picture (see the module); returns notes."""
    pictures = [name for name, modality in files.items() if modality == "image"]
    kind = made_map_kind(plan, request, pictures) or guided_kind(request)  # a map the user asked for comes first
    drawing = f"{kind}{DRAWS_FROM_MAP}"
    if not kind or drawing not in task_types or any(t.task.endswith(DRAWS_FROM_MAP) for t in plan.tasks):
        return []
    text = request.strip()
    maps = {f"<resource>-{t.id}" for t in plan.tasks if t.task in map_makers(kind)}
    maker = next((t for t in plan.tasks if t.task in map_makers(kind) and t.args.get("image") in pictures), None)
    for task in plan.tasks:  # a restyle of the user's picture (or of its map) is the drawing, misread
        if task.task in RESTYLES and (task.args.get("image") in {*pictures, *maps} or task.task == "text-to-image"):
            # a new picture drawn from words takes the map the plan makes before it, else the picture
            earlier_map = f"<resource>-{maker.id}" if maker is not None and maker.id < task.id else ""
            image = task.args.get("image") if task.task == "image-to-image" else (earlier_map or (pictures[:1] or [""])[0])
            if image:
                fed = set(task.references())
                old, task.task, task.args = task.task, drawing, {"text": text, "image": image}
                task.dep = task.references() or [-1]
                # the clause that said what to keep ("her pose is the same as the boy's") was read as a
                # map of the new picture: the drawing keeps that feature, no map of it is made; and a
                # caption of the user's picture that only gave the restyle its words is not needed
                misread = {t.id for t in plan.tasks if t.task in map_makers(kind)
                           and t.args.get("image") == f"<resource>-{task.id}"}
                misread |= {t.id for t in plan.tasks if t.id in fed and t.task == "image-to-text"
                            and t.args.get("image") in pictures
                            and not any(t.id in other.references() for other in plan.tasks)}
                kept = without(plan, misread) if misread else None
                if kept is not None:
                    plan.tasks = kept.tasks
                return [f"task {task.id} ({old}) keeps the picture's {kind} map: {drawing}"]
    if maker is not None:  # draw from the map the plan makes, right after it
        _insert(plan, Task(maker.id + 1, drawing, [maker.id], {"text": text, "image": f"<resource>-{maker.id}"}))
        if THE_RESULT.search(request):  # "… then caption the result": what comes after looks at the drawing
            for task in plan.tasks[maker.id + 2:]:
                if task.args.get("image") in pictures:
                    task.args["image"] = f"<resource>-{maker.id + 1}"
                    task.dep = task.references()
        return [f"the request keeps the picture's {kind} map to make something new: {drawing} draws from it"]
    if pictures:
        plan.tasks.append(Task(len(plan.tasks), drawing, [-1], {"text": text, "image": pictures[0]}))
        return [f"the request keeps the picture's {kind} map to make something new: {drawing} added"]
    return []
