"""Messages for people: a stable code, an English template and parameters, translated at the edge.

Services never build sentences for users. They raise or return a :class:`Msg`::

    raise ValidationFailed(
        msg("answer_blank_too_long", "A blank holds at most %(max)s characters.", max=200),
        field="answer",
    )

and the one renderer of each edge (the JSON error handler, the socket replies, the pages, the
CLI) turns it into the user's language with the project's gettext catalogue
(:func:`localize`). The template is the catalogue's message id (``%(name)s`` placeholders, the
python-format that Babel checks); the code is stable across wording changes and is what API
clients and tests match on. ``tests/web/test_i18n.py`` walks every ``msg(...)`` in the source and
fails on one without a Chinese translation.

This module knows nothing of Flask: a renderer passes its ``gettext``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

Gettext = Callable[[str], str]

_CODE = re.compile(r"^[a-z][a-z0-9_.]*$")


class Msg(str):
    """A translatable message: ``code``, English ``template``, ``params``.

    A ``Msg`` *is* its English text (a ``str``), so code that only logs, compares or joins
    messages keeps working; the edges that speak to people call :meth:`render` (or
    :func:`localize`) with the user's gettext. Parameters may themselves be messages (rendered
    in the same language) or lists of messages (joined with the language's list separator).
    """

    code: str
    template: str
    params: dict[str, Any]

    def __new__(cls, code: str, template: str, params: Mapping[str, Any] | None = None) -> Msg:
        if not _CODE.match(code):
            raise ValueError(f"message code {code!r} is not lower_snake_case")
        params = dict(params or {})
        self = super().__new__(cls, _fill(template, params, None))
        self.code = code
        self.template = template
        self.params = params
        return self

    def render(self, gettext: Gettext | None = None) -> str:
        """The message in the language of ``gettext`` (English without one)."""
        if gettext is None:
            return str.__str__(self)
        return _fill(gettext(self.template), self.params, gettext)

    def __str__(self) -> str:
        return str.__str__(self)

    def __repr__(self) -> str:
        return f"Msg({self.code!r}, {str.__str__(self)!r})"

    def __reduce__(self):
        return (Msg, (self.code, self.template, self.params))


def _fill(template: str, params: Mapping[str, Any], gettext: Gettext | None) -> str:
    if not params:
        return template
    return template % {k: _render_param(v, gettext) for k, v in params.items()}


def msg(code: str, template: str, /, **params: Any) -> Msg:
    """A message with a stable ``code`` and an English ``template`` (extracted for translation
    by the Babel keyword ``msg:2``)."""
    return Msg(code, template, params)


def N_(template: str) -> str:
    """Mark a string for translation without translating it here (a label rendered later)."""
    return template


def _render_param(value: Any, gettext: Gettext | None) -> Any:
    if isinstance(value, Msg):
        return value.render(gettext)
    if isinstance(value, str):
        return value
    if isinstance(value, list | tuple) and any(isinstance(v, Msg) for v in value):
        sep = gettext(LIST_SEPARATOR) if gettext is not None else LIST_SEPARATOR
        return sep.join(str(_render_param(v, gettext)) for v in value)
    return value


# The separator between the items of a list inside a sentence ("、" in Chinese).
LIST_SEPARATOR = N_(", ")


def localize(value: Any, gettext: Gettext | None = None) -> Any:
    """``value`` with every :class:`Msg` inside it (dicts, lists, tuples) rendered as text."""
    if isinstance(value, Msg):
        return value.render(gettext)
    if isinstance(value, dict):
        return {k: localize(v, gettext) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [localize(v, gettext) for v in value]
    return value


def as_msg(value: Msg | str, code: str = "message") -> Msg:
    """A message from a :class:`Msg` or from a plain (untranslated) string."""
    return value if isinstance(value, Msg) else Msg(code, "%(text)s", {"text": value})


# -- pydantic -----------------------------------------------------------------------------------
# pydantic's own error texts ("String should match pattern '^…$'") are for programmers. Each
# error type a request can produce gets a message here; the constraint values come from the
# error's context.

_PYDANTIC: dict[str, tuple[str, str]] = {
    "missing": ("field_required", N_("This field is required.")),
    "extra_forbidden": ("field_unknown", N_("This field is not expected here.")),
    "string_type": ("field_not_text", N_("Must be text.")),
    "string_too_short": ("text_too_short", N_("Must be at least %(min_length)s characters.")),
    "string_too_long": ("text_too_long", N_("Must be at most %(max_length)s characters.")),
    "string_pattern_mismatch": ("text_format", N_("The format is not valid.")),
    "string_unicode": ("field_not_text", N_("Must be text.")),
    "too_short": ("too_few_entries", N_("Must have at least %(min_length)s entries.")),
    "too_long": ("too_many_entries", N_("Must have at most %(max_length)s entries.")),
    "int_type": ("field_not_integer", N_("Must be a whole number.")),
    "int_parsing": ("field_not_integer", N_("Must be a whole number.")),
    "int_from_float": ("field_not_integer", N_("Must be a whole number.")),
    "float_type": ("field_not_number", N_("Must be a number.")),
    "float_parsing": ("field_not_number", N_("Must be a number.")),
    "finite_number": ("field_not_finite", N_("Must be a finite number.")),
    "decimal_parsing": ("field_not_number", N_("Must be a number.")),
    "bool_type": ("field_not_boolean", N_("Must be true or false.")),
    "bool_parsing": ("field_not_boolean", N_("Must be true or false.")),
    "greater_than": ("number_too_small", N_("Must be greater than %(gt)s.")),
    "greater_than_equal": ("number_too_small", N_("Must be at least %(ge)s.")),
    "less_than": ("number_too_large", N_("Must be less than %(lt)s.")),
    "less_than_equal": ("number_too_large", N_("Must be at most %(le)s.")),
    "multiple_of": ("number_not_multiple", N_("Must be a multiple of %(multiple_of)s.")),
    "literal_error": ("value_not_allowed", N_("Must be one of: %(expected)s.")),
    "enum": ("value_not_allowed", N_("Must be one of: %(expected)s.")),
    "dict_type": ("field_not_object", N_("Must be an object.")),
    "model_type": ("field_not_object", N_("Must be an object.")),
    "model_attributes_type": ("field_not_object", N_("Must be an object.")),
    "list_type": ("field_not_list", N_("Must be a list.")),
    "tuple_type": ("field_not_list", N_("Must be a list.")),
    "set_type": ("field_not_list", N_("Must be a list.")),
    "date_type": ("field_not_date", N_("Must be a date (YYYY-MM-DD).")),
    "date_parsing": ("field_not_date", N_("Must be a date (YYYY-MM-DD).")),
    "date_from_datetime_parsing": ("field_not_date", N_("Must be a date (YYYY-MM-DD).")),
    "date_from_datetime_inexact": ("field_not_date", N_("Must be a date (YYYY-MM-DD).")),
    "datetime_type": ("field_not_datetime", N_("Must be a date and time (ISO 8601).")),
    "datetime_parsing": ("field_not_datetime", N_("Must be a date and time (ISO 8601).")),
    "datetime_from_date_parsing": ("field_not_datetime", N_("Must be a date and time (ISO 8601).")),
    "datetime_object_invalid": ("field_not_datetime", N_("Must be a date and time (ISO 8601).")),
    "timezone_aware": ("datetime_needs_zone", N_("The time must include a time zone.")),
    "timezone_naive": ("datetime_no_zone", N_("The time must not include a time zone.")),
    "time_type": ("field_not_time", N_("Must be a time (HH:MM).")),
    "time_parsing": ("field_not_time", N_("Must be a time (HH:MM).")),
    "json_invalid": ("json_invalid", N_("Not valid JSON.")),
    "json_type": ("json_invalid", N_("Not valid JSON.")),
    "url_parsing": ("url_invalid", N_("Not a valid address.")),
    "url_type": ("url_invalid", N_("Not a valid address.")),
    "url_scheme": ("url_invalid", N_("Not a valid address.")),
    "bytes_too_long": ("text_too_long", N_("Must be at most %(max_length)s characters.")),
    "union_tag_invalid": ("value_not_allowed", N_("Must be one of: %(expected_tags)s.")),
    "union_tag_not_found": ("field_required", N_("This field is required.")),
    "recursion_loop": ("too_deep", N_("The value is nested too deeply.")),
}
_PYDANTIC_FALLBACK = ("value_invalid", N_("This value is not valid."))


def pydantic_message(error: Mapping[str, Any]) -> Msg:
    """The message of one entry of ``pydantic.ValidationError.errors()``.

    A validator that raises ``ValueError(msg(...))`` keeps its own message; every other error
    type maps to a message of the table above with the constraint values of its context.
    """
    ctx = error.get("ctx") or {}
    original = ctx.get("error")
    if isinstance(original, Exception) and original.args and isinstance(original.args[0], Msg):
        return original.args[0]
    code, template = _PYDANTIC.get(error.get("type", ""), _PYDANTIC_FALLBACK)
    params = {k: _ctx_value(v) for k, v in ctx.items() if f"%({k})s" in template}
    return Msg(code, template, params)


def _ctx_value(value: Any) -> Any:
    if isinstance(value, str):
        return value.replace("'", "")
    return value
