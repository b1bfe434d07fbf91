"""GAN losses against values computed by hand (TF-GAN's losses_impl tests are the model)."""

import math

import numpy as np

from tests.test_case import TestCase
from tfgan_text import losses
from tfgan_text.errors import UserError


def _softplus(x):
    return math.log1p(math.exp(x))


class LossesTest(TestCase):
    def setUp(self):
        super().setUp()
        # D logits for two examples; the [B, 1] shape of the discriminator.
        self.real = np.array([[2.0], [-1.0]], "float32")
        self.wrong = np.array([[0.5], [1.5]], "float32")
        self.fake = np.array([[-3.0], [0.0]], "float32")

    def test_sigmoid_cross_entropy(self):
        # BCE(x, t) = softplus(x) - t * x
        got = losses.sigmoid_cross_entropy(np.array([2.0, -1.0], "float32"), 0.75)
        self.assertAllClose(got, [_softplus(2.0) - 1.5, _softplus(-1.0) + 0.75])

    def test_gan_cls_discriminator_loss(self):
        got = losses.gan_cls_discriminator_loss(self.real, self.wrong, self.fake)
        expected = [
            _softplus(-2.0) + 0.5 * _softplus(0.5) + 0.5 * _softplus(-3.0),
            _softplus(1.0) + 0.5 * _softplus(1.5) + 0.5 * _softplus(0.0),
        ]
        self.assertEqual(got.shape, (2,))
        self.assertAllClose(got, expected)

    def test_label_smoothing_only_changes_the_real_target(self):
        # BCE(x, 1 - s) - BCE(x, 1) = s * x, on the real pair only.
        plain = losses.gan_cls_discriminator_loss(self.real, self.wrong, self.fake)
        smoothed = losses.gan_cls_discriminator_loss(self.real, self.wrong, self.fake, label_smoothing=0.1)
        self.assertAllClose(np.asarray(smoothed) - np.asarray(plain), [0.2, -0.1])

    def test_term_weights(self):
        got = losses.gan_cls_discriminator_loss(self.real, self.wrong, self.fake, wrong_weight=1.0, fake_weight=0.0)
        self.assertAllClose(got, [_softplus(-2.0) + _softplus(0.5), _softplus(1.0) + _softplus(1.5)])

    def test_bad_label_smoothing(self):
        with self.assertRaises(UserError):
            losses.gan_cls_discriminator_loss(self.real, self.wrong, self.fake, label_smoothing=1.0)

    def test_non_saturating_generator_loss(self):
        got = losses.non_saturating_generator_loss(self.fake)
        self.assertAllClose(got, [_softplus(3.0), math.log(2.0)])

    def test_hinge_discriminator_loss(self):
        got = losses.hinge_discriminator_loss(self.real, self.wrong, self.fake)
        # relu(1 - real) + 0.5 relu(1 + wrong) + 0.5 relu(1 + fake)
        self.assertAllClose(got, [0.0 + 0.75 + 0.0, 2.0 + 1.25 + 0.5])

    def test_hinge_generator_loss(self):
        self.assertAllClose(losses.hinge_generator_loss(self.fake), [3.0, 0.0])

    def test_patch_logits_are_averaged_per_example(self):
        patches = np.array([[[1.0, 3.0]], [[-2.0, 0.0]]], "float32")  # [B, 1, 2]
        self.assertAllClose(losses.hinge_generator_loss(patches), [-2.0, 1.0])

    def test_paired_l1_loss(self):
        generated = np.zeros((2, 1, 2, 1), "float32")
        target = np.array([[[[0.5], [-1.0]]], [[[0.0], [0.0]]]], "float32")
        self.assertAllClose(losses.paired_l1_loss(generated, target), [0.75, 0.0])


