"""Where generated code runs: a sandbox interface and its backends.

`docker` and `process` isolate generated code (a hardened container; namespaces made by
bubblewrap). `unsafe_process` does not: it runs the code as a plain child process of the
agent, with the agent's user, files and network, and is chosen only by that name.
"""

from __future__ import annotations

from sandbox.base import CallOutcome, Limits, Sandbox, SandboxError, Workspace

# Every backend name a config may give, once. `auto` resolves to an isolating one or fails.
BACKENDS = ("auto", "docker", "process", "unsafe_process")
ISOLATING = ("docker", "process")

__all__ = [
    "BACKENDS",
    "ISOLATING",
    "CallOutcome",
    "Limits",
    "Sandbox",
    "SandboxError",
    "Workspace",
    "choose_backend",
    "isolates",
    "open_sandbox",
]


def isolates(backend: str) -> bool:
    """Whether generated code run by `backend` is kept from the host (its files, network,
    processes, environment). False for `unsafe_process`; `auto` resolves to one that does."""
    if backend not in BACKENDS:
        raise SandboxError(f"sandbox.backend: unknown backend '{backend}'; use one of {BACKENDS}")
    return backend != "unsafe_process"


def choose_backend(requested: str) -> tuple[str, str]:
    """Resolve `auto` to a concrete backend; returns (backend, why) for the terminal.

    `auto` is docker when an engine answers and the image is present, else the namespaced
    process backend when bubblewrap works here, else a SandboxError saying how to get one:
    it never falls back to running generated code unisolated."""
    if requested not in BACKENDS:
        raise SandboxError(f"sandbox.backend: unknown backend '{requested}'; use one of {BACKENDS}")
    if requested == "unsafe_process":
        return "unsafe_process", "requested in the config: generated code runs UNISOLATED on this host"
    from sandbox.process import process_unavailable_reason

    if requested == "process":
        reason = process_unavailable_reason()
        if reason:
            raise SandboxError(reason)
        return "process", "requested in the config"
    from sandbox.container import docker_unavailable_reason

    docker_reason = docker_unavailable_reason()
    if requested == "docker":
        if docker_reason:
            raise SandboxError(docker_reason)
        return "docker", "requested in the config"
    if docker_reason is None:
        return "docker", "a Docker engine answered and the sandbox image is present"
    process_reason = process_unavailable_reason()
    if process_reason is None:
        return "process", f"bubblewrap namespaces (no usable Docker sandbox: {docker_reason})"
    raise SandboxError(f"no isolating sandbox on this machine: {docker_reason}; or {process_reason}")


def open_sandbox(backend: str, workspace: Workspace, limits: Limits, name: str = "sandbox") -> Sandbox:
    """A started sandbox of a concrete backend ('docker', 'process' or 'unsafe_process')."""
    if backend == "process":
        from sandbox.process import ProcessSandbox

        return ProcessSandbox(workspace, limits, name=name).start()
    if backend == "docker":
        from sandbox.container import DockerSandbox

        return DockerSandbox(workspace, limits, name=name).start()
    if backend == "unsafe_process":
        from sandbox.unsafe_process import UnsafeProcessSandbox

        return UnsafeProcessSandbox(workspace, limits, name=name).start()
    raise SandboxError(f"sandbox.backend: unknown backend '{backend}'; use one of {BACKENDS}")
