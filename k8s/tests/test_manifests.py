"""The Kubernetes manifests, checked offline (run by scripts/k8s-check).

Every overlay in k8s/overlays is rendered with `kubectl kustomize`; every
object it renders must validate against its schema (Kubernetes' own, from the
kubernetes-validate package, strictly: no unknown fields; SpinApp and
SpinAppExecutor against spin-operator's CRDs in k8s/schemas). Then the
manifests must agree with the app itself, as spin.toml declares it: the
SpinApps map exactly its application variables, secrets only from Secrets,
and the probes, the CronJobs and the Ingress lead to routes of components
that the SpinApp they reach actually runs.

Needs PyYAML, jsonschema and kubernetes-validate (scripts/k8s-check installs
them into .dev/k8s-venv) and kubectl with kustomize v5 (`KUBECTL`, default
`kubectl` on PATH).
"""

import base64
import copy
import ipaddress
import os
import re
import shutil
import subprocess
import tomllib
import unittest
from pathlib import Path

import jsonschema
import kubernetes_validate
import yaml

REPO = Path(__file__).resolve().parents[2]
K8S = REPO / "k8s"
KUBERNETES_VERSION = "1.37.0"
CRD_FILES = [
    K8S / "schemas" / "spinkube-spinapps-crd-v0.6.1.yaml",
    K8S / "schemas" / "spinkube-spinappexecutors-crd-v0.6.1.yaml",
]
# The longest a request may wait on purpose: GET /api/todos?wait= long-polls.
LONGEST_WAIT_SECONDS = 25
POD_SPEC_KINDS = {"Deployment", "StatefulSet", "DaemonSet", "Job", "CronJob"}


def load_manifest():
    with open(REPO / "spin.toml", "rb") as f:
        return tomllib.load(f)


def overlays():
    return sorted(p for p in (K8S / "overlays").iterdir() if (p / "kustomization.yaml").exists())


def kubectl():
    return os.environ.get("KUBECTL") or shutil.which("kubectl")


def render(overlay):
    out = subprocess.run(
        [kubectl(), "kustomize", str(overlay)], check=True, capture_output=True, text=True
    ).stdout
    return [doc for doc in yaml.safe_load_all(out) if doc]


def strict(schema):
    """A CRD's structural schema as JSON Schema that refuses unknown fields,
    as the API server prunes them (a misspelt field would silently vanish)."""
    schema = copy.deepcopy(schema)

    def walk(node):
        if isinstance(node, dict):
            if (
                "properties" in node
                and "additionalProperties" not in node
                and not node.get("x-kubernetes-preserve-unknown-fields")
            ):
                node["additionalProperties"] = False
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(schema)
    return schema


def crd_validators():
    validators = {}
    for path in CRD_FILES:
        crd = yaml.safe_load(path.read_text())
        group = crd["spec"]["group"]
        kind = crd["spec"]["names"]["kind"]
        for version in crd["spec"]["versions"]:
            schema = strict(version["schema"]["openAPIV3Schema"])
            validators[(f"{group}/{version['name']}", kind)] = jsonschema.Draft7Validator(schema)
    return validators


def route_of(path, routes):
    """The spin.toml route Spin sends `path` to: an exact route, else the
    longest `/prefix/...` that contains it (`/...` is the catch-all)."""
    best = None
    for route in routes:
        pattern = route["route"]
        if pattern.endswith("/..."):
            base = pattern[: -len("/...")]
            matches = path == base or path.startswith(base + "/") or base == ""
            length = len(base)
        else:
            matches = path == pattern
            length = len(pattern) + 1  # exact beats a prefix of the same length
        if matches and (best is None or length > best[0]):
            best = (length, route)
    return best[1] if best else None


def retained(app, manifest):
    """The components a SpinApp runs (all, without `components`)."""
    return set(app["spec"].get("components") or manifest["component"].keys())


