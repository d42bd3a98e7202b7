"""Build the sandbox image: `python -m sandbox.build [--base IMAGE] [--force]`.

The image holds Python 3.11 and the packages generated code may use, at the SAME versions
as this host's environment (the worker unpickles DataFrames the host wrote). It is tagged
`automl-sandbox:<hash>`, the hash covering the Dockerfile and the pinned packages, so a
current image is found by name and the build is skipped.

It works without a registry: the base image then comes from `debootstrap` (Debian bookworm,
whose python3 is 3.11) and `docker import`, with the mirror read from this machine's own apt
sources; the packages are wheels downloaded on the host with its own pip configuration and
installed offline inside the build.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.metadata as metadata
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

IMAGE_REPOSITORY = "automl-sandbox"
HASH_LABEL = "org.automl-agent.sandbox-image-hash"
STAGE_LABEL = "org.automl-agent.sandbox-build-stage"  # set in the Dockerfile's first stage
DOCKERFILE = Path(__file__).with_name("Dockerfile")
# What generated code may import; their dependencies follow at the host's versions.
PACKAGES = (
    "numpy",
    "pandas",
    "scipy",
    "scikit-learn",
    "ConfigSpace",
    "pyarrow",
    "torch",
    "catboost",
)  # torch: the image template's CNN (the host's CPU build, 2.13.0+cpu); catboost: a tabular family
REGISTRY_BASE = "python:3.11-slim"
DEBOOTSTRAP_BASE = "automl-sandbox-base:bookworm"
DEBIAN_SUITE = "bookworm"  # python3 3.11.2, so the cp311 wheels fit
CACHE = Path(os.environ.get("AUTOML_SANDBOX_CACHE", Path(__file__).resolve().parents[1] / ".cache" / "sandbox"))
ROOTFS = Path(os.environ.get("AUTOML_SANDBOX_ROOTFS", "/var/tmp/automl-sandbox-rootfs"))


def say(message: str) -> None:
    print(f"sandbox.build: {message}", flush=True)


# ---- what the image must contain ----------------------------------------------------


def pinned_requirements() -> list[str]:
    """`name==version` for PACKAGES and everything they need, as installed on this host."""
    pins: dict[str, str] = {}
    todo = list(PACKAGES)
    while todo:
        name = canonicalize_name(todo.pop())
        if name in pins:
            continue
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            sys.exit(f"sandbox.build: package {name} is not installed on the host; run `make setup`")
        pins[name] = dist.version
        for spec in dist.requires or []:
            req = Requirement(spec)
            if req.marker is None or req.marker.evaluate({"extra": ""}):
                todo.append(req.name)
    return sorted(f"{name}=={version}" for name, version in pins.items())


def image_hash(requirements: list[str]) -> str:
    digest = hashlib.sha256(DOCKERFILE.read_bytes())
    digest.update("\n".join(requirements).encode())
    return digest.hexdigest()[:12]


def expected_image() -> str:
    """The tag of the image that matches this host's Dockerfile and package versions."""
    return f"{IMAGE_REPOSITORY}:{image_hash(pinned_requirements())}"


# ---- the base image -------------------------------------------------------------------


def apt_mirror() -> str:
    """The Debian archive this machine's own apt uses (never a hard-coded host)."""
    sources = sorted(Path("/etc/apt/sources.list.d").glob("*.sources"))
    for path in sources:
        for stanza in re.split(r"\n\s*\n", path.read_text()):
            fields = dict(re.findall(r"^(\w[\w-]*):\s*(.*)$", stanza, flags=re.M))
            suites, types = fields.get("Suites", "").split(), fields.get("Types", "").split()
            if DEBIAN_SUITE in suites and "deb" in types:
                return fields["URIs"].split()[0]
    lists = [Path("/etc/apt/sources.list"), *sorted(Path("/etc/apt/sources.list.d").glob("*.list"))]
    for path in lists:
        if not path.exists():
            continue
        for line in path.read_text().splitlines():
            words = re.sub(r"\[[^]]*\]", "", line).split()
            if len(words) >= 3 and words[0] == "deb" and words[2] == DEBIAN_SUITE:
                return words[1]
    sys.exit(
        f"sandbox.build: no '{DEBIAN_SUITE}' archive in /etc/apt/sources.list(.d); "
        "pass --base IMAGE with a Python 3.11 image instead"
    )


