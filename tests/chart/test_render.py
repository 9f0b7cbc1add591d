"""Must show 1: Helm's own engine renders the chart for every values file in charts/stormscope/ci;
Helm's lint finds no errors; every object is valid Kubernetes (kubernetes-validate --strict);
the output is yamllint-clean; values.schema.json refuses wrong types and unknown keys."""

from __future__ import annotations

import json
import re
import subprocess

import helm_python as helm
import jsonschema
import kubernetes_validate
import pytest
from yamllint import linter
from yamllint.config import YamlLintConfig

from conftest import CHART, CI_VALUES, REPO, find, objects, render, stormscope_bin, values_of

KUBERNETES = kubernetes_validate.latest_version()

# yamllint's defaults, with every finding an error and lines up to 160 characters (image
# references and memcached server lists are long, and cannot be folded).
YAMLLINT = YamlLintConfig("""
extends: default
rules:
  line-length: {max: 160, level: error}
  document-start: disable
  comments: {level: error, min-spaces-from-content: 1}
  comments-indentation: {level: error}
  truthy: {level: error}
  # toYaml writes sequences unindented, kubectl and Helm write them indented: both are YAML.
  indentation: {spaces: consistent, indent-sequences: whatever}
""")

# kubernetes-validate has schemas for Kubernetes' own kinds only. The Prometheus Operator's
# kinds are checked against these structural schemas instead (written from the operator's
# documented fields), and their expressions against the binary's metrics in test_deploy.py.
RULE = {
    "type": "object",
    "additionalProperties": False,
    "required": ["expr"],
    "oneOf": [{"required": ["alert"]}, {"required": ["record"]}],
    "properties": {
        "alert": {"type": "string", "pattern": "^[A-Za-z_][A-Za-z0-9_]*$"},
        "record": {"type": "string"},
        "expr": {"type": "string", "minLength": 1},
        "for": {"type": "string", "pattern": "^([0-9]+(ms|s|m|h|d|w|y))+$"},
        "labels": {"type": "object", "additionalProperties": {"type": "string"}},
        "annotations": {"type": "object", "additionalProperties": {"type": "string"}},
    },
}
METADATA = {
    "type": "object",
    "required": ["name"],
    "properties": {"name": {"type": "string", "pattern": "^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"},
                   "labels": {"type": "object", "additionalProperties": {"type": "string"}}},
}
MONITORING = {
    "PrometheusRule": {
        "type": "object",
        "additionalProperties": False,
        "required": ["apiVersion", "kind", "metadata", "spec"],
        "properties": {
            "apiVersion": {"const": "monitoring.coreos.com/v1"},
            "kind": {"const": "PrometheusRule"},
            "metadata": METADATA,
            "spec": {
                "type": "object",
                "additionalProperties": False,
                "required": ["groups"],
                "properties": {"groups": {"type": "array", "minItems": 1, "items": {
                    "type": "object",
                    "additionalProperties": False,
                    "required": ["name", "rules"],
                    "properties": {"name": {"type": "string"}, "interval": {"type": "string"},
                                   "rules": {"type": "array", "minItems": 1, "items": RULE}},
                }}},
            },
        },
    },
    "ServiceMonitor": {
        "type": "object",
        "additionalProperties": False,
        "required": ["apiVersion", "kind", "metadata", "spec"],
        "properties": {
            "apiVersion": {"const": "monitoring.coreos.com/v1"},
            "kind": {"const": "ServiceMonitor"},
            "metadata": METADATA,
            "spec": {
                "type": "object",
                "additionalProperties": False,
                "required": ["selector", "endpoints"],
                "properties": {
                    "selector": {"type": "object", "additionalProperties": False, "properties": {
                        "matchLabels": {"type": "object",
                                        "additionalProperties": {"type": "string"}}}},
                    "endpoints": {"type": "array", "minItems": 1, "items": {
                        "type": "object",
                        "additionalProperties": False,
                        "required": ["port"],
                        "properties": {"port": {"type": "string"}, "path": {"type": "string"},
                                       "interval": {"type": "string"},
                                       "scrapeTimeout": {"type": "string"}},
                    }},
                },
            },
        },
    },
}


