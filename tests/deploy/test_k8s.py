"""deploy/k8s/: one rendered folder per participant, from deploy/k8s/template/.

Every manifest must pass ``kubernetes-validate --strict`` (schemas shipped in the
package) for the oldest Kubernetes release the guide supports and a recent one;
the rendered folders must be exactly what deploy/k8s/generate.py makes; and each
participant's objects must have the properties the guide promises: two replicas on
one database, probes, limits, a locked-down pod, secrets only as files on Secret
volumes, named by ``_FILE`` variables.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path, PurePosixPath
from typing import Any

import pytest
import yaml
from sqlalchemy import make_url

from clearinghouse.node.settings import Settings, load_settings
from clearinghouse.node.settings_files import file_target
from tests.deploy._support import AGENCIES, DEPLOY, NODE_UID, explain, load_script, run_tool, tool

K8S = DEPLOY / "k8s"
#: The oldest release the guide supports, and a recent one; both ship with
#: kubernetes-validate >= 1.35 (its schema folders v1.25.0 ... v1.35.0 and on).
KUBERNETES_VERSIONS = ("1.29.0", "1.35.0")
KINDS = {"Namespace", "ServiceAccount", "ConfigMap", "Deployment", "Service", "PodDisruptionBudget"}
SECRETISH = re.compile(r"TOKEN|PASSWORD|PASSPHRASE|DATABASE_URL|SECRET", re.IGNORECASE)
#: The ConfigMap's variables that name a secret file, and what the guide puts in each.
SECRETS = {
    "CLEARINGHOUSE_DATABASE_URL_FILE": "postgresql://clearinghouse@db:5432/clearinghouse",
    "CLEARINGHOUSE_DATABASE_PASSWORD_FILE": "pa:ss@word/1",
    "CLEARINGHOUSE_TOKENS_FILE": json.dumps(
        [{"name": "admin", "role": "admin", "sha256": "ab" * 32}]
    ),
}


def manifests() -> list[Path]:
    return sorted(p for agency in AGENCIES for p in (K8S / agency).glob("*.yaml"))


def objects(agency: str) -> dict[str, dict[str, Any]]:
    """kind -> the one object of that kind in the participant's folder."""
    out: dict[str, dict[str, Any]] = {}
    for path in sorted((K8S / agency).glob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text()):
            assert doc["kind"] not in out, f"{path}: a second {doc['kind']}"
            out[doc["kind"]] = doc
    return out


def pod(agency: str) -> dict[str, Any]:
    return objects(agency)["Deployment"]["spec"]["template"]


def container(agency: str) -> dict[str, Any]:
    (node,) = pod(agency)["spec"]["containers"]
    return node


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
def test_every_manifest_validates_strictly(version: str, tmp_path: Path) -> None:
    files = manifests()
    assert len(files) == len(AGENCIES) * len(KINDS)
    validate = tool("kubernetes-validate")
    result = run_tool(validate, "--strict", "--quiet", "-k", version, *files)
    assert result.returncode == 0, explain(result)

    # --strict really refuses an unknown field.
    bad = tmp_path / "deployment.yaml"
    text = (K8S / "mission" / "30-deployment.yaml").read_text()
    bad.write_text(text.replace("readOnlyRootFilesystem: true", "readOnlyRootFilesytem: true"))
    result = run_tool(validate, "--strict", "--quiet", "-k", version, bad)
    assert result.returncode != 0 and "readOnlyRootFilesytem" in result.stdout, explain(result)


def test_rendering_again_gives_the_committed_files(tmp_path: Path) -> None:
    generate = load_script(K8S / "generate.py")
    assert tuple(generate.PARTICIPANTS) == AGENCIES
    generate.write(tmp_path, AGENCIES, generate.DEFAULT_IMAGE, check=False)
    for agency in AGENCIES:
        rendered = {p.name: p.read_text() for p in (tmp_path / agency).iterdir()}
        committed = {p.name: p.read_text() for p in (K8S / agency).iterdir()}
        assert rendered == committed, f"deploy/k8s/{agency}/ is stale: run deploy/k8s/generate.py"
    assert generate.main(["--check"]) == 0
    assert sorted(p.name for p in K8S.iterdir() if p.is_dir()) == sorted([*AGENCIES, "template"])


