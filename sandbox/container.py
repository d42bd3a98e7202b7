"""The Docker backend: the warm worker runs in a hardened container, one per sandbox.

The container lives as long as the sandbox (one optimizer worker's run): the heavy imports
happen once, and every call still runs in its own forked child inside it (see worker.py).
Hardening: no network, read-only root, a small tmpfs for /tmp, user 65534 (nobody), all
capabilities dropped, no-new-privileges, memory+swap, pids and CPU limits, no host
environment variables, code and data mounted read-only. At deploy the container writes
into a fresh artifacts folder of the sandbox's own, never into a run's folder; the host
copies out what it asked for (artifacts.py). The worker script is mounted read-only rather
than baked into the image, so changing it needs no image rebuild.

How the host talks to the worker: two FIFOs in a per-sandbox host folder bind-mounted
read-only at /io (the worker's `--io` mode), not the container's attach socket: a kernel
pipe straight from this process to the worker, no daemon in the per-call path, the same
line protocol as the process backend. The FIFOs are unlinked once the worker has opened
them (channel.py), so no process of a call can reopen the channel by path.

Leaks: containers carry labels naming their owner process; they are removed on close(),
on restart, at interpreter exit (atexit), and containers of owners that died without
cleaning up (SIGKILL) are swept, with the host folders of such sandboxes, when the next
sandbox starts or by `python -m sandbox.container --cleanup`.
"""

from __future__ import annotations

import argparse
import atexit
import os
import socket
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from sandbox.artifacts import (
    SANDBOX_UID,
    make_scratch,
    open_to_sandbox,
    pid_alive,
    remove_scratch,
    sweep_scratch,
)
from sandbox.base import WORKER_SCRIPT, Sandbox, SandboxError, worker_arguments
from sandbox.channel import FifoChannel

LABEL = "org.automl-agent.sandbox"
OWNER_LABEL = "org.automl-agent.sandbox.owner"  # "<hostname>:<pid>" of the agent process
# The warm parent (interpreter, scikit-learn, pandas, the loaded data) needs memory on top
# of what one call may use; the call itself is held to its share by RLIMIT_AS in the worker.
PARENT_MEMORY_MB = 512
ENGINE_TIMEOUT_SECONDS = 30

_client_cache = None
_live: dict[str, str] = {}  # container id -> name, removed at interpreter exit
_swept = False


def _client():
    global _client_cache
    if _client_cache is None:
        import docker

        _client_cache = docker.from_env(timeout=ENGINE_TIMEOUT_SECONDS)
    return _client_cache


def _owner() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def docker_unavailable_reason() -> str | None:
    """None when an engine answers and the current sandbox image is present, else what to run."""
    try:
        import docker
    except ImportError:
        return "the 'docker' Python package is missing; run `make setup`"
    try:
        client = _client()
        client.ping()
    except docker.errors.DockerException:
        return "no Docker engine answers; run `make engine` (installs and starts one)"
    from sandbox.build import expected_image

    image = expected_image()
    try:
        client.images.get(image)
    except docker.errors.ImageNotFound:
        return f"the sandbox image {image} is missing or out of date; run `make image` (python -m sandbox.build)"
    except docker.errors.DockerException as exc:
        return f"the Docker engine failed to look up the sandbox image ({exc}); run `make engine`"
    return None


