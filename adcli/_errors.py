"""The one exception hierarchy of adcli; the CLI turns it into exit codes in one place."""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class AdcliError(Exception):
    """Base of every error adcli reports to a user without a traceback (exit code 2)."""

    exit_code = 2


class UsageError(AdcliError):
    """A command-line option or API argument that cannot be used as given."""


class SpecError(AdcliError):
    """A spec that cannot be loaded: names the file, line, field and what was expected.

    Attributes:
        file: path of the spec file (as given by the user), or None for in-memory specs.
        line: 1-based line in that file, or None when unknown.
        field: dotted key path inside the spec document, e.g. ``inputs.x.shape``.
        problem: what is wrong, in one sentence.
        hint: how to fix it (e.g. "did you mean 'inputs'?"), or None.
    """

    def __init__(
        self,
        problem: str,
        *,
        file: str | None = None,
        line: int | None = None,
        field: str | None = None,
        hint: str | None = None,
    ) -> None:
        self.problem = problem
        self.file = file
        self.line = line
        self.field = field
        self.hint = hint
        super().__init__(self.format())

    def format(self) -> str:
        where = self.file or "<spec>"
        if self.line is not None:
            where += f":{self.line}"
        text = f"{where}: "
        if self.field:
            text += f"{self.field}: "
        text += self.problem
        if self.hint:
            text += f" ({self.hint})"
        return text


def did_you_mean(word: str, choices: Iterable[str]) -> str | None:
    """A "did you mean 'x'?" hint for a misspelt name, or None when nothing is close."""
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f"did you mean '{close[0]}'?" if close else None


def hinted(message: str, word: str, choices: Iterable[str], tail: str = "") -> str:
    """``message``, then a "did you mean" hint in parentheses when one is close, then ``tail``."""
    hint = did_you_mean(word, choices)
    return message + (f" ({hint})" if hint else "") + tail


def first_line(exc: BaseException, limit: int = 300) -> str:
    """``Type: first line of the message`` of an exception: a one-line reason for a report."""
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text.splitlines()[0] if text else ''}".rstrip(": ")[:limit]


# What JAX raises when a transformation cannot trace a function: TypeError (forward mode of
# a custom_vjp), NotImplementedError (a primitive without that differentiation rule, e.g.
# custom_lin under a second transform), ValueError (reverse mode of lax.while_loop).
# Catching exactly these keeps real bugs (and KeyboardInterrupt, MemoryError) loud.
TRACE_ERRORS: tuple[type[Exception], ...] = (TypeError, NotImplementedError, ValueError)
