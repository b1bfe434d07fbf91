"""The Kubernetes manifests in deploy/ agree with the command line, with serving/ and with each other.

Each check is a function that raises AssertionError; the tests run them on the manifests as
shipped, and on broken copies to show that each one catches what it is there for.
"""

import copy
import glob
import os
import posixpath
import re
import shlex
import unittest

import yaml

from tfgan_text.cli import build_parser
from tfgan_text.file_names import RUN_SETTINGS_FILE

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# The TFJob's wrapper: `--resume` (as "$@") once the run's settings file exists.
RESUME_TEST = re.compile(r"if \[ -f (\S+) \]; then set -- --resume; fi")


def _require(condition, message):
    if not condition:
        raise AssertionError(message)


def load_documents():
    """Every YAML document of deploy/*.yaml, in file order."""
    documents = []
    for path in sorted(glob.glob(os.path.join(ROOT, "deploy", "*.yaml"))):
        with open(path, encoding="utf-8") as file:
            documents.extend(document for document in yaml.safe_load_all(file) if document)
    return documents


def load_compose():
    """The TF Serving service of serving/docker-compose.yml."""
    with open(os.path.join(ROOT, "serving", "docker-compose.yml"), encoding="utf-8") as file:
        return yaml.safe_load(file)["services"]["tfserving"]


def load_models_config():
    """{model name: base_path} of serving/models.config (protobuf text; comments dropped)."""
    with open(os.path.join(ROOT, "serving", "models.config"), encoding="utf-8") as file:
        text = re.sub(r"#.*", "", file.read())
    names, paths = re.findall(r'\bname:\s*"([^"]+)"', text), re.findall(r'\bbase_path:\s*"([^"]+)"', text)
    _require(names and len(names) == len(paths), "models.config: one name and one base_path per config")
    return dict(zip(names, paths))


def _of_kind(documents, kind):
    return [document for document in documents if document.get("kind") == kind]


def _one(documents, kind):
    found = _of_kind(documents, kind)
    _require(len(found) == 1, f"expected one {kind} in deploy/, found {len(found)}")
    return found[0]


def _under(path, directory):
    return posixpath.commonpath([posixpath.normpath(path), directory]) == directory


def _mount_of(pod_spec, container, path):
    """(mount, volume) of the container's volume mount that holds `path`."""
    for mount in container.get("volumeMounts", []):
        if _under(path, mount["mountPath"]):
            volume = next((v for v in pod_spec.get("volumes", []) if v["name"] == mount["name"]), None)
            _require(volume is not None, f"volume mount {mount['name']!r} names no volume")
            return mount, volume
    raise AssertionError(f"{path} lies under no volume mount of container {container['name']!r}")


def tfgan_argv(container):
    """The `tfgan-text` arguments of a TFJob container's `sh -c` wrapper, and the file whose
    existence adds `--resume`."""
    command = container["command"]
    _require(command[:2] == ["sh", "-c"] and len(command) == 3, f"not an `sh -c SCRIPT` command: {command}")
    lines = [line.strip() for line in command[2].splitlines() if line.strip().startswith("exec tfgan-text ")]
    _require(len(lines) == 1, "the wrapper needs one `exec tfgan-text ...` line")
    argv = shlex.split(lines[0])[2:]
    _require(argv[-1:] == ["$@"], 'the exec line must end with "$@" (where --resume goes)')
    resume = RESUME_TEST.search(command[2])
    _require(resume is not None, "the wrapper must add --resume when the run's settings file exists")
    return argv[:-1], resume.group(1)


def _parse(argv):
    try:
        return build_parser().parse_args(argv)
    except SystemExit:
        raise AssertionError(f"tfgan-text rejects {shlex.join(argv)}") from None


def load_manifests():
    """What the checks compare: deploy/'s documents, docker-compose's service, models.config."""
    return {"deploy": load_documents(), "compose": load_compose(), "models": load_models_config()}


