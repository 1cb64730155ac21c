"""Files shipped with Netweaver (icons, styles, examples, the embedded data sample).

``resource_path`` resolves a file inside this package the same way from a source
checkout and from an installed wheel (``pyproject.toml`` ships ``resources/**``
as package data, so the files sit beside this module in both cases).

>>> from resources import resource_path
>>> resource_path("data", "mnist_sample.npz").name
'mnist_sample.npz'
"""

from __future__ import annotations

from pathlib import Path

_ROOT = Path(__file__).resolve().parent


def resource_path(*parts: str) -> Path:
    """Absolute path of ``resources/<parts...>``; raises ``ValueError`` for escaping parts.

    The path is returned whether or not the file exists, so callers can report
    a missing resource with the full path in their own message.
    """
    for part in parts:
        p = Path(part)
        if p.is_absolute() or ".." in p.parts:
            raise ValueError(
                f"resource_path: part {part!r} must be a relative path inside resources/ "
                "(no '..', not absolute)."
            )
    return _ROOT.joinpath(*parts)
