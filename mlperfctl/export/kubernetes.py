"""Kubernetes batch/v1 Jobs from ContainerSpecs, with the same hardening.

| ContainerSpec                 | Kubernetes                                                             |
| ----------------------------- | ---------------------------------------------------------------------- |
| image                         | image (by digest when known), imagePullPolicy IfNotPresent             |
| read-only mounts (data/model) | volumes (hostPath, or a PersistentVolumeClaim) mounted readOnly        |
| read-write /results, /cache   | a results volume (PVC or hostPath) with the cell as subPath; cache emptyDir |
| user 10001, no root           | runAsNonRoot, runAsUser/runAsGroup/fsGroup 10001                       |
| read_only_root, cap_drop ALL, | readOnlyRootFilesystem, capabilities.drop [ALL],                        |
| no-new-privileges             | allowPrivilegeEscalation false, privileged false, seccomp RuntimeDefault |
| tmpfs /tmp, shm_size          | emptyDir (medium Memory) at /tmp and /dev/shm with sizeLimit            |
| gpu nvidia / rocm devices     | resources.limits nvidia.com/gpu / amd.com/gpu (the device plugins)     |
| network none                  | a NetworkPolicy denying all ingress and egress for the job's pods      |
"""

from __future__ import annotations

import re

from .specs import Job

RESULTS_VOLUME = "results"
_SIZE = re.compile(r"^(\d+)([kmgt]?)b?$", re.I)


def _quantity(size: str) -> str:
    """docker sizes (4g, 512m) as Kubernetes quantities (4Gi, 512Mi)."""
    m = _SIZE.match(size.strip())
    if not m:
        return size
    unit = {"": "", "k": "Ki", "m": "Mi", "g": "Gi", "t": "Ti"}[m.group(2).lower()]
    return f"{m.group(1)}{unit}"


def _tmpfs_size(options: str) -> str | None:
    for opt in options.split(","):
        if opt.startswith("size="):
            return _quantity(opt[5:])
    return None


def _volume_name(target: str) -> str:
    return re.sub(r"[^a-z0-9-]", "-", target.strip("/").lower())[:50].strip("-") or "root"


def job_manifest(job: Job, *, namespace: str | None = None, node_selector: dict[str, str] | None = None,
                 claims: dict[str, str] | None = None, gpus: int = 1, results_claim: str | None = None,
                 results_host_path: str | None = None, backoff_limit: int = 0) -> dict:
    """One batch/v1 Job. `claims`: container path (/data, /model/...) -> PVC name, else hostPath."""
    spec, claims = job.spec, claims or {}
    uid, _, gid = (spec.user or "10001:10001").partition(":")
    labels = {"app.kubernetes.io/name": "mlperfctl", "mlperfctl.io/job": job.name,
              "mlperfctl.io/cell": job.cell[:63], "mlperfctl.io/scenario": job.scenario, "mlperfctl.io/mode": job.mode}
    volumes, mounts = [], []
    for m in spec.mounts:
        if not m.read_only:                           # /results and /cache
            continue
        name = _volume_name(m.target)
        claim = next((c for t, c in claims.items() if m.target == t or m.target.startswith(t.rstrip("/") + "/")), None)
        source = ({"persistentVolumeClaim": {"claimName": claim, "readOnly": True}} if claim
                  else {"hostPath": {"path": m.source}})
        volumes.append({"name": name, **source})
        mounts.append({"name": name, "mountPath": m.target, "readOnly": True})
    results = ({"persistentVolumeClaim": {"claimName": results_claim}} if results_claim
               else {"hostPath": {"path": results_host_path or "/var/lib/mlperfctl/results",
                                  "type": "DirectoryOrCreate"}})
    volumes.append({"name": RESULTS_VOLUME, **results})
    mounts.append({"name": RESULTS_VOLUME, "mountPath": "/results",
                   "subPath": job.cell})   # the harness writes /results/<scenario>/<mode>
    volumes.append({"name": "cache", "emptyDir": {}})
    mounts.append({"name": "cache", "mountPath": "/cache"})
    for i, (path, options) in enumerate(spec.tmpfs):
        size = _tmpfs_size(options)
        limit = {"sizeLimit": size} if size else {}
        volumes.append({"name": f"tmpfs-{i}", "emptyDir": {"medium": "Memory", **limit}})
        mounts.append({"name": f"tmpfs-{i}", "mountPath": path})
    if spec.shm_size:
        volumes.append({"name": "dshm", "emptyDir": {"medium": "Memory", "sizeLimit": _quantity(spec.shm_size)}})
        mounts.append({"name": "dshm", "mountPath": "/dev/shm"})
    container = {
        "name": "harness",
        "image": spec.image,
        "imagePullPolicy": "IfNotPresent",
        "args": list(spec.argv),
        "env": [{"name": k, "value": v} for k, v in spec.env],
        "volumeMounts": mounts,
        "securityContext": {
            "runAsNonRoot": True, "runAsUser": int(uid), "runAsGroup": int(gid or uid),
            "readOnlyRootFilesystem": spec.read_only_root, "allowPrivilegeEscalation": False,
            "privileged": False, "capabilities": {"drop": list(spec.cap_drop)},
        },
    }
    if spec.entrypoint is not None:
        container["command"] = list(spec.entrypoint)
    if spec.working_dir:
        container["workingDir"] = spec.working_dir
    vendor = spec.gpu.vendor if spec.gpu else ("amd" if "/dev/kfd" in spec.devices else None)
    if vendor:
        resource = {"nvidia": "nvidia.com/gpu", "amd": "amd.com/gpu"}[vendor]
        container["resources"] = {"limits": {resource: gpus}}
    pod = {
        "restartPolicy": "Never",
        "automountServiceAccountToken": False,
        "enableServiceLinks": False,
        "securityContext": {"runAsNonRoot": True, "runAsUser": int(uid), "runAsGroup": int(gid or uid),
                            "fsGroup": int(gid or uid), "seccompProfile": {"type": "RuntimeDefault"}},
        "containers": [container],
        "volumes": volumes,
    }
    if node_selector:
        pod["nodeSelector"] = dict(node_selector)
    meta = {"name": job.name[:63].rstrip("-"), "labels": labels}
    if namespace:
        meta["namespace"] = namespace
    if not job.image_pinned:
        meta["annotations"] = {"mlperfctl.io/image-note": "image by tag: no registry digest was known "
                                                          "(push it with `mlperfctl push` for a digest)"}
    return {"apiVersion": "batch/v1", "kind": "Job", "metadata": meta,
            "spec": {"backoffLimit": backoff_limit, "template": {"metadata": {"labels": dict(labels)}, "spec": pod}}}


def network_policy(namespace: str | None = None) -> dict:
    """No ingress or egress for mlperfctl's pods (the containers' --network none)."""
    meta = {"name": "mlperfctl-no-network", "labels": {"app.kubernetes.io/name": "mlperfctl"}}
    if namespace:
        meta["namespace"] = namespace
    return {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "metadata": meta,
            "spec": {"podSelector": {"matchLabels": {"app.kubernetes.io/name": "mlperfctl"}},
                     "policyTypes": ["Ingress", "Egress"]}}
