"""Image metrics on activations (FID, KID, IS, precision/recall, R-precision): closed forms,
independent numpy references written here, and hand-made cases counted by hand."""

import tracemalloc
import unittest

import numpy as np

from tfgan_text.errors import UserError
from tfgan_text.metrics.frechet_distance import (
    activation_statistics,
    fid_from_features,
    frechet_distance,
)
from tfgan_text.metrics.inception_score import inception_score
from tfgan_text.metrics.kernel_distance import (
    kernel_inception_distance,
    polynomial_kernel,
    unbiased_mmd2,
)
from tfgan_text.metrics.precision_recall import manifold_radii, precision_recall
from tfgan_text.metrics.r_precision import r_precision


def _spd(rng, d):
    a = rng.normal(size=(d, d))
    return a @ a.T / d + 0.1 * np.eye(d)


def _reference_fid(x, y):
    """FID with Tr sqrt(C1 C2) = Tr sqrt(C1^1/2 C2 C1^1/2), both roots by eigendecomposition."""
    m1, m2 = x.mean(0), y.mean(0)
    c1 = (x - m1).T @ (x - m1) / (len(x) - 1)
    c2 = (y - m2).T @ (y - m2) / (len(y) - 1)
    w, v = np.linalg.eigh(c1)
    root1 = v @ np.diag(np.sqrt(np.clip(w, 0, None))) @ v.T
    inner = np.linalg.eigvalsh(root1 @ c2 @ root1)
    return np.sum((m1 - m2) ** 2) + np.trace(c1) + np.trace(c2) - 2 * np.sum(np.sqrt(np.clip(inner, 0, None)))


