"""Errors the engine raises on purpose; each maps to one stable problem ``type`` in the API."""

from __future__ import annotations

from dataclasses import asdict, dataclass


class CareError(Exception):
    """Base class: ``problem_type`` and ``status`` say how the API reports it."""

    problem_type = "about:blank"
    status = 500
    title = "Internal error"

    def __init__(self, detail: str, **extra: object) -> None:
        super().__init__(detail)
        self.detail = detail
        self.extra = extra


class NotFound(CareError):
    problem_type = "/problems/not-found"
    status = 404
    title = "Not found"


class Conflict(CareError):
    problem_type = "/problems/conflict"
    status = 409
    title = "Conflict"


class NotExecutable(Conflict):
    problem_type = "/problems/not-executable"
    title = "Process is not executable"


class TaskNotOpen(Conflict):
    problem_type = "/problems/task-not-open"
    title = "Task is not open"


class ConcurrentModification(Conflict):
    problem_type = "/problems/concurrent-modification"
    title = "Instance changed concurrently"


class IdempotencyKeyReused(CareError):
    problem_type = "/problems/idempotency-key-reused"
    status = 422
    title = "Idempotency-Key reused with a different request"


class InvalidRequest(CareError):
    """The request is not of the documented form (a missing field, a wrong type, an unknown value)."""

    problem_type = "/problems/invalid-request"
    status = 400
    title = "Invalid request"


class Unprocessable(CareError):
    """The request is of the documented form, but what it asks cannot be done (an expiry in the past)."""

    problem_type = "/problems/unprocessable"
    status = 422
    title = "Request cannot be carried out"


@dataclass(frozen=True)
class DeploymentProblem:
    """One reason a deployment was refused, pointing into the file where possible."""

    file: str
    line: int | None
    element_id: str | None
    message: str

    def as_dict(self) -> dict:
        return asdict(self)

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        element = f" {self.element_id}:" if self.element_id else ""
        return f"{where}:{element} {self.message}"


class DeploymentInvalid(CareError):
    problem_type = "/problems/invalid-deployment"
    status = 422
    title = "Invalid deployment"

    def __init__(self, problems: list[DeploymentProblem]) -> None:
        super().__init__(f"{len(problems)} problem(s) found; nothing was deployed", errors=problems)
        self.problems = problems
