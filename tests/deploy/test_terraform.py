"""The Terraform module (terraform/): formatting, checkov, and the security properties it promises.

`terraform validate` needs the AWS provider, which cannot be downloaded here, so these tests use
what runs offline: the real `terraform fmt` and `terraform console` (which evaluates the module's
own expressions with no provider), checkov, and the module parsed by python-hcl2 (checkov's).
"""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from conformance.tools import ToolUnavailable, checkov, parse_hcl, terraform, terraform_env
from s3proxy.config import load_settings
from tests.deploy.checkov_scan import Scan

ROOT = Path(__file__).resolve().parents[2]
MODULE = ROOT / "terraform"
EXAMPLE = MODULE / "examples" / "complete"
WORLD = {"0.0.0.0/0", "::/0"}
# Checks skipped on purpose, each with an inline #checkov:skip and its reason in the module.
EXPECTED_SKIPS = {"CKV_AWS_40", "CKV2_AWS_76"}

Block = dict[str, Any]


@pytest.fixture(scope="module")
def terraform_command() -> list[str]:
    try:
        return terraform()
    except ToolUnavailable as error:
        pytest.skip(f"terraform unavailable: {error}")


@pytest.fixture(scope="module")
def checkov_binary() -> Path:
    try:
        return checkov()
    except ToolUnavailable as error:
        pytest.skip(f"checkov unavailable: {error}")


@pytest.fixture(scope="module")
def module_hcl(checkov_binary: Path) -> dict[str, Block]:
    """The module's files, parsed (python-hcl2 lives in checkov's venv)."""
    return parse_hcl(sorted(MODULE.glob("*.tf")))


def blocks(hcl: dict[str, Block], kind: str, type_name: str) -> Iterator[tuple[str, Block]]:
    """(name, body) of every ``resource``/``data`` block of type ``type_name`` in any file."""
    for document in hcl.values():
        for entry in document.get(kind, []):
            yield from entry.get(type_name, {}).items()


def statements(document: Block) -> Iterator[Block]:
    """The statements of an aws_iam_policy_document, static and dynamic alike."""
    yield from document.get("statement", [])
    for dynamic in document.get("dynamic", []):
        yield from dynamic.get("statement", {}).get("content", [])


def variable_default(hcl: dict[str, Block], name: str) -> Any:
    for entry in hcl["variables.tf"]["variable"]:
        if name in entry:
            return entry[name].get("default", ["<no default>"])[0]
    raise AssertionError(f"no variable {name}")


def local_source(name: str) -> str:
    """The source text of one single-line local in main.tf (exactly as Terraform reads it)."""
    match = re.search(rf"^\s*{name}\s*=\s*(.+)$", (MODULE / "main.tf").read_text(), re.MULTILINE)
    assert match, f"local.{name} not found in main.tf"
    return match[1]


def variable_source(name: str) -> str:
    text = (MODULE / "variables.tf").read_text()
    match = re.search(rf'^variable "{name}" {{\n.*?^}}\n', text, re.MULTILINE | re.DOTALL)
    assert match, f"variable {name} not found"
    return match[0]


