"""The optional components (k8s/components) on top of the production
overlay, as its comments say to add them: they render, and do what they
promise. Their kinds (cert-manager's, KEDA's) have no schema here, so these
tests check their shape instead."""

import os
import re
import shutil
import tempfile
import unittest
from pathlib import Path

import yaml

from test_manifests import K8S, kubectl, kustomization_of, render

PRODUCTION = K8S / "overlays" / "production"


def production_with(*components):
    tmp = Path(tempfile.mkdtemp(prefix="k8s-components-"))
    overlay = tmp / "production"
    shutil.copytree(PRODUCTION, overlay)
    kustomization = kustomization_of(overlay)
    kustomization["resources"] = [
        os.path.relpath((PRODUCTION / r).resolve(), overlay) if r.startswith("..") else r
        for r in kustomization["resources"]
    ]
    kustomization["components"] = [os.path.relpath(K8S / "components" / c, overlay) for c in components]
    (overlay / "kustomization.yaml").write_text(yaml.safe_dump(kustomization))
    try:
        return render(overlay)
    finally:
        shutil.rmtree(tmp)


@unittest.skipUnless(kubectl(), "kubectl not found: install it (scripts/k8s-check does)")
class Components(unittest.TestCase):
    def test_every_component_is_offered_and_documented(self):
        names = sorted(p.name for p in (K8S / "components").iterdir())
        self.assertEqual(["cert-manager-tls", "keda"], names)
        readme = (K8S.parent / "README.md").read_text()
        for name in names:
            self.assertTrue(f"k8s/components/{name}" in readme, f"the README does not name k8s/components/{name}")

    def test_cert_manager_issues_the_ingress_certificate(self):
        objs = production_with("cert-manager-tls")
        (ingress,) = [o for o in objs if o["kind"] == "Ingress"]
        issuers = {o["metadata"]["name"]: o for o in objs if o["kind"] == "Issuer"}
        issuer = ingress["metadata"]["annotations"]["cert-manager.io/issuer"]
        self.assertIn(issuer, issuers)
        self.assertEqual("todo-spin", issuers[issuer]["metadata"]["namespace"])
        self.assertEqual("todo-spin-tls", ingress["spec"]["tls"][0]["secretName"])
        self.assertEqual(
            ingress["spec"]["ingressClassName"],
            issuers[issuer]["spec"]["acme"]["solvers"][0]["http01"]["ingress"]["ingressClassName"],
        )

    def test_keda_replaces_the_cpu_autoscalers_for_every_autoscaled_spinapp(self):
        plain = render(PRODUCTION)
        objs = production_with("keda")
        self.assertEqual([], [o for o in objs if o["kind"] == "HorizontalPodAutoscaler"])
        hpas = {o["metadata"]["name"]: o["spec"] for o in plain if o["kind"] == "HorizontalPodAutoscaler"}
        scaled = {o["metadata"]["name"]: o for o in objs if o["kind"] == "ScaledObject"}
        autoscaled = {o["metadata"]["name"] for o in objs if o["kind"] == "SpinApp" and o["spec"].get("enableAutoscaling")}
        self.assertEqual(autoscaled, set(scaled))
        for name, obj in scaled.items():
            with self.subTest(app=name):
                self.assertEqual("todo-spin", obj["metadata"]["namespace"])
                self.assertEqual(name, obj["spec"]["scaleTargetRef"]["name"])
                self.assertEqual(hpas[name]["minReplicas"], obj["spec"]["minReplicaCount"])
                self.assertEqual(hpas[name]["maxReplicas"], obj["spec"]["maxReplicaCount"])
                (prometheus,) = [t for t in obj["spec"]["triggers"] if t["type"] == "prometheus"]
                self.assertIn(f'exported_service="{name}"', prometheus["metadata"]["query"])
                self.assertRegex(prometheus["metadata"]["threshold"], r"^\d+$")
                self.assertTrue(re.match(r"^https?://", prometheus["metadata"]["serverAddress"]))


if __name__ == "__main__":
    unittest.main()
