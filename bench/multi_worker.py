"""Multi-worker overhead: DCGAN training steps per second in 1 process vs 2 local worker
processes under `MultiWorkerMirroredStrategy` at the same global batch, and the time one step
spends in all-reduce (the gradients of D and of G, summed over the workers).

Each configuration runs `train_dcgan` (stage 1 for one short epoch, then stage 2); a callback
times stage 2's steps after `--warmup` steps. The all-reduce time is measured in the 2-worker
processes after training: all-reduces of tensors shaped like D's and G's trainable variables,
as `train_step` does once for each, timed over `--reduces` repetitions. On one machine the two
workers share its cores and talk over localhost, so this is the overhead of the multi-worker
runtime, not a scaling figure.

Prints one JSON line. Run: `python bench/multi_worker.py [--steps 30] [--batch-size 64] [--image-size 64]`
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def _settings(args):
    return dict(image_size=args.image_size, batch_size=args.batch_size, steps_per_epoch=args.steps, epochs=1,
                text_encoder_epochs=1, checkpoint_every=0)


def _worker(args):
    """One process of a configuration: trains, times, and (chief) writes the figures to `args.result`."""
    import keras
    import tensorflow as tf

    from tfgan_text.training.strategy import is_chief, select_strategy
    from tfgan_text.training.train_dcgan import train_dcgan

    strategy = select_strategy(args.strategy)

    class StepTimer(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            self.times = []

        def on_train_batch_end(self, batch, logs=None):
            self.times.append(time.perf_counter())

    timer = StepTimer()
    model = train_dcgan(args.out, strategy=args.strategy, callbacks=[timer], verbose=0, **_settings(args))
    timed = timer.times[args.warmup:]
    figures = {"steps_per_second": (len(timed) - 1) / (timed[-1] - timed[0])}
    if args.strategy == "multi_worker":
        figures["all_reduce_ms_per_step"] = 1000 * _all_reduce_seconds(strategy, model, args.reduces, tf)
    if is_chief(strategy):
        with open(args.result, "w", encoding="utf-8") as file:
            json.dump(figures, file)


def _all_reduce_seconds(strategy, model, repetitions, tf):
    """Seconds of one step's all-reduces: D's gradients, then G's (shapes of their variables)."""
    groups = [[tf.ones(v.shape) for v in net.trainable_variables] for net in (model.discriminator, model.generator)]

    @tf.function
    def reduce_all():
        def replica_fn():
            context = tf.distribute.get_replica_context()
            return [context.all_reduce("sum", group) for group in groups]
        return strategy.run(replica_fn)

    reduce_all()  # trace and warm up
    start = time.perf_counter()
    for _ in range(repetitions):
        result = reduce_all()
    tf.nest.map_structure(lambda t: t.numpy() if hasattr(t, "numpy") else t, result)
    return (time.perf_counter() - start) / repetitions


def _run(args, workers, root):
    """Runs a configuration of `workers` processes; returns the chief's figures."""
    out, result = os.path.join(root, f"run_{workers}"), os.path.join(root, f"result_{workers}.json")
    strategy = "multi_worker" if workers > 1 else "one_device"
    command = [sys.executable, __file__, "--worker", "--strategy", strategy, "--out", out, "--result", result,
               "--steps", str(args.steps), "--batch-size", str(args.batch_size), "--image-size", str(args.image_size),
               "--warmup", str(args.warmup), "--reduces", str(args.reduces)]
    from tfgan_text.training.strategy import localhost_tf_configs

    processes = []
    for tf_config in localhost_tf_configs(workers) if workers > 1 else [None]:
        env = {**os.environ, **({"TF_CONFIG": tf_config} if tf_config else {})}
        processes.append(subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True))
    for process in processes:
        _, stderr = process.communicate()
        if process.returncode:
            raise SystemExit(f"a worker failed:\n{stderr[-3000:]}")
    with open(result, encoding="utf-8") as file:
        return json.load(file)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=30, help="stage-2 steps per configuration")
    parser.add_argument("--warmup", type=int, default=5, help="untimed first steps")
    parser.add_argument("--batch-size", type=int, default=64, help="the global batch")
    parser.add_argument("--image-size", type=int, default=64)
    parser.add_argument("--reduces", type=int, default=20, help="timed all-reduce repetitions")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--strategy", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    parser.add_argument("--result", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        return _worker(args)
    with tempfile.TemporaryDirectory() as root:
        one, two = _run(args, 1, root), _run(args, 2, root)
    print(json.dumps({
        "bench": "multi_worker", "cpus": os.cpu_count(), "global_batch": args.batch_size,
        "image_size": args.image_size, "timed_steps": args.steps - args.warmup,
        "one_process_steps_per_second": round(one["steps_per_second"], 3),
        "two_workers_steps_per_second": round(two["steps_per_second"], 3),
        "two_workers_vs_one_process": round(two["steps_per_second"] / one["steps_per_second"], 3),
        "all_reduce_ms_per_step": round(two["all_reduce_ms_per_step"], 2),
    }))


if __name__ == "__main__":
    main()
