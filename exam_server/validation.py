"""Request-body validation: every JSON body is parsed into a pydantic model, and a bad body gets
one 422 error naming the first bad field (all of them in ``details``)."""

from __future__ import annotations

from typing import TypeVar

from flask import request
from pydantic import BaseModel, ValidationError

from question_bank.errors import ValidationFailed
from question_bank.schema import error_list

M = TypeVar("M", bound=BaseModel)


def validation_failed(exc: ValidationError) -> ValidationFailed:
    """The 422 error of a pydantic error: the first bad field, all of them in ``details``."""
    errors = error_list(exc)
    first = errors[0]
    return ValidationFailed(
        f"{first['field']}: {first['message']}", field=first["field"], details=errors
    )


def validate(model: type[M], data: object) -> M:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise validation_failed(exc) from None


def parse_json(model: type[M]) -> M:
    data = request.get_json(silent=True)
    if data is None:
        raise ValidationFailed("the request body must be a JSON object", field="body")
    return validate(model, data)


def query_int(name: str, default: int, *, lo: int, hi: int) -> int:
    raw = request.args.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ValidationFailed(f"{name} must be a whole number", field=name) from None
    if not lo <= value <= hi:
        raise ValidationFailed(f"{name} must be between {lo} and {hi}", field=name)
    return value
