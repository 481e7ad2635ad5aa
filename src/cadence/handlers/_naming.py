"""How checkpoint files are named: the filename pattern, its fields, and the global step."""

from __future__ import annotations

import numbers
import re
import string
from collections.abc import Callable, Mapping
from typing import Any

from cadence.engine import Engine

__all__ = [
    "FilenamePatternError",
    "Naming",
    "recency_namings",
    "default_filename_pattern",
    "filename_regex",
    "format_score",
    "parse_number",
]

GlobalStepTransform = Callable[[Engine[Any], Any], int]
PATTERN_FIELDS = ("filename_prefix", "name", "global_step", "score_name", "score", "ext")


class FilenamePatternError(ValueError, KeyError):
    """A ``filename_pattern`` names a field that checkpoints do not have (or is not a valid pattern).

    It is a ``ValueError`` (bad argument) and a ``KeyError`` (what ``str.format`` raises for an unknown field).

    Example:
        >>> check_filename_pattern("{name}_{epoch}.{ext}")
        Traceback (most recent call last):
        ...
        cadence.handlers._naming.FilenamePatternError: "filename_pattern '{name}_{epoch}.{ext}' ...
    """


def check_filename_pattern(pattern: str) -> None:
    """Raise :class:`FilenamePatternError` unless ``pattern`` formats with the checkpoint fields only."""
    if not isinstance(pattern, str):
        raise TypeError(
            f"filename_pattern must be a string such as '{{name}}_{{global_step}}.{{ext}}', got {pattern!r}."
        )
    try:
        pattern.format(filename_prefix="p", name="n", global_step=1, score_name="s", score=1.0, ext="pt")
    except (KeyError, IndexError, ValueError, AttributeError) as exc:
        raise FilenamePatternError(
            f"filename_pattern {pattern!r} is not a valid pattern (unknown field or syntax: {exc!r}); use the fields "
            + ", ".join("{" + field + "}" for field in PATTERN_FIELDS)
            + "."
        ) from None


def default_filename_pattern(
    with_prefix: bool = True, with_score: bool = True, with_score_name: bool = True, with_global_step: bool = True
) -> str:
    """Return the default pattern for the parts that are present, e.g. ``{filename_prefix}_{name}_{global_step}.{ext}``.

    Example:
        >>> default_filename_pattern(with_prefix=False, with_score_name=False)
        '{name}_{global_step}_{score}.{ext}'
    """
    if not (with_global_step or with_score):
        raise ValueError("At least one of with_score and with_global_step should be True.")
    if with_score_name and not with_score:
        raise ValueError("If with_score_name is True, with_score should be also True (a score name needs its score).")
    pattern = "{name}"
    if with_global_step:
        pattern += "_{global_step}"
    if with_score:
        pattern += "_{score_name}={score}" if with_score_name else "_{score}"
    if with_prefix:
        pattern = "{filename_prefix}_" + pattern
    return pattern + ".{ext}"


def format_score(score: float) -> str:
    """An integer score as is, any other with four decimals.

    Example:
        >>> format_score(12), format_score(0.98765)
        ('12', '0.9877')
    """
    return f"{score}" if isinstance(score, numbers.Integral) else f"{score:.4f}"


#: A step as a filename holds it: "12", "0012", "-3".
INTEGER = r"[ +]*-?\d+"
#: A score with a fraction as :func:`format_score` writes it: "0.9000", "-1.5000", "nan", "-inf".
DECIMAL = r"[ +]*-?(?:\d*\.\d+(?:[eE][-+]?\d+)?|nan|inf)"


def filename_regex(pattern: str, fields: Mapping[str, Any], captured: Mapping[str, str]) -> re.Pattern[str] | None:
    """Return a regex that fully matches the names ``pattern`` gives with the values in ``fields``, each field
    of ``captured`` (``global_step``, ``score``) being any text its regex matches, caught by a group of its name.

    ``None`` when the pattern reads into a field (``{name[0]}``, ``{name.upper}``) and so cannot be inverted.

    Example:
        >>> fields = {"name": "model", "ext": "pt"}
        >>> regex = filename_regex("{name}_{global_step:03d}.{ext}", fields, {"global_step": INTEGER})
        >>> regex.fullmatch("model_012.pt")["global_step"], regex.fullmatch("model_0.5.pt")
        ('012', None)
    """
    parts = []
    seen = set()
    for literal, field, spec, conversion in string.Formatter().parse(pattern):
        parts.append(re.escape(literal))
        if field is None:
            continue
        if field not in PATTERN_FIELDS:
            return None
        if field in captured:
            parts.append(f"(?P={field})" if field in seen else f"(?P<{field}>{captured[field]})")
            seen.add(field)
            continue
        template = "{0" + (f"!{conversion}" if conversion else "") + (f":{spec}" if spec else "") + "}"
        try:
            parts.append(re.escape(template.format(fields.get(field))))
        except (ValueError, TypeError, KeyError, IndexError):
            return None
    return re.compile("".join(parts))


