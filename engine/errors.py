"""Error types. Each message says what is wrong and what to do about it.

Two families, as in smolagents: a ``HgptError`` is something a user or a model did
(a missing file, an unparseable plan) and is reported and recorded; anything else
is our bug and is raised. Where a Python builtin fits, the class inherits it too,
so ``except FileNotFoundError`` keeps working for callers that do not know us.
"""

from __future__ import annotations


class HgptError(Exception):
    """Base of every error hgpt reports to a user instead of crashing."""


class UserInputError(HgptError, ValueError):
    """The request, an attachment or an option is not usable."""


class AttachmentError(UserInputError):
    """An attached file is missing, unreadable or of the wrong kind."""


class ModelFileError(HgptError, FileNotFoundError):
    """A model file is missing, is not what it claims to be, or fails verification."""


class MissingDependencyError(HgptError, ImportError):
    """An optional library is not installed; the message names the extra to install."""

    def __init__(self, module: str, extra: str):
        self.module, self.extra = module, extra
        super().__init__(
            f"'{module}' is not installed. Install it with: pip install 'hgpt[{extra}]'"
        )


class UnknownNameError(HgptError, KeyError):
    """A name (task type, expert, model) is not known; the message lists the valid ones."""

    def __init__(self, kind: str, name: str, known: list[str]):
        self.kind, self.name, self.known = kind, name, sorted(known)
        shown = ", ".join(self.known[:40]) + (" …" if len(self.known) > 40 else "")
        super().__init__(f"unknown {kind} {name!r}; known: {shown or '(none)'}")

    def __str__(self) -> str:  # KeyError would otherwise quote the message
        return self.args[0]


class PlanError(HgptError, ValueError):
    """The controller's plan cannot be parsed or repaired into a valid task graph."""


class ExpertError(HgptError, RuntimeError):
    """An expert model failed on its input; the run goes on without it."""


class NoExpertError(ExpertError):
    """No installed model can run a task type."""


class Cancelled(HgptError):
    """The run was cancelled by the user."""


class StorageError(HgptError, OSError):
    """hgpt cannot write its data folder (disk full, no permission); the message says which."""


class OfflineError(HgptError, ConnectionError):
    """A network operation was asked for while offline mode is on."""


class ModelsMissingError(HgptError):
    """Pre-flight found models the plan needs that are not installed; the message says what to run."""
