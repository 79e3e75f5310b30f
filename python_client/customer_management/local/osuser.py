"""Run PostgreSQL as an unprivileged OS user when we are root.

``initdb``, ``pg_ctl`` and ``postgres`` refuse to run as root. As root we therefore hand the
server's directories to the ``postgres`` OS user (``CUSTOMER_MANAGEMENT_PG_USER`` overrides)
and start the binaries through ``setpriv``, which execs (so signals reach the server). As a
normal user nothing changes: the user runs the server directly.
"""

from __future__ import annotations

import os
import pwd
import stat
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

SERVER_USER_ENV = "CUSTOMER_MANAGEMENT_PG_USER"


@dataclass(frozen=True)
class ServerUser:
    """The OS account that owns and runs the server when we are root."""

    name: str
    uid: int
    gid: int

    def wrap(self, argv: Sequence[str]) -> list[str]:
        """Prefix a command with ``setpriv`` so it runs (exec'd) as this user."""
        return [
            "setpriv",
            f"--reuid={self.uid}",
            f"--regid={self.gid}",
            "--init-groups",
            *argv,
        ]


def server_user() -> ServerUser | None:
    """Return the account to run the server as, or None when we are not root."""
    if os.geteuid() != 0:
        return None
    name = os.environ.get(SERVER_USER_ENV, "postgres")
    try:
        entry = pwd.getpwnam(name)
    except KeyError:
        raise RuntimeError(
            f"running as root needs an unprivileged OS user {name!r} to own the server; "
            f"create it (useradd --system --create-home {name}) or set {SERVER_USER_ENV}"
        ) from None
    return ServerUser(name=name, uid=entry.pw_uid, gid=entry.pw_gid)


def as_user(argv: Sequence[str], user: ServerUser | None) -> list[str]:
    """Return ``argv`` to run as ``user`` (unchanged when there is no user to switch to)."""
    return list(argv) if user is None else user.wrap(argv)


def hand_over(path: Path, user: ServerUser | None) -> None:
    """Give ``path`` and everything under it to ``user``, so the server may write there."""
    if user is None:
        return
    os.lchown(path, user.uid, user.gid)
    for dirpath, dirnames, filenames in os.walk(path):
        for name in (*dirnames, *filenames):
            os.lchown(os.path.join(dirpath, name), user.uid, user.gid)


def _can_traverse(st: os.stat_result, user: ServerUser, groups: set[int]) -> bool:
    """Tell whether ``user`` may pass through a directory with this stat (search bit)."""
    if st.st_uid == user.uid:
        return bool(st.st_mode & stat.S_IXUSR)
    if st.st_gid in groups:
        return bool(st.st_mode & stat.S_IXGRP)
    return bool(st.st_mode & stat.S_IXOTH)


def make_traversable(path: Path, user: ServerUser | None) -> list[Path]:
    """Add the search bit (never read) on ancestors ``user`` cannot pass; return those changed.

    A data directory under ``/root`` is unreachable for the server user because ``/root`` is
    0700. Adding ``o+x`` lets the server reach its own directory without letting it list or
    read anything else.
    """
    if user is None:
        return []
    groups = set(os.getgrouplist(user.name, user.gid))
    changed: list[Path] = []
    for ancestor in reversed(path.resolve().parents):
        st = ancestor.stat()
        if not _can_traverse(st, user, groups):
            ancestor.chmod(stat.S_IMODE(st.st_mode) | stat.S_IXOTH)
            changed.append(ancestor)
    return changed
