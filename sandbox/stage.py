"""The root half of the process backend's launch: make some host paths reachable, drop to
the sandbox user, exec bubblewrap.

When the agent runs as root, the sandbox must still run as an unprivileged uid, yet the
folders it needs (a Python under /root/.pyenv, a pytest folder of mode 0700, a run folder
under /root) are often out of that uid's reach. bubblewrap resolves its bind sources as
the user it runs as, so root first opens each source, enters a mount namespace of its own
(private: nothing propagates to the host), mounts a small tmpfs on STAGE and binds each
source to STAGE/<index> there; then it becomes the sandbox user and execs the command,
which binds from STAGE. Before that it joins the sandbox's cgroup, so that bubblewrap and
everything below it are counted in it.

    python -I -S stage.py --uid 65534 --stage /mnt [--join FILE]... [--bind SRC]... -- CMD...

Standard library only; the host never imports this module.
"""

from __future__ import annotations

import argparse
import ctypes
import os

CLONE_NEWNS = 0x00020000
MS_NOSUID, MS_NODEV, MS_BIND, MS_REC, MS_PRIVATE = 0x2, 0x4, 0x1000, 0x4000, 0x40000


def _check(result: int, what: str) -> None:
    if result != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"{what}: {os.strerror(errno)}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--uid", type=int, required=True)
    parser.add_argument("--stage", required=True, help="an existing folder to mount the staging tmpfs on")
    parser.add_argument("--join", action="append", default=[], help="a cgroup.procs file to join")
    parser.add_argument("--bind", action="append", default=[], help="a host path to stage")
    parser.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args()
    command = args.command[1:] if args.command[:1] == ["--"] else args.command

    for procs in args.join:
        with open(procs, "w") as fh:
            fh.write(str(os.getpid()))
    libc = ctypes.CDLL(None, use_errno=True)
    libc.mount.argtypes = [ctypes.c_char_p] * 3 + [ctypes.c_ulong, ctypes.c_char_p]
    _check(libc.unshare(CLONE_NEWNS), "unshare(CLONE_NEWNS)")
    _check(libc.mount(None, b"/", None, MS_REC | MS_PRIVATE, None), "make / private")
    # Opened in the new namespace (a bind source must be a mount of it) and before the
    # tmpfs covers anything, so that a source below the staging folder works too.
    sources = [os.open(path, os.O_PATH) for path in args.bind]
    _check(
        libc.mount(b"tmpfs", args.stage.encode(), b"tmpfs", MS_NOSUID | MS_NODEV, b"mode=0755,size=64k"),
        f"mount a tmpfs on {args.stage}",
    )
    for index, fd in enumerate(sources):
        target = os.path.join(args.stage, str(index))
        if os.path.isdir(f"/proc/self/fd/{fd}"):
            os.mkdir(target)
        else:
            open(target, "w").close()  # noqa: SIM115 - an empty file to bind a file on
        _check(
            libc.mount(f"/proc/self/fd/{fd}".encode(), target.encode(), None, MS_BIND | MS_REC, None),
            f"bind {args.bind[index]}",
        )
        os.close(fd)

    os.setgroups([])
    os.setgid(args.uid)
    os.setuid(args.uid)
    os.execv(command[0], command)


if __name__ == "__main__":
    main()