def _reference_mmd2(x, y):
    """Unbiased MMD^2 with the cubic kernel by explicit loops."""
    d = x.shape[1]

    def k(a, b):
        return (sum(a[t] * b[t] for t in range(d)) / d + 1) ** 3

    m, n = len(x), len(y)
    xx = sum(k(x[i], x[j]) for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
    yy = sum(k(y[i], y[j]) for i in range(n) for j in range(n) if i != j) / (n * (n - 1))
    xy = sum(k(x[i], y[j]) for i in range(m) for j in range(n)) / (m * n)
    return xx + yy - 2 * xy


class UserErrorMixin:
    def assert_user_error(self, fn, *args, **kwargs):
        with self.assertRaises(UserError) as caught:
            fn(*args, **kwargs)
        message = str(caught.exception)
        self.assertTrue(message)
        self.assertNotIn("\n", message)
        return message


class FrechetDistanceTest(UserErrorMixin, unittest.TestCase):
    def test_commuting_diagonal_closed_form(self):
        a, b = np.array([1.0, 4.0, 9.0]), np.array([4.0, 1.0, 0.25])
        m1, m2 = np.array([0.0, 1.0, 2.0]), np.array([1.0, 1.0, 0.0])
        expected = np.sum((np.sqrt(a) - np.sqrt(b)) ** 2) + np.sum((m1 - m2) ** 2)
        self.assertAlmostEqual(frechet_distance(m1, np.diag(a), m2, np.diag(b)), expected, places=10)
        self.assertAlmostEqual(frechet_distance(m1, np.diag(a), m1, np.diag(a)), 0.0, places=10)

    def test_general_spd_closed_form(self):
        rng = np.random.default_rng(1)
        c1, c2 = _spd(rng, 5), _spd(rng, 5)
        m1, m2 = rng.normal(size=5), rng.normal(size=5)
        # Tr sqrt(C1 C2) = sum of sqrt of the eigenvalues of C1 C2 (real and positive for SPD C1, C2).
        eig = np.linalg.eigvals(c1 @ c2).real
        expected = np.sum((m1 - m2) ** 2) + np.trace(c1 + c2) - 2 * np.sum(np.sqrt(eig))
        self.assertAlmostEqual(frechet_distance(m1, c1, m2, c2), expected, places=9)

    def test_matches_reference_on_random_activations(self):
        rng = np.random.default_rng(2)
        x = rng.normal(size=(300, 16)) @ rng.normal(size=(16, 16))
        y = rng.normal(loc=0.3, size=(250, 16)) @ rng.normal(size=(16, 16))
        self.assertAlmostEqual(fid_from_features(x, y) / _reference_fid(x, y), 1.0, delta=1e-6)

    def test_statistics(self):
        x = np.random.default_rng(3).normal(size=(50, 4)).astype(np.float32)
        mean, cov = activation_statistics(x)
        self.assertEqual(mean.dtype, np.float64)
        self.assertEqual(cov.shape, (4, 4))
        np.testing.assert_allclose(cov, np.cov(x.astype(np.float64), rowvar=False))
        self.assertEqual(activation_statistics(x[:, :1])[1].shape, (1, 1))

    def test_same_distribution_near_zero_versus_shifted(self):
        rng = np.random.default_rng(4)
        x, y = rng.normal(size=(2000, 8)), rng.normal(size=(2000, 8))
        shifted = rng.normal(loc=1.0, size=(2000, 8))
        same, far = fid_from_features(x, y), fid_from_features(x, shifted)
        self.assertAlmostEqual(far, 8.0, delta=0.5)
        self.assertLess(abs(same), 0.05 * far)

    def test_singular_covariances_retry_with_eps(self):
        # Fewer samples than features: both covariances, and their product, are singular.
        rng = np.random.default_rng(5)
        x, y = rng.normal(size=(6, 10)), rng.normal(size=(6, 10))
        value = fid_from_features(x, y)
        self.assertTrue(np.isfinite(value))
        self.assertAlmostEqual(fid_from_features(x, x), 0.0, delta=1e-3)

    def test_bad_input(self):
        self.assert_user_error(fid_from_features, np.zeros((5, 3)), np.zeros((5, 4)))
        self.assert_user_error(fid_from_features, np.zeros(5), np.zeros((5, 1)))
        self.assert_user_error(fid_from_features, np.zeros((1, 3)), np.zeros((5, 3)))
        self.assert_user_error(fid_from_features, np.full((5, 3), np.nan), np.zeros((5, 3)))
        self.assert_user_error(frechet_distance, np.zeros(2), np.eye(3), np.zeros(2), np.eye(2))
        self.assert_user_error(frechet_distance, np.zeros(2), np.eye(2), np.zeros(3), np.eye(3))
        # Not positive semi-definite: sqrt of the product has a large imaginary part.
        message = self.assert_user_error(
            frechet_distance, np.zeros(2), np.diag([1.0, -4.0]), np.zeros(2), np.eye(2)
        )
        self.assertIn("imaginary", message)


class KernelDistanceTest(UserErrorMixin, unittest.TestCase):
    def test_kernel(self):
        x, y = np.array([[1.0, 2.0]]), np.array([[3.0, -1.0], [0.0, 0.0]])
        np.testing.assert_allclose(polynomial_kernel(x, y), [[(1 / 2 + 1) ** 3, 1.0]])

    def test_mmd2_matches_loops(self):
        rng = np.random.default_rng(6)
        x, y = rng.normal(size=(7, 3)), rng.normal(loc=0.5, size=(5, 3))
        self.assertAlmostEqual(unbiased_mmd2(x, y) / _reference_mmd2(x, y), 1.0, delta=1e-6)

    def test_kid_matches_loops_on_subsets(self):
        rng = np.random.default_rng(7)
        x, y = rng.normal(size=(12, 3)), rng.normal(loc=0.5, size=(10, 3))
        kid = kernel_inception_distance(x, y, num_subsets=4, subset_size=6, seed=3)
        draw = np.random.default_rng(3)
        values = []
        for _ in range(4):
            r = x[draw.choice(12, 6, replace=False)]
            g = y[draw.choice(10, 6, replace=False)]
            values.append(_reference_mmd2(r, g))
        self.assertAlmostEqual(kid["mean"] / np.mean(values), 1.0, delta=1e-6)
        self.assertAlmostEqual(kid["std"] / np.std(values), 1.0, delta=1e-6)
        # subset_size is clipped to the smaller set: with equal sizes every subset is both sets.
        whole = kernel_inception_distance(x[:10], y, num_subsets=3, subset_size=1000)
        self.assertAlmostEqual(whole["mean"] / _reference_mmd2(x[:10], y), 1.0, delta=1e-6)
        self.assertAlmostEqual(whole["std"], 0.0, places=12)

    def test_unbiased_near_zero_for_one_distribution(self):
        rng = np.random.default_rng(8)
        x, y = rng.normal(size=(400, 8)), rng.normal(size=(400, 8))
        shifted = rng.normal(loc=0.5, size=(400, 8))
        same = kernel_inception_distance(x, y, num_subsets=200, subset_size=50)
        far = kernel_inception_distance(x, shifted, num_subsets=200, subset_size=50)
        self.assertLess(abs(same["mean"]), same["std"])
        self.assertLess(abs(same["mean"]), 0.05 * far["mean"])
        # Deterministic for a seed.
        self.assertEqual(same, kernel_inception_distance(x, y, num_subsets=200, subset_size=50))

    def test_bad_input(self):
        self.assert_user_error(kernel_inception_distance, np.zeros((5, 3)), np.zeros((5, 2)))
        self.assert_user_error(kernel_inception_distance, np.zeros((1, 3)), np.zeros((5, 3)))
        self.assert_user_error(kernel_inception_distance, np.zeros((5, 3)), np.zeros((5, 3)), subset_size=1)
        self.assert_user_error(kernel_inception_distance, np.zeros((5, 3)), np.zeros((5, 3)), num_subsets=0)
        self.assert_user_error(unbiased_mmd2, np.zeros((1, 3)), np.zeros((5, 3)))
        self.assert_user_error(polynomial_kernel, np.zeros(3), np.zeros((5, 3)))


class InceptionScoreTest(UserErrorMixin, unittest.TestCase):
    def test_uniform_is_one(self):
        score = inception_score(np.full((40, 5), 0.2), splits=4)
        self.assertAlmostEqual(score["mean"], 1.0, places=12)
        self.assertAlmostEqual(score["std"], 0.0, places=12)

    def test_confident_and_even_is_number_of_classes(self):
        # 10 splits of 7 rows, each split holding classes 0..6 once.
        probabilities = np.tile(np.eye(7), (10, 1))
        score = inception_score(probabilities, splits=10)
        self.assertAlmostEqual(score["mean"], 7.0, places=10)
        self.assertAlmostEqual(score["std"], 0.0, places=10)

    def test_hand_computed(self):
        # One split of [1, 0] and [0.5, 0.5]: p(y) = [0.75, 0.25].
        p = np.array([[1.0, 0.0], [0.5, 0.5]])
        kl = np.mean([np.log(1 / 0.75), 0.5 * np.log(0.5 / 0.75) + 0.5 * np.log(0.5 / 0.25)])
        self.assertAlmostEqual(inception_score(p, splits=1)["mean"], np.exp(kl), places=12)

    def test_bad_input(self):
        self.assert_user_error(inception_score, np.full(5, 0.2))
        self.assert_user_error(inception_score, np.full((4, 2), 0.4), splits=1)
        self.assert_user_error(inception_score, np.array([[1.5, -0.5]]), splits=1)
        self.assert_user_error(inception_score, np.full((4, 2), 0.5), splits=5)
        self.assert_user_error(inception_score, np.full((4, 2), 0.5), splits=0)


class PrecisionRecallTest(UserErrorMixin, unittest.TestCase):
    def test_hand_made_1d(self):
        real = np.array([[0.0], [1.0], [2.0], [10.0]])
        generated = np.array([[0.5], [6.0], [20.0], [30.0]])
        # k=1 radii. Real: 1, 1, 1, 8. Generated: 5.5, 5.5, 10, 10.
        np.testing.assert_allclose(manifold_radii(real, k=1), [1, 1, 1, 8])
        np.testing.assert_allclose(manifold_radii(generated, k=1, batch_size=3), [5.5, 5.5, 10, 10])
        # Precision: 0.5 (near 0) and 6 (4 from 10) are in; 20 and 30 are out.
        # Recall: 0, 1, 2 are within 5.5 of 0.5; 10 is within 10 of 20.
        for batch_size in (1, 2, 1000):
            self.assertEqual(
                precision_recall(real, generated, k=1, batch_size=batch_size), {"precision": 0.5, "recall": 1.0}
            )
        # k=2 radii of real: 2, 1, 2, 9: 20 is out, 6 in. Generated: 19.5, 14, 14, 24 -> recall 1.
        self.assertEqual(precision_recall(real, generated, k=2), {"precision": 0.5, "recall": 1.0})

    def test_identical_and_disjoint(self):
        rng = np.random.default_rng(9)
        x = rng.normal(size=(200, 8))
        self.assertEqual(precision_recall(x, x.copy(), batch_size=64), {"precision": 1.0, "recall": 1.0})
        self.assertEqual(precision_recall(x, x + 100.0, batch_size=64), {"precision": 0.0, "recall": 0.0})

    def test_memory_is_bounded_by_batch_times_n(self):
        rng = np.random.default_rng(11)
        x, y = rng.normal(size=(2000, 16)), rng.normal(size=(2000, 16))
        tracemalloc.start()
        try:
            precision_recall(x, y, batch_size=100)
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        self.assertLess(peak, 1.5 * 100 * 2000 * 8)  # one [100, 2000] float64 batch, not [2000, 2000]

    def test_radii_exclude_the_sample_itself(self):
        x = np.array([[0.0, 0.0], [3.0, 4.0], [6.0, 8.0]])
        np.testing.assert_allclose(manifold_radii(x, k=1), [5, 5, 5])
        np.testing.assert_allclose(manifold_radii(x, k=2), [10, 5, 10])

    def test_bad_input(self):
        self.assert_user_error(precision_recall, np.zeros((5, 3)), np.zeros((5, 2)))
        self.assert_user_error(precision_recall, np.zeros((3, 3)), np.zeros((5, 3)), k=3)
        self.assert_user_error(precision_recall, np.zeros((5, 3)), np.zeros((5, 3)), k=0)
        self.assert_user_error(precision_recall, np.zeros((5, 3)), np.zeros((5, 3)), batch_size=0)
        self.assert_user_error(manifold_radii, np.zeros(5))


class RPrecisionTest(UserErrorMixin, unittest.TestCase):
    def test_hand_made_3x3(self):
        texts = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
        # Image 0 and 1 prefer their own caption; image 2 is closest to caption 0.
        images = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 0.1]])
        result = r_precision(images, texts, num_mismatched=2, draws=1)
        self.assertAlmostEqual(result["mean"], 2 / 3)
        self.assertEqual(result["std"], 0.0)
        self.assertEqual(result["num_candidates"], 3)
        # Scale does not matter (cosine similarity).
        self.assertAlmostEqual(r_precision(5 * images, 0.1 * texts, num_mismatched=2, draws=1)["mean"], 2 / 3)

    def test_ties_are_misses_and_groups_exclude_duplicates(self):
        # Captions 0 and 2 are the same text.
        texts = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0]])
        images = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0]])
        self.assertAlmostEqual(r_precision(images, texts, num_mismatched=2, draws=1)["mean"], 1 / 3)
        grouped = r_precision(images, texts, num_mismatched=1, draws=5, groups=np.array([0, 1, 0]))
        self.assertEqual(grouped["mean"], 1.0)
        self.assertEqual(grouped["num_candidates"], 2)
        # Images 0 and 2 have only one caption of another group.
        self.assert_user_error(r_precision, images, texts, num_mismatched=2, groups=np.array([0, 1, 0]))

    def test_random_draws(self):
        rng = np.random.default_rng(10)
        texts = rng.normal(size=(60, 8))
        perfect = r_precision(texts, texts, num_mismatched=20, draws=3)
        self.assertEqual((perfect["mean"], perfect["std"]), (1.0, 0.0))
        images = rng.normal(size=(60, 8))
        noise = r_precision(images, texts, num_mismatched=20, draws=4, seed=1)
        self.assertLess(noise["mean"], 0.3)  # chance is 1/21
        self.assertEqual(noise, r_precision(images, texts, num_mismatched=20, draws=4, seed=1))

    def test_too_few_images_and_bad_input(self):
        images = np.eye(3)
        message = self.assert_user_error(r_precision, images, images)
        self.assertIn("at least 100 images", message)
        self.assert_user_error(r_precision, images, np.eye(4)[:3], num_mismatched=2)
        self.assert_user_error(r_precision, images, images, num_mismatched=0)
        self.assert_user_error(r_precision, images, images, num_mismatched=2, draws=0)
        self.assert_user_error(r_precision, images, images, num_mismatched=2, groups=np.array([0, 1]))
        self.assert_user_error(r_precision, np.zeros(3), np.zeros(3), num_mismatched=2)
