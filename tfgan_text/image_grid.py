"""A grid of images with their captions written under each: previews, samples, reports."""

import numpy as np
from PIL import Image, ImageDraw, ImageFont

MIN_CELL = 128
FONT_SIZE = 11
LINE_HEIGHT = 13
PADDING = 4


def image_grid(images, captions=None, columns=None, max_caption_lines=4):
    """Lays out images in a grid, each with its caption word-wrapped beneath it.

    Args:
        images: uint8 array `[N, H, W, 3]` (or float in [-1, 1], mapped to uint8).
        captions: optional list of N str, written under each image.
        columns: int, images per row; default about sqrt(N).
        max_caption_lines: int, longer captions are cut with "...".

    Returns:
        `PIL.Image.Image` (RGB). Small images are enlarged (nearest neighbour) so that each
        cell is at least 128 pixels wide and its caption readable.
    """
    images = to_uint8(images)
    count, height, width = images.shape[:3]
    columns = columns or int(np.ceil(np.sqrt(count)))
    rows = int(np.ceil(count / columns))
    scale = max(1, int(np.ceil(MIN_CELL / width)))
    cell_w, cell_h = width * scale, height * scale
    font = ImageFont.load_default(size=FONT_SIZE)
    text_h = (max_caption_lines * LINE_HEIGHT + PADDING) if captions is not None else 0
    grid = Image.new("RGB", (columns * (cell_w + PADDING) + PADDING, rows * (cell_h + text_h + PADDING) + PADDING), "white")
    draw = ImageDraw.Draw(grid)
    for index in range(count):
        row, column = divmod(index, columns)
        x = PADDING + column * (cell_w + PADDING)
        y = PADDING + row * (cell_h + text_h + PADDING)
        tile = Image.fromarray(images[index]).resize((cell_w, cell_h), Image.NEAREST)
        grid.paste(tile, (x, y))
        if captions is not None:
            lines = _wrap(str(captions[index]), font, cell_w, max_caption_lines)
            for line_number, line in enumerate(lines):
                draw.text((x, y + cell_h + 2 + line_number * LINE_HEIGHT), line, fill="black", font=font)
    return grid


def to_uint8(images):
    """uint8 pixels of images given as uint8, or as floats in [-1, 1] (a tanh generator's output)."""
    images = np.asarray(images)
    if images.dtype == np.uint8:
        return images
    return np.clip(np.round((np.nan_to_num(images) + 1.0) * 127.5), 0, 255).astype(np.uint8)


def _wrap(text, font, width, max_lines):
    """Greedy word wrap to `width` pixels; the last line ends in "..." if text was cut."""
    lines, current = [], ""
    for word in text.split():
        candidate = f"{current} {word}".strip()
        if current and font.getlength(candidate) > width:
            lines.append(current)
            current = word
        else:
            current = candidate
    if current:
        lines.append(current)
    if len(lines) > max_lines:
        lines = lines[:max_lines]
        lines[-1] = lines[-1] + " ..."
    return lines
