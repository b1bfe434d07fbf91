"""Tests of the `tfgan-text` command line: real work on good input, one line on bad input."""

import contextlib
import io
import os
import socket
import subprocess
import sys

from PIL import Image

from tests.test_case import TestCase
from tfgan_text import cli

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


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
                self.assertRegex(err, r"^tfgan-text( data preview)?: error: ")  # argparse names the verb
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


class GenerateTest(TestCase):
    def test_demo_model_draws_captions_deterministically(self):
        directory = self.temp_dir()
        first, second = os.path.join(directory, "a.png"), os.path.join(directory, "b.png")
        status, out, err = run_cli("generate", "a large yellow star in the centre", "--n", "2", "--out", first)
        self.assertEqual(status, 0, err)
        self.assertIn("2 image(s) for each of 1 caption(s)", out)
        run_cli("generate", "a large yellow star in the centre", "--n", "2", "--out", second)
        with open(first, "rb") as a, open(second, "rb") as b:
            self.assertEqual(a.read(), b.read())
        _, _, _ = run_cli("generate", "a large yellow star in the centre", "--n", "2", "--seed", "1", "--out", second)
        with open(first, "rb") as a, open(second, "rb") as b:
            self.assertNotEqual(a.read(), b.read())

    def test_odd_captions_give_images_and_one_line_each(self):
        path = os.path.join(self.temp_dir(), "odd.png")
        captions = ["", "zzz qqq", "🙂🐙🏳️‍🌈", "red star " * 5000, "ÉTOILE Rouge — ½ ﬁne"]
        status, out, err = run_cli("generate", *captions, "--out", path)
        self.assertEqual(status, 0, err)
        self.assertIn("caption 1 has no words", out)
        self.assertIn("caption 2: none of its 2 words", out)
        self.assertIn("caption 3: none of its", out)
        self.assertIn("caption 4: truncated at 30 of its 10000 tokens", out)
        self.assertEqual(Image.open(path).size[0] >= 128, True)

    def test_the_shipped_demos_are_found_from_any_working_directory(self):
        from tfgan_text.inference import caption, generate

        here = os.getcwd()
        os.chdir(self.temp_dir())
        try:
            for demo in (generate.DEMO_MODEL, caption.DEMO_MODEL):
                found = generate.resolve_model_dir(None, demo=demo)
                self.assertTrue(os.path.samefile(found, os.path.join(ROOT, demo)), found)
        finally:
            os.chdir(here)

    def test_missing_model_is_one_line(self):
        status, _, err = run_cli("generate", "a red circle", "--model", "/no/such/model", "--out", os.path.join(self.temp_dir(), "x.png"))
        self.assertEqual(status, 2)
        self.assertIn("/no/such/model holds no trained model", err)


class OutputAndServerArgumentsTest(TestCase):
    """Image outputs, ports and hosts that cannot be used: one line, status 2, nothing written."""

    def test_unusable_arguments_are_one_line_before_any_work(self):
        directory = self.temp_dir()
        busy = socket.create_server(("127.0.0.1", 0))
        self.addCleanup(busy.close)
        cases = [
            (("generate", "a", "--out", directory), "is a folder"),
            (("generate", "a", "--out", os.path.join(directory, "grid.bogus")), "does not end in .png"),
            (("generate", "a", "--attention-maps", os.path.join(directory, "maps.jpg")), "does not end in .png"),
            (("generate", "a", "--out", os.path.join(directory, "missing", "grid.png")), "output directory does not exist"),
            (("data", "preview", "--out", os.path.join(directory, "grid.txt")), "does not end in .png"),
            (("serve", directory, "--port", "70000"), "a port is 1 to 65535"),
            (("serve", directory, "--host", "999.1.1.1"), "cannot listen on --host 999.1.1.1"),
            (("serve", directory, "--port", str(busy.getsockname()[1])), "Address already in use"),
        ]
        for argv, message in cases:
            with self.subTest(argv=argv):
                status, out, err = run_cli(*argv)
                self.assertEqual(status, 2)
                self.assertIn(message, err)
                self.assertEqual(err.strip().count("\n"), 0, err)
        self.assertEqual(os.listdir(directory), [])
