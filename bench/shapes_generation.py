"""Time the built-in shapes dataset: generating 10,000 64x64 examples, a first `load_split`
(generate + write the cache file) and a cached one. Prints one JSON line of seconds (wall
clock; best of `--repeats` where repeated). Run from the repository root with the package
installed: `python bench/shapes_generation.py [--image-size 64] [--num-examples 10000]`."""

import argparse
import json
import tempfile
import time

from tfgan_text.data import shapes


def best_time(fn, repeats):
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--num-examples", type=int, default=10000)
    parser.add_argument("--image-size", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    n, size = args.num_examples, args.image_size

    generate_s = best_time(lambda: shapes.generate(n, image_size=size), args.repeats)
    with tempfile.TemporaryDirectory() as cache_dir:
        def load():
            return shapes.load_split("train", size, num_examples=n, cache_dir=cache_dir)

        first_load_s = best_time(load, 1)  # generates and writes the cache file
        read_s = best_time(load, args.repeats)
    print(
        json.dumps(
            {
                "benchmark": "shapes_generation",
                "num_examples": n,
                "image_size": size,
                "generate_s": round(generate_s, 3),
                "examples_per_s": round(n / generate_s),
                "first_load_s": round(first_load_s, 3),
                "cache_read_s": round(read_s, 3),
            }
        )
    )


if __name__ == "__main__":
    main()