@pytest.fixture(scope="module", params=CI_VALUES, ids=lambda p: p.stem)
def rendered(request):
    values = values_of(request.param)
    return request.param, values, render(values)


def test_helm_lint_finds_no_errors(rendered):
    _, values, _ = rendered
    report = helm.lint(str(CHART), values, strict=True, namespace="scope")
    assert report["errors"] == []
    problems = [m for m in report["messages"] if m["severity"] >= 2]
    assert problems == [], problems


def test_every_object_is_valid_kubernetes(rendered):
    _, _, out = rendered
    objs = objects(out)
    assert objs
    checked = 0
    for obj in objs:
        name = f"{obj['kind']}/{obj['metadata']['name']}"
        if obj["apiVersion"].startswith("monitoring.coreos.com/"):
            jsonschema.validate(obj, MONITORING[obj["kind"]])
            continue
        try:
            kubernetes_validate.validate(obj, KUBERNETES, strict=True)
        except kubernetes_validate.ValidationError as e:
            pytest.fail(f"{name} is not valid Kubernetes {KUBERNETES}: {e.message} at {list(e.path)}")
        checked += 1
    assert checked >= 8


def helm_template_stream(out: dict[str, str]) -> str:
    """The rendering as `helm template` prints it: each non-empty template after a `---` and a
    `# Source:` line."""
    parts = []
    for path, text in sorted(out.items()):
        if path.endswith("NOTES.txt") or not text.strip():
            continue
        parts.append(f"---\n# Source: {path}\n{text.rstrip()}\n")
    return "".join(parts)


def test_rendered_output_is_yamllint_clean(rendered):
    _, _, out = rendered
    stream = helm_template_stream(out)
    problems = list(linter.run(stream, YAMLLINT))
    lines = stream.split("\n")
    assert problems == [], "; ".join(
        f"line {p.line}: {p.desc} ({p.rule}): {lines[p.line - 1]!r}" for p in problems)


def test_schema_refuses_wrong_types_and_unknown_keys():
    chart = helm.Chart.load(str(CHART))
    chart.validate_schema({"collector": {"replicas": 3}})
    for bad in (
        {"collector": {"replicas": "three"}},
        {"memcached": {"itemSizeMiB": "1m"}},
        {"tenancy": {"mode": "sometimes"}},
        {"collector": {"flushInterval": "soon"}},
    ):
        with pytest.raises(helm.HelmValuesError):
            chart.validate_schema(bad)
    for unknown in ({"colector": {}}, {"collector": {"replica": 3}},
                    {"objectStore": {"s3": {"password": "x"}}}):
        with pytest.raises(helm.HelmValuesError, match="additional|not allowed|unexpected"):
            chart.validate_schema(unknown)
    # And Helm's render refuses them as an install would.
    with pytest.raises(helm.HelmError):
        chart.render({"app": {"replicas": "two"}}, name="rel", namespace="scope")


def container(obj: dict) -> dict:
    return obj["spec"]["template"]["spec"]["containers"][0]


def env_of(c: dict) -> dict:
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in c.get("env", [])}


