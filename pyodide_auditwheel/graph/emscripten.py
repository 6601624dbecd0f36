"""Where the Emscripten that builds here keeps its sysroot, found without trusting it to run.

``emcmake cmake … && make install`` installs into ``<cache>/sysroot``, and the cache is where
Emscripten's configuration says: ``$EM_CACHE``, else the config file's ``CACHE``, else a
default beside emscripten itself.  ``em-config CACHE`` would tell, but it is a program found
on PATH: a Python program, slow to start, and a broken or hostile one may hang.  So the
configuration is read first as emscripten's ``tools/config.py`` reads it (the same config
file search, the same ``EM_<KEY>`` overrides and defaults), without executing it: only
literal assignments are understood.  Only when that reading cannot tell (an ``em-config``
outside an emscripten tree, such as a wrapper script; a config that computes its cache; a
cache with no sysroot) is ``em-config`` asked: once per process, within a second.
"""

from __future__ import annotations

import ast
import functools
import os
import shutil
from collections.abc import Mapping
from pathlib import Path

from .untrusted import bounded_output, read_small_file

# A real em-config answers in about 0.15 s; a slower one is told apart from a hanging one by
# this bound, and the note says how to name the cache without asking it.
EM_CONFIG_TIMEOUT = 0.6
# em-config prints one path; more than this is not an answer (``exec yes``).
EM_CONFIG_MAX_ANSWER = 64 * 1024
# An emscripten config file is a few KiB of Python.
CONFIG_FILE_MAX_BYTES = 1 << 20
# The settings the cache's place depends on, as emscripten names them.
CACHE_SETTINGS = ("CACHE", "FROZEN_CACHE")


def emscripten_sysroot(environ: Mapping[str, str], notes: list[str]) -> Path | None:
    """The sysroot of the Emscripten that builds here, or None (with a note when an
    ``em-config`` was asked and did not tell)."""
    cache = _setting_from_environ(environ, "CACHE")
    if isinstance(cache, str):
        return Path(cache, "sysroot")
    em_config = shutil.which("em-config", path=environ.get("PATH"))
    if em_config is None:
        return None
    configured = configured_cache(em_config, environ)
    if configured is not None and configured.joinpath("sysroot").is_dir():
        return configured / "sysroot"
    asked, problem = em_config_cache(em_config)
    if problem:
        notes.append(
            f"em-config ({em_config}) {problem}: the emscripten sysroot is not searched"
            " (EM_CACHE names its cache without asking em-config)"
        )
        return None
    return Path(asked, "sysroot")


def configured_cache(em_config: str, environ: Mapping[str, str]) -> Path | None:
    """The cache directory the emscripten tree of ``em-config`` is configured with, read as
    its ``tools/config.py`` reads it; None when that cannot be told without running it."""
    root = Path(os.path.realpath(em_config)).parent
    if not (root / "emcc.py").is_file() or not (root / "tools" / "config.py").is_file():
        return None  # not emscripten's own em-config (a wrapper, or something else)
    config_file = _config_file(root, environ)
    settings = literal_settings(config_file) if config_file is not None else {}
    if settings is None:
        return None
    cache = _setting_from_environ(environ, "CACHE", settings.get("CACHE"))
    if cache is not None:
        return Path(cache) if isinstance(cache, str) and os.path.isabs(cache) else None
    if _setting_from_environ(environ, "FROZEN_CACHE", settings.get("FROZEN_CACHE")) or os.access(root, os.W_OK):
        return root / "cache"
    home = environ.get("HOME")
    return Path(home, ".emscripten_cache") if home else None


def _setting_from_environ(environ: Mapping[str, str], key: str, configured: object = None) -> object:
    """A setting as emscripten resolves it: ``EM_<KEY>`` overrides the config file, and an
    empty or ``0`` value (in either) means unset."""
    value = environ.get(f"EM_{key}", configured)
    return None if value in ("", "0", None, False) else value


def _config_file(root: Path, environ: Mapping[str, str]) -> Path | None:
    """The config file emscripten at ``root`` reads, in its order: ``$EM_CONFIG``, the tree's
    own ``.emscripten``, the emsdk's two levels up, the user's."""
    if "EM_CONFIG" in environ:
        named = environ["EM_CONFIG"]
        home = environ.get("HOME")
        if home and (named == "~" or named.startswith("~/")):
            named = home + named[1:]
        return Path(named)
    candidates = [root / ".emscripten", root.parent.parent / ".emscripten"]
    if environ.get("HOME"):
        candidates.append(Path(environ["HOME"], ".emscripten"))
    return next((candidate for candidate in candidates if candidate.exists()), None)


def literal_settings(config_file: Path) -> dict[str, object] | None:
    """The cache settings a config file assigns as literals at its top level ({} for a file
    that does not exist, as emscripten then uses its defaults); None when the file is too
    large or not Python, or binds a cache setting any other way (computed, in a branch, by
    unpacking), which only running it could resolve."""
    if not config_file.exists():
        return {}
    text = read_small_file(config_file, CONFIG_FILE_MAX_BYTES)
    if text is None or len(text) > CONFIG_FILE_MAX_BYTES:
        return None
    try:
        tree = ast.parse(text, filename=str(config_file))
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None
    settings: dict[str, object] = {}
    understood: set[int] = set()
    for statement in tree.body:
        target = _sole_setting_target(statement)
        if target is None:
            continue
        assert isinstance(statement, (ast.Assign, ast.AnnAssign)) and statement.value is not None
        try:
            settings[target.id] = ast.literal_eval(statement.value)
        except (ValueError, TypeError, SyntaxError, RecursionError, MemoryError):
            return None
        understood.add(id(target))
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and node.id in CACHE_SETTINGS and not isinstance(node.ctx, ast.Load):
            if id(node) not in understood:
                return None
        if isinstance(node, ast.alias) and (node.asname or node.name) in CACHE_SETTINGS:
            return None
    return settings


def _sole_setting_target(statement: ast.stmt) -> ast.Name | None:
    if isinstance(statement, ast.Assign) and len(statement.targets) == 1:
        target: ast.expr = statement.targets[0]
    elif isinstance(statement, ast.AnnAssign) and statement.value is not None:
        target = statement.target
    else:
        return None
    return target if isinstance(target, ast.Name) and target.id in CACHE_SETTINGS else None


@functools.lru_cache(maxsize=8)
def em_config_cache(em_config: str) -> tuple[str, str]:
    """(cache directory, problem) as ``em-config CACHE`` answers, asked once per process and
    read within bounds (see :func:`.untrusted.bounded_output`)."""
    answer, status, problem = bounded_output(
        [em_config, "CACHE"], timeout=EM_CONFIG_TIMEOUT, limit=EM_CONFIG_MAX_ANSWER
    )
    if problem:
        return "", problem
    lines = os.fsdecode(answer).strip().splitlines()
    if status != 0 or not lines or not os.path.isabs(lines[-1].strip()):
        return "", f"gave no cache directory (exit {status})"
    return lines[-1].strip(), ""
