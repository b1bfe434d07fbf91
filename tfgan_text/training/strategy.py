"""Choosing the `tf.distribute` strategy a run trains under, and a worker's place in a cluster."""

import functools
import json
import os
import socket

import tensorflow as tf

from tfgan_text.errors import UserError

STRATEGIES = ("auto", "mirrored", "one_device", "multi_worker")
MULTI_WORKER_TASK_TYPES = ("chief", "worker")

_multi_worker_strategy = None


def select_strategy(name="auto"):
    """Returns the strategy named by `--strategy`.

    Args:
        name: str, one of `STRATEGIES`. `auto` is `MirroredStrategy` over all GPUs when there
            are several, else the default strategy (one device); `mirrored` mirrors over all
            GPUs, or over all logical CPU devices when there is no GPU; `one_device` is the
            default strategy; `multi_worker` is `MultiWorkerMirroredStrategy` configured by
            the `TF_CONFIG` environment variable (see `multi_worker_strategy`).
    """
    if name not in STRATEGIES:
        raise UserError(f"unknown strategy {name!r}; expected one of {', '.join(STRATEGIES)}")
    if name == "multi_worker":  # before anything else here starts TensorFlow's runtime
        return multi_worker_strategy()
    gpus = tf.config.list_logical_devices("GPU")
    if name == "mirrored":
        devices = gpus or tf.config.list_logical_devices("CPU")
        return _mirrored_strategy(tuple(device.name for device in devices))
    if name == "auto" and len(gpus) > 1:
        return _mirrored_strategy(tuple(device.name for device in gpus))
    return tf.distribute.get_strategy()


@functools.cache
def _mirrored_strategy(devices):
    """One `MirroredStrategy` per device set and process: strategies made anew for every run
    would reuse collective instance keys, and TensorFlow's collective executor, which caches
    the shapes of earlier instances, would abort a later all-reduce with a shape mismatch."""
    return tf.distribute.MirroredStrategy(list(devices))


def multi_worker_strategy():
    """The process's `MultiWorkerMirroredStrategy`, built once from `TF_CONFIG`.

    TensorFlow configures collective ops when its runtime starts, so the strategy must be
    built before the process runs any TensorFlow op; every `train` function builds it first.
    The constructor waits until every worker of the cluster has started.
    """
    global _multi_worker_strategy
    if _multi_worker_strategy is None:
        check_tf_config(os.environ.get("TF_CONFIG"))
        try:
            _multi_worker_strategy = tf.distribute.MultiWorkerMirroredStrategy()
        except RuntimeError as error:
            if "program startup" not in str(error):
                raise
            raise UserError("--strategy multi_worker must be chosen before TensorFlow runs anything in the process: "
                            "start training in a fresh process") from None
    return _multi_worker_strategy


def check_tf_config(text):
    """A one-line `UserError` unless `text` is a `TF_CONFIG` that `MultiWorkerMirroredStrategy`
    can run: JSON with a `cluster` of chief/worker addresses and a `task` in that cluster."""
    if not text:
        raise UserError("--strategy multi_worker needs the TF_CONFIG environment variable (the cluster and this "
                        "task); see docs/distributed_training.md")
    try:
        config = json.loads(text)
    except ValueError as error:
        raise UserError(f"TF_CONFIG is not valid JSON: {error}") from None
    cluster = config.get("cluster") if isinstance(config, dict) else None
    if not isinstance(cluster, dict) or not cluster:
        raise UserError('TF_CONFIG has no "cluster": expected {"cluster": {"worker": ["host:port", ...]}, '
                        '"task": {"type": "worker", "index": 0}}')
    for task_type, addresses in cluster.items():
        if task_type not in MULTI_WORKER_TASK_TYPES:
            raise UserError(f"TF_CONFIG's cluster has {task_type!r} tasks; MultiWorkerMirroredStrategy runs only "
                            f"{' and '.join(MULTI_WORKER_TASK_TYPES)} tasks")
        if not isinstance(addresses, list) or not all(isinstance(a, str) and ":" in a for a in addresses):
            raise UserError(f"TF_CONFIG's cluster {task_type!r} must be a list of \"host:port\" addresses, "
                            f"got {addresses!r}")
    if len(cluster.get("chief", [])) > 1:
        raise UserError(f"TF_CONFIG's cluster has {len(cluster['chief'])} chiefs; it can have at most one")
    task = config.get("task")
    if not isinstance(task, dict) or "type" not in task or "index" not in task:
        raise UserError('TF_CONFIG has no "task" with a "type" and an "index" (which task of the cluster this process is)')
    task_type, index = task["type"], task["index"]
    if task_type not in cluster or not isinstance(index, int) or not 0 <= index < len(cluster[task_type]):
        sizes = ", ".join(f"{name}: {len(addresses)}" for name, addresses in cluster.items())
        raise UserError(f"TF_CONFIG's task {task_type} {index} is not in its cluster ({sizes})")


def localhost_tf_configs(count):
    """`TF_CONFIG` values (JSON) of a cluster of `count` workers on free localhost ports, one
    per worker process, worker 0 (the chief) first: to try multi-worker training on one machine."""
    sockets = [socket.socket() for _ in range(count)]
    for sock in sockets:
        sock.bind(("localhost", 0))
    addresses = [f"localhost:{sock.getsockname()[1]}" for sock in sockets]
    for sock in sockets:
        sock.close()
    return [json.dumps({"cluster": {"worker": addresses}, "task": {"type": "worker", "index": index}})
            for index in range(count)]


def is_chief(strategy):
    """Whether this process writes the run's files: the chief of a multi-worker cluster (the
    `chief` task, else worker 0), or the one process of any other strategy."""
    return strategy.extended.should_checkpoint


def task_name(strategy):
    """`chief-0`, `worker-1`, ...: this process's task in a multi-worker cluster, else `local`."""
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not resolver.task_type:
        return "local"
    return f"{resolver.task_type}-{resolver.task_id}"