def console(
    command: list[str], workdir: Path, expression: str, *variables: str
) -> subprocess.CompletedProcess[str]:
    """Evaluate ``expression`` with `terraform console` in ``workdir`` (no provider needed)."""
    return subprocess.run(
        [*command, "console", *(f"-var={v}" for v in variables)],
        input=expression + "\n",
        cwd=workdir,
        env=terraform_env(),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def evaluate(command: list[str], workdir: Path, expression: str, *variables: str) -> Any:
    result = console(command, workdir, f"jsonencode({expression})", *variables)
    assert result.returncode == 0, result.stderr
    return json.loads(json.loads(result.stdout))  # console prints the JSON as a quoted string


def test_terraform_fmt_check(terraform_command: list[str]) -> None:
    result = subprocess.run(
        [*terraform_command, "fmt", "-check", "-recursive", "-diff", "-no-color", str(MODULE)],
        env=terraform_env(),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, f"terraform fmt -recursive {MODULE} fixes:\n{result.stdout}"


def test_checkov_finds_nothing(checkov_scan: Scan) -> None:
    """The module's and its example's checkov findings (terraform framework), from the deploy
    tests' one scan (tests/deploy/conftest.py)."""
    found = checkov_scan.of("terraform")
    assert [f"{c['check_id']} {c['resource']}" for c in found.failed] == []
    assert len(found.passed) > 50  # the module and its example were really scanned
    assert {check["check_id"] for check in found.skipped} == EXPECTED_SKIPS
    reasons = [check["check_result"].get("suppress_comment", "") for check in found.skipped]
    assert all(len(reason) > 20 for reason in reasons), reasons


def test_upstream_policy_names_only_the_configured_buckets(
    terraform_command: list[str], module_hcl: dict[str, Block], tmp_path: Path
) -> None:
    documents = dict(blocks(module_hcl, "data", "aws_iam_policy_document"))
    upstream = documents["upstream"]
    s3_resources = set()
    for statement in statements(upstream):
        actions = statement["actions"][0]
        (resources,) = statement["resources"]
        if any(action.startswith("s3:") for action in actions):
            assert all(action.startswith("s3:") and "*" not in action for action in actions)
            s3_resources.add(resources)
        else:
            assert resources == "${var.upstream_kms_key_arns}"
    assert s3_resources == {"${local.bucket_arns}", "${local.object_arns}"}

    # Terraform evaluates the module's own expressions for two buckets.
    (tmp_path / "main.tf").write_text(
        variable_source("upstream_bucket_names")
        + 'locals {\n  partition = "aws"\n'
        + f"  bucket_arns = {local_source('bucket_arns')}\n"
        + f"  object_arns = {local_source('object_arns')}\n}}\n"
    )
    buckets = 'upstream_bucket_names=["data-bucket","archive.example"]'
    arns = evaluate(terraform_command, tmp_path, "[local.bucket_arns, local.object_arns]", buckets)
    assert arns == [
        ["arn:aws:s3:::data-bucket", "arn:aws:s3:::archive.example"],
        ["arn:aws:s3:::data-bucket/*", "arn:aws:s3:::archive.example/*"],
    ]
    # A wildcard "bucket" would widen the policy: the variable refuses it.
    refused = console(
        terraform_command, tmp_path, "local.bucket_arns", 'upstream_bucket_names=["*"]'
    )
    assert refused.returncode != 0
    assert "no wildcards" in refused.stderr


def test_no_policy_grants_s3_on_a_wildcard(module_hcl: dict[str, Block]) -> None:
    for name, document in blocks(module_hcl, "data", "aws_iam_policy_document"):
        for statement in statements(document):
            actions = statement.get("actions", [[]])[0]
            resources = statement.get("resources", [[]])
            flat = resources[0] if isinstance(resources[0], list) else resources
            if any(action == "*" or action.startswith("s3:") for action in actions):
                # python-hcl2 prints a list inside an expression with quotes of either kind
                wildcards = [r for r in flat if r == "*" or re.search(r"[\"']\*[\"']", r)]
                assert not wildcards, f"{name}: {actions} on {flat}"
    # The only "*" resources left are ones AWS allows nothing else for.
    text = "\n".join(p.read_text() for p in MODULE.glob("*.tf"))
    assert '"s3:*"' not in text
    assert len(re.findall(r'resources\s*=\s*\["\*"\]', text)) == 1  # ecr:GetAuthorizationToken


def test_security_groups_keep_the_admin_port_private(module_hcl: dict[str, Block]) -> None:
    admin_port = variable_default(module_hcl, "admin_port")
    assert admin_port == 9001

    def port(value: Any) -> int:
        if isinstance(value, int):
            return value
        found = re.fullmatch(r"\$\{var\.(\w+)\}", value)
        assert found, value
        default = variable_default(module_hcl, found[1])
        assert isinstance(default, int)
        return default

    # Every rule is a separate resource that names its peer; no inline or legacy rules.
    assert not list(blocks(module_hcl, "resource", "aws_security_group_rule"))
    for name, group in blocks(module_hcl, "resource", "aws_security_group"):
        assert "ingress" not in group and "egress" not in group, name

    ingress = dict(blocks(module_hcl, "resource", "aws_vpc_security_group_ingress_rule"))
    assert ingress
    for name, rule in ingress.items():
        assert rule["ip_protocol"] == ["tcp"], name
        ports = range(port(rule["from_port"][0]), port(rule["to_port"][0]) + 1)
        networks = [rule[key][0] for key in ("cidr_ipv4", "cidr_ipv6") if key in rule]
        assert not WORLD & set(networks), name
        if networks or "prefix_list_id" in rule:
            # From a network: only the HTTPS listener, and only from the clients' networks,
            # which the caller must list (no default).
            assert list(ports) == [443], name
            assert rule["for_each"] == ["${toset(var.allowed_cidr_blocks)}"], name
            assert variable_default(module_hcl, "allowed_cidr_blocks") == "<no default>"
        if admin_port in ports:
            assert rule["referenced_security_group_id"] == ["${aws_security_group.alb.id}"], name
    # ... and the load balancer's health checks do get in.
    assert any(
        admin_port in range(port(r["from_port"][0]), port(r["to_port"][0]) + 1)
        for r in ingress.values()
    )


def test_load_balancer_is_https_and_checks_the_admin_port(module_hcl: dict[str, Block]) -> None:
    listeners = dict(blocks(module_hcl, "resource", "aws_lb_listener"))
    assert [(rule["protocol"], rule["port"]) for rule in listeners.values()] == [(["HTTPS"], [443])]
    (target_group,) = [body for _, body in blocks(module_hcl, "resource", "aws_lb_target_group")]
    (health,) = target_group["health_check"]
    assert health["port"] == ["${tostring(var.admin_port)}"]
    assert health["path"] == ["${var.health_check_path}"]
    assert variable_default(module_hcl, "health_check_path") == "/healthz"


@pytest.mark.parametrize("shutdown_timeout", [0, 30, 45.5, 110])
def test_stop_timeout_covers_the_drain(
    terraform_command: list[str], tmp_path: Path, shutdown_timeout: float
) -> None:
    """ECS sends SIGKILL stopTimeout seconds after SIGTERM: never before the drain can end."""
    (tmp_path / "main.tf").write_text(
        variable_source("shutdown_timeout")
        + f"locals {{\n  stop_timeout = {local_source('stop_timeout')}\n}}\n"
    )
    stop_timeout = evaluate(
        terraform_command, tmp_path, "local.stop_timeout", f"shutdown_timeout={shutdown_timeout}"
    )
    assert shutdown_timeout < stop_timeout <= 120


def test_the_task_sets_no_drain_delay_beyond_the_stop_timeout(tmp_path: Path) -> None:
    """stopTimeout is shutdown_timeout + 10: a server.drain_delay in config_yaml would come on
    top of the drain and SIGKILL could cut it, so the task's environment sets it to 0 (the ALB's
    deregistration_delay drains the task before SIGTERM), and that wins over the file."""
    source = (MODULE / "ecs.tf").read_text()
    setting = re.search(r'^\s*S3PROXY_SERVER__DRAIN_DELAY\s*=\s*"([^"]*)"', source, re.MULTILINE)
    assert setting, "terraform/ecs.tf sets no S3PROXY_SERVER__DRAIN_DELAY"
    (tmp_path / "s3proxy.yaml").write_text(
        "server:\n  drain_delay: 30\n"
        "upstreams:\n  main: {endpoint: 'http://127.0.0.1:8333'}\n"
        "tenants:\n  alice:\n    keys: [{access_key: AKALICE, secret_key: alice-secret-Xw3}]\n"
        "    home: {upstream: main, bucket: data}\n"
    )
    assert load_settings(tmp_path / "s3proxy.yaml", env={}).server.drain_delay == 30
    env = {"S3PROXY_SERVER__DRAIN_DELAY": setting[1]}
    assert load_settings(tmp_path / "s3proxy.yaml", env=env).server.drain_delay == 0


def test_example_configuration_loads_in_s3proxy(
    terraform_command: list[str], tmp_path: Path
) -> None:
    """The example's config_yaml, as Terraform renders it, is one s3proxy accepts."""
    source = (EXAMPLE / "main.tf").read_text()
    heredoc = re.search(r"config_yaml = (<<-YAML\n.*?\n\s*YAML\n)", source, re.DOTALL)
    assert heredoc
    (tmp_path / "main.tf").write_text(
        'variable "region" {}\nvariable "domain_name" {}\n'
        + f"locals {{\n  config = {heredoc[1]}}}\n"
    )
    rendered = evaluate(
        terraform_command,
        tmp_path,
        "local.config",
        "region=eu-west-1",
        "domain_name=s3.example.com",
    )
    (tmp_path / "s3proxy.yaml").write_text(rendered)
    secrets = re.findall(r"env:(\w+)", rendered)
    env = {name: f"value-of-{name.lower()}" for name in secrets}
    # What the module's task definition sets (terraform/ecs.tf, local.environment).
    env |= {
        "S3PROXY_CONFIG_YAML": rendered,
        "S3PROXY_SERVER__HOST": "0.0.0.0",
        "S3PROXY_SERVER__PORT": "9000",
        "S3PROXY_SERVER__ADMIN_HOST": "0.0.0.0",
        "S3PROXY_SERVER__ADMIN_PORT": "9001",
        "S3PROXY_SERVER__SHUTDOWN_TIMEOUT": "45.5",
    }
    settings = load_settings(tmp_path / "s3proxy.yaml", env=env)
    assert (settings.server.host, settings.server.port) == ("0.0.0.0", 9000)
    assert (settings.server.admin_host, settings.server.admin_port) == ("0.0.0.0", 9001)
    assert settings.server.shutdown_timeout == 45.5
    assert settings.server.region == "eu-west-1"
    assert settings.server.secret is not None
    assert settings.server.secret.get_secret_value() == "value-of-s3proxy_secret"
    assert settings.upstreams["main"].endpoint == "https://s3.eu-west-1.amazonaws.com"
    assert settings.upstreams["main"].access_key is None  # signed with the task role
    # Every secret the configuration needs is one the example passes from Secrets Manager.
    secret_block = re.search(r"  secrets = \{\n(.*?)\n  \}", source, re.DOTALL)
    assert secret_block
    assert set(secrets) <= set(re.findall(r"^\s*(\w+)\s*=", secret_block[1], re.MULTILINE))
