"""Where generated code runs: a sandbox interface and its backends (process, docker)."""

from __future__ import annotations

from sandbox.base import CallOutcome, Limits, Sandbox, SandboxError, Workspace

BACKENDS = ("auto", "docker", "process")

__all__ = ["BACKENDS", "CallOutcome", "Limits", "Sandbox", "SandboxError", "Workspace",
           "choose_backend", "open_sandbox"]


def choose_backend(requested: str) -> tuple[str, str]:
    """Resolve `auto` to a concrete backend; returns (backend, why) for the terminal."""
    if requested == "process":
        return "process", "requested in the config"
    from sandbox.container import docker_unavailable_reason

    reason = docker_unavailable_reason()
    if requested == "docker":
        if reason:
            raise SandboxError(reason)
        return "docker", "requested in the config"
    if reason:
        return "process", f"no usable Docker sandbox ({reason})"
    return "docker", "a Docker engine answered and the sandbox image is present"


def open_sandbox(backend: str, workspace: Workspace, limits: Limits,
                 name: str = "sandbox") -> Sandbox:
    """A started sandbox of a concrete backend ('docker' or 'process')."""
    if backend == "process":
        from sandbox.process import ProcessSandbox

        return ProcessSandbox(workspace, limits, name=name).start()
    if backend == "docker":
        from sandbox.container import DockerSandbox

        return DockerSandbox(workspace, limits, name=name).start()
    raise SandboxError(f"sandbox.backend: unknown backend '{backend}'; use one of {BACKENDS}")
