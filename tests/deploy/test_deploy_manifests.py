"""Kubernetes manifests, offline: each overlay renders with kustomize, every document
validates strictly against the Kubernetes schemas, and the rules that keep the cluster
correct hold (probes, limits, non-root, one relay, the 14:30 recon, no secrets, network).

Service names, packages and ports come from the launcher's cluster table, so the
manifests are checked against the same facts the local run uses.
"""

from __future__ import annotations

import copy
import functools
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import kubernetes_validate.utils as kv
import pytest
import yaml

from otd_launcher.cluster import cluster_services
from otd_shared.events.topics import PARTITIONS_PER_TOPIC
from payment_gateway.adapters.channels.keys import expected_key_mounts

REPO_ROOT = Path(__file__).resolve().parents[2]
OVERLAYS = {"dev": "otd-pay-dev", "prod": "otd-pay"}
# Oldest Kubernetes we support (CronJob timeZone, matchLabelKeys) and the newest schema.
K8S_VERSIONS = ("1.29", kv.major_minor(kv.latest_version()))
KUBECTL_TIMEOUT_S = 120
CLUSTER = cluster_services(REPO_ROOT)
DOMAIN = [s for s in CLUSTER if s.schema]
DOMAIN_NAMES = [s.name for s in DOMAIN]
PORTS = {s.name: s.default_port for s in CLUSTER}
LONG_RUNNING_ROLES = ("api", "relay", "consumer")
OPEN_INGRESS_COMPONENTS = {"api", "web"}  # service apis and the finance console
NAMESPACED_KINDS = {
    "ConfigMap",
    "CronJob",
    "Deployment",
    "HorizontalPodAutoscaler",
    "Job",
    "NetworkPolicy",
    "PodDisruptionBudget",
    "Service",
}

Doc = dict[str, Any]


def _kubectl() -> str:
    found = shutil.which("kubectl") or (
        "/usr/bin/kubectl" if Path("/usr/bin/kubectl").exists() else None
    )
    if found is None:
        pytest.fail(
            "kubectl is not installed: these tests render the overlays with "
            "`kubectl kustomize` (kubectl ships kustomize). Install kubectl and re-run.",
            pytrace=False,
        )
    return found


@functools.cache
def _render(overlay: str) -> tuple[Doc, ...]:
    result = subprocess.run(  # noqa: S603  (fixed arguments, our own overlay directory)
        [_kubectl(), "kustomize", str(REPO_ROOT / "deploy" / "k8s" / "overlays" / overlay)],
        capture_output=True,
        text=True,
        timeout=KUBECTL_TIMEOUT_S,
        check=False,
    )
    if result.returncode != 0:
        pytest.fail(f"kubectl kustomize {overlay} failed:\n{result.stderr}", pytrace=False)
    return tuple(doc for doc in yaml.safe_load_all(result.stdout) if doc)


