"""Writing report and spec files: atomically, so a reader never sees half of one.

Neutral ground for the CLI (``-o``, ``--junit-xml``, ``--plot``) and the library
(``adcli init``'s spec). Imports neither jax nor rich.
"""

from __future__ import annotations

import os
import tempfile


def write_atomically(path: str, text: str | bytes) -> None:
    """Write via a temporary file and a rename, so a reader never sees half a report.

    ``bytes`` are written as they are (a figure); ``str`` as UTF-8. The file gets the mode a
    plain ``open()`` would give it (an existing file keeps its own).

    Raises:
        OSError: the directory does not exist or cannot be written.
    """
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".adcli-", suffix=".tmp")
    try:
        # mkstemp creates 0600; give the report the mode a plain open() would (an existing
        # file keeps its own), so a CI artifact stays readable by others.
        try:
            mode = os.stat(path).st_mode & 0o7777
        except OSError:
            mask = os.umask(0)
            os.umask(mask)
            mode = 0o666 & ~mask
        os.chmod(fd, mode)
        if isinstance(text, bytes):
            with os.fdopen(fd, "wb") as binary:
                binary.write(text)
        else:
            with os.fdopen(fd, "w", encoding="utf-8") as stream:
                stream.write(text)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
