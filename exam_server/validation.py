"""Request-body validation: every JSON body is parsed into a pydantic model, and a bad body gets
one 422 error naming the first bad field (all of them in ``details``)."""

from __future__ import annotations

from typing import TypeVar

from flask import request
from pydantic import BaseModel, ValidationError

from question_bank.errors import ValidationFailed
from question_bank.messages import Msg, msg
from question_bank.schema import error_list

M = TypeVar("M", bound=BaseModel)


def validation_failed(exc: ValidationError) -> ValidationFailed:
    """The 422 error of a pydantic error: the first bad field, all of them in ``details``."""
    errors = error_list(exc)
    first = errors[0]
    return ValidationFailed(
        field_message(first["field"], first["message"]), field=first["field"], details=errors
    )


def field_message(field: str, message: Msg) -> Msg:
    """``field: message`` (the field as its path in the request body)."""
    return msg("field_invalid", "%(field)s: %(message)s", field=field, message=message)


def validate(model: type[M], data: object) -> M:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise validation_failed(exc) from None


def parse_json(model: type[M]) -> M:
    data = request.get_json(silent=True)
    if data is None:
        raise ValidationFailed(
            msg("body_not_json", "The request body must be a JSON object."), field="body"
        )
    return validate(model, data)


def query_int(name: str, default: int, *, lo: int, hi: int) -> int:
    raw = request.args.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ValidationFailed(
            msg("query_not_integer", "%(name)s must be a whole number.", name=name), field=name
        ) from None
    if not lo <= value <= hi:
        raise ValidationFailed(
            msg(
                "query_out_of_range",
                "%(name)s must be between %(lo)s and %(hi)s.",
                name=name,
                lo=lo,
                hi=hi,
            ),
            field=name,
        )
    return value
