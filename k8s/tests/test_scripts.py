"""scripts/k8s-image's last step, which writes a release into an overlay,
on a copy of each overlay: the rendered SpinApps and Job then run the new
images, and the migration Job is named after the new release. (Building and
pushing need a container engine and a registry, which CI has not;
scripts/k8s-check dry-runs and lints the scripts.)"""

import os
import shutil
import subprocess
import tempfile
import unittest
from pathlib import Path

from test_manifests import REPO, K8S, containers, image_problems, kubectl, kustomization_of, overlays, render

K8S_IMAGE = REPO / "scripts" / "k8s-image"


def write_overlay(directory, registry, tag):
    return subprocess.run(
        [str(K8S_IMAGE), "--write-overlay", str(directory), registry, tag],
        capture_output=True,
        text=True,
    )


@unittest.skipUnless(kubectl(), "kubectl not found: install it (scripts/k8s-check does)")
class K8sImage(unittest.TestCase):
    def copy(self, overlay):
        tmp = Path(tempfile.mkdtemp(prefix="k8s-image-"))
        self.addCleanup(shutil.rmtree, tmp)
        copy = tmp / overlay.name
        shutil.copytree(overlay, copy)
        text = (copy / "kustomization.yaml").read_text()
        base = os.path.relpath(K8S / "base", copy)
        (copy / "kustomization.yaml").write_text(text.replace("../../base", base))
        return copy

    def test_a_release_written_into_an_overlay_is_what_it_runs(self):
        for overlay in overlays():
            with self.subTest(overlay=overlay.name):
                copy = self.copy(overlay)
                before = (copy / "kustomization.yaml").read_text()
                done = write_overlay(copy, "registry.example:5000/acme", "0123abcd4567")
                self.assertEqual(0, done.returncode, done.stderr)
                objs = render(copy)
                self.assertEqual([], image_problems(kustomization_of(copy), objs))
                images = {o["spec"]["image"] for o in objs if o["kind"] == "SpinApp"}
                self.assertEqual({"registry.example:5000/acme/todo-spin:0123abcd4567"}, images)
                (job,) = [o for o in objs if o["kind"] == "Job"]
                self.assertEqual("todo-spin-migrate-0123abcd4567", job["metadata"]["name"])
                self.assertEqual(
                    ["registry.example:5000/acme/todo-spin-migrate:0123abcd4567"],
                    [c["image"] for c in containers(job)],
                )
                # Only those lines changed: the comments are kept.
                after = (copy / "kustomization.yaml").read_text()
                changed = [a for a, b in zip(after.splitlines(), before.splitlines()) if a != b]
                self.assertEqual(5, len(changed), changed)
                self.assertEqual(len(before.splitlines()), len(after.splitlines()))

    def test_a_tag_that_cannot_name_a_job_is_refused(self):
        copy = self.copy(next(iter(overlays())))
        before = (copy / "kustomization.yaml").read_text()
        for tag in ("Main", "v1_2", "-x", "x" * 46):
            with self.subTest(tag=tag):
                done = write_overlay(copy, "registry.example", tag)
                self.assertNotEqual(0, done.returncode)
                self.assertEqual(before, (copy / "kustomization.yaml").read_text())


if __name__ == "__main__":
    unittest.main()
