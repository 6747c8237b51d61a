"""``hgpt chats list | export ID --format md|json --out DIR | import FILE``.

``export`` writes the conversation as Markdown (its images and audio copied beside it
and linked) or as JSON (messages, plans, selections, results, provenance); ``import``
restores a JSON export as a new conversation (``engine.chats``).
"""

from __future__ import annotations

import json
import time

from ..text import clip


def add_parser(sub) -> None:
    p = sub.add_parser("chats", help="conversations: list, export to Markdown or JSON, import JSON")
    actions = p.add_subparsers(dest="chats_command", metavar="ACTION", required=True)
    ls = actions.add_parser("list", help="conversations, newest first")
    ls.add_argument("--json", action="store_true")
    ls.set_defaults(func=run_list)
    ex = actions.add_parser("export", help="write a conversation, with its files, to a folder")
    ex.add_argument("conversation_id", type=int, metavar="ID")
    ex.add_argument("--format", choices=("md", "json"), default="md",
                    help="md: Markdown with the images and audio copied beside it; json: everything, re-importable")
    ex.add_argument("--out", required=True, metavar="DIR", help="the folder to write into")
    ex.set_defaults(func=run_export)
    im = actions.add_parser("import", help="restore a conversation from a JSON export")
    im.add_argument("file", metavar="FILE")
    im.set_defaults(func=run_import)


def _store():
    from ..history import open_history
    from ..settings import load_settings

    return open_history(load_settings())


def run_list(args) -> int:
    store = _store()
    chats = store.conversations()
    if args.json:
        print(json.dumps([{"id": c.id, "title": c.title, "updated_at": c.updated_at} for c in chats], indent=2))
        return 0
    if not chats:
        print("no conversations yet")
    for c in chats:
        print(f"{c.id:>5}  {time.strftime('%Y-%m-%d %H:%M', time.localtime(c.updated_at))}  {clip(c.title, 60, one_line=True)}")
    return 0


def run_export(args) -> int:
    from ..chats import export_chat

    path = export_chat(_store(), args.conversation_id, args.out, args.format)
    print(path)
    return 0


def run_import(args) -> int:
    from ..chats import import_chat
    from ..settings import load_settings

    settings = load_settings()
    conversation = import_chat(_store(), args.file, settings.runs_dir)
    print(f"imported as conversation {conversation.id}: {conversation.title}")
    return 0
