"""Tests of the `tfgan-text` command line: real work on good input, one line on bad input."""

import contextlib
import io
import os
import subprocess
import sys

from PIL import Image

from tests.test_case import TestCase
from tfgan_text import cli


def run_cli(*argv):
    """(exit status, stdout, stderr) of `tfgan-text argv` run in this process."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            status = cli.main(list(argv))
        except SystemExit as exit_:  # argparse usage errors
            status = exit_.code
    return status, out.getvalue(), err.getvalue()


class DataPreviewTest(TestCase):
    def test_writes_a_grid_of_shapes_with_captions(self):
        path = os.path.join(self.temp_dir(), "grid.png")
        status, out, err = run_cli("data", "preview", "--out", path, "--n", "4", "--image-size", "32", "--split", "val")
        self.assertEqual(status, 0, err)
        self.assertIn("4 images", out)
        grid = Image.open(path)
        # 2 x 2 cells of at least 128 px, with room for captions under each.
        self.assertGreaterEqual(grid.width, 256)
        self.assertGreater(grid.height, grid.width)

    def test_bad_input_is_one_line_and_status_2(self):
        directory = self.temp_dir()
        cases = [
            ("data", "preview", "--data", os.path.join(directory, "missing"), "--out", os.path.join(directory, "a.png")),
            ("data", "preview", "--split", "nonsense", "--out", os.path.join(directory, "b.png")),
            ("data", "preview", "--image-size", "48", "--out", os.path.join(directory, "c.png")),
            ("data", "preview", "--out", os.path.join(directory, "no", "such", "dir.png")),
        ]
        for argv in cases:
            with self.subTest(argv=argv):
                status, _, err = run_cli(*argv)
                self.assertEqual(status, 2)
                self.assertEqual(len(err.strip().splitlines()), 1, err)
                self.assertTrue(err.startswith("tfgan-text: error: "), err)
        self.assertEqual(os.listdir(directory), [])

    def test_negative_option_is_a_usage_error(self):
        status, _, err = run_cli("data", "preview", "--n", "-3")
        self.assertEqual(status, 2)
        self.assertIn("positive integer", err)

    def test_console_script_module_runs_without_traceback(self):
        result = subprocess.run(
            [sys.executable, "-m", "tfgan_text.cli", "data", "preview", "--data", "/no/such/dataset"],
            capture_output=True,
            text=True,
            timeout=120,
        )
        self.assertEqual(result.returncode, 2)
        self.assertNotIn("Traceback", result.stderr)
        self.assertIn("/no/such/dataset", result.stderr)
