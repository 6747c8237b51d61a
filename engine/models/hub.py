"""Any Hugging Face model id: what the Hub says it is, and whether hgpt may fetch it.

``parse_spec("org/name@revision")`` checks a model id a user typed. ``repo_info``
asks the Hub (``HfApi.model_info`` with file metadata, through huggingface_hub, at
``HF_ENDPOINT``) for the commit a revision points at, every file with its size and,
for LFS files, its sha256, whether the repo is gated, its library, task and licence;
each Hub error becomes one line (no such repo, no such revision, gated, down).

``choose_files`` decides what a pull downloads and ``refusal`` whether it may: a
model that needs its own Python code (``auto_map`` in its config, or the
``custom_code`` tag) or whose only weights are pickles (``.bin``, ``.pt``, ``.ckpt``,
``.pkl`` …) is refused *before* anything is downloaded, with the reason. Of the
weights a repo offers, safetensors are taken and the duplicates in other formats
(PyTorch pickles, TensorFlow, Flax, ONNX and OpenVINO copies, half-precision
variants) are left out, so a pull fetches one copy of the model.
"""

from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass, field
from pathlib import PurePosixPath

from ..errors import HgptError, ModelFileError, UserInputError

REPO_ID = re.compile(r"^[A-Za-z0-9][\w.-]{0,95}/[A-Za-z0-9][\w.-]{0,95}$")
REVISION = re.compile(r"^[\w./-]{1,200}$")
PICKLE_SUFFIXES = (".bin", ".pt", ".pth", ".ckpt", ".pkl", ".pickle", ".joblib", ".npy", ".npz")
SAFE_WEIGHTS = (".safetensors", ".gguf", ".onnx")
OTHER_FRAMEWORKS = (".h5", ".msgpack", ".ot", ".tflite", ".mlmodel", ".keras", ".pb")
SKIPPED_FOLDERS = ("onnx/", "openvino/", "coreml/", "tflite/", "tf/", "flax/", ".git/")
SKIPPED_SUFFIXES = (".png", ".jpg", ".jpeg", ".gif", ".webp", ".mp4", ".wav", ".mp3", ".flac", ".py", ".ipynb",
                    ".pdf")
VARIANTS = re.compile(r"\.(fp16|bf16|fp32|non_ema|ema|int8)\.")


class RepoUnavailableError(HgptError, ConnectionError):
    """The Hub could not be asked (down, refused, not answering like the Hub)."""


@dataclass(frozen=True)
class RemoteFile:
    path: str
    size: int = 0
    sha256: str = ""  # an LFS file's sha256, as the Hub declares it ("" for small git files)


@dataclass
class RepoInfo:
    repo: str
    revision: str  # as asked ("main", a tag, a commit)
    commit: str
    files: list[RemoteFile] = field(default_factory=list)
    gated: bool = False
    private: bool = False
    library: str = ""
    pipeline_tag: str = ""
    licence: str = ""
    tags: list[str] = field(default_factory=list)
    config: dict = field(default_factory=dict)
    downloads: int = 0

    @property
    def size(self) -> int:
        return sum(f.size for f in self.files)


def parse_spec(spec: str) -> tuple[str, str]:
    """``org/name[@revision]`` -> (repo id, revision or "" when none is given); a malformed
    id is one line."""
    text = (spec or "").strip()
    repo, _, revision = text.partition("@")
    repo = repo.strip().removeprefix("hf:").removeprefix("https://huggingface.co/").strip("/")
    if not REPO_ID.match(repo) or ".." in repo:
        raise UserInputError(f"{spec!r} is not a Hugging Face model id; write ORG/NAME or ORG/NAME@REVISION "
                             "(a branch, tag or commit)")
    revision = revision.strip()
    if "@" in text and not revision:
        raise UserInputError(f"{spec!r} names no revision after '@'; write ORG/NAME@REVISION or leave '@' out")
    if revision and (not REVISION.match(revision) or ".." in revision):
        raise UserInputError(f"{revision!r} is not a revision; name a branch, tag or commit hash")
    return repo, revision


