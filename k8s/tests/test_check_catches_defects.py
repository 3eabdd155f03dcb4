"""The checks of test_manifests.py fail on the defects they exist for.

Each test renders a broken variant of a real overlay (a copy in a temporary
folder, changed in one way) with `kubectl kustomize` and shows that the
check finds the defect, and that it finds nothing on the real overlay:

- images: a base that renames the images itself, so that the overlay's
  `images:` match nothing (the first deploy pulled a placeholder);
- order: an overlay without its sortOptions, or with the executor moved
  last (spin-operator's webhook then refuses the SpinApps);
- exposure: an Ingress path to the internal SpinApp, or `internal` run by
  the SpinApp that the Ingress sends `/` to; its NetworkPolicy missing or
  admitting every pod;
- variables: the scheduler's token given to the chat SpinApp.
"""

import os
import shutil
import tempfile
import unittest
from pathlib import Path

import yaml

from test_manifests import (
    K8S,
    exposure_problems,
    image_problems,
    internal_policy_problems,
    kubectl,
    kustomization_of,
    load_manifest,
    order_problems,
    render,
    variable_problems,
)

DEV = K8S / "overlays" / "dev"
BASE = K8S / "base"


@unittest.skipUnless(kubectl(), "kubectl not found: install it (scripts/k8s-check does)")
class CheckCatchesDefects(unittest.TestCase):
    def setUp(self):
        self.tmp = Path(tempfile.mkdtemp(prefix="k8s-check-"))
        self.addCleanup(shutil.rmtree, self.tmp)
        self.manifest = load_manifest()

    def broken_dev(self, change, base=BASE):
        """A copy of the dev overlay on `base`, its kustomization changed by
        `change` (a function of the parsed kustomization)."""
        overlay = Path(tempfile.mkdtemp(dir=self.tmp)) / "dev"
        shutil.copytree(DEV, overlay)
        self.overlay = overlay
        kustomization = kustomization_of(overlay)
        kustomization["resources"] = [
            os.path.relpath(base, overlay) if r == "../../base" else r for r in kustomization["resources"]
        ]
        change(kustomization)
        (overlay / "kustomization.yaml").write_text(yaml.safe_dump(kustomization))
        return kustomization, render(overlay)

    def test_the_real_dev_overlay_has_none_of_these_defects(self):
        kustomization, objs = self.broken_dev(lambda k: None)
        self.assertEqual([], image_problems(kustomization, objs))
        self.assertEqual([], order_problems(objs))
        self.assertEqual([], exposure_problems(objs, self.manifest))
        self.assertEqual([], internal_policy_problems(objs, self.manifest))
        for app in (o for o in objs if o["kind"] == "SpinApp"):
            self.assertEqual([], variable_problems(app, self.manifest))

    def test_a_base_that_sets_the_images_itself_is_caught(self):
        # The old layout: the base renamed todo-spin to a placeholder, so the
        # overlay's entry for todo-spin matched nothing.
        base = self.tmp / "base-with-images"
        base.mkdir()
        (base / "kustomization.yaml").write_text(
            yaml.safe_dump(
                {
                    "resources": [os.path.relpath(BASE, base)],
                    "images": [
                        {"name": "todo-spin", "newName": "ghcr.io/your-org/todo-spin", "newTag": "0.1.0"},
                        {"name": "todo-spin-migrate", "newName": "ghcr.io/your-org/todo-spin-migrate", "newTag": "0.1.0"},
                    ],
                }
            )
        )
        kustomization, objs = self.broken_dev(lambda k: None, base=base)
        problems = image_problems(kustomization, objs)
        self.assertTrue(any("ghcr.io/your-org/todo-spin:0.1.0" in p for p in problems), problems)
        self.assertTrue(any("ghcr.io/your-org/todo-spin-migrate:0.1.0" in p for p in problems), problems)

    def test_an_image_the_overlay_sets_under_a_wrong_name_is_caught(self):
        def misspell(k):
            k["images"][0]["name"] = "todo_spin"

        kustomization, objs = self.broken_dev(misspell)
        self.assertNotEqual([], image_problems(kustomization, objs))

    def test_spinapps_before_their_executor_are_caught(self):
        def unsorted(k):
            del k["sortOptions"]

        _, objs = self.broken_dev(unsorted)
        self.assertNotEqual([], order_problems(objs))

        def executor_last(k):
            first = k["sortOptions"]["legacySortOptions"]["orderFirst"]
            first.remove("SpinAppExecutor")
            k["sortOptions"]["legacySortOptions"]["orderLast"].append("SpinAppExecutor")

        _, objs = self.broken_dev(executor_last)
        problems = order_problems(objs)
        self.assertTrue(any("SpinApp/todo-spin " in p for p in problems), problems)

    def test_an_ingress_path_to_the_internal_spinapp_is_caught(self):
        def expose(k):
            k["patches"].append(
                {
                    "target": {"kind": "Ingress", "name": "todo-spin"},
                    "patch": yaml.safe_dump(
                        [
                            {
                                "op": "add",
                                "path": "/spec/rules/0/http/paths/-",
                                "value": {
                                    "path": "/internal",
                                    "pathType": "Prefix",
                                    "backend": {"service": {"name": "todo-spin-internal", "port": {"number": 80}}},
                                },
                            }
                        ]
                    ),
                }
            )

        _, objs = self.broken_dev(expose)
        self.assertEqual(
            ["Ingress todo-spin: /internal reaches todo-spin-internal"], exposure_problems(objs, self.manifest)
        )

    def test_internal_run_by_the_spinapp_behind_slash_is_caught(self):
        # The old layout: todo-spin ran `internal`, and the Ingress sends `/` there.
        def internal_in_the_api(k):
            k["patches"].append(
                {
                    "target": {"kind": "SpinApp", "name": "todo-spin"},
                    "patch": yaml.safe_dump([{"op": "add", "path": "/spec/components/-", "value": "internal"}]),
                }
            )

        _, objs = self.broken_dev(internal_in_the_api)
        self.assertEqual(["Ingress todo-spin: / reaches todo-spin"], exposure_problems(objs, self.manifest))

    def test_a_service_that_selects_the_internal_pods_is_caught(self):
        def side_door(k):
            side = self.overlay / "side-door.yaml"
            side.write_text(
                yaml.safe_dump(
                    {
                        "apiVersion": "v1",
                        "kind": "Service",
                        "metadata": {"name": "side-door"},
                        "spec": {
                            "selector": {"app.kubernetes.io/component": "internal"},
                            "ports": [{"port": 80}],
                        },
                    }
                )
            )
            k["resources"].append("side-door.yaml")
            k["patches"].append(
                {
                    "target": {"kind": "Ingress", "name": "todo-spin"},
                    "patch": yaml.safe_dump(
                        [{"op": "replace", "path": "/spec/rules/0/http/paths/0/backend/service/name", "value": "side-door"}]
                    ),
                }
            )

        _, objs = self.broken_dev(side_door)
        self.assertEqual(["Ingress todo-spin: /api/chat reaches todo-spin-internal"], exposure_problems(objs, self.manifest))

    def test_the_scheduler_token_given_to_the_chat_spinapp_is_caught(self):
        def leak(k):
            k["patches"].append(
                {
                    "target": {"kind": "SpinApp", "name": "todo-spin-chat"},
                    "patch": yaml.safe_dump(
                        [
                            {
                                "op": "add",
                                "path": "/spec/variables/-",
                                "value": {
                                    "name": "internal_token",
                                    "valueFrom": {"secretKeyRef": {"name": "todo-spin-secrets", "key": "internal_token"}},
                                },
                            }
                        ]
                    ),
                }
            )

        _, objs = self.broken_dev(leak)
        (chat,) = [o for o in objs if o["kind"] == "SpinApp" and o["metadata"]["name"] == "todo-spin-chat"]
        self.assertEqual(
            ["internal_token is given but none of its components uses it"], variable_problems(chat, self.manifest)
        )

    def test_an_internal_spinapp_open_to_every_pod_is_caught(self):
        def without_policy(k):
            k["patches"].append(
                {
                    "target": {"kind": "NetworkPolicy", "name": "todo-spin-internal-ingress"},
                    "patch": "$patch: delete\napiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata:\n  name: any\n",
                }
            )

        _, objs = self.broken_dev(without_policy)
        self.assertEqual(
            ["0 ingress NetworkPolicies select SpinApp/todo-spin-internal's pods, not 1"],
            internal_policy_problems(objs, self.manifest),
        )

        def from_every_pod(k):
            k["patches"].append(
                {
                    "target": {"kind": "NetworkPolicy", "name": "todo-spin-internal-ingress"},
                    "patch": yaml.safe_dump(
                        [{"op": "add", "path": "/spec/ingress/0/from/-", "value": {"podSelector": {}}}]
                    ),
                }
            )

        _, objs = self.broken_dev(from_every_pod)
        self.assertEqual(
            ["NetworkPolicy/todo-spin-internal-ingress admits {'podSelector': {}}"],
            internal_policy_problems(objs, self.manifest),
        )


if __name__ == "__main__":
    unittest.main()