def check_training(manifests):
    documents = manifests["deploy"]
    claims = {claim["metadata"]["name"] for claim in _of_kind(documents, "PersistentVolumeClaim")}
    job = _one(documents, "TFJob")
    _require(job["apiVersion"] == "kubeflow.org/v1", "TFJob apiVersion must be kubeflow.org/v1")
    specs = job["spec"]["tfReplicaSpecs"]
    _require(set(specs) == {"Chief", "Worker"} and specs["Chief"]["replicas"] == 1, "one Chief and Workers")
    containers = {}
    for role, spec in specs.items():
        _require(spec["restartPolicy"] in ("OnFailure", "ExitCode"), f"{role}: failed replicas must restart")
        pod = spec["template"]["spec"]
        container = next((c for c in pod["containers"] if c["name"] == "tensorflow"), None)
        _require(container is not None, f"{role}: the operator sets TF_CONFIG in a container named tensorflow")
        _require({"name": "tfjob-port", "containerPort": 2222} in container.get("ports", []), f"{role}: no tfjob-port 2222")
        argv, resume_file = tfgan_argv(container)
        args = _parse(argv)
        _parse(argv + ["--resume"])
        _require(args.verb == "train", f"{role}: not a train command")
        _require(args.strategy == "multi_worker", f"{role}: --strategy must be multi_worker")
        _require(resume_file == posixpath.join(args.out, RUN_SETTINGS_FILE), f"{role}: --resume tests {resume_file}")
        _, volume = _mount_of(pod, container, args.out)
        claim = volume.get("persistentVolumeClaim", {}).get("claimName")
        _require(claim in claims, f"{role}: --out {args.out} is on no claim of deploy/ ({claim!r})")
        containers[role] = container
    _require(containers["Chief"] == containers["Worker"], "Chief and Worker must run the same container")
    for claim in _of_kind(documents, "PersistentVolumeClaim"):
        _require("ReadWriteMany" in claim["spec"]["accessModes"], f"{claim['metadata']['name']} must be ReadWriteMany")
    for pod in _of_kind(documents, "Pod"):
        for volume in pod["spec"]["volumes"]:
            claim = volume.get("persistentVolumeClaim", {}).get("claimName")
            _require(claim is None or claim in claims, f"pod {pod['metadata']['name']}: no claim {claim!r} in deploy/")


def check_serving(manifests):
    documents, compose, models = manifests["deploy"], manifests["compose"], manifests["models"]
    claims = {claim["metadata"]["name"] for claim in _of_kind(documents, "PersistentVolumeClaim")}
    deployment, service = _one(documents, "Deployment"), _one(documents, "Service")
    pod = deployment["spec"]["template"]["spec"]
    container = pod["containers"][0]
    _require(container["image"] == compose["image"], f"image {container['image']} is not compose's {compose['image']}")
    _require(container["command"] == compose["entrypoint"], "command differs from compose's entrypoint")
    _require(container["args"] == compose["command"], "args differ from compose's command")
    flags = dict(arg[2:].split("=", 1) for arg in container["args"] if "=" in arg)
    rest, grpc = int(flags["rest_api_port"]), int(flags["port"])
    _require({p["containerPort"] for p in container["ports"]} == {rest, grpc} == {8501, 8500}, "container ports")
    _require({(p["port"], p["targetPort"]) for p in service["spec"]["ports"]} == {(rest, rest), (grpc, grpc)},
             "Service ports")
    _require(service["spec"]["selector"].items() <= deployment["spec"]["template"]["metadata"]["labels"].items(),
             "the Service selects no pod of the Deployment")
    compose_mounts = {volume.split(":")[1] for volume in compose["volumes"]}
    for flag in ("model_config_file", "batching_parameters_file"):
        mount, volume = _mount_of(pod, container, flags[flag])
        _require("configMap" in volume, f"--{flag} is not on the ConfigMap volume")
        _require(os.path.isfile(os.path.join(ROOT, "serving", posixpath.relpath(flags[flag], mount["mountPath"]))),
                 f"--{flag}={flags[flag]}: no such file in serving/ to make the ConfigMap from")
        _require(mount["mountPath"] in compose_mounts, f"{mount['mountPath']} is not a mount of docker-compose.yml")
    for name, base_path in models.items():
        mount, volume = _mount_of(pod, container, base_path)
        _require(mount.get("readOnly") is True, f"{mount['mountPath']} must be mounted read-only")
        _require(volume.get("persistentVolumeClaim", {}).get("claimName") in claims, f"{name}: models on no claim")
        _require(mount["mountPath"] in compose_mounts, f"{mount['mountPath']} is not a mount of docker-compose.yml")
    probe = container["readinessProbe"]["httpGet"]
    _require(probe["port"] == rest, "the readiness probe must ask the REST port")
    _require(probe["path"].startswith("/v1/models/") and probe["path"].split("/")[-1] in models,
             f"readiness probe {probe['path']}: no such model in serving/models.config")