@dataclass
class DockerSandbox(Sandbox):
    backend = "docker"
    image: str | None = None  # default: the image `python -m sandbox.build` makes for this host
    _container: object | None = field(default=None, init=False, repr=False)
    _scratch: Path | None = field(default=None, init=False, repr=False)
    _channel: FifoChannel | None = field(default=None, init=False, repr=False)

    # ---- launch ---------------------------------------------------------------------

    def _launch(self) -> None:
        import docker

        client = _client()
        _sweep_dead_owners(client)
        if self.image is None:
            from sandbox.build import expected_image

            self.image = expected_image()
        sweep_scratch()
        self._scratch = make_scratch()
        os.chmod(self._scratch, 0o711)  # the sandbox user may enter, not list
        (self._scratch / "artifacts").mkdir()
        open_to_sandbox(self._scratch / "artifacts")
        self._channel = FifoChannel(self._scratch / "io", owner=SANDBOX_UID)
        name = f"automl-sandbox-{_slug(self.name)}-{uuid.uuid4().hex[:8]}"
        try:
            # create + start, not run: run() would try to pull a missing image.
            self._container = client.containers.create(
                self.image,
                self._command(),
                name=name,
                labels={LABEL: "1", OWNER_LABEL: _owner(), f"{LABEL}.name": self.name},
                volumes=self._mounts(),
                environment=self._environment(),
                working_dir="/tmp",
                **self._hardening(),
            )
            _live[self._container.id] = name
            self._container.start()
        except docker.errors.ImageNotFound as exc:
            self._kill()
            raise SandboxError(
                f"the sandbox image {self.image} is missing; run `make image` (python -m sandbox.build)"
            ) from exc
        except docker.errors.DockerException as exc:
            self._kill()
            raise SandboxError(f"Docker could not start the sandbox container: {exc}") from exc

    def _command(self) -> list[str]:
        return ["python3", "-I", *worker_arguments(self.limits, bool(self.workspace.artifacts))]

    def _mounts(self) -> dict:
        mounts = {
            str(WORKER_SCRIPT): {"bind": "/sandbox/worker.py", "mode": "ro"},
            str(Path(self.workspace.code).resolve()): {"bind": "/code", "mode": "ro"},
            str(Path(self.workspace.data).resolve()): {"bind": "/data", "mode": "ro"},
            # Read-only: the worker opens FIFOs there, which a read-only mount allows.
            str(self._scratch / "io"): {"bind": "/io", "mode": "ro"},
        }
        if self.workspace.artifacts and self.workspace.artifacts_writable:
            # The sandbox's own fresh folder; the host copies out what it asked for.
            mounts[str(self._scratch / "artifacts")] = {"bind": "/artifacts", "mode": "rw"}
        elif self.workspace.artifacts:  # read as it is: no chown, no chmod of the user's folder
            mounts[str(Path(self.workspace.artifacts).resolve())] = {"bind": "/artifacts", "mode": "ro"}
        return mounts

    def _environment(self) -> dict:
        # Only these: docker passes no host variables unless asked, so API keys stay out.
        threads = str(max(1, int(self.limits.cpus)))
        return {
            "HOME": "/tmp",
            "TMPDIR": "/tmp",
            "LANG": "C.UTF-8",
            "MPLBACKEND": "Agg",
            "OMP_NUM_THREADS": threads,
            "OPENBLAS_NUM_THREADS": threads,
            "MKL_NUM_THREADS": threads,
        }

    def _hardening(self) -> dict:
        memory = f"{self.limits.memory_mb + PARENT_MEMORY_MB}m"
        return {
            "network_mode": "none",
            "read_only": True,
            "tmpfs": {"/tmp": f"size={self.limits.tmp_mb}m,mode=1777"},
            "user": f"{SANDBOX_UID}:{SANDBOX_UID}",
            "cap_drop": ["ALL"],
            "security_opt": ["no-new-privileges"],
            "mem_limit": memory,
            "memswap_limit": memory,  # equal to mem_limit: no swap
            "pids_limit": self.limits.pids,
            "nano_cpus": int(self.limits.cpus * 1e9),
            # A tiny init as PID 1 reaps the orphans of killed calls (a fork bomb's
            # children), which would otherwise pile up as zombies against the pids limit.
            "init": True,
            # The container's stdout is reachable from a call (/proc/1/fd/1 of the init):
            # without a cap, docker would keep all of it on the host's disk.
            "log_config": {"type": "json-file", "config": {"max-size": "1m", "max-file": "1"}},
        }

    # ---- lines to and from the worker -------------------------------------------------

    def _send(self, line: str) -> None:
        if self._channel is None:
            raise BrokenPipeError("the sandbox container is not running")
        self._channel.send(line)

    def _answers(self) -> int | None:
        return self._channel.answers if self._channel else None

    def _started(self) -> None:
        self._channel.unlink()

    def _alive(self) -> bool:
        return self._container_running()

    def _artifacts_out(self) -> Path | None:
        return self._scratch / "artifacts" if self._scratch else None

    def _container_running(self) -> bool:
        try:
            self._container.reload()
        except Exception:  # noqa: BLE001 - NotFound, or the engine itself is gone
            return False
        return self._container.status in ("created", "running")

    def _exit_reason(self) -> str:
        import docker

        if self._container is None:
            return "the sandbox container was never started"
        try:
            self._container.wait(timeout=3)  # EOF can come a moment before the exit is recorded
        except Exception:  # noqa: BLE001 - requests' timeout error: it is still running
            pass
        try:
            self._container.reload()
        except docker.errors.NotFound:
            return "the sandbox container disappeared (removed from outside)"
        except Exception as exc:  # noqa: BLE001 - DockerException or a requests error
            return f"the Docker engine stopped answering ({exc})"
        state = self._container.attrs["State"]
        if state.get("OOMKilled"):
            return (
                f"the sandbox container ran out of memory (OOMKilled at {self.limits.memory_mb + PARENT_MEMORY_MB} MB)"
            )
        if state.get("Running"):
            return "the sandbox worker did not answer"
        reason = f"the sandbox container exited with code {state.get('ExitCode')}"
        try:
            last = self._container.logs(tail=3).decode(errors="replace").strip()
        except docker.errors.DockerException:
            last = ""
        return f"{reason}: {last.splitlines()[-1][:300]}" if last else reason

    def _kill(self) -> None:
        if self._channel is not None:
            self._channel.close()
            self._channel = None
        if self._container is not None:
            _remove(self._container.id)
            self._container = None
        remove_scratch(self._scratch)
        self._scratch = None


