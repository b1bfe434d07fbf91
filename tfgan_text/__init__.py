"""tfgan_text: generative adversarial networks between text and images (TF 2 / Keras 3).

Importing the package is light: TensorFlow is imported by the sub-modules that need it.
"""

__version__ = "0.1.0"
