"""Files a sandbox hands back, and the host folders each sandbox owns.

A sandbox never writes into a folder of the run. It saves files into a fresh folder of
its own (`<scratch>/artifacts`), and the host copies out only the file it asked for: a
plain name, a regular file with one link, opened without following symlinks and without
blocking (a FIFO), at most a given size; written into the destination under a new name
and renamed over the old one, so a symlink planted there earlier is replaced, not followed.

Per-sandbox host folders are named `automl-sandbox-<owner pid>-<random>` in the system
temporary folder, so that those of a killed agent can be found and removed at the next
start (`sweep_scratch`).
"""

from __future__ import annotations

import os
import re
import shutil
import stat
import tempfile
from pathlib import Path

SCRATCH_PREFIX = "automl-sandbox-"
_OWNED = re.compile(rf"^{re.escape(SCRATCH_PREFIX)}(\d+)-")
SANDBOX_UID = 65534  # nobody: the user the sandboxes run as


class ArtifactError(Exception):
    """An artifact could not be brought back safely; the call counts as crashed."""


def copy_artifact(source: Path, name: str, destination: Path, max_bytes: int) -> Path:
    """Copy `source/name` into `destination/name`; ArtifactError unless it is a plain file."""
    if not name or "/" in name or name in (".", "..") or "\0" in name:
        raise ArtifactError(f"artifact name {name[:60]!r} is not a plain file name")
    try:
        folder = os.open(source, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
    except OSError as exc:
        raise ArtifactError(f"the sandbox's artifacts folder is unusable ({exc.strerror})") from None
    try:
        try:
            fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK, dir_fd=folder)
        except OSError as exc:  # ELOOP: a symlink; ENOENT: never saved
            raise ArtifactError(f"artifact {name}: not saved as a regular file ({exc.strerror})") from None
    finally:
        os.close(folder)
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode) or info.st_nlink != 1:
            raise ArtifactError(f"artifact {name}: not a regular file with a single link")
        if info.st_size > max_bytes:
            raise ArtifactError(
                f"artifact {name}: {info.st_size} bytes, more than the {max_bytes // 2**20} MiB allowed"
            )
        destination.mkdir(parents=True, exist_ok=True)
        partial = destination / f".{name}.{os.getpid()}.partial"
        out = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644)
        copied = 0
        try:
            while chunk := os.read(fd, 1 << 20):
                copied += len(chunk)
                if copied > max_bytes:  # it grew while we copied
                    raise ArtifactError(f"artifact {name}: more than {max_bytes // 2**20} MiB")
                os.write(out, chunk)
        except BaseException:
            os.close(out)
            partial.unlink(missing_ok=True)
            raise
        os.close(out)
        os.replace(partial, destination / name)  # replaces a symlink, never follows it
    finally:
        os.close(fd)
    return destination / name


# ---- per-sandbox host folders -------------------------------------------------------


def make_scratch() -> Path:
    """A fresh host folder for one sandbox, named after this process."""
    return Path(tempfile.mkdtemp(prefix=f"{SCRATCH_PREFIX}{os.getpid()}-"))


def open_to_sandbox(path: Path) -> None:
    """Let the sandbox user write `path`, a folder of the sandbox's own (never a run's):
    own it when we may (root), else open it to all inside a 0711 parent of ours."""
    try:
        os.chown(path, SANDBOX_UID, SANDBOX_UID)
    except PermissionError:
        os.chmod(path, 0o777 if path.is_dir() else 0o666)


def remove_scratch(path: Path | None) -> None:
    if path is not None:
        shutil.rmtree(path, ignore_errors=True)


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def sweep_scratch() -> list[str]:
    """Remove the scratch folders whose owning process is gone; their names."""
    removed = []
    root = Path(tempfile.gettempdir())
    for entry in root.glob(f"{SCRATCH_PREFIX}*"):
        owner = _OWNED.match(entry.name)
        if owner and int(owner.group(1)) != os.getpid() and not pid_alive(int(owner.group(1))):
            shutil.rmtree(entry, ignore_errors=True)
            removed.append(entry.name)
    return removed