def pod_specs(obj):
    """(where, pod spec) of every pod template an object holds."""
    kind = obj["kind"]
    if kind == "CronJob":
        yield obj["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    elif kind in POD_SPEC_KINDS:
        yield obj["spec"]["template"]["spec"]


def containers(obj):
    for spec in pod_specs(obj):
        for container in spec.get("initContainers", []) + spec.get("containers", []):
            yield container


def name_of(obj):
    return f"{obj['kind']}/{obj['metadata']['name']}"


@unittest.skipUnless(kubectl(), "kubectl not found: install it (scripts/k8s-check does)")
class Manifests(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.manifest = load_manifest()
        cls.rendered = {overlay.name: render(overlay) for overlay in overlays()}
        example = K8S / "examples" / "secrets.example.yaml"
        cls.example_secret = yaml.safe_load(example.read_text())

    def objects(self, kind=None):
        for overlay, objs in self.rendered.items():
            for obj in objs:
                if kind is None or obj["kind"] == kind:
                    yield overlay, obj

    def spinapps(self, overlay):
        return {o["metadata"]["name"]: o for o in self.rendered[overlay] if o["kind"] == "SpinApp"}

    def secret_variables(self):
        return {n for n, d in self.manifest["variables"].items() if d.get("secret")}

    # ------------------------------------------------------------ rendering, schemas

    def test_there_are_a_dev_and_a_production_overlay_and_each_renders(self):
        self.assertLessEqual({"dev", "production"}, set(self.rendered))
        for overlay, objs in self.rendered.items():
            kinds = {o["kind"] for o in objs}
            self.assertLessEqual(
                {"SpinApp", "SpinAppExecutor", "Ingress", "Job", "CronJob"}, kinds, overlay
            )

    def test_every_rendered_object_and_the_example_secret_validate_against_their_schemas(self):
        crds = crd_validators()
        objs = list(self.objects()) + [("examples", self.example_secret)]
        for overlay, obj in objs:
            with self.subTest(overlay=overlay, object=name_of(obj)):
                custom = crds.get((obj["apiVersion"], obj["kind"]))
                if custom is not None:
                    errors = sorted(custom.iter_errors(obj), key=lambda e: list(e.path))
                    self.assertEqual(
                        [], [f"{list(e.path)}: {e.message}" for e in errors], name_of(obj)
                    )
                    self.assertRegex(obj["metadata"]["name"], r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
                else:
                    # Raises on an invalid object, and on a kind it has no schema for.
                    kubernetes_validate.validate(obj, KUBERNETES_VERSION, strict=True)

    def test_every_namespaced_object_is_in_the_apps_namespace(self):
        cluster_scoped = {"Namespace"}
        for overlay, objs in self.rendered.items():
            (namespace,) = {a["metadata"].get("namespace") for a in objs if a["kind"] == "SpinApp"}
            self.assertTrue(namespace)
            self.assertIn(namespace, [o["metadata"]["name"] for o in objs if o["kind"] == "Namespace"])
            for obj in objs:
                if obj["kind"] not in cluster_scoped:
                    with self.subTest(overlay=overlay, object=name_of(obj)):
                        self.assertEqual(namespace, obj["metadata"].get("namespace"))

    # ------------------------------------------------------------ variables and secrets

    def test_the_spinapps_variables_are_exactly_the_application_variables_of_spin_toml(self):
        declared = set(self.manifest["variables"])
        for overlay, app in self.objects("SpinApp"):
            with self.subTest(overlay=overlay, app=app["metadata"]["name"]):
                names = [v["name"] for v in app["spec"].get("variables", [])]
                self.assertEqual(len(names), len(set(names)), f"listed twice: {names}")
                self.assertEqual(set(), declared - set(names), "missing from the SpinApp")
                self.assertEqual(set(), set(names) - declared, "not in spin.toml")

    def test_secrets_are_never_literal(self):
        secrets = self.secret_variables()
        self.assertIn("jwt_secret", secrets)
        for overlay, app in self.objects("SpinApp"):
            for var in app["spec"].get("variables", []):
                if var["name"] in secrets:
                    with self.subTest(overlay=overlay, variable=var["name"]):
                        self.assertNotIn("value", var)
                        self.assertIn("secretKeyRef", var.get("valueFrom", {}))
        # Anything else that hands a secret to a process: the migration Job's
        # SPIN_VARIABLE_DB_PASSWORD, the CronJobs' token.
        secret_envs = {"SPIN_VARIABLE_" + n.upper() for n in secrets} | {"INTERNAL_TOKEN"}
        for overlay, obj in self.objects():
            for container in containers(obj):
                for env in container.get("env", []):
                    if env["name"] in secret_envs or "PASSWORD" in env["name"]:
                        with self.subTest(overlay=overlay, object=name_of(obj), env=env["name"]):
                            self.assertNotIn("value", env)
                            self.assertIn("secretKeyRef", env.get("valueFrom", {}))
        # No Secret rendered from the repository holds one of the app's secrets.
        for overlay, secret in self.objects("Secret"):
            keys = set(secret.get("data", {})) | set(secret.get("stringData", {}))
            self.assertEqual(set(), keys & secrets, f"{overlay}: {name_of(secret)}")

    def test_every_referenced_setting_and_secret_key_exists(self):
        # Secrets the operator creates are documented, key by key, in the example.
        example_keys = set(self.example_secret["stringData"])
        self.assertLessEqual(self.secret_variables(), example_keys)
        for overlay, objs in self.rendered.items():
            config_maps = {o["metadata"]["name"]: o.get("data", {}) for o in objs if o["kind"] == "ConfigMap"}
            secrets = {o["metadata"]["name"]: o.get("data", {}) for o in objs if o["kind"] == "Secret"}
            refs = []
            for obj in objs:
                if obj["kind"] == "SpinApp":
                    refs += [v.get("valueFrom", {}) for v in obj["spec"].get("variables", [])]
                for container in containers(obj):
                    refs += [e.get("valueFrom", {}) for e in container.get("env", [])]
            for ref in refs:
                if "configMapKeyRef" in ref:
                    r = ref["configMapKeyRef"]
                    with self.subTest(overlay=overlay, config_map=r["name"], key=r["key"]):
                        self.assertIn(r["name"], config_maps)
                        self.assertIn(r["key"], config_maps[r["name"]])
                if "secretKeyRef" in ref:
                    r = ref["secretKeyRef"]
                    with self.subTest(overlay=overlay, secret=r["name"], key=r["key"]):
                        if r["name"] in secrets:
                            self.assertIn(r["key"], secrets[r["name"]])
                        else:
                            self.assertEqual(self.example_secret["metadata"]["name"], r["name"])
                            self.assertIn(r["key"], example_keys)

    def test_variables_in_allowed_outbound_hosts_are_never_set_empty(self):
        # Spin refuses to start when such a template renders empty.
        in_hosts = set()
        for component in self.manifest["component"].values():
            for host in component.get("allowed_outbound_hosts", []):
                in_hosts |= set(re.findall(r"\{\{\s*(\w+)\s*\}\}", host))
        for overlay, objs in self.rendered.items():
            config_maps = {o["metadata"]["name"]: o.get("data", {}) for o in objs if o["kind"] == "ConfigMap"}
            for app in (o for o in objs if o["kind"] == "SpinApp"):
                for var in app["spec"].get("variables", []):
                    ref = var.get("valueFrom", {}).get("configMapKeyRef")
                    if var["name"] in in_hosts and ref:
                        value = config_maps.get(ref["name"], {}).get(ref["key"], "")
                        with self.subTest(overlay=overlay, variable=var["name"]):
                            self.assertNotEqual("", value.strip())

    def test_trusted_proxies_lists_address_blocks(self):
        for overlay, cm in self.objects("ConfigMap"):
            if "trusted_proxies" in cm.get("data", {}):
                with self.subTest(overlay=overlay):
                    blocks = [b.strip() for b in cm["data"]["trusted_proxies"].split(",")]
                    self.assertTrue(blocks and all(blocks))
                    for block in blocks:
                        ipaddress.ip_network(block)

    def test_the_runtime_configuration_secret_holds_a_toml_file(self):
        for overlay, app in self.objects("SpinApp"):
            with self.subTest(overlay=overlay, app=app["metadata"]["name"]):
                name = app["spec"]["runtimeConfig"]["loadFromSecret"]
                secret = next(
                    s for s in self.rendered[overlay] if s["kind"] == "Secret" and s["metadata"]["name"] == name
                )
                self.assertEqual(["runtime-config.toml"], list(secret["data"]))
                tomllib.loads(base64.b64decode(secret["data"]["runtime-config.toml"]).decode())

    # ------------------------------------------------------------ routes

    def assert_served(self, app, path, what):
        route = route_of(path, self.manifest["trigger"]["http"])
        self.assertIsNotNone(route, f"{what}: no route of spin.toml matches {path}")
        self.assertNotEqual("/...", route["route"], f"{what}: {path} only reaches the catch-all")
        self.assertIn(
            route["component"],
            retained(app, self.manifest),
            f"{what}: {path} is component {route['component']}, which {app['metadata']['name']} does not run",
        )

    def test_probe_paths_are_routes_of_a_component_the_spinapp_runs(self):
        for overlay, app in self.objects("SpinApp"):
            for probe in ("liveness", "readiness"):
                with self.subTest(overlay=overlay, app=app["metadata"]["name"], probe=probe):
                    path = app["spec"]["checks"][probe]["httpGet"]["path"]
                    self.assert_served(app, path, probe)
            self.assertEqual("/health", app["spec"]["checks"]["liveness"]["httpGet"]["path"])
            self.assertEqual("/health/ready", app["spec"]["checks"]["readiness"]["httpGet"]["path"])

    def test_cronjobs_post_to_routes_of_a_component_their_spinapp_runs_every_minute_one_at_a_time(self):
        for overlay, cron in self.objects("CronJob"):
            with self.subTest(overlay=overlay, cronjob=cron["metadata"]["name"]):
                self.assertEqual("* * * * *", cron["spec"]["schedule"])
                self.assertEqual("Forbid", cron["spec"]["concurrencyPolicy"])
                (container,) = list(containers(cron))
                env = {e["name"]: e for e in container["env"]}
                url = re.fullmatch(r"http://([a-z0-9-]+)(/[^?\s]*)(\?\S*)?", env["TARGET_URL"]["value"])
                self.assertIsNotNone(url, env["TARGET_URL"])
                host, path, _query = url.groups()
                # The Service spin-operator makes is named after the SpinApp.
                app = self.spinapps(overlay).get(host)
                self.assertIsNotNone(app, f"no SpinApp {host}")
                self.assert_served(app, path, "CronJob")
                self.assertEqual(
                    "internal_token", env["INTERNAL_TOKEN"]["valueFrom"]["secretKeyRef"]["key"]
                )
        paths = {
            re.sub(r"^http://[^/]+|\?.*$", "", next(e["value"] for e in c["env"] if e["name"] == "TARGET_URL"))
            for _, cron in self.objects("CronJob")
            for c in containers(cron)
        }
        self.assertEqual({"/internal/reminders/run", "/internal/events/relay"}, paths)

    def test_every_component_runs_in_some_spinapp(self):
        components = set(self.manifest["component"])
        for overlay in self.rendered:
            apps = self.spinapps(overlay).values()
            with self.subTest(overlay=overlay):
                running = set().union(*(retained(a, self.manifest) for a in apps))
                self.assertEqual(components, running)
                for app in apps:
                    self.assertLessEqual(retained(app, self.manifest), components)

    def test_through_the_ingress_every_route_reaches_a_spinapp_that_runs_its_component(self):
        for overlay, ingress in self.objects("Ingress"):
            apps = self.spinapps(overlay)
            paths = [
                (p["path"], p["backend"]["service"]["name"])
                for rule in ingress["spec"]["rules"]
                for p in rule["http"]["paths"]
            ]
            for route in self.manifest["trigger"]["http"]:
                path = route["route"].removesuffix("/...") or "/"
                with self.subTest(overlay=overlay, route=route["route"]):
                    # Prefix matching goes by whole path elements; the longest wins.
                    matching = [
                        (prefix, service)
                        for prefix, service in paths
                        if prefix == "/" or path == prefix or path.startswith(prefix.rstrip("/") + "/")
                    ]
                    self.assertTrue(matching, f"no Ingress path for {path}")
                    _, service = max(matching, key=lambda m: len(m[0]))
                    self.assertIn(service, apps, f"{service} is no SpinApp's Service")
                    self.assertIn(route["component"], retained(apps[service], self.manifest))

    def test_the_ingress_waits_longer_than_a_long_poll(self):
        for overlay, ingress in self.objects("Ingress"):
            with self.subTest(overlay=overlay):
                annotations = ingress["metadata"].get("annotations", {})
                for key in ("proxy-read-timeout", "proxy-send-timeout"):
                    value = annotations[f"nginx.ingress.kubernetes.io/{key}"]
                    self.assertGreater(int(value), LONGEST_WAIT_SECONDS)

    # ------------------------------------------------------------ scaling and resources

    def test_every_container_and_spinapp_has_cpu_and_memory_requests_and_limits(self):
        for overlay, obj in self.objects():
            if obj["kind"] == "SpinApp":
                targets = [("app", obj["spec"].get("resources", {}))]
            else:
                targets = [(c["name"], c.get("resources", {})) for c in containers(obj)]
            for name, resources in targets:
                with self.subTest(overlay=overlay, object=name_of(obj), container=name):
                    for kind in ("requests", "limits"):
                        self.assertLessEqual({"cpu", "memory"}, set(resources.get(kind, {})))

    def test_autoscaled_spinapps_have_no_replicas_and_a_horizontal_pod_autoscaler(self):
        for overlay in self.rendered:
            hpas = {
                h["spec"]["scaleTargetRef"]["name"]
                for h in self.rendered[overlay]
                if h["kind"] == "HorizontalPodAutoscaler"
                and h["spec"]["scaleTargetRef"]["kind"] == "Deployment"
            }
            for name, app in self.spinapps(overlay).items():
                with self.subTest(overlay=overlay, app=name):
                    if app["spec"].get("enableAutoscaling"):
                        self.assertNotIn("replicas", app["spec"])
                        self.assertIn(name, hpas)
                    else:
                        self.assertGreaterEqual(app["spec"]["replicas"], 1)
        self.assertTrue(all(a["spec"].get("enableAutoscaling") for a in self.spinapps("production").values()))

    def test_every_spinapp_has_a_disruption_budget_that_selects_its_pods(self):
        for overlay in self.rendered:
            budgets = [p["spec"]["selector"]["matchLabels"] for p in self.rendered[overlay] if p["kind"] == "PodDisruptionBudget"]
            for name, app in self.spinapps(overlay).items():
                labels = app["spec"].get("podLabels", {})
                with self.subTest(overlay=overlay, app=name):
                    self.assertTrue(any(b.items() <= labels.items() for b in budgets))


if __name__ == "__main__":
    unittest.main()
