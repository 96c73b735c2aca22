"""
Parameter checks shared by the modules: a wrong type is a ``TypeError`` and a wrong
value a ``ValueError``, each naming the parameter and showing the value.
"""

import json
import os
from pathlib import Path
from typing import Any, Dict, Iterable, List, Mapping, Optional, Tuple, Union

PathLike = Union[str, "os.PathLike[str]"]


def type_error(name: str, expected: str, value: Any) -> TypeError:
    return TypeError(
        "{name} must be {expected}, got {value!r} ({kind})".format(
            name=name,
            expected=expected,
            value=value,
            kind=type(value).__name__,
        )
    )


def boolean(name: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise type_error(name, "True or False", value)
    return value


def count(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise type_error(name, "an int", value)
    if value < 0:
        raise ValueError(
            "{name} must not be negative, got {value}".format(name=name, value=value)
        )
    return value


def optional_str(name: str, value: Any) -> Optional[str]:
    if value is not None and not isinstance(value, str):
        raise type_error(name, "a str or None", value)
    return value


def text(name: str, value: Any) -> str:
    if not isinstance(value, str):
        raise type_error(name, "a str", value)
    return value


def path(name: str, value: Any) -> Path:
    """A ``str`` or ``os.PathLike`` (``pathlib.Path``, ``py.path.local``) as a ``Path``."""
    if isinstance(value, (str, os.PathLike)):
        fspath = os.fspath(value)
        if isinstance(fspath, str):
            return Path(fspath)
    raise type_error(name, "a path (str or os.PathLike)", value)


def optional_path(name: str, value: Any) -> Optional[Path]:
    return None if value is None else path(name, value)


def seconds(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise type_error(name, "a number of seconds", value)
    if not value > 0:
        raise ValueError(
            "{name} must be a positive number of seconds, got {value}".format(
                name=name, value=value
            )
        )
    return float(value)


def mapping(name: str, value: Any) -> Dict[Any, Any]:
    """``None`` or a mapping, as a new ``dict``."""
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise type_error(name, "a mapping (dict) or None", value)
    return dict(value)


def args(name: str, value: Any) -> List[str]:
    """A command: a list of words (``str`` or ``os.PathLike``), not a single string."""
    if isinstance(value, (str, bytes)) or not isinstance(value, Iterable):
        raise type_error(name, "a list of str", value)
    words = list(value)
    result = []
    for word in words:
        if isinstance(word, os.PathLike):
            word = os.fspath(word)
        if not isinstance(word, str):
            raise type_error(name, "a list of str", words)
        result.append(word)
    if not result:
        raise ValueError("{name} must not be empty".format(name=name))
    return result


def env(name: str, value: Any) -> List[Tuple[str, str]]:
    """Environment variables as (name, value) pairs; values become ``str``."""
    pairs = []
    for key, val in mapping(name, value).items():
        if not isinstance(key, str):
            raise type_error(name + " keys", "str", key)
        pairs.append((key, str(val)))
    return pairs


def nodes(name: str, value: Any) -> List[Any]:
    """An iterable of ``Node`` (a set, a list), as a list; a lone node is refused."""
    from .node import Node

    if isinstance(value, (str, bytes, Node)) or not isinstance(value, Iterable):
        raise type_error(name, "an iterable of Node", value)
    found = list(value)
    for n in found:
        if not isinstance(n, Node):
            raise type_error(name, "an iterable of Node", n)
    return found


def url(name: str, value: Any) -> str:
    """An artifact URL: ``http://``, ``https://`` or ``file://``."""
    if not isinstance(value, str):
        raise type_error(name, "a URL (str)", value)
    if not value.lower().startswith(("http://", "https://", "file://")):
        raise ValueError(
            "{name} must be an http://, https:// or file:// URL, got {value!r}".format(
                name=name, value=value
            )
        )
    return value


def config_json(name: str, config: Dict[Any, Any]) -> Optional[str]:
    """An installer configuration as JSON (which is YAML) for the library; ``None`` when
    empty."""
    try:
        return json.dumps(config) if config else None
    except (TypeError, ValueError) as e:
        raise TypeError(
            "{} must hold only YAML values (mappings, lists, str, numbers, bools, None): "
            "{}".format(name, e)
        ) from None


class Default:
    """A parameter's default, told apart from the same value given: which API (2017 or
    final) a call is of depends on what it gives."""

    def __init__(self, value: Any) -> None:
        self.value = value

    def __repr__(self) -> str:
        return repr(self.value)


def given(value: Any) -> bool:
    """Whether ``value`` was given (is not a ``Default``)."""
    return not isinstance(value, Default)


def value_of(value: Any) -> Any:
    """What a parameter stands for: the value given, or the default's."""
    return value.value if isinstance(value, Default) else value


def bind(call: str, names: Tuple[str, ...], args: Tuple[Any, ...], params: Dict[str, Any]) -> None:
    """Put positional ``args`` into ``params`` under ``names``, in order, as Python
    binds arguments: too many, or one also given by keyword, is a ``TypeError``."""
    if len(args) > len(names):
        raise TypeError(
            "{} takes at most {} positional arguments ({} given)".format(call, len(names), len(args))
        )
    for name, value in zip(names, args):
        if name in params and given(params[name]):
            raise TypeError("{} got multiple values for argument '{}'".format(call, name))
        params[name] = value