# ---- helpers --------------------------------------------------------------------------


def _slug(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "-" for c in name)[:40] or "sandbox"


def _remove(container_id: str) -> None:
    import docker

    _live.pop(container_id, None)
    try:
        _client().api.remove_container(container_id, force=True)
    except docker.errors.NotFound:
        pass
    except Exception:  # noqa: BLE001 - engine gone (requests errors too); the next sweep gets it
        pass


def _sweep_dead_owners(client, everything: bool = False) -> list[str]:
    """Remove sandbox containers whose owning process is gone (or all, if `everything`)."""
    global _swept
    if _swept and not everything:
        return []
    _swept = True
    removed = []
    host = socket.gethostname()
    for container in client.containers.list(all=True, filters={"label": LABEL}):
        owner_host, _, pid = container.labels.get(OWNER_LABEL, ":").partition(":")
        if everything or (owner_host == host and pid.isdigit() and not pid_alive(int(pid))):
            _remove(container.id)
            removed.append(container.name)
    return removed


@atexit.register
def _remove_live_containers() -> None:
    for container_id in list(_live):
        _remove(container_id)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Find and remove leaked sandbox containers and host folders.")
    parser.add_argument(
        "--cleanup",
        action="store_true",
        help="remove sandbox containers, host folders and cgroups whose owning process has exited",
    )
    parser.add_argument("--all", action="store_true", help="with --cleanup: remove every sandbox container")
    args = parser.parse_args(argv)
    from sandbox.process import sweep_leftovers

    reason = docker_unavailable_reason()
    engine = reason is None or "image" in reason  # an engine answers, even without the image
    if args.cleanup:
        removed = _sweep_dead_owners(_client(), everything=args.all) if engine else []
        print(f"removed {len(removed)} sandbox container(s)" + (f": {', '.join(removed)}" if removed else ""))
        leftovers = sweep_leftovers()
        print(
            f"removed {len(leftovers)} host folder(s) and cgroup(s) of dead sandboxes"
            + (f": {', '.join(leftovers)}" if leftovers else "")
        )
        return
    if not engine:
        print(f"no Docker engine: {reason}")
        return
    for container in _client().containers.list(all=True, filters={"label": LABEL}):
        print(f"{container.name}\t{container.status}\towner {container.labels.get(OWNER_LABEL)}")


if __name__ == "__main__":
    main()
