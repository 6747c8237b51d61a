"""The planning prompt, after the HuggingGPT paper's Table 1: the specification,
the available task list, demonstrations (as user/assistant turns) and chat logs.
(Selection's and the answer's prompts live with their stages.)"""

from __future__ import annotations

import json
from typing import Mapping, Sequence

from ..tasks import TaskType

PLAN_SPEC = (
    "You are a planner. Break the user's request into the AI tasks that do it, as a JSON list: "
    '[{{"task": task name, "id": number, "args": {{argument: value}}}}]. A value is a file name, '
    'a text taken from the request, or "<resource>-N", the output of task N. List the tasks in '
    "the order they run, as few as needed, choosing only from:\n"
    "{tasks}\n"
    "If the request needs no task (a greeting, or a question you can answer yourself), reply []."
)


def _first_sentence(text: str, limit: int = 110) -> str:
    sentence = text.split(". ")[0].strip().rstrip(".")
    return sentence if len(sentence) <= limit else sentence[: limit - 1].rsplit(" ", 1)[0] + "…"


def task_list_text(task_types: Sequence[TaskType]) -> str:
    return "\n".join(
        f"- {t.name} ({', '.join(f'{k}: {m}' for k, m in t.args.items())} -> {t.output}): "
        f"{_first_sentence(t.description)}"
        for t in task_types
    )


def request_text(request: str, attachments: Mapping[str, str]) -> str:
    if not attachments:
        return request
    files = ", ".join(f"{name} ({modality})" for name, modality in attachments.items())
    return f"{request}\nFiles: {files}"


def plan_text(plan: Sequence[dict]) -> str:
    """A plan as the controller writes it: tasks with task, id and args (no dep)."""
    items = [{"task": t["task"], "id": t["id"], "args": t["args"]} for t in plan]
    return json.dumps(items, ensure_ascii=False)


def history_messages(history: Sequence[dict]) -> list[dict]:
    """Chat logs as turns; files a turn attached or produced are named in its text."""
    turns = []
    for turn in history:
        content = str(turn.get("content", ""))
        files = turn.get("files") or {}
        if files:
            names = files.items() if isinstance(files, Mapping) else ((f, "") for f in files)
            listed = ", ".join(f"{n} ({m})" if m else str(n) for n, m in names)
            content = f"{content}\nFiles: {listed}"
        turns.append({"role": turn["role"], "content": content})
    return turns


def planning_messages(
    request: str,
    task_types: Sequence[TaskType],
    attachments: Mapping[str, str] | None = None,
    demos: Sequence[dict] = (),
    history: Sequence[dict] = (),
) -> list[dict]:
    """``demos``: [{"request", "attachments", "plan"}]; ``history``: earlier chat turns
    ({"role", "content"} and optionally "files"), shown after the demos."""
    messages = [{"role": "system", "content": PLAN_SPEC.format(tasks=task_list_text(task_types))}]
    for demo in demos:
        messages.append({"role": "user", "content": request_text(demo["request"], demo.get("attachments", {}))})
        messages.append({"role": "assistant", "content": plan_text(demo["plan"])})
    messages += history_messages(history)
    messages.append({"role": "user", "content": request_text(request, attachments or {})})
    return messages