def _job_container(manifests, role):
    spec = _one(manifests["deploy"], "TFJob")["spec"]["tfReplicaSpecs"][role]
    spec["template"] = copy.deepcopy(spec["template"])  # the Worker's is the Chief's (a YAML alias)
    return spec["template"]["spec"]["containers"][0]


def _serving_container(manifests):
    return _one(manifests["deploy"], "Deployment")["spec"]["template"]["spec"]["containers"][0]


def _script(role, old, new):
    def edit(manifests):
        command = _job_container(manifests, role)["command"]
        _require(old in command[2], f"{old!r} is not in the script")
        command[2] = command[2].replace(old, new)
    return edit


# name: (check, how to break the manifests, what the check must say)
BROKEN = {
    "worker runs another preset": (check_training, _script("Worker", "shapes-demo", "quick"), "same container"),
    "one-machine strategy": (check_training, _script("Chief", "multi_worker", "mirrored"), "multi_worker"),
    "unknown flag": (check_training, _script("Chief", "--preset", "--recipe"), "rejects"),
    "--out off the volume": (check_training, _script("Chief", "/runs/dcgan-shapes", "/tmp/dcgan-shapes"), "no volume"),
    "--resume on another run": (check_training, _script("Chief", "-f /runs/dcgan-shapes/", "-f /runs/b/"), "tests"),
    "no --resume": (check_training, _script("Chief", "set -- --resume", "set --"), "add --resume"),
    "claim misnamed": (check_training, lambda m: _one(m["deploy"], "TFJob")["spec"]["tfReplicaSpecs"]["Chief"]
                       ["template"]["spec"]["volumes"][0]["persistentVolumeClaim"].update(claimName="x"), "no claim"),
    "no TF port": (check_training, lambda m: _job_container(m, "Worker")["ports"].clear(), "tfjob-port"),
    "another image tag": (check_serving, lambda m: m["compose"].update(image="tensorflow/serving:2.19.0"), "image"),
    "another argument": (check_serving, lambda m: _serving_container(m)["args"].append("--enable_model_warmup"), "args"),
    "container port": (check_serving, lambda m: _serving_container(m)["ports"][0].update(containerPort=80),
                       "container ports"),
    "Service port": (check_serving, lambda m: _one(m["deploy"], "Service")["spec"]["ports"][1].update(port=9000),
                     "Service ports"),
    "configs mounted elsewhere": (check_serving, lambda m: _serving_container(m)["volumeMounts"][1]
                                  .update(mountPath="/config"), "no volume mount"),
    "compose mounts configs elsewhere": (check_serving, lambda m: m["compose"]["volumes"].__setitem__(1, "./:/c:ro"),
                                         "not a mount of docker-compose"),
    "model outside the volume": (check_serving, lambda m: m["models"].update(dcgan_shapes="/srv/dcgan_shapes"),
                                 "no volume mount"),
    "models writable": (check_serving, lambda m: _serving_container(m)["volumeMounts"][0].update(readOnly=False),
                        "read-only"),
    "probe on an unknown model": (check_serving, lambda m: m["models"].update(other=m["models"].pop("dcgan_shapes")),
                                  "no such model"),
}


class DeployTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.manifests = load_manifests()

    def test_every_document_has_a_kind_and_a_name(self):
        self.assertGreaterEqual(len(self.manifests["deploy"]), 6)
        for document in self.manifests["deploy"]:
            self.assertTrue(document["kind"] and document["metadata"]["name"])

    def test_training_job_runs_the_command_line_on_the_shared_volume(self):
        check_training(self.manifests)

    def test_serving_matches_docker_compose_and_models_config(self):
        check_serving(self.manifests)

    def test_each_check_catches_a_broken_copy(self):
        for name, (check, edit, message) in BROKEN.items():
            with self.subTest(name):
                manifests = copy.deepcopy(self.manifests)
                edit(manifests)
                with self.assertRaisesRegex(AssertionError, re.escape(message)):
                    check(manifests)