def debootstrap_base(client) -> str:
    """A minimal Debian bookworm with python3, made locally and imported as an image."""
    if _has_image(client, DEBOOTSTRAP_BASE):
        say(f"base image {DEBOOTSTRAP_BASE} is present")
        return DEBOOTSTRAP_BASE
    if shutil.which("debootstrap") is None or os.geteuid() != 0:
        sys.exit(
            "sandbox.build: no registry and no debootstrap base; run `make engine` "
            "(installs debootstrap) and build as root, or pass --base IMAGE"
        )
    mirror = apt_mirror()
    say(f"making {DEBOOTSTRAP_BASE} with debootstrap from this machine's apt mirror (~1 min)")
    shutil.rmtree(ROOTFS, ignore_errors=True)
    subprocess.run(
        ["debootstrap", "--variant=minbase", "--include=python3", DEBIAN_SUITE, str(ROOTFS), mirror],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    for junk in ("var/cache/apt/archives", "var/lib/apt/lists"):
        for item in (ROOTFS / junk).glob("*"):
            if item.is_file():
                item.unlink()
    say(f"importing the root filesystem as {DEBOOTSTRAP_BASE}")
    tar = subprocess.Popen(["tar", "-C", str(ROOTFS), "-c", "."], stdout=subprocess.PIPE)
    subprocess.run(["docker", "import", "-", DEBOOTSTRAP_BASE], stdin=tar.stdout, check=True, stdout=subprocess.DEVNULL)
    tar.stdout.close()
    if tar.wait() != 0:
        sys.exit("sandbox.build: tar of the debootstrap root filesystem failed")
    shutil.rmtree(ROOTFS, ignore_errors=True)
    return DEBOOTSTRAP_BASE


def choose_base(client, requested: str) -> str:
    """The requested image, else the official slim image (local or pulled), else debootstrap."""
    if requested != "auto":
        if not _has_image(client, requested):
            say(f"pulling {requested}")
            client.images.pull(requested)
        return requested
    if _has_image(client, REGISTRY_BASE):
        return REGISTRY_BASE
    try:
        say(f"pulling {REGISTRY_BASE}")
        client.images.pull(REGISTRY_BASE)
        return REGISTRY_BASE
    except Exception as exc:  # noqa: BLE001 - any pull failure means: no registry here
        why = getattr(exc, "explanation", None) or str(exc)
        say(f"no registry ({str(why).splitlines()[0][:120]}); using a debootstrap base instead")
    return debootstrap_base(client)


# ---- the build ------------------------------------------------------------------------


def download_wheels(requirements: list[str], wheels: Path) -> None:
    """cp311 wheels for the image, fetched by the host's pip with its own configuration."""
    wheels.mkdir(parents=True, exist_ok=True)
    pip_pin = f"pip=={metadata.version('pip')}"
    (wheels / "requirements.txt").write_text("\n".join(requirements) + "\n")
    say(f"downloading {len(requirements)} wheels for Python 3.11 into {wheels}")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--quiet",
            "--only-binary=:all:",
            "--python-version",
            "3.11",
            "--no-deps",
            "-d",
            str(wheels),
            pip_pin,
            *requirements,
        ],
        check=True,
    )


def build_image(client, tag: str, digest: str, base: str, context: Path) -> None:
    shutil.copy(DOCKERFILE, context / "Dockerfile")
    say(f"building {tag} from {base}")
    stream = client.api.build(
        path=str(context),
        tag=tag,
        buildargs={"BASE_IMAGE": base},
        labels={HASH_LABEL: digest},
        network_mode="none",
        rm=True,
        forcerm=True,
        decode=True,
    )
    for chunk in stream:
        if "error" in chunk:
            sys.exit(f"sandbox.build: the image build failed: {chunk['error'].strip()}")
        text = chunk.get("stream", "").strip()
        if text.startswith("Step "):
            say(text)
    client.images.get(tag).tag(IMAGE_REPOSITORY, "latest")
    # The classic builder keeps the packages stage (wheels included) as an untagged image.
    client.images.prune(filters={"dangling": True, "label": STAGE_LABEL})


def _remove_older_images(client, current: str) -> None:
    """Untag sandbox images of earlier Dockerfiles or package versions (~700 MB each)."""
    import docker.errors

    for image in client.images.list(name=IMAGE_REPOSITORY):
        for tag in image.tags:
            if tag not in (current, f"{IMAGE_REPOSITORY}:latest"):
                try:
                    client.images.remove(tag)
                    say(f"removed the outdated image {tag}")
                except docker.errors.APIError:
                    pass  # still used by a container; the next build tries again


def _reuse_wheels(wheels: Path) -> None:
    """Hard-link the wheels of an earlier build, so pip downloads only what changed."""
    wheels.mkdir(parents=True, exist_ok=True)
    for wheel in CACHE.glob("build-*/wheels/*.whl"):
        target = wheels / wheel.name
        if not target.exists():
            os.link(wheel, target)


def _has_image(client, name: str) -> bool:
    import docker.errors

    try:
        client.images.get(name)
        return True
    except docker.errors.ImageNotFound:
        return False


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Build the sandbox image (skips a current one).")
    parser.add_argument(
        "--base",
        default=os.environ.get("AUTOML_SANDBOX_BASE", "auto"),
        help=f"base image (default: {REGISTRY_BASE} if it can be had, else a debootstrap Debian bookworm)",
    )
    parser.add_argument("--force", action="store_true", help="rebuild even if the image is current")
    args = parser.parse_args(argv)

    import docker

    try:
        client = docker.from_env()
        client.ping()
    except docker.errors.DockerException:
        sys.exit("sandbox.build: no Docker engine answers; run `make engine` first")
    requirements = pinned_requirements()
    digest = image_hash(requirements)
    tag = f"{IMAGE_REPOSITORY}:{digest}"
    if _has_image(client, tag) and not args.force:
        say(f"{tag} is current (Dockerfile and package versions unchanged); nothing to do")
        return
    base = choose_base(client, args.base)
    context = CACHE / f"build-{digest}"
    _reuse_wheels(context / "wheels")
    download_wheels(requirements, context / "wheels")
    build_image(client, tag, digest, base, context)
    for stale in CACHE.glob("build-*"):  # older builds' wheels are not needed again
        if stale != context:
            shutil.rmtree(stale, ignore_errors=True)
    _remove_older_images(client, tag)
    say(f"built {tag} (also tagged {IMAGE_REPOSITORY}:latest)")


if __name__ == "__main__":
    main()
