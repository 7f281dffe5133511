"""How adcli uses JAX's runtime: scoped settings, the persistent compilation cache, and
memory budgets (what the machine offers, what a compiled program needs).

adcli never changes the caller's JAX configuration. Its own work (flat vectors, the float64
FD reference, the engines' bookkeeping) runs inside ``jax_scope()``: float64 allowed, NumPy
dtype promotion ``standard`` and rank promotion ``allow``, restored on exit (JAX's context
managers are thread-local). The function being checked runs in a ``JaxMode``: for a
Python callable, the settings its caller had when it called adcli (``caller_mode()``), so
that adcli differentiates the program the caller runs; for a spec, ``spec_mode()`` (the
settings of ``jax_scope``: a spec's dtypes are declared, and its verdict must not depend on
the process it runs in). Programs are cached per ``JaxMode.key``, every setting that
changes tracing.

The persistent compilation cache is the ``adcli`` command's choice for its own process
(``use_persistent_cache``); the Python API and the pytest plugin leave the caller's cache
settings alone.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, ExitStack, contextmanager
from dataclasses import dataclass
from typing import Any

import jax
import jax.monitoring

# The settings adcli's own programs need, and the public context manager of each.
_HARNESS: dict[str, Any] = {
    "jax_enable_x64": True,
    "jax_numpy_dtype_promotion": "standard",
    "jax_numpy_rank_promotion": "allow",
}
_CONTEXTS: dict[str, Callable[[Any], AbstractContextManager[Any]]] = {
    "jax_enable_x64": jax.enable_x64,
    "jax_numpy_dtype_promotion": jax.numpy_dtype_promotion,
    "jax_numpy_rank_promotion": jax.numpy_rank_promotion,
}


def _setting(name: str) -> Any:
    """The effective (thread-local, else global) value of a JAX setting, as a plain value."""
    value = jax.config.values[name]
    return getattr(value, "value", value)  # enum settings (dtype promotion) by their string


def _trace_key() -> tuple[Any, ...]:
    """Every setting that changes how JAX traces (JAX's own jit-cache key), or, should that
    private function move, the values of every setting."""
    try:
        from jax._src.config import trace_context

        return tuple(trace_context())
    except (ImportError, AttributeError):  # pragma: no cover - a future JAX
        return tuple(sorted((k, repr(v)) for k, v in jax.config.values.items()))


@dataclass(frozen=True)
class JaxMode:
    """The JAX settings a function is traced under: the ones adcli's scope changes
    (``settings``), and ``key``, every setting that changes tracing (for program caches)."""

    settings: tuple[tuple[str, Any], ...]
    key: tuple[Any, ...]

    @property
    def x64(self) -> bool:
        """Whether float64 exists in this mode (``jax_enable_x64``)."""
        return bool(dict(self.settings)["jax_enable_x64"])

    @contextmanager
    def apply(self) -> Iterator[None]:
        """Run (and trace) in this mode; the previous settings come back on exit."""
        with ExitStack() as stack:
            for name, value in self.settings:
                if _setting(name) != value:
                    stack.enter_context(_CONTEXTS[name](value))
            yield


def caller_mode() -> JaxMode:
    """The current JAX settings (call before entering ``jax_scope``)."""
    return JaxMode(tuple((name, _setting(name)) for name in _HARNESS), _trace_key())


@contextmanager
def jax_scope() -> Iterator[None]:
    """adcli's JAX settings (float64 on, standard promotion) inside, the caller's after.

    Every engine runs inside it (``with jax_scope():`` or ``@jax_scope()``); nesting is
    harmless. Nothing global changes: not ``jax_enable_x64``, not the compilation cache.
    """
    with JaxMode(tuple(_HARNESS.items()), ()).apply():
        yield


def spec_mode() -> JaxMode:
    """The mode a spec's function runs in: ``jax_scope``'s settings, whatever the process's."""
    with jax_scope():
        return caller_mode()


def use_persistent_cache() -> None:
    """Turn on JAX's persistent compilation cache for this process: the ``adcli``
    command's choice (compiling dominates a check, and specs are re-checked unchanged run
    after run), never made for a caller of the Python API or of the pytest plugin.
    ``ADCLI_CACHE_DIR`` moves the cache; an empty string turns it off; a cache directory
    the process already set is kept."""
    default = os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "adcli", "jax"
    )
    cache = os.environ.get("ADCLI_CACHE_DIR", default)
    if cache and jax.config.values.get("jax_compilation_cache_dir") is None:
        jax.config.update("jax_compilation_cache_dir", cache)
        jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
        jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)


# Recorded once per XLA compilation, whether compiled or read from the persistent cache.
_COMPILE_EVENT = "/jax/core/compile/backend_compile_duration"
_CACHE_HIT_EVENT = "/jax/compilation_cache/cache_hits"


@dataclass
class Compiles:
    """XLA programs compiled (``count``, of which ``cached`` were read from the persistent
    cache) and the seconds spent on them, while ``counting_compiles`` was open."""

    count: int = 0
    cached: int = 0
    seconds: float = 0.0


@contextmanager
def counting_compiles() -> Iterator[Compiles]:
    """Count the XLA compilations this thread makes inside (JAX's monitoring events: jit
    programs and the per-primitive programs of eager operations alike)."""
    found = Compiles()
    thread = threading.get_ident()

    def on_duration(event: str, duration_secs: float, **_: str | int) -> None:
        if event == _COMPILE_EVENT and threading.get_ident() == thread:
            found.count += 1
            found.seconds += duration_secs

    def on_event(event: str, **_: str | int) -> None:
        if event == _CACHE_HIT_EVENT and threading.get_ident() == thread:
            found.cached += 1

    jax.monitoring.register_event_duration_secs_listener(on_duration)
    jax.monitoring.register_event_listener(on_event)
    try:
        yield found
    finally:
        jax.monitoring.unregister_event_duration_listener(on_duration)
        jax.monitoring.unregister_event_listener(on_event)


def default_memory_budget() -> int:
    """Half the machine's physical memory (bytes): what a candidate may need to be run."""
    try:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):  # not POSIX: assume a modest 8 GB
        total = 16 * 2**30
    budget = total // 2
    try:  # an accelerator: its own memory is the limit
        stats = jax.devices()[0].memory_stats()
        if stats and stats.get("bytes_limit"):
            budget = min(budget, int(stats["bytes_limit"] * 0.8))
    except Exception:  # memory_stats is best-effort (None on CPU)
        pass
    return budget


def memory_needed(compiled: Any) -> int | None:
    """Bytes a compiled program needs to run: arguments + outputs + temporaries − aliased."""
    try:
        stats = compiled.memory_analysis()
    except Exception:  # best-effort API
        return None
    if stats is None:
        return None
    fields = ("argument_size_in_bytes", "output_size_in_bytes", "temp_size_in_bytes")
    total = sum(int(getattr(stats, f, 0) or 0) for f in fields)
    return total - int(getattr(stats, "alias_size_in_bytes", 0) or 0)
