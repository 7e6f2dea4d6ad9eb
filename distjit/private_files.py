"""Reading a file from a per-user folder that other programs of this user share (the caches under
`$XDG_CACHE_HOME/distjit`): the one statement of what makes such a file trustworthy.

The file is opened without following a symlink (O_NOFOLLOW), and the checks are made on the open
descriptor (fstat), so nothing can swap the file between the check and the read: a regular file, owned
by this user, writable by nobody else (no group or other write bit), of at most `limit` bytes. What
is read is the bytes of that file, or None on any doubt; the caller then does without the cache.
"""
from __future__ import annotations

import os
import stat


def read_private(path: str, limit: int) -> bytes | None:
    """The contents of `path` when it is a regular file of ours, writable by nobody else, of at most
    `limit` bytes; else None."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    except OSError:
        return None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode) or st.st_uid != os.getuid() or st.st_mode & 0o022 or st.st_size > limit:
            return None
        data = os.read(fd, limit + 1)
        return data if len(data) <= limit else None
    except OSError:
        return None
    finally:
        os.close(fd)