class HardNegativeMatchingLossTest(TestCase):
    # Unit images and texts: text i matches image i exactly, the other pair is orthogonal.
    IMAGES = np.array([[1.0, 0.0], [0.0, 2.0]], "float32")
    TEXTS = np.array([[3.0, 0.0], [0.0, 1.0]], "float32")
    # One hard negative per image: cosine 1/sqrt(2) with image 0, -1 with image 1.
    NEGATIVES = np.array([[[1.0, 1.0]], [[0.0, -5.0]]], "float32")

    def test_hand_computed(self):
        r = 1 / math.sqrt(2)
        # Text -> image: scores [1, 0] for text 0 and [0, 1] for text 1.
        text_to_image = [_softplus(-1.0), _softplus(-1.0)]
        # Image -> text: the batch's texts, then the image's own negative.
        image_to_text = [
            math.log(math.exp(1.0) + math.exp(0.0) + math.exp(r)) - 1.0,
            math.log(math.exp(0.0) + math.exp(1.0) + math.exp(-1.0)) - 1.0,
        ]
        got = losses.hard_negative_matching_loss(self.IMAGES, self.TEXTS, self.NEGATIVES, gamma=1.0)
        self.assertAllClose(got, np.add(text_to_image, image_to_text), atol=1e-6)
        got = losses.hard_negative_matching_loss(self.IMAGES, self.TEXTS, self.NEGATIVES, gamma=2.0)
        expected = [
            _softplus(-2.0) + math.log(math.exp(2.0) + 1.0 + math.exp(2 * r)) - 2.0,
            _softplus(-2.0) + math.log(1.0 + math.exp(2.0) + math.exp(-2.0)) - 2.0,
        ]
        self.assertAllClose(got, expected, atol=1e-6)

    def test_mask_and_labels(self):
        r = 1 / math.sqrt(2)
        # A masked negative is no negative: image 0's row is the plain one.
        got = losses.hard_negative_matching_loss(
            self.IMAGES, self.TEXTS, self.NEGATIVES, gamma=1.0, negative_mask=[[False], [True]]
        )
        expected = [2 * _softplus(-1.0), _softplus(-1.0) + math.log(1.0 + math.exp(1.0) + math.exp(-1.0)) - 1.0]
        self.assertAllClose(got, expected, atol=1e-6)
        # Equal labels drop the batch's other pair, but not the hard negatives.
        got = losses.hard_negative_matching_loss(self.IMAGES, self.TEXTS, self.NEGATIVES, gamma=1.0, labels=[4, 4])
        expected = [math.log(math.exp(1.0) + math.exp(r)) - 1.0, math.log(math.exp(1.0) + math.exp(-1.0)) - 1.0]
        self.assertAllClose(got, expected, atol=1e-6)

    def test_without_negatives_it_is_the_symmetric_loss(self):
        images = np.array([[1.0, 0.3], [0.2, 2.0], [-1.0, 0.5]], "float32")
        texts = np.array([[3.0, 0.1], [1.0, 1.0], [0.0, -1.0]], "float32")
        negatives = np.ones([3, 2, 2], "float32")
        got = losses.hard_negative_matching_loss(
            images, texts, negatives, gamma=5.0, labels=[1, 2, 1], negative_mask=np.zeros([3, 2], bool)
        )
        self.assertAllClose(got, losses.symmetric_matching_loss(images, texts, gamma=5.0, labels=[1, 2, 1]), atol=1e-6)


def _word_match_reference(e, v, gamma1, gamma2):
    """AttnGAN's R(Q, D) (eqs. 8-11) of one caption's words `e` [T, D] and one image's regions `v` [R, D]."""
    if not len(e):
        return 0.0  # a caption without words scores 0 with every image
    s = np.exp(e @ v.T)
    s = s / s.sum(axis=0, keepdims=True)  # eq. 8, over the words
    a = np.exp(gamma1 * s) / np.exp(gamma1 * s).sum(axis=1, keepdims=True)  # eq. 9, over the regions
    c = a @ v
    cos = (c * e).sum(axis=1) / np.linalg.norm(c, axis=1) / np.linalg.norm(e, axis=1)
    return np.log(np.exp(gamma2 * cos).sum()) / gamma2  # eqs. 10-11


def _damsm_word_reference(regions, words, mask, gamma1=4.0, gamma2=5.0, gamma3=10.0, negatives=None):
    """AttnGAN's word loss (eqs. 7-13) in plain numpy, one caption-image pair at a time;
    `negatives[i]`: a list of (words, mask) of image i's hard negative captions."""
    batch, dim = len(words), words.shape[-1]
    regions = regions.reshape(batch, -1, dim)
    logits = np.array([[gamma3 * _word_match_reference(words[i][mask[i]], regions[j], gamma1, gamma2)
                        for j in range(batch)] for i in range(batch)])
    text_to_image = np.log(np.exp(logits).sum(axis=1)) - np.diag(logits)
    image_to_text = []
    for i in range(batch):
        row = list(logits[:, i])
        for negative, negative_mask in (negatives or {}).get(i, []):
            row.append(gamma3 * _word_match_reference(negative[negative_mask], regions[i], gamma1, gamma2))
        image_to_text.append(np.log(np.exp(row).sum()) - logits[i, i])
    return text_to_image + np.array(image_to_text)