def test_defaults_keep_the_spool_on_a_volume_claim_with_health_checks_and_tight_security():
    objs = objects(render({}))
    (sts,) = find(objs, "StatefulSet", "collector")
    (deploy,) = find(objs, "Deployment", "app")
    assert [t["metadata"]["name"] for t in sts["spec"]["volumeClaimTemplates"]] == ["spool"]
    assert not any(v["name"] == "spool" for v in sts["spec"]["template"]["spec"]["volumes"])
    for workload in (sts, deploy):
        c = container(workload)
        assert c["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
        assert c["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
        assert c["resources"]["requests"] and c["resources"]["limits"]
        sc = c["securityContext"]
        assert sc["runAsNonRoot"] and sc["readOnlyRootFilesystem"]
        assert sc["allowPrivilegeEscalation"] is False and sc["capabilities"]["drop"] == ["ALL"]
    assert len(find(objs, "PodDisruptionBudget")) == 3
    assert not find(objs, "Ingress") and not find(objs, "DaemonSet") and not find(objs, "NetworkPolicy")


def test_one_item_size_sets_memcached_and_its_clients():
    objs = objects(render(values_of(CHART / "ci" / "scaled-values.yaml")))
    (sts,) = find(objs, "StatefulSet", "collector")
    (deploy,) = find(objs, "Deployment", "app")
    (mc,) = find(objs, "StatefulSet", "memcached")
    assert (sts["spec"]["replicas"], deploy["spec"]["replicas"], mc["spec"]["replicas"]) == (3, 2, 2)
    args = container(mc)["args"]
    assert args[args.index("-I") + 1] == "2m"
    for workload in (sts, deploy):
        env = env_of(container(workload))
        assert env["STORMSCOPE_MEMCACHED_ITEM_SIZE"] == "2MiB"
        assert len(env["STORMSCOPE_MEMCACHED"].split(",")) == 2


def test_existing_secrets_are_referenced_and_none_is_created():
    objs = objects(render(values_of(CHART / "ci" / "existing-secret-token-values.yaml")))
    assert not find(objs, "Secret")
    (sts,) = find(objs, "StatefulSet", "collector")
    env = env_of(container(sts))
    assert env["AWS_SECRET_ACCESS_KEY"] == {
        "secretKeyRef": {"name": "scope-s3-credentials", "key": "secret-key"}}
    assert env["STORMSCOPE_TENANCY"] == "token"
    tokens = next(v for v in sts["spec"]["template"]["spec"]["volumes"] if v["name"] == "tokens")
    assert tokens["secret"]["secretName"] == "scope-probe-tokens"
    assert tokens["secret"]["items"] == [{"key": "tokens.txt", "path": "tokens"}]
    mount = next(m for m in container(sts)["volumeMounts"] if m["name"] == "tokens")
    assert env["STORMSCOPE_TOKENS_FILE"].startswith(mount["mountPath"] + "/")
    assert env["STORMSCOPE_MEMCACHED"] == "memcached-0.cache.svc:11211,memcached-1.cache.svc:11211"
    assert not find(objs, "StatefulSet", "memcached")
    (probe,) = find(objs, "DaemonSet", "probe")
    assert env_of(container(probe))["STORMSCOPE_PROBE_TOKEN"] == {
        "secretKeyRef": {"name": "scope-probe-token", "key": "token"}}


def test_optional_parts_route_restrict_and_alert():
    objs = objects(render(values_of(CHART / "ci" / "full-values.yaml")))
    (ingress,) = find(objs, "Ingress")
    paths = {(p["path"], p["pathType"]): p["backend"]["service"]["name"]
             for p in ingress["spec"]["rules"][0]["http"]["paths"]}
    assert paths == {("/api/report", "Exact"): "rel-stormscope-collector",
                     ("/api", "Exact"): "rel-stormscope-collector",
                     ("/", "Prefix"): "rel-stormscope-app"}
    (probe,) = find(objs, "DaemonSet", "probe")
    pod = probe["spec"]["template"]["spec"]
    assert pod["hostNetwork"] and pod["hostPID"] and container(probe)["args"] == ["probe"]
    (app_policy,) = [p for p in find(objs, "NetworkPolicy", "app")]
    (rule,) = app_policy["spec"]["ingress"]
    assert rule["from"][0]["podSelector"]["matchLabels"] == {"app.kubernetes.io/name": "ingress-nginx"}
    assert len(find(objs, "HorizontalPodAutoscaler")) == 2
    assert find(objs, "ServiceMonitor")
    (rules,) = find(objs, "PrometheusRule")
    runbook = (REPO / "docs" / "runbook.md").read_text()
    anchors = {re.sub(r"[^a-z0-9 -]", "", h.lower()).strip().replace(" ", "-")
               for h in re.findall(r"^#+ (.+)$", runbook, re.M)}
    alerts = rules["spec"]["groups"][0]["rules"]
    assert {a["alert"] for a in alerts} >= {
        "StormscopeDegraded", "StormscopeWriteBehindBacklogOld", "StormscopeWriteBehindBacklogLarge",
        "StormscopeSpoolFilling", "StormscopeIngestErrors", "StormscopeMemcachedBreakerOpen",
        "StormscopeQueriesSlow", "StormscopeUIErrors"}
    for alert in alerts:
        url = alert["annotations"]["runbook_url"]
        assert url.split("#")[1] in anchors, f"{alert['alert']}: no section {url} in docs/runbook.md"
        assert 'namespace="scope"' in alert["expr"]


def test_an_emptydir_spool_is_an_explicit_opt_in():
    objs = objects(render({"collector": {"spool": {"type": "emptyDir"}}}))
    (sts,) = find(objs, "StatefulSet", "collector")
    assert "volumeClaimTemplates" not in sts["spec"]
    spool = next(v for v in sts["spec"]["template"]["spec"]["volumes"] if v["name"] == "spool")
    assert spool["emptyDir"] == {"sizeLimit": "10Gi"}
    notes = render({"collector": {"spool": {"type": "emptyDir"}}})["stormscope/templates/NOTES.txt"]
    assert "emptyDir" in notes


def test_header_tenancy_warns_that_a_proxy_must_set_the_header():
    notes = render({"tenancy": {"mode": "header"}})["stormscope/templates/NOTES.txt"]
    assert "authenticating proxy" in notes


def help_text(subcommand: str) -> str:
    done = subprocess.run([str(stormscope_bin()), subcommand, "--help"], capture_output=True,
                          text=True, check=True)
    return done.stdout


def test_every_flag_and_variable_the_chart_sets_exists_in_the_binary():
    """clap ignores unknown variables, so a misspelt one would go unnoticed: compare them with
    each subcommand's --help."""
    helps: dict[str, str] = {}
    seen = 0
    for path in CI_VALUES:
        for obj in objects(render(values_of(path))):
            spec = obj.get("spec", {})
            spec = spec.get("template", {}).get("spec", spec)
            for c in spec.get("containers", []):
                if not c["image"].startswith("ghcr.io/stormscope/"):
                    continue
                sub = c["args"][0]
                text = helps.setdefault(sub, help_text(sub))
                for arg in c["args"][1:]:
                    flag = arg.split("=")[0]
                    assert re.search(rf"\s{re.escape(flag)}[ =<\n]", text), f"{sub} has no {flag}"
                for e in c.get("env", []):
                    if e["name"].startswith("STORMSCOPE_"):
                        # (`[env: NAME]` without `=` for secrets, whose values help never shows)
                        assert re.search(rf"\[env: {e['name']}[=\]]", text), \
                            f"{sub} reads no {e['name']}"
                        seen += 1
    assert seen > 40


def test_the_chart_readme_lists_every_value():
    readme = (CHART / "README.md").read_text()
    listed = set(re.findall(r"^\| `([A-Za-z0-9.]+)` \|", readme, re.M))
    schema = json.loads((CHART / "values.schema.json").read_text())

    def leaves(node, path=""):
        props = node.get("properties")
        if not props:
            yield path
            return
        for key, child in props.items():
            yield from leaves(child, f"{path}.{key}" if path else key)

    missing = set(leaves(schema)) - listed
    assert not missing, f"values not in charts/stormscope/README.md: {sorted(missing)}"