@pytest.mark.parametrize("agency", AGENCIES)
def test_one_namespace_per_participant_under_restricted_pod_security(agency: str) -> None:
    found = objects(agency)
    assert set(found) == KINDS, "secrets are created with kubectl, never committed"
    namespace = found["Namespace"]["metadata"]
    assert namespace["name"] == f"clearinghouse-{agency}"
    assert namespace["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"
    for kind, obj in found.items():
        if kind != "Namespace":
            assert obj["metadata"]["namespace"] == namespace["name"], kind


@pytest.mark.parametrize("agency", AGENCIES)
def test_two_replicas_with_a_disruption_budget_and_a_service(agency: str) -> None:
    found = objects(agency)
    deployment = found["Deployment"]
    assert deployment["spec"]["replicas"] == 2
    labels = pod(agency)["metadata"]["labels"]
    selector = deployment["spec"]["selector"]["matchLabels"]
    assert selector.items() <= labels.items()
    budget = found["PodDisruptionBudget"]["spec"]
    assert budget["minAvailable"] == 1 and budget["selector"]["matchLabels"] == selector
    service = found["Service"]["spec"]
    assert service["selector"] == selector
    (port,) = service["ports"]
    named = {p["name"]: p["containerPort"] for p in container(agency)["ports"]}
    assert port["targetPort"] in named


@pytest.mark.parametrize("agency", AGENCIES)
def test_probes_and_resources(agency: str) -> None:
    node = container(agency)
    assert node["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert node["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert node["startupProbe"]["httpGet"]["path"] == "/healthz"
    for section in ("requests", "limits"):
        assert {"cpu", "memory"} <= set(node["resources"][section]), section


@pytest.mark.parametrize("agency", AGENCIES)
def test_pod_is_locked_down(agency: str) -> None:
    spec = pod(agency)["spec"]
    assert spec["automountServiceAccountToken"] is False
    assert spec["enableServiceLinks"] is False, "CLEARINGHOUSE_PORT=tcp://… would be injected"
    pod_security = spec["securityContext"]
    assert pod_security["runAsNonRoot"] is True and pod_security["runAsUser"] == NODE_UID
    assert pod_security["seccompProfile"]["type"] == "RuntimeDefault"
    security = container(agency)["securityContext"]
    assert security["runAsNonRoot"] is True and security["runAsUser"] == NODE_UID
    assert security["readOnlyRootFilesystem"] is True
    assert security["allowPrivilegeEscalation"] is False
    assert security["capabilities"]["drop"] == ["ALL"]
    assert security["seccompProfile"]["type"] == "RuntimeDefault"
    volumes = {v["name"]: v for v in spec["volumes"]}
    mounts = {m["mountPath"]: m for m in container(agency)["volumeMounts"]}
    assert "emptyDir" in volumes[mounts["/tmp"]["name"]]


@pytest.mark.parametrize("agency", AGENCIES)
def test_settings_secrets_and_files(
    agency: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    settings = objects(agency)["ConfigMap"]["data"]
    assert settings["CLEARINGHOUSE_PARTICIPANT"] == agency
    node = container(agency)
    config_map = objects(agency)["ConfigMap"]["metadata"]["name"]
    assert node["envFrom"] == [{"configMapRef": {"name": config_map}}]
    assert "env" not in node, "a secret is a file on a Secret volume, never a variable"
    secret_files = {k for k in settings if SECRETISH.search(k)}
    assert secret_files == set(SECRETS), "the ConfigMap names secret files, holds no secret"

    # Files named by the settings are on read-only Secret or ConfigMap volumes; secret
    # files are 0440 (group read for the pod's fsGroup), which the node accepts.
    volumes = {v["name"]: v for v in pod(agency)["spec"]["volumes"]}
    sources = {}
    for mount in node["volumeMounts"]:
        volume = volumes[mount["name"]]
        if "secret" in volume or "configMap" in volume:
            assert mount["readOnly"] is True
            sources[PurePosixPath(mount["mountPath"])] = "secret" if "secret" in volume else "cm"
        if "secret" in volume:
            assert volume["secret"]["defaultMode"] == 0o440, mount["name"]
    for name in ("KEY_FILE", "PSEUDONYM_KEY_FILE", "MANIFEST_FILE", *SECRETS):
        path = PurePosixPath(settings[name if name in SECRETS else f"CLEARINGHOUSE_{name}"])
        (kind,) = [k for mount, k in sources.items() if path.is_relative_to(mount)]
        assert kind == ("cm" if name == "MANIFEST_FILE" else "secret"), name

    # The settings load as the node loads them, each secret a file where the pod mounts
    # it, as `kubectl create secret generic --from-file` makes it (with a final newline).
    for name in list(os.environ):
        if name.startswith("CLEARINGHOUSE_"):
            monkeypatch.delenv(name)
    for name, value in settings.items():
        path = name.removeprefix("CLEARINGHOUSE_").lower().split("__")
        assert path[0] in Settings.model_fields or file_target(Settings, path), name
        if name in SECRETS:
            local = tmp_path / PurePosixPath(value).relative_to("/")
            local.parent.mkdir(parents=True, exist_ok=True)
            local.write_text(SECRETS[name] + "\n")
            local.chmod(0o440)
            value = str(local)
        monkeypatch.setenv(name, value)
    loaded = load_settings()
    assert loaded.participant == agency and loaded.tokens[0].role == "admin"
    assert make_url(loaded.database_url).password == "pa:ss@word/1"
    assert loaded.host == "0.0.0.0" and loaded.port == node["ports"][0]["containerPort"]


def test_all_participants_run_the_same_image() -> None:
    images = {container(agency)["image"] for agency in AGENCIES}
    assert len(images) == 1 and re.fullmatch(r"[\w./-]+:[\w.-]+", images.pop())
