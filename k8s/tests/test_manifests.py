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


# Components no Ingress path may reach: the scheduler's routes.
PRIVATE_COMPONENTS = {"internal"}
# Variables that only a SpinApp running `internal` may get: the scheduler's
# token and the events sink's settings and credentials.
INTERNAL_ONLY_VARIABLES = {
    "internal_token",
    "events_sink",
    "events_redis_url",
    "events_kafka_auth",
    "events_kafka_url",
}


def variables_used(component):
    """The application variables a spin.toml component reads: those its own
    variables and its allowed_outbound_hosts are made of."""
    templates = list(component.get("variables", {}).values()) + component.get("allowed_outbound_hosts", [])
    return {name for t in templates for name in re.findall(r"\{\{\s*(\w+)\s*\}\}", t)}


def variable_problems(app, manifest):
    """What is wrong with a SpinApp's variables: each must be an application
    variable that a component it runs uses, and every such variable must be
    there, once."""
    names = [v["name"] for v in app["spec"].get("variables", [])]
    wanted = set().union(*(variables_used(manifest["component"][c]) for c in retained(app, manifest)))
    problems = [f"{n} is listed twice" for n in sorted({n for n in names if names.count(n) > 1})]
    problems += [f"{n} is missing (a component it runs uses it)" for n in sorted(wanted - set(names))]
    problems += [f"{n} is given but none of its components uses it" for n in sorted(set(names) - wanted)]
    return problems


def ingress_backend(ingress, path):
    """The Service an Ingress sends `path` to: Prefix paths match by whole
    path elements, and the longest wins."""
    matching = [
        (p["path"], p["backend"]["service"]["name"])
        for rule in ingress["spec"]["rules"]
        for p in rule["http"]["paths"]
        if p["path"] == "/" or path == p["path"] or path.startswith(p["path"].rstrip("/") + "/")
    ]
    return max(matching, key=lambda m: len(m[0]))[1] if matching else None


def exposure_problems(objs, manifest):
    """Ingress paths that reach pods running a private component: the
    Service of such a SpinApp, or any Service whose selector picks its pods."""
    private = {
        a["metadata"]["name"]: a["spec"].get("podLabels", {})
        for a in objs
        if a["kind"] == "SpinApp" and retained(a, manifest) & PRIVATE_COMPONENTS
    }
    services = {s["metadata"]["name"]: s["spec"].get("selector") or {} for s in objs if s["kind"] == "Service"}
    problems = []
    for ingress in (o for o in objs if o["kind"] == "Ingress"):
        for rule in ingress["spec"]["rules"]:
            for p in rule["http"]["paths"]:
                service = p["backend"]["service"]["name"]
                selector = services.get(service)
                for app, labels in private.items():
                    if service == app or (selector and selector.items() <= labels.items()):
                        problems.append(f"Ingress {ingress['metadata']['name']}: {p['path']} reaches {app}")
    return problems


def internal_policy_problems(objs, manifest):
    """The SpinApp running `internal` must be one, with one NetworkPolicy on
    its pods that admits the CronJobs' pods (component `scheduler`) and
    nothing else, and every CronJob's pods must carry that label."""
    apps = [a for a in objs if a["kind"] == "SpinApp" and retained(a, manifest) & PRIVATE_COMPONENTS]
    if len(apps) != 1:
        return [f"{len(apps)} SpinApps run internal, not 1"]
    labels = apps[0]["spec"].get("podLabels", {})
    policies = [
        p
        for p in objs
        if p["kind"] == "NetworkPolicy"
        and "Ingress" in p["spec"].get("policyTypes", [])
        and p["spec"]["podSelector"].get("matchLabels")
        and p["spec"]["podSelector"]["matchLabels"].items() <= labels.items()
    ]
    if len(policies) != 1:
        return [f"{len(policies)} ingress NetworkPolicies select {name_of(apps[0])}'s pods, not 1"]
    scheduler = {"podSelector": {"matchLabels": {"app.kubernetes.io/component": "scheduler"}}}
    problems = [
        f"{name_of(policies[0])} admits {source}"
        for rule in policies[0]["spec"].get("ingress", [])
        for source in rule.get("from", [{"anyone": True}])
        if source != scheduler
    ]
    if not policies[0]["spec"].get("ingress"):
        problems.append(f"{name_of(policies[0])} admits no one, not even the CronJobs")
    for cron in (o for o in objs if o["kind"] == "CronJob"):
        template = cron["spec"]["jobTemplate"]["spec"]["template"]
        if template["metadata"].get("labels", {}).get("app.kubernetes.io/component") != "scheduler":
            problems.append(f"{name_of(cron)}'s pods are not labelled scheduler")
    return problems