def parse_number(text: str) -> float:
    """Read back a step or score written into a filename: an ``int`` when it has no fraction.

    Example:
        >>> parse_number("0012"), parse_number("0.9000")
        (12, 0.9)
    """
    text = text.strip(" +")
    try:
        return int(text)
    except ValueError:
        return float(text)


#: Any text a field may hold when it is not known (a name or prefix, when reading a folder back).
_ANY = r".+?"
#: The extensions cadence's stores write.
EXTENSIONS = r"pt|dcp"


class Naming:
    """The one authority on checkpoint names: formats a name from a pattern and its fields, and parses one back.

    ``fields`` fixes ``filename_prefix``, ``name``, ``score_name`` and ``ext`` (a field left out matches any
    text when parsing); :meth:`format` fills in the global step and score, :meth:`parse` reads them back.

    Example:
        >>> naming = Naming("{name}_{global_step:04d}.{ext}", {"name": "model", "ext": "pt"})
        >>> naming.format(global_step=12, score=None)
        'model_0012.pt'
        >>> naming.parse("model_0012.pt"), naming.parse("model_best.pt")
        ((12, None), None)
    """

    def __init__(self, pattern: str, fields: Mapping[str, Any], *, integer_scores: bool = False) -> None:
        self.pattern = pattern
        self.fields = dict(fields)
        captured = {"global_step": INTEGER, "score": INTEGER if integer_scores else DECIMAL}
        for field in ("filename_prefix", "name", "score_name"):
            if field not in self.fields:
                captured[field] = _ANY
        if "ext" not in self.fields:
            captured["ext"] = EXTENSIONS
        self.regex = filename_regex(pattern, self.fields, captured)

    def format(self, *, global_step: int | None, score: Any) -> str:
        """The name of a checkpoint at ``global_step`` with ``score`` (``None`` where the pattern has none)."""
        return self.pattern.format(**{**self.fields, "global_step": global_step, "score": score})

    def parse(self, name: str) -> tuple[float | None, float | None] | None:
        """``(global_step, score)`` read from ``name`` (``None`` for a part the pattern lacks), or ``None`` when
        ``name`` is not one of this naming's names."""
        if self.regex is None:
            return None
        match = self.regex.fullmatch(name)
        if match is None:
            return None
        groups = self.regex.groupindex
        try:
            step = parse_number(match["global_step"]) if "global_step" in groups else None
            score = parse_number(match["score"]) if "score" in groups else None
        except ValueError:
            return None
        if step is not None and not float(step).is_integer():
            return None
        return step, score


def recency_namings(filename_prefix: str = "", filename_pattern: str | None = None) -> list[Naming]:
    """The namings by which a folder's checkpoints are ordered when reading it back: ``filename_pattern`` (the one
    its checkpoints were saved with), else cadence's default patterns, longest first.

    Example:
        >>> [n.parse("checkpoint_120.pt") for n in recency_namings()][-1]
        (120, None)
    """
    fields: dict[str, Any] = {"filename_prefix": filename_prefix} if filename_prefix else {}
    if filename_pattern is not None:
        check_filename_pattern(filename_pattern)
        naming = Naming(filename_pattern, fields)
        if naming.regex is None or "global_step" not in naming.regex.groupindex:
            raise ValueError(
                f"filename_pattern {filename_pattern!r} cannot order checkpoints: it needs a plain {{global_step}} "
                "field (as the pattern the checkpoints were saved with has)."
            )
        return [naming]
    patterns = [
        default_filename_pattern(bool(filename_prefix), with_score, with_score_name, True)
        for with_score, with_score_name in ((True, True), (True, False), (False, False))
    ]
    return [Naming(pattern, fields) for pattern in patterns]
