"""The notebooks run top to bottom (executed with nbclient, on their small default budgets)."""

import glob
import os

import nbformat
import pytest
from nbclient import NotebookClient

from tests.test_case import TestCase

NOTEBOOKS = sorted(glob.glob(os.path.join(os.path.dirname(__file__), "..", "notebooks", "*.ipynb")))


@pytest.mark.slow
class NotebooksTest(TestCase):
    def test_there_are_notebooks(self):
        self.assertNotEmpty(NOTEBOOKS)

    def test_every_notebook_runs(self):
        for path in NOTEBOOKS:
            with self.subTest(notebook=os.path.basename(path)):
                notebook = nbformat.read(path, as_version=4)
                client = NotebookClient(notebook, timeout=600, kernel_name="python3", resources={"metadata": {"path": self.temp_dir()}})
                client.execute()
                errors = [output for cell in notebook.cells for output in cell.get("outputs", []) if output.get("output_type") == "error"]
                self.assertEqual(errors, [])
                images = [output for cell in notebook.cells for output in cell.get("outputs", []) if "image/png" in output.get("data", {})]
                self.assertNotEmpty(images)
