"""The choices the networks' constructors take, in a module without TensorFlow: the command
line builds its flags from them before anything heavy is imported."""

import math

from tfgan_text.errors import UserError

# ImageEncoder: how the last map becomes one feature, and how blocks halve their maps.
POOLINGS = ("average", "flatten")
DOWNSAMPLINGS = ("strided", "max_pool")
# DCGAN networks: the image sides they are built for, how G doubles its maps, where the caption enters G.
IMAGE_SIZES = (32, 64, 128)
UPSAMPLINGS = ("transposed", "resize")
CONDITIONINGS = ("input", "batch_norm")
# AttnGAN: the first stage's image sides (from a 4x4 map), and the most stages.
ATTNGAN_BASE_SIZES = (16, 32, 64, 128)
ATTNGAN_MAX_STAGES = 4


def doubling_steps(image_size):
    """Number of stride-2 steps between 4x4 and `image_size`."""
    if image_size not in IMAGE_SIZES:
        raise UserError(f"image_size must be one of {IMAGE_SIZES}, got {image_size}")
    return int(math.log2(image_size // 4))


def generator_hidden_sizes(image_size):
    """Sizes of the generator's maps between 4x4 and the image: 8, 16, ... `image_size // 2`."""
    return [4 * 2**i for i in range(1, doubling_steps(image_size))]