def repo_info(repo: str, revision: str = "main", *, endpoint: str | None = None, token: str | None = None,
              timeout: float = 30.0) -> RepoInfo:
    """What the Hub says about ``repo`` at ``revision`` (one request)."""
    from huggingface_hub import HfApi
    from huggingface_hub.errors import (GatedRepoError, HfHubHTTPError, OfflineModeIsEnabled,
                                        RepositoryNotFoundError, RevisionNotFoundError)

    api = HfApi(endpoint=endpoint or None, token=token or None)
    try:
        info = api.model_info(repo, revision=revision, files_metadata=True, timeout=timeout)
    except OfflineModeIsEnabled:
        raise ModelFileError(f"HF_HUB_OFFLINE=1 is set in the environment, so {repo} cannot be looked up; "
                             "unset it and pull again") from None
    except GatedRepoError:
        raise ModelFileError(f"{repo} is gated: accept its conditions on its Hub page, log in "
                             "(hf auth login, or set HF_TOKEN), then pull again") from None
    except RevisionNotFoundError:
        raise ModelFileError(f"{repo} has no revision {revision!r}; name an existing branch, tag or commit") from None
    except RepositoryNotFoundError:
        raise ModelFileError(f"there is no model {repo} on the Hub (or it is private and you are not "
                             "logged in); check the id") from None
    except HfHubHTTPError as exc:
        raise RepoUnavailableError(f"the Hub refused to describe {repo} ({_first_line(exc)}); "
                                   "try again later") from None
    except (OSError, ValueError) as exc:  # connection refused, timeout, not JSON
        raise RepoUnavailableError(f"could not ask the Hub about {repo} ({_first_line(exc)}); "
                                   "check the network (and HF_ENDPOINT)") from None
    if not info.sha:
        raise RepoUnavailableError(f"the Hub answered about {repo} without a commit; check HF_ENDPOINT")
    files = [RemoteFile(s.rfilename, int(s.size or (s.lfs.size if s.lfs else 0) or 0),
                        (s.lfs.sha256 if s.lfs else "") or "")
             for s in (info.siblings or [])]
    card = info.card_data.to_dict() if info.card_data is not None else {}
    licence = card.get("license") or next((t.split(":", 1)[1] for t in (info.tags or []) if t.startswith("license:")), "")
    return RepoInfo(repo=info.id or repo, revision=revision, commit=info.sha, files=files,
                    gated=bool(info.gated), private=bool(info.private), library=info.library_name or "",
                    pipeline_tag=info.pipeline_tag or "", licence=str(licence or ""), tags=list(info.tags or []),
                    config=dict(info.config or {}), downloads=int(info.downloads or 0))


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:160] if text else type(exc).__name__


def refusal(info: RepoInfo) -> str:
    """Why hgpt will not fetch this model ('' when it may)."""
    if info.config.get("auto_map") or "custom_code" in info.tags:
        return (f"{info.repo} needs its own Python code (trust_remote_code), which hgpt never runs; "
                "choose a model transformers supports natively. Nothing was downloaded")
    names = [f.path for f in info.files]
    weights = [n for n in names if n.endswith(SAFE_WEIGHTS)]
    pickles = [n for n in names if n.endswith(PICKLE_SUFFIXES)]
    if not weights and pickles:
        return (f"{info.repo} has only pickled weights ({', '.join(pickles[:3])}), which can run code when "
                "loaded; hgpt takes safetensors, ONNX or GGUF files. Nothing was downloaded")
    if not weights:
        return (f"{info.repo} has no weights hgpt can load (safetensors, ONNX or GGUF); "
                "nothing was downloaded")
    return ""


def choose_files(info: RepoInfo, include: list[str] | tuple[str, ...] = ()) -> list[RemoteFile]:
    """The files a pull of ``info`` downloads: ``include`` globs when given, else one copy
    of the weights (safetensors first) with the configs, tokenizer files and README."""
    if include:
        chosen = [f for f in info.files if any(fnmatch.fnmatch(f.path, g) for g in include)]
        return [f for f in chosen if not f.path.endswith(PICKLE_SUFFIXES)]
    names = {f.path for f in info.files}
    has_safetensors = any(n.endswith(".safetensors") for n in names)
    ggufs = [n for n in names if n.endswith(".gguf")]
    out = []
    for f in info.files:
        path = f.path
        name = PurePosixPath(path).name
        if name.startswith(".") or path.startswith(SKIPPED_FOLDERS) or path.endswith(SKIPPED_SUFFIXES):
            continue
        if path.endswith(PICKLE_SUFFIXES) or path.endswith(OTHER_FRAMEWORKS):
            continue
        if path.lower().endswith(".md") and name.lower() != "readme.md":
            continue
        if has_safetensors and path.endswith((".onnx", ".onnx_data", ".gguf")):
            continue
        if path.endswith(".gguf") and len(ggufs) > 1:
            continue  # many quantizations: the user names one with --include
        if VARIANTS.search(name) and VARIANTS.sub(".", name) in {PurePosixPath(n).name for n in names
                                                                 if PurePosixPath(n).parent == PurePosixPath(path).parent}:
            continue  # a half-precision (or EMA) copy of a file that is there in full
        out.append(f)
    if ggufs and len(ggufs) > 1 and not has_safetensors:
        raise UserInputError(f"{info.repo} holds {len(ggufs)} GGUF files ({', '.join(sorted(ggufs)[:3])} …); "
                             "name the one you want with --include FILE")
    return out


TASK_OF_LIBRARY = {"diffusers": "text-to-image"}


def tasks_of(info: RepoInfo) -> list[str]:
    """The hgpt task types the Hub says the model serves (its pipeline tag)."""
    from ..tasks import TASK_TYPES

    tag = info.pipeline_tag or TASK_OF_LIBRARY.get(info.library, "")
    aliases = {"text2text-generation": "text2text-generation", "image-text-to-text": "visual-question-answering"}
    tag = aliases.get(tag, tag)
    return [tag] if tag in TASK_TYPES else []