def expected_images(kustomization):
    """The images an overlay sets: name -> newName:newTag."""
    return {
        i["name"]: f"{i.get('newName', i['name'])}:{i['newTag']}" for i in kustomization.get("images", [])
    }


def image_problems(kustomization, objs):
    """Rendered SpinApp and Job images that are not the ones the overlay
    sets (the app's image for every SpinApp, the migration image for every
    Job), and images the overlay sets that nothing uses."""
    wanted = expected_images(kustomization)
    problems = [f"the overlay sets no image {n}" for n in ("todo-spin", "todo-spin-migrate") if n not in wanted]
    used = set()
    for obj in objs:
        if obj["kind"] == "SpinApp":
            found, want = [obj["spec"]["image"]], wanted.get("todo-spin")
        elif obj["kind"] == "Job":
            found, want = [c["image"] for c in containers(obj)], wanted.get("todo-spin-migrate")
        else:
            continue
        for image in found:
            used.add(image)
            if image != want:
                problems.append(f"{name_of(obj)} runs {image}, not the overlay's {want}")
    problems += [f"nothing runs the overlay's {image}" for image in sorted(set(wanted.values()) - used)]
    return problems


def order_problems(objs):
    """The SpinAppExecutor must come first (after the Namespace, which holds
    it): spin-operator's webhook refuses a SpinApp whose executor does not
    exist yet, and `kubectl apply` creates objects in this order."""
    kinds = [o["kind"] for o in objs]
    if "SpinAppExecutor" not in kinds:
        return ["no SpinAppExecutor"]
    first = kinds.index("SpinAppExecutor")
    problems = [
        f"{name_of(o)} comes before the SpinAppExecutor" for o in objs[:first] if o["kind"] != "Namespace"
    ]
    if "Namespace" in kinds and kinds.index("Namespace") > first:
        problems.append("the Namespace comes after the SpinAppExecutor")
    return problems


def quantity(value):
    """A Kubernetes memory quantity in bytes (the suffixes used here)."""
    units = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "k": 10**3, "M": 10**6, "G": 10**9}
    number, unit = re.fullmatch(r"(\d+)([A-Za-z]*)", str(value)).groups()
    return int(number) * units.get(unit, 1)


