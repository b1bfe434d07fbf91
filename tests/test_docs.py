"""The README and docs/ point at files that exist, and the package names no file outside the repository."""

import glob
import os
import re
import unittest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DOCUMENTS = ["README.md", *sorted(os.path.relpath(path, ROOT) for path in glob.glob(os.path.join(ROOT, "docs", "*.md")))]
# Repository paths written in backticks: `tfgan_text/presets/`, `bench/text_to_image_quality.py`, ...
REPOSITORY_PATH = re.compile(r"`((?:tfgan_text|bench|docs|notebooks|serving|tests|saved_models)/[\w./-]*)`")
MARKDOWN_LINK = re.compile(r"\]\(([^)#\s]+)\)")


def _read(path):
    with open(os.path.join(ROOT, path), encoding="utf-8") as file:
        return file.read()


class DocumentsTest(unittest.TestCase):
    def test_links_and_named_paths_exist(self):
        for document in DOCUMENTS:
            text = _read(document)
            base = os.path.dirname(os.path.join(ROOT, document))
            for target in MARKDOWN_LINK.findall(text):
                if "://" not in target:
                    with self.subTest(document=document, link=target):
                        self.assertTrue(os.path.exists(os.path.join(base, target)), f"{document} links {target}")
            for path in REPOSITORY_PATH.findall(text):
                if "NAME" in path or "VERSION" in path:
                    continue  # a pattern such as saved_models/NAME/onnx
                with self.subTest(document=document, path=path):
                    self.assertTrue(os.path.exists(os.path.join(ROOT, path.rstrip("."))), f"{document} names {path}")

    def test_the_package_names_no_document_outside_the_repository(self):
        for path in glob.glob(os.path.join(ROOT, "tfgan_text", "**", "*.py"), recursive=True):
            for name in re.findall(r"\b([A-Z][A-Za-z_]+\.md)\b", _read(path)):
                with self.subTest(module=os.path.relpath(path, ROOT), document=name):
                    self.assertTrue(os.path.exists(os.path.join(ROOT, name)), f"{path} cites {name}")