class DamsmWordLossTest(TestCase):
    def setUp(self):
        super().setUp()
        rng = np.random.default_rng(0)
        self.regions = rng.standard_normal([4, 3, 3, 8]).astype("float32")
        self.words = rng.standard_normal([4, 6, 8]).astype("float32")
        self.mask = np.ones([4, 6], bool)
        self.mask[1, 3:] = False  # a short caption
        self.mask[2] = False  # an empty one

    def test_equals_a_numpy_computation_of_the_paper(self):
        got = losses.damsm_word_loss(self.regions, self.words, self.mask)
        self.assertAllClose(got, _damsm_word_reference(self.regions, self.words, self.mask), rtol=1e-5)
        got = losses.damsm_word_loss(self.regions, self.words, self.mask, gamma1=2.0, gamma2=1.0, gamma3=3.0)
        expected = _damsm_word_reference(self.regions, self.words, self.mask, 2.0, 1.0, 3.0)
        self.assertAllClose(got, expected, rtol=1e-5)
        # [B, R, D] regions are the same as [B, H, W, D].
        self.assertAllClose(losses.damsm_word_loss(self.regions.reshape(4, 9, 8), self.words, self.mask),
                            losses.damsm_word_loss(self.regions, self.words, self.mask))

    def test_hard_negatives_join_each_images_softmax_over_texts(self):
        rng = np.random.default_rng(1)
        negative_words = rng.standard_normal([4, 2, 6, 8]).astype("float32")
        negative_word_mask = np.ones([4, 2, 6], bool)
        negative_word_mask[0, 1, 4:] = False
        negative_mask = np.array([[True, True], [False, True], [True, False], [False, False]])
        got = losses.damsm_word_loss(self.regions, self.words, self.mask, negative_words=negative_words,
                                     negative_word_mask=negative_word_mask, negative_mask=negative_mask)
        negatives = {i: [(negative_words[i, k], negative_word_mask[i, k]) for k in range(2) if negative_mask[i, k]]
                     for i in range(4)}
        expected = _damsm_word_reference(self.regions, self.words, self.mask, negatives=negatives)
        self.assertAllClose(got, expected, rtol=1e-5)
        # Without a negative left, it is the plain loss.
        self.assertAllClose(got[3], losses.damsm_word_loss(self.regions, self.words, self.mask)[3], rtol=1e-6)

    def test_padding_is_ignored(self):
        padded = self.words.copy()
        padded[1, 3:] = 100.0
        self.assertAllClose(losses.damsm_word_loss(self.regions, padded, self.mask),
                            losses.damsm_word_loss(self.regions, self.words, self.mask))

    def test_an_image_missing_a_word_scores_lower(self):
        # Caption 0 names two things (words 0 and 1), each the feature of one region of image 0.
        words = np.zeros([2, 2, 4], "float32")
        words[0, 0, 0] = words[0, 1, 1] = 1.0
        words[1, 0, 2] = words[1, 1, 3] = 1.0
        both = np.zeros([2, 2, 1, 4], "float32")
        both[0, 0, 0, 0] = both[0, 1, 0, 1] = 3.0
        both[1, 0, 0, 2] = both[1, 1, 0, 3] = 3.0
        one = both.copy()
        one[0, 1, 0] = one[0, 0, 0]  # image 0 shows the first thing twice, the second not at all
        mask = np.ones([2, 2], bool)
        self.assertLess(float(losses.damsm_word_loss(both, words, mask)[0]),
                        float(losses.damsm_word_loss(one, words, mask)[0]))

    def test_labels_leave_out_pairs_of_equal_content(self):
        labels = [7, 7, 1, 2]
        got = losses.damsm_word_loss(self.regions[:2], self.words[:2], self.mask[:2], labels=labels[:2])
        self.assertAllClose(got, [0.0, 0.0], atol=1e-5)  # each pair's only other pair is left out
        self.assertTrue(np.all(np.isfinite(losses.damsm_word_loss(self.regions, self.words, self.mask, labels=labels))))