def kustomization_of(overlay):
    return yaml.safe_load((Path(overlay) / "kustomization.yaml").read_text())


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

    # ------------------------------------------------------------ images, order, release

    def test_every_overlay_runs_the_images_it_sets(self):
        for overlay in overlays():
            with self.subTest(overlay=overlay.name):
                self.assertEqual([], image_problems(kustomization_of(overlay), self.rendered[overlay.name]))

    def test_every_overlay_puts_the_executor_first(self):
        for overlay, objs in self.rendered.items():
            with self.subTest(overlay=overlay):
                self.assertEqual([], order_problems(objs))
                self.assertEqual(["Namespace", "SpinAppExecutor"], [o["kind"] for o in objs[:2]])

    def test_the_release_label_names_the_migration_job_and_matches_the_image_tags(self):
        for overlay in overlays():
            objs = self.rendered[overlay.name]
            with self.subTest(overlay=overlay.name):
                (job,) = [o for o in objs if o["kind"] == "Job"]
                release = job["metadata"]["labels"]["app.kubernetes.io/version"]
                self.assertEqual(f"todo-spin-migrate-{release}", job["metadata"]["name"])
                tags = {i["newTag"] for i in kustomization_of(overlay)["images"]}
                self.assertEqual({release}, tags, "scripts/k8s-image writes one tag everywhere")
                for app in (o for o in objs if o["kind"] == "SpinApp"):
                    self.assertEqual(release, app["metadata"]["labels"]["app.kubernetes.io/version"])

    def test_the_migration_job_reads_settings_whose_name_never_changes(self):
        # A Job's pod template cannot be changed: were its ConfigMap's name
        # the generated one (with a hash of its content), a settings change
        # would make `kubectl apply` fail on the existing Job.
        for overlay, objs in self.rendered.items():
            with self.subTest(overlay=overlay):
                (job,) = [o for o in objs if o["kind"] == "Job"]
                config_maps = {o["metadata"]["name"]: o.get("data", {}) for o in objs if o["kind"] == "ConfigMap"}
                settings = next(d for n, d in config_maps.items() if n.startswith("todo-spin-settings-"))
                (container,) = list(containers(job))
                refs = {e["valueFrom"]["configMapKeyRef"]["name"] for e in container["env"] if "configMapKeyRef" in e.get("valueFrom", {})}
                self.assertEqual({"todo-spin-migrate-settings"}, refs)
                for env in container["env"]:
                    ref = env.get("valueFrom", {}).get("configMapKeyRef")
                    if ref:
                        self.assertEqual(settings[ref["key"]], config_maps[ref["name"]][ref["key"]], env["name"])

    # ------------------------------------------------------------ variables and secrets

    def test_each_spinapp_gets_exactly_the_variables_its_components_use(self):
        for overlay, app in self.objects("SpinApp"):
            with self.subTest(overlay=overlay, app=app["metadata"]["name"]):
                self.assertEqual([], variable_problems(app, self.manifest))

    def test_the_scheduler_token_and_the_events_credentials_reach_the_internal_spinapp_alone(self):
        for overlay, app in self.objects("SpinApp"):
            names = {v["name"] for v in app["spec"].get("variables", [])}
            with self.subTest(overlay=overlay, app=app["metadata"]["name"]):
                if "internal" in retained(app, self.manifest):
                    self.assertLessEqual(INTERNAL_ONLY_VARIABLES, names)
                else:
                    self.assertEqual(set(), names & INTERNAL_ONLY_VARIABLES)

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

    def test_production_trusts_the_ingress_controllers_addresses_alone(self):
        # A pod whose address is trusted may forge X-Forwarded-For: trusting
        # the pod range (10.0.0.0/8) lets any pod dodge the throttles or get a
        # victim's address blocked. The ingress controller's own addresses
        # are a small block.
        for overlay, cm in self.objects("ConfigMap"):
            if overlay == "production" and "trusted_proxies" in cm.get("data", {}):
                for block in cm["data"]["trusted_proxies"].split(","):
                    network = ipaddress.ip_network(block.strip())
                    with self.subTest(block=block):
                        self.assertLessEqual(network.num_addresses, 256)

    def test_only_the_store_setting_opens_addresses_outside_the_cluster_to_the_stores(self):
        # The managed stores' address ranges are one setting, in one place:
        # production's store-cidrs.yaml. No other policy opens their ports to
        # an address block.
        store_ports = {5432, 6379, 6380}
        for overlay, policy in self.objects("NetworkPolicy"):
            for rule in policy["spec"].get("egress", []):
                ports = {p["port"] for p in rule.get("ports", [])}
                blocks = [t["ipBlock"]["cidr"] for t in rule.get("to", []) if "ipBlock" in t]
                if blocks and ports & store_ports:
                    with self.subTest(overlay=overlay, policy=policy["metadata"]["name"]):
                        self.assertEqual("production", overlay)
                        self.assertEqual("todo-spin-app-egress-stores", policy["metadata"]["name"])
                        self.assertNotIn("0.0.0.0/0", blocks)
                        app_pods = policy["spec"]["podSelector"]["matchExpressions"][0]["values"]
                        self.assertEqual({"api", "chat", "internal"}, set(app_pods))

    def test_the_executor_exports_to_the_overlays_otlp_endpoint(self):
        for overlay, objs in self.rendered.items():
            with self.subTest(overlay=overlay):
                (executor,) = [o for o in objs if o["kind"] == "SpinAppExecutor"]
                settings = next(
                    o["data"] for o in objs if o["kind"] == "ConfigMap" and o["metadata"]["name"].startswith("todo-spin-settings-")
                )
                endpoint = executor["spec"]["deploymentConfig"]["otel"]["exporter_otlp_endpoint"]
                self.assertEqual(settings["otel_exporter_otlp_endpoint"], endpoint)
                self.assertRegex(endpoint, r"^https?://[a-z0-9.-]+:43(17|18)$")

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

    def test_through_the_ingress_every_public_route_reaches_a_spinapp_that_runs_its_component(self):
        for overlay, ingress in self.objects("Ingress"):
            apps = self.spinapps(overlay)
            for route in self.manifest["trigger"]["http"]:
                if route["component"] in PRIVATE_COMPONENTS:
                    continue
                path = route["route"].removesuffix("/...") or "/"
                with self.subTest(overlay=overlay, route=route["route"]):
                    service = ingress_backend(ingress, path)
                    self.assertIsNotNone(service, f"no Ingress path for {path}")
                    self.assertIn(service, apps, f"{service} is no SpinApp's Service")
                    self.assertIn(route["component"], retained(apps[service], self.manifest))

    def test_no_ingress_path_reaches_a_spinapp_that_runs_internal(self):
        for overlay, objs in self.rendered.items():
            with self.subTest(overlay=overlay):
                self.assertEqual([], exposure_problems(objs, self.manifest))
        # The internal routes still run somewhere, behind a NetworkPolicy
        # that admits the CronJobs' pods alone.
        for overlay, objs in self.rendered.items():
            with self.subTest(overlay=overlay):
                self.assertEqual([], internal_policy_problems(objs, self.manifest))

    def test_the_production_host_is_one_setting(self):
        objs = self.rendered["production"]
        settings = next(
            o["data"] for o in objs if o["kind"] == "ConfigMap" and o["metadata"]["name"].startswith("todo-spin-settings-")
        )
        (ingress,) = [o for o in objs if o["kind"] == "Ingress"]
        self.assertEqual([settings["public_host"]], [r["host"] for r in ingress["spec"]["rules"]])
        self.assertEqual([settings["public_host"]], ingress["spec"]["tls"][0]["hosts"])

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

    def test_spinapps_limit_each_requests_memory_and_run_without_an_api_token(self):
        for overlay, objs in self.rendered.items():
            accounts = {o["metadata"]["name"]: o for o in objs if o["kind"] == "ServiceAccount"}
            for app in (o for o in objs if o["kind"] == "SpinApp"):
                with self.subTest(overlay=overlay, app=app["metadata"]["name"]):
                    per_request = quantity(app["spec"]["invocationLimits"]["memory"])
                    # spin-operator refuses more than the pod's own limit.
                    self.assertLessEqual(per_request, quantity(app["spec"]["resources"]["limits"]["memory"]))
                    self.assertGreaterEqual(per_request, quantity("64Mi"))
                    account = accounts[app["spec"]["serviceAccountName"]]
                    self.assertIs(False, account["automountServiceAccountToken"])

    def test_the_relay_call_has_its_margin_inside_the_jobs_deadline(self):
        for overlay, cron in self.objects("CronJob"):
            (container,) = list(containers(cron))
            url = next(e["value"] for e in container["env"] if e["name"] == "TARGET_URL")
            max_time = int(re.search(r"--max-time (\d+)", container["args"][0]).group(1))
            deadline = cron["spec"]["jobTemplate"]["spec"]["activeDeadlineSeconds"]
            wait = re.search(r"[?&]wait=(\d+)", url)
            with self.subTest(overlay=overlay, cronjob=cron["metadata"]["name"]):
                if wait:
                    # The call lasts `wait` plus its last pass; a pod may take
                    # a while to start. Both fit inside the deadline.
                    self.assertGreaterEqual(max_time, int(wait.group(1)) + 20)
                    self.assertGreaterEqual(deadline, max_time + 10)
                else:
                    self.assertGreater(deadline, max_time)

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
        # Production scales the API and chat; the internal SpinApp (two calls
        # a minute) keeps fixed replicas.
        production = self.spinapps("production")
        self.assertTrue(production["todo-spin"]["spec"].get("enableAutoscaling"))
        self.assertTrue(production["todo-spin-chat"]["spec"].get("enableAutoscaling"))

    def test_every_spinapp_has_a_disruption_budget_that_selects_its_pods(self):
        for overlay in self.rendered:
            budgets = [p["spec"]["selector"]["matchLabels"] for p in self.rendered[overlay] if p["kind"] == "PodDisruptionBudget"]
            for name, app in self.spinapps(overlay).items():
                labels = app["spec"].get("podLabels", {})
                with self.subTest(overlay=overlay, app=name):
                    self.assertTrue(any(b.items() <= labels.items() for b in budgets))


if __name__ == "__main__":
    unittest.main()
