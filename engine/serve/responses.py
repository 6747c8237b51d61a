"""The API's one error shape, ``{"error": {"message", "type", "code"}}``, and its statuses."""

from __future__ import annotations

from fastapi.responses import JSONResponse

from engine import events as ev


class ApiError(Exception):
    def __init__(self, status: int, message: str, kind: str):
        self.status, self.message, self.kind = status, message, kind
        super().__init__(message)


def error(status: int, message: str, kind: str, headers: dict | None = None) -> JSONResponse:
    return JSONResponse({"error": {"message": message, "type": kind, "code": None}}, status_code=status,
                        headers=headers)


def run_error(outcome) -> JSONResponse:
    """A run that did not finish: failed in the engine (500), or cancelled (the client left)."""
    if outcome.status == "failed":
        doing = ev.stage_words(outcome.stage).doing if outcome.stage else "running"
        return error(500, f"the run failed while {doing}: {outcome.error}", "run_failed",
                     {"X-Hgpt-Run": outcome.run_id})
    return error(409, f"the run was {outcome.status}", "run_cancelled", {"X-Hgpt-Run": outcome.run_id})
