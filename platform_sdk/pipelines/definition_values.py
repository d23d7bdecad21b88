"""Value rules of ``.platform.yaml``: durations, globs, names and secret references.

These are the small parsers the definition checker (``definition_parse.py``), the trigger
matcher (``triggers.py``) and the run planner (``definition_plan.py``) share. Each raises
:class:`~platform_sdk.errors.ValidationFailed` with a message that reads well after
``file:line: key:`` — the checker prefixes the location.

Globs follow the git/Woodpecker convention rather than :mod:`fnmatch`: ``*`` and ``?`` never
cross a ``/``, ``**`` does, and ``**/`` also matches no directory at all, so ``release/*``
matches ``release/1`` but not ``release/1/x`` and ``src/**/*.py`` matches ``src/a.py``. They are
matched in linear time by :mod:`platform_sdk.pipelines.glob` (never a backtracking regex).

A secret is referenced as ``${{ secrets.NAME }}`` (any whitespace inside the braces), either as
a whole env value or embedded in one (``Bearer ${{ secrets.TOKEN }}``). Secret names follow
the secrets capability's rule.
"""

from __future__ import annotations

import re

from platform_sdk.errors import ValidationFailed
from platform_sdk.pipelines.glob import glob_error, glob_match
from platform_sdk.secrets.schemas import NAME_RULE, valid_name

__all__ = [
    "ENV_NAME_RULE",
    "MAX_TIMEOUT_SECONDS",
    "STEP_NAME_RULE",
    "expression_errors",
    "glob_error",
    "glob_match",
    "parse_duration",
    "secret_refs_in",
    "substitute_secrets",
    "valid_env_name",
    "valid_step_name",
]

MAX_TIMEOUT_SECONDS = 24 * 3600
STEP_NAME_RULE = "must be 1-63 letters, digits, '_', '.' or '-', starting with a letter or digit"
ENV_NAME_RULE = "must be letters, digits or _, not starting with a digit"

_STEP_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$")
_ENV_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")
_DURATION_RE = re.compile(r"^(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$")
_EXPRESSION_RE = re.compile(r"\$\{\{(.*?)\}\}")
_SECRET_RE = re.compile(r"\$\{\{\s*secrets\.([A-Za-z0-9_]+)\s*\}\}")
_SECRET_INNER_RE = re.compile(r"^\s*secrets\.(\S*)\s*$")


def valid_step_name(name: str) -> bool:
    return bool(_STEP_NAME_RE.fullmatch(name))


def valid_env_name(name: str) -> bool:
    return bool(_ENV_NAME_RE.fullmatch(name))


def parse_duration(text: str | int) -> int:
    """Seconds in ``30s``, ``10m``, ``1h30m`` or a plain integer (seconds)."""
    if isinstance(text, bool):
        raise ValidationFailed(f"{text!r} is not a duration (use 30s, 10m, 1h30m)")
    if isinstance(text, int):
        if text < 0:
            raise ValidationFailed(f"{text} is not a duration: it is negative")
        return text
    raw = text.strip()
    if raw.isdigit():
        return int(raw)
    match = _DURATION_RE.fullmatch(raw)
    if not raw or match is None:
        raise ValidationFailed(f'"{text}" is not a duration (use 30s, 10m, 1h30m)')
    hours, minutes, seconds = (int(g) if g else 0 for g in match.groups())
    return hours * 3600 + minutes * 60 + seconds


def expression_errors(value: str) -> list[str]:
    """Problems with the ``${{ … }}`` expressions in an env value (only secrets are known)."""
    problems: list[str] = []
    for match in _EXPRESSION_RE.finditer(value):
        inner = _SECRET_INNER_RE.fullmatch(match.group(1))
        if inner is None:
            problems.append(
                f"unsupported expression {match.group(0)!r}; only ${{{{ secrets.NAME }}}} is known"
            )
        elif not valid_name(inner.group(1)):
            problems.append(f"secret name {inner.group(1)!r} {NAME_RULE}")
    if not problems and len(_SECRET_RE.findall(value)) > 1:
        problems.append(
            'use one secret per variable (compose them in the command, e.g. "$USER:$PASS")'
        )
    return problems


def secret_refs_in(value: str) -> list[str]:
    """Names of the secrets ``value`` references, in order."""
    return _SECRET_RE.findall(value)


def substitute_secrets(value: str, resolved: dict[str, str]) -> str:
    """``value`` with each ``${{ secrets.NAME }}`` replaced by ``resolved[NAME]``."""

    def one(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in resolved:
            raise ValidationFailed(
                f"secret {name} is not available to this pipeline", details={"secret": name}
            )
        return resolved[name]

    return _SECRET_RE.sub(one, value)