@pytest.fixture(params=sorted(OVERLAYS), ids=lambda name: f"overlay={name}")
def overlay(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def docs(overlay: str) -> tuple[Doc, ...]:
    return _render(overlay)


def _of_kind(docs: tuple[Doc, ...], kind: str) -> dict[str, Doc]:
    return {d["metadata"]["name"]: d for d in docs if d["kind"] == kind}


def _pod_template(doc: Doc) -> Doc:
    owner = doc["spec"]["jobTemplate"] if doc["kind"] == "CronJob" else doc
    template: Doc = owner["spec"]["template"]
    return template


def _pod_spec(doc: Doc) -> Doc:
    spec: Doc = _pod_template(doc)["spec"]
    return spec


def _pod_labels(doc: Doc) -> dict[str, str]:
    labels: dict[str, str] = _pod_template(doc)["metadata"]["labels"]
    return labels


def _workloads(docs: tuple[Doc, ...]) -> Iterator[Doc]:
    yield from (d for d in docs if d["kind"] in {"Deployment", "Job", "CronJob"})


def _containers(doc: Doc) -> list[Doc]:
    spec = _pod_spec(doc)
    return [*spec.get("initContainers", []), *spec["containers"]]


def _selects(selector: Doc, labels: dict[str, str]) -> bool:
    assert "matchExpressions" not in selector, "tests only understand matchLabels selectors"
    return all(labels.get(k) == v for k, v in selector.get("matchLabels", {}).items())


def _env(container: Doc) -> dict[str, Doc]:
    return {e["name"]: e for e in container.get("env", [])}


def _role_deployment(docs: tuple[Doc, ...], service: str, role: str) -> Doc:
    deployments = _of_kind(docs, "Deployment")
    name = f"{service}-{role}"
    assert name in deployments, f"Deployment {name} is missing"
    return deployments[name]


# --------------------------------------------------------------------------- schema


@pytest.mark.parametrize("version", K8S_VERSIONS)
def test_every_document_validates_strictly(docs: tuple[Doc, ...], version: str) -> None:
    errors = []
    for doc in docs:
        where = f"{doc['kind']}/{doc['metadata']['name']}"
        try:
            kv.validate(doc, version, strict=True)
        except kv.ValidationError as exc:
            path = ".".join(str(p) for p in exc.path)
            errors.append(f"{where}: {path}: {exc.message}")
        except kv.SchemaNotFoundError as exc:
            errors.append(f"{where}: {exc.message}")
    assert not errors, "\n".join(errors)


def test_strict_validation_rejects_a_misspelled_field(docs: tuple[Doc, ...]) -> None:
    deployment = copy.deepcopy(next(d for d in docs if d["kind"] == "Deployment"))
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    container["livenesProbe"] = container.pop("livenessProbe")
    with pytest.raises(kv.ValidationError, match="livenesProbe"):
        kv.validate(deployment, K8S_VERSIONS[-1], strict=True)


def test_namespace_is_set_and_restricted(overlay: str, docs: tuple[Doc, ...]) -> None:
    expected = OVERLAYS[overlay]
    namespaces = _of_kind(docs, "Namespace")
    assert list(namespaces) == [expected]
    labels = namespaces[expected]["metadata"]["labels"]
    assert labels["pod-security.kubernetes.io/enforce"] == "restricted"
    for doc in docs:
        if doc["kind"] in NAMESPACED_KINDS:
            assert doc["metadata"].get("namespace") == expected, doc["metadata"]["name"]


def test_every_object_is_labelled_part_of_otd_pay(docs: tuple[Doc, ...]) -> None:
    """The phased rollout in deploy/README.md selects on this label."""
    for doc in docs:
        labels = doc["metadata"].get("labels", {})
        assert labels.get("app.kubernetes.io/part-of") == "otd-pay", doc["metadata"]["name"]


# --------------------------------------------------------------------------- shape


def test_each_domain_service_has_its_processes(docs: tuple[Doc, ...]) -> None:
    jobs = _of_kind(docs, "Job")
    for service in DOMAIN_NAMES:
        for role in LONG_RUNNING_ROLES:
            deployment = _role_deployment(docs, service, role)
            (container,) = deployment["spec"]["template"]["spec"]["containers"]
            assert container["args"] == [role], f"{service}-{role}"
        migrate = jobs[f"{service}-migrate"]
        assert _containers(migrate)[0]["args"] == ["migrate"]
        assert _pod_spec(migrate)["restartPolicy"] == "Never"


def test_images_are_pinned_and_name_no_registry(overlay: str, docs: tuple[Doc, ...]) -> None:
    for workload in _workloads(docs):
        for container in _containers(workload):
            image = container["image"]
            name, _, tag = image.rpartition(":")
            first = image.split("/", 1)[0]
            where = f"{workload['metadata']['name']}: {image}"
            assert "/" in image, where
            assert "." not in first, f"registry host in {where}"
            assert ":" not in first, f"registry host in {where}"
            assert first != "localhost", f"registry host in {where}"
            assert name.startswith("otd-pay/"), where
            assert tag, f"untagged image (means :latest) in {where}"
            assert "/" not in tag, f"untagged image (means :latest) in {where}"
            assert tag != "latest", where
            if overlay == "prod":
                assert tag != "dev", f"prod runs a dev image: {where}"


def test_each_process_runs_its_own_service_image(docs: tuple[Doc, ...]) -> None:
    for service in DOMAIN_NAMES:
        for role in LONG_RUNNING_ROLES:
            image = _containers(_role_deployment(docs, service, role))[0]["image"]
            assert image.split(":")[0] == f"otd-pay/{service}", f"{service}-{role}: {image}"
    crons = _of_kind(docs, "CronJob")
    for name, owner in CRONJOB_OWNERS.items():
        assert _containers(crons[name])[0]["image"].split(":")[0] == f"otd-pay/{owner}"


# --------------------------------------------------------------------------- pods


def test_workloads_run_non_root_read_only_without_capabilities(docs: tuple[Doc, ...]) -> None:
    for workload in _workloads(docs):
        where = workload["metadata"]["name"]
        pod = _pod_spec(workload)
        pod_security = pod.get("securityContext", {})
        assert pod_security.get("runAsNonRoot") is True, where
        assert pod_security.get("runAsUser", 0) != 0, where
        assert pod_security.get("seccompProfile", {}).get("type") == "RuntimeDefault", where
        assert pod.get("automountServiceAccountToken") is False, where
        for container in _containers(workload):
            security = container.get("securityContext", {})
            assert security.get("allowPrivilegeEscalation") is False, where
            assert security.get("readOnlyRootFilesystem") is True, where
            assert security.get("capabilities", {}).get("drop") == ["ALL"], where
            assert "privileged" not in security, where


def test_workloads_have_requests_and_limits(docs: tuple[Doc, ...]) -> None:
    for workload in _workloads(docs):
        for container in _containers(workload):
            resources = container.get("resources", {})
            for bound in ("requests", "limits"):
                for resource in ("cpu", "memory"):
                    assert resource in resources.get(bound, {}), (
                        f"{workload['metadata']['name']}: no {bound}.{resource}"
                    )


def test_deployments_probe_healthz_and_readyz_on_their_port(docs: tuple[Doc, ...]) -> None:
    for name, deployment in _of_kind(docs, "Deployment").items():
        (container,) = deployment["spec"]["template"]["spec"]["containers"]
        ports = {p["name"]: p["containerPort"] for p in container.get("ports", [])}
        assert "http" in ports, f"{name}: no port named http"
        assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
        assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
        assert _env(container)["PORT"]["value"] == str(ports["http"]), name
        service = deployment["metadata"]["labels"]["app.kubernetes.io/name"]
        assert ports["http"] == PORTS[service], f"{name}: port differs from the README's table"


def test_pods_are_annotated_for_prometheus(docs: tuple[Doc, ...]) -> None:
    for name, deployment in _of_kind(docs, "Deployment").items():
        annotations = deployment["spec"]["template"]["metadata"].get("annotations", {})
        (container,) = deployment["spec"]["template"]["spec"]["containers"]
        port = container["ports"][0]["containerPort"]
        assert annotations.get("prometheus.io/scrape") == "true", name
        assert annotations.get("prometheus.io/path") == "/metrics", name
        assert annotations.get("prometheus.io/port") == str(port), name


# --------------------------------------------------------------------------- scaling


def test_relay_is_a_single_replica_replaced_not_rolled(docs: tuple[Doc, ...]) -> None:
    hpa_targets = {
        h["spec"]["scaleTargetRef"]["name"]
        for h in _of_kind(docs, "HorizontalPodAutoscaler").values()
    }
    pdbs = list(_of_kind(docs, "PodDisruptionBudget").values())
    for service in DOMAIN_NAMES:
        relay = _role_deployment(docs, service, "relay")
        assert relay["spec"]["replicas"] == 1, service
        assert relay["spec"]["strategy"]["type"] == "Recreate", service
        assert relay["metadata"]["name"] not in hpa_targets, f"{service}: relay autoscaled"
        labels = _pod_labels(relay)
        assert not [p for p in pdbs if _selects(p["spec"]["selector"], labels)], service


def test_api_and_consumer_autoscale(docs: tuple[Doc, ...]) -> None:
    hpas = _of_kind(docs, "HorizontalPodAutoscaler")
    deployments = _of_kind(docs, "Deployment")
    for service in DOMAIN_NAMES:
        for role in ("api", "consumer"):
            name = f"{service}-{role}"
            hpa = hpas[name]
            assert hpa["apiVersion"] == "autoscaling/v2"
            target = hpa["spec"]["scaleTargetRef"]
            assert (target["kind"], target["name"]) == ("Deployment", name)
            assert name in deployments
            assert "replicas" not in deployments[name]["spec"], f"{name}: HPA owns replicas"
            assert 1 <= hpa["spec"]["minReplicas"] <= hpa["spec"]["maxReplicas"], name
            assert hpa["spec"]["metrics"], name
        consumer_max = hpas[f"{service}-consumer"]["spec"]["maxReplicas"]
        assert consumer_max <= PARTITIONS_PER_TOPIC, f"{service}: more consumers than partitions"


def test_prod_keeps_at_least_three_api_pods(docs: tuple[Doc, ...], overlay: str) -> None:
    hpas = _of_kind(docs, "HorizontalPodAutoscaler")
    minimum = 3 if overlay == "prod" else 1
    for service in DOMAIN_NAMES:
        assert hpas[f"{service}-api"]["spec"]["minReplicas"] >= minimum, service


def test_each_api_has_a_disruption_budget_of_its_own(docs: tuple[Doc, ...]) -> None:
    pdbs = _of_kind(docs, "PodDisruptionBudget")
    templates = {d["metadata"]["name"]: _pod_labels(d) for d in _workloads(docs)}
    for service in DOMAIN_NAMES:
        pdb = pdbs[f"{service}-api"]
        assert pdb["apiVersion"] == "policy/v1"
        selected = {
            n for n, labels in templates.items() if _selects(pdb["spec"]["selector"], labels)
        }
        assert selected == {f"{service}-api"}, f"{service}: PDB selects {selected}"


def test_each_api_has_a_service_selecting_only_its_pods(docs: tuple[Doc, ...]) -> None:
    services = _of_kind(docs, "Service")
    templates = {d["metadata"]["name"]: _pod_labels(d) for d in _workloads(docs)}
    api_deployments = [
        n
        for n, d in _of_kind(docs, "Deployment").items()
        if d["spec"]["template"]["metadata"]["labels"]["app.kubernetes.io/component"]
        in OPEN_INGRESS_COMPONENTS
    ]
    assert len(api_deployments) == len(DOMAIN) + 1  # + finance console
    for deployment in api_deployments:
        matching = [
            s
            for s in services.values()
            if _selects({"matchLabels": s["spec"]["selector"]}, templates[deployment])
        ]
        assert len(matching) == 1, f"{deployment}: {len(matching)} Services"
        (service,) = matching
        selected = {
            n
            for n, labels in templates.items()
            if _selects({"matchLabels": service["spec"]["selector"]}, labels)
        }
        assert selected == {deployment}, f"Service {service['metadata']['name']} selects {selected}"
        (port,) = service["spec"]["ports"]
        assert port["targetPort"] == "http"
        owner = templates[deployment]["app.kubernetes.io/name"]
        assert port["port"] == PORTS[owner], deployment


# --------------------------------------------------------------------------- recon


CRONJOB_OWNERS = {
    "recon-service-recon-daily": "recon-service",
    "ledger-service-sap-post": "ledger-service",
    **{f"{service}-retention": service for service in DOMAIN_NAMES},
}


def test_the_daily_jobs_are_recon_sap_and_a_retention_per_service(docs: tuple[Doc, ...]) -> None:
    assert sorted(_of_kind(docs, "CronJob")) == sorted(CRONJOB_OWNERS)


def test_retention_runs_nightly_per_service_on_its_own_database(docs: tuple[Doc, ...]) -> None:
    cronjobs = _of_kind(docs, "CronJob")
    for service in DOMAIN_NAMES:
        job = cronjobs[f"{service}-retention"]
        assert job["spec"]["timeZone"] == "Asia/Shanghai"
        assert job["spec"]["concurrencyPolicy"] == "Forbid"
        hour = int(job["spec"]["schedule"].split()[1])
        assert 1 <= hour <= 6, "retention runs in the night, off peak and before recon"
        (container,) = _containers(job)
        assert container["args"] == ["retention"]
        ref = _env(container)["DATABASE_URL"]["valueFrom"]["secretKeyRef"]
        assert ref == {"name": f"{service}-db", "key": "DATABASE_URL"}


def test_sap_posting_runs_daily_after_recon_without_overlap(docs: tuple[Doc, ...]) -> None:
    spec = _of_kind(docs, "CronJob")["ledger-service-sap-post"]["spec"]
    assert spec["schedule"] == "0 16 * * *"  # after the 14:30 reconciliation
    assert spec["timeZone"] == "Asia/Shanghai"
    assert spec["concurrencyPolicy"] == "Forbid"
    (container,) = spec["jobTemplate"]["spec"]["template"]["spec"]["containers"]
    assert container["args"] == ["sap-post"]
    env = _env(container)
    assert env["SAP_CONNECTOR"]["value"] == "http"
    assert env["SAP_HTTP_URL"]["valueFrom"]["secretKeyRef"]["name"] == "ledger-service-sap"
    database = env["DATABASE_URL"]["valueFrom"]["secretKeyRef"]
    assert database == {"name": "ledger-service-db", "key": "DATABASE_URL"}


def test_recon_runs_daily_at_1430_shanghai_without_overlap(docs: tuple[Doc, ...]) -> None:
    cronjobs = _of_kind(docs, "CronJob")
    spec = cronjobs["recon-service-recon-daily"]["spec"]
    assert spec["schedule"] == "30 14 * * *"
    assert spec["timeZone"] == "Asia/Shanghai"
    assert spec["concurrencyPolicy"] == "Forbid"
    pod = spec["jobTemplate"]["spec"]["template"]["spec"]
    assert pod["restartPolicy"] == "Never"
    (container,) = pod["containers"]
    assert container["args"] == ["recon-daily"]
    database = _env(container)["DATABASE_URL"]["valueFrom"]["secretKeyRef"]
    assert database == {"name": "recon-service-db", "key": "DATABASE_URL"}


# --------------------------------------------------------------------------- secrets


def test_no_secret_values_in_manifests(docs: tuple[Doc, ...]) -> None:
    assert not _of_kind(docs, "Secret"), "Secrets are created outside the repository"
    for config in _of_kind(docs, "ConfigMap").values():
        text = yaml.safe_dump(config.get("data", {})).lower()
        for marker in ("password", "postgresql", 'token":', "private key"):
            assert marker not in text, f"{config['metadata']['name']} holds {marker!r}"
    for workload in _workloads(docs):
        for container in _containers(workload):
            env = _env(container)
            assert "value" not in env.get("DATABASE_URL", {}), workload["metadata"]["name"]
            assert "AUTH_TOKENS_JSON" not in env


def test_database_url_comes_from_the_services_own_secret(docs: tuple[Doc, ...]) -> None:
    for service in DOMAIN_NAMES:
        workloads = [
            *(_role_deployment(docs, service, r) for r in LONG_RUNNING_ROLES),
            _of_kind(docs, "Job")[f"{service}-migrate"],
        ]
        for workload in workloads:
            ref = _env(_containers(workload)[0])["DATABASE_URL"]["valueFrom"]["secretKeyRef"]
            assert ref == {"name": f"{service}-db", "key": "DATABASE_URL"}, workload["metadata"][
                "name"
            ]


def _secret_mounts(workload: Doc) -> dict[str, str]:
    """mountPath -> secret name, for the first container."""
    volumes = {v["name"]: v for v in _pod_spec(workload).get("volumes", [])}
    mounts = {}
    for mount in _containers(workload)[0].get("volumeMounts", []):
        secret = volumes[mount["name"]].get("secret")
        if secret is not None:
            assert mount.get("readOnly") is True, mount
            mounts[mount["mountPath"]] = secret["secretName"]
    return mounts


def test_auth_tokens_file_is_mounted_from_a_secret(docs: tuple[Doc, ...]) -> None:
    for name, deployment in _of_kind(docs, "Deployment").items():
        env = _env(_containers(deployment)[0])
        component = deployment["metadata"]["labels"]["app.kubernetes.io/component"]
        if component not in OPEN_INGRESS_COMPONENTS:
            assert "AUTH_TOKENS_FILE" not in env, f"{name} does not serve requests"
            continue
        path = Path(env["AUTH_TOKENS_FILE"]["value"])
        assert _secret_mounts(deployment).get(str(path.parent)) == "otd-pay-auth-tokens", name


@pytest.mark.parametrize("role", ["api", "consumer"])
def test_payment_gateway_reads_channel_keys_from_secrets(docs: tuple[Doc, ...], role: str) -> None:
    deployment = _role_deployment(docs, "payment-gateway", role)
    keys_dir = _env(_containers(deployment)[0])["KEYS_DIR"]["value"]
    mounts = _secret_mounts(deployment)
    key_mounts = {path: secret for path, secret in mounts.items() if path.startswith(keys_dir)}
    assert key_mounts == expected_key_mounts(keys_dir)  # one per keyed channel of the registry


def test_config_maps_referenced_exist(docs: tuple[Doc, ...]) -> None:
    config_maps = set(_of_kind(docs, "ConfigMap"))
    for workload in _workloads(docs):
        pod = _pod_spec(workload)
        refs = [v["configMap"]["name"] for v in pod.get("volumes", []) if "configMap" in v]
        for container in _containers(workload):
            refs += [
                e["configMapRef"]["name"]
                for e in container.get("envFrom", [])
                if "configMapRef" in e
            ]
        assert refs, f"{workload['metadata']['name']} reads no settings"
        assert set(refs) <= config_maps, workload["metadata"]["name"]


def test_settings_enable_idempotence_and_bind_all_interfaces(docs: tuple[Doc, ...]) -> None:
    (config,) = [
        c for n, c in _of_kind(docs, "ConfigMap").items() if n.startswith("otd-pay-config-")
    ]
    data = config["data"]
    assert data["KAFKA_ENABLE_IDEMPOTENCE"] == "true"
    assert data["HOST"] == "0.0.0.0"
    assert data["KAFKA_BOOTSTRAP_SERVERS"]


# --------------------------------------------------------------------------- network


def test_only_api_and_console_pods_accept_ingress(docs: tuple[Doc, ...]) -> None:
    policies = list(_of_kind(docs, "NetworkPolicy").values())
    default_deny = [
        p
        for p in policies
        if p["spec"]["podSelector"] == {}
        and p["spec"]["policyTypes"] == ["Ingress"]
        and not p["spec"].get("ingress")
    ]
    assert default_deny, "no default-deny ingress policy"
    templates = {d["metadata"]["name"]: _pod_labels(d) for d in _workloads(docs)}
    open_to_all = set()
    for policy in policies:
        for rule in policy["spec"].get("ingress", []):
            assert rule.get("ports"), f"{policy['metadata']['name']}: rule opens every port"
            if not rule.get("from"):
                selector = policy["spec"]["podSelector"]
                open_to_all |= {n for n, labels in templates.items() if _selects(selector, labels)}
    expected = {
        n
        for n, labels in templates.items()
        if labels.get("app.kubernetes.io/component") in OPEN_INGRESS_COMPONENTS
    }
    assert open_to_all == expected
    for service in DOMAIN_NAMES:
        assert f"{service}-relay" not in open_to_all
        assert f"{service}-consumer" not in open_to_all
