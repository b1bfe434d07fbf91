"""A small convolutional image encoder giving region features and a global feature (DAMSM)."""

import keras
import numpy as np
from keras import ops

from tfgan_text.errors import UserError
from tfgan_text.models.network_options import DOWNSAMPLINGS, POOLINGS


@keras.saving.register_keras_serializable(package="tfgan_text")
class ImageEncoder(keras.Model):
    """Image encoder for image-text matching, trained from scratch (the DAMSM image side).

    AttnGAN takes region features from an intermediate layer of Inception-v3 and the global
    feature from its last layer, both projected to E (Xu et al. 2018). This is the same shape
    of network at a small size: stride-2 convolution blocks (4x4 kernels, batch norm, synchronized
    across replicas, after the first, LeakyReLU 0.2); the map after all blocks but the last, projected by a 1x1
    convolution, gives the regions; the last block, global average pooling and a linear layer
    give the global feature. With the default 4 blocks, 64x64 images give 8x8 regions.

    Args:
        embedding_dim: int, width E of region and global features (AttnGAN: 256).
        filters: tuple of at least 2 ints, widths of the stride-2 blocks.
        regions: bool, also give region features; False gives only `{"global": ...}` (what a
            caption generator needs) and leaves out the region projection.
        pooling: str, how the last map becomes the global feature: `"average"` (global average
            pooling, as AttnGAN) or `"flatten"` (every cell to the linear layer: keeps where
            things are, which captions that name places need).
        downsampling: str, how each block halves the map: `"strided"` (a stride-2 4x4
            convolution, the DCGAN/AttnGAN way) or `"max_pool"` (a 3x3 convolution at the
            block's full resolution, then 2x2 max pooling, as VGG: keeps the corners of small
            shapes, which a stride-2 first layer blurs).
        coordinates: bool, give every block two more input channels holding the row and
            column of each cell in [-1, 1] (CoordConv, Liu et al. 2018), so that filters can
            respond to where a thing is and average pooling keeps it; the region projection
            reads them too, so each region feature can say where it is.
        **kwargs: passed to `keras.Model`.

    Example:
        >>> encoder = ImageEncoder(embedding_dim=64, filters=(16, 32))
        >>> out = encoder(np.zeros([2, 32, 32, 3], "float32"))  # regions [2, 16, 16, 64], global [2, 64]
    """

    def __init__(self, embedding_dim=256, filters=(32, 64, 128, 256), regions=True, pooling="average",
                 downsampling="strided", coordinates=False, **kwargs):
        super().__init__(**kwargs)
        if len(filters) < 2:
            raise UserError(f"filters must have at least 2 widths; got {filters!r}")
        if pooling not in POOLINGS:
            raise UserError(f"pooling must be one of {', '.join(POOLINGS)}; got {pooling!r}")
        if downsampling not in DOWNSAMPLINGS:
            raise UserError(f"downsampling must be one of {', '.join(DOWNSAMPLINGS)}; got {downsampling!r}")
        self.embedding_dim = embedding_dim
        self.filters = tuple(filters)
        self.regions = regions
        self.pooling = pooling
        self.downsampling = downsampling
        self.coordinates = coordinates
        self.blocks = [self._block(i, width, downsampling) for i, width in enumerate(self.filters)]
        if regions:
            self.region_projection = keras.layers.Conv2D(embedding_dim, 1, name="region_projection")
        if pooling == "average":
            self.pool = keras.layers.GlobalAveragePooling2D(name="pool")
        else:
            self.pool = keras.layers.Flatten(name="pool")
        self.global_projection = keras.layers.Dense(embedding_dim, name="global_projection")

    @staticmethod
    def _block(index, width, downsampling):
        if downsampling == "strided":
            layers = [keras.layers.Conv2D(width, 4, strides=2, padding="same", use_bias=index == 0)]
        else:
            layers = [keras.layers.Conv2D(width, 3, padding="same", use_bias=index == 0)]
        if index > 0:
            layers.append(keras.layers.BatchNormalization(momentum=0.9, synchronized=True))
        layers.append(keras.layers.LeakyReLU(0.2))
        if downsampling == "max_pool":
            layers.append(keras.layers.MaxPooling2D(2))
        return keras.Sequential(layers, name=f"block_{index}")

    def build(self, input_shape):
        shape = tuple(input_shape)
        for block in self.blocks:
            if self.coordinates:
                shape = shape[:-1] + (shape[-1] + 2,)
            block.build(shape)
            shape = block.compute_output_shape(shape)
            if self.regions and block is self.blocks[-2]:
                self.region_projection.build(shape[:-1] + (shape[-1] + 2 * self.coordinates,))
        self.global_projection.build(self.pool.compute_output_shape(shape))
        self.built = True

    def call(self, images, training=False):
        maps = self.feature_maps(images, training=training)
        outputs = {"regions": self.region_projection(self._with_coordinates(maps[-2]))} if self.regions else {}
        outputs["global"] = self.global_projection(self.pool(maps[-1]))
        return {name: ops.cast(value, "float32") for name, value in outputs.items()}  # also under mixed precision

    def feature_maps(self, images, training=False):
        """The output map of every block, from the first (finest) to the last `[B, 4, 4, C]`
        at 64 px; what a discriminator on this encoder's features reads."""
        x = ops.convert_to_tensor(images, dtype=self.compute_dtype)
        maps = []
        for block in self.blocks:
            x = block(self._with_coordinates(x), training=training)
            maps.append(x)
        return maps

    def feature_map_shapes(self, input_shape):
        """The shapes of `feature_maps`' outputs for images of `input_shape` (blocks built)."""
        shapes, shape = [], tuple(input_shape)
        for block in self.blocks:
            shape = block.compute_output_shape(shape[:-1] + (shape[-1] + 2 * self.coordinates,))
            shapes.append(shape)
        return shapes

    def _with_coordinates(self, x):
        """`x` `[B, H, W, C]` with row and column channels appended (when `coordinates`)."""
        if not self.coordinates:
            return x
        height, width = x.shape[1], x.shape[2]
        rows, cols = np.meshgrid(np.linspace(-1, 1, height), np.linspace(-1, 1, width), indexing="ij")
        grid = ops.convert_to_tensor(np.stack([rows, cols], axis=-1)[None], dtype=x.dtype)
        grid = ops.broadcast_to(grid, (ops.shape(x)[0], height, width, 2))
        return ops.concatenate([x, grid], axis=-1)

    def get_config(self):
        config = super().get_config()
        config.update({"embedding_dim": self.embedding_dim, "filters": self.filters, "regions": self.regions,
                       "pooling": self.pooling, "downsampling": self.downsampling,
                       "coordinates": self.coordinates})
        return config
