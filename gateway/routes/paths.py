"""Base paths, relative paths, verbs and operation ids, as OpenWhisk's API gateway spells them.

routes-and-log-forwarding.md §3.3-§3.4. Paths are checked segment by segment, never with a
tenant-supplied pattern, so no path can make matching or validation do more than linear work.
"""

from __future__ import annotations

import re

VERBS = ("get", "post", "put", "delete", "patch", "head", "options")
"""The operations a route may have (lower case, as Swagger keys them)."""

MAX_PATH_CHARS = 1024
MAX_SEGMENTS = 32

_PARAMETER = re.compile(r"\{([A-Za-z0-9_.-]{1,64})\}")
_LITERAL = re.compile(r"[A-Za-z0-9._~!$&()*+,;=:@%-]{1,256}")
_NOT_ID = re.compile(r"[^0-9A-Za-z_-]+")


def normalise_base_path(base_path: str) -> str:
    """`/club/`, `club` and `/club` are one base path, `/club`; `/` stays `/`."""
    stripped = base_path.strip("/")
    return f"/{stripped}"


def segments(path: str) -> list[str]:
    """`/books/{isbn}` -> `["books", "{isbn}"]`; `/` -> `[]`."""
    return [part for part in path.split("/") if part]


def parameter_name(segment: str) -> str | None:
    """`{isbn}` -> `isbn`; None for a literal segment."""
    match = _PARAMETER.fullmatch(segment)
    return None if match is None else match.group(1)


def path_parameters(path: str) -> list[str]:
    """The `{name}` segments of `path`, each name once, in order."""
    names: list[str] = []
    for segment in segments(path):
        name = parameter_name(segment)
        if name is not None and name not in names:
            names.append(name)
    return names


def path_problem(path: str, what: str) -> str | None:
    """Why `path` is not a well-formed resource path or base path (`what`), or None.

    The messages are those of Apache's gateway (`validation.lua`) where it has one.
    """
    if not path.startswith("/"):
        return "Resource path must begin with '/'." if what == "resource path" else f"{what} must begin with '/'."
    if "'" in path:
        return f"{what} contains illegal character \"'\"."
    if len(path) > MAX_PATH_CHARS:
        return f"{what} is longer than {MAX_PATH_CHARS} characters."
    parts = segments(path)
    if len(parts) > MAX_SEGMENTS:
        return f"{what} has more than {MAX_SEGMENTS} segments."
    for part in parts:
        if parameter_name(part) is None and not _LITERAL.fullmatch(part):
            return (f"{what} segment '{part[:64]}' is not valid: use letters, digits, -._~!$&()*+,;=:@% or one"
                    " whole {name} parameter per segment.")
    return None


def verb_problem(verb: str) -> str | None:
    if verb.lower() not in VERBS:
        return f"Resource verb '{verb[:32]}' not supported."
    return None


def operation_id(verb: str, path: str) -> str:
    """`(get, /books/{isbn})` -> `getBooksIsbn`: the verb in lower case, then each word of the path
    (runs of characters outside `[0-9A-Za-z_-]` separate words) capitalised."""
    words = _NOT_ID.split(path)
    return verb.lower() + "".join(word[:1].upper() + word[1:].lower() for word in words if word)
