"""Caption decoding: greedy search, seeded sampling and beam search (against exhaustive search)."""

import itertools

import numpy as np
import tensorflow as tf

from tests.test_case import TestCase
from tfgan_text.errors import UserError
from tfgan_text.models.image_to_text import decoding
from tfgan_text.models.image_to_text.captioner import Captioner
from tfgan_text.models.image_encoder import ImageEncoder
from tfgan_text.text.vocabulary import END_ID, PAD_ID, START_ID

VOCAB = 6
MAX_LENGTH = 5  # 4 generated tokens at most
STEPS = MAX_LENGTH - 1
FEATURES = 8
ALLOWED = [i for i in range(VOCAB) if i not in (PAD_ID, START_ID)]  # 1, 3 (<end>), 4, 5


def _captioner(scale=4.0, vocabulary_size=VOCAB, max_length=MAX_LENGTH, attention_heads=0):
    """A tiny captioner whose weights are scaled up so next-token distributions are peaky and varied."""
    captioner = Captioner(
        vocabulary_size=vocabulary_size,
        max_length=max_length,
        embedding_dim=8,
        hidden_dim=8,
        image_encoder=ImageEncoder(embedding_dim=FEATURES, filters=(4, 8), regions=attention_heads > 0),
        attention_heads=attention_heads,
    )
    captioner.build({"image": (None, 16, 16, 3)})
    for variable in captioner.trainable_variables:
        variable.assign(variable * scale)
    return captioner


def _features(captioner, size=6, seed=0):
    images = np.random.default_rng(seed).uniform(-1, 1, (size, 16, 16, 3)).astype("float32")
    return captioner.encode_images(images)


def _teacher_forced_log_prob(captioner, features, token_ids):
    """Sum of the model's log-probabilities of `token_ids` `[B, L]` (up to `<end>`), teacher-forced."""
    token_ids = np.asarray(token_ids)
    inputs = np.concatenate([np.full([len(token_ids), 1], START_ID), token_ids[:, :-1]], axis=1)
    log_probs = tf.nn.log_softmax(captioner.sequence_logits(features, inputs), axis=-1).numpy()
    picked = np.take_along_axis(log_probs, token_ids[..., None], axis=-1)[..., 0]
    return np.sum(np.where(token_ids != PAD_ID, picked, 0.0), axis=1)


class FormatMixin:
    def assert_format(self, token_ids, log_prob, batch, steps=STEPS):
        """int64 `[B, steps]`, no pad or start before `<end>`, only pad after it; float32 `[B]` <= 0."""
        self.assertEqual(token_ids.dtype, tf.int64)
        self.assertEqual(log_prob.dtype, tf.float32)
        self.assertEqual(tuple(token_ids.shape), (batch, steps))
        self.assertEqual(tuple(log_prob.shape), (batch,))
        for row in np.asarray(token_ids):
            ends = np.flatnonzero(row == END_ID)
            stop = ends[0] + 1 if len(ends) else steps
            self.assertFalse(np.isin(row[:stop], [PAD_ID, START_ID]).any(), row)
            self.assertTrue(np.all(row[stop:] == PAD_ID), row)
        self.assertTrue(np.all(np.asarray(log_prob) <= 0.0))


class GreedySearchTest(TestCase, FormatMixin):
    def test_format_and_log_prob_is_teacher_forced_sum(self):
        captioner = _captioner()
        features = _features(captioner)
        token_ids, log_prob = decoding.greedy_search(captioner, features)
        self.assert_format(token_ids, log_prob, 6)
        self.assertAllClose(log_prob, _teacher_forced_log_prob(captioner, features, token_ids), atol=1e-5)

    def test_each_token_is_the_argmax_of_allowed_tokens(self):
        captioner = _captioner()
        features = _features(captioner)
        token_ids, _ = decoding.greedy_search(captioner, features)
        token_ids = token_ids.numpy()
        inputs = np.concatenate([np.full([len(token_ids), 1], START_ID), token_ids[:, :-1]], axis=1)
        logits = captioner.sequence_logits(features, inputs).numpy()
        logits[..., [PAD_ID, START_ID]] = -np.inf
        expected = np.argmax(logits, axis=-1)
        self.assertAllEqual(np.where(token_ids != PAD_ID, expected, PAD_ID), token_ids)

    def test_graph_with_unknown_batch_size_matches_eager(self):
        captioner = _captioner()
        features = _features(captioner)
        decode = tf.function(
            lambda f: decoding.greedy_search(captioner, f),
            input_signature=[tf.TensorSpec([None, FEATURES], tf.float32)],
        )
        expected = decoding.greedy_search(captioner, features)
        actual = decode(features)
        self.assertAllEqual(actual[0], expected[0])
        self.assertAllClose(actual[1], expected[1], atol=1e-6)
        empty_ids, empty_log_prob = decode(features[:0])
        self.assertEqual(tuple(empty_ids.shape), (0, STEPS))
        self.assertEqual(tuple(empty_log_prob.shape), (0,))

    def test_max_length_argument(self):
        captioner = _captioner()
        token_ids, log_prob = decoding.greedy_search(captioner, _features(captioner), max_length=2)
        self.assert_format(token_ids, log_prob, 6, steps=1)
        with self.assertRaises(UserError):
            decoding.greedy_search(captioner, _features(captioner), max_length=1)


def _all_hypotheses(steps=STEPS):
    """int64 `[N, steps]`: every caption beam search can produce: ended by <end> within `steps`
    tokens (then padded), or `steps` tokens without <end>; and their lengths `[N]`."""
    words = [i for i in ALLOWED if i != END_ID]
    rows = []
    for length in range(1, steps + 1):
        for prefix in itertools.product(words, repeat=length - 1):
            rows.append(list(prefix) + [END_ID] + [PAD_ID] * (steps - length))
    rows += [list(words_) for words_ in itertools.product(words, repeat=steps)]
    rows = np.array(rows, np.int64)
    lengths = np.where((rows == END_ID).any(1), np.argmax(rows == END_ID, axis=1) + 1, steps)
    return rows, lengths


def _stepwise_log_prob(captioner, features, token_ids):
    """float64 `[B, N, L]`: the model's log-probability of the first t + 1 tokens of each of
    `token_ids` `[N, L]` for each image (cumulative over t; pads add nothing), fed step by step
    through `captioner.step` (the decoders' own path)."""
    features = np.asarray(features)
    n, steps = token_ids.shape
    batch = len(features)
    tiled_features = np.repeat(features, n, axis=0)  # image-major: row b * n + j
    tokens = np.tile(token_ids, [batch, 1])
    state = captioner.initial_state(tiled_features)
    previous = np.full([batch * n], START_ID, np.int64)
    gains = np.zeros([batch * n, steps])
    for t in range(steps):
        logits, state = captioner.step(previous, state, tiled_features)
        log_probs = tf.nn.log_softmax(logits, axis=-1).numpy().astype(np.float64)
        picked = log_probs[np.arange(batch * n), tokens[:, t]]
        gains[:, t] = np.where(tokens[:, t] != PAD_ID, picked, 0.0)
        previous = tokens[:, t]
    return np.cumsum(gains, axis=1).reshape(batch, n, steps)


def _reference_beam_search(prefix_log_prob, width, alpha, steps=STEPS):
    """The documented algorithm in plain Python on a table {prefix tuple: log-prob}: a list of
    (tokens, log_prob) best first."""

    def score(beam):
        return beam[1] / len(beam[0]) ** alpha

    beams = [((), 0.0, False)]
    for _ in range(steps):
        candidates = []
        for tokens, log_prob, ended in beams:
            if ended:
                candidates.append((tokens, log_prob, True))
                continue
            for token in ALLOWED:
                grown = tokens + (token,)
                candidates.append((grown, prefix_log_prob[grown], token == END_ID))
        beams = sorted(candidates, key=score, reverse=True)[:width]
        if all(ended for _, _, ended in beams):
            break
    return [(tokens, log_prob) for tokens, log_prob, _ in sorted(beams, key=score, reverse=True)]


class BeamSearchTest(TestCase, FormatMixin):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.hypotheses, cls.lengths = _all_hypotheses()

    def _make_captioner(self):
        return _captioner()

    def setUp(self):
        super().setUp()
        self.captioner = self._make_captioner()
        self.features = _features(self.captioner)
        cumulative = _stepwise_log_prob(self.captioner, self.features, self.hypotheses)
        self.exhaustive = cumulative[:, :, -1]
        # Every prefix's log-probability, per image, for the reference beam search.
        self.prefixes = [{} for _ in range(len(self.features))]
        for b, table in enumerate(self.prefixes):
            for row, length, sums in zip(self.hypotheses, self.lengths, cumulative[b]):
                for t in range(length):
                    table[tuple(int(i) for i in row[: t + 1])] = sums[t]

    def _index(self, row):
        matches = np.flatnonzero((self.hypotheses == np.asarray(row)).all(1))
        self.assertLen(matches, 1, f"{row} is not a well-formed hypothesis")
        return matches[0]

    def _scores(self, alpha):
        return self.exhaustive / self.lengths[None, :].astype(np.float64) ** alpha

    def test_as_wide_as_all_hypotheses_is_exhaustive_search(self):
        width = len(self.hypotheses)  # 121: 40 ended by <end> + 81 of full length
        best_by_alpha = {}
        for alpha in (0.0, 1.0):
            token_ids, log_prob, score = decoding.beam_search_beams(
                self.captioner, self.features, beam_width=width, length_normalization=alpha
            )
            scores = self._scores(alpha)
            for b in range(len(self.features)):
                found = [self._index(row) for row in token_ids[b].numpy()]
                self.assertCountEqual(found, range(width))  # every hypothesis, once
                self.assertAllClose(log_prob[b], self.exhaustive[b, found], atol=1e-5)
                self.assertAllClose(score[b], scores[b, found], atol=1e-5)
                self.assertTrue(np.all(np.diff(score[b].numpy()) <= 0))  # best first
            best_ids, best_log_prob = decoding.beam_search(
                self.captioner, self.features, beam_width=width, length_normalization=alpha
            )
            self.assert_format(best_ids, best_log_prob, len(self.features))
            chosen = [self._index(row) for row in best_ids.numpy()]
            self.assertAllClose(scores[np.arange(len(chosen)), chosen], scores.max(1), atol=1e-5)
            self.assertAllClose(best_log_prob, self.exhaustive[np.arange(len(chosen)), chosen], atol=1e-5)
            best_by_alpha[alpha] = np.argmax(scores, 1)
        # The fixture makes length normalisation matter (else alpha > 0 would test nothing new).
        self.assertFalse(np.array_equal(best_by_alpha[0.0], best_by_alpha[1.0]))

    def test_narrow_beam_follows_the_reference_and_is_no_better_than_exhaustive(self):
        differs_from_greedy = False
        greedy_ids, _ = decoding.greedy_search(self.captioner, self.features)
        for width, alpha in [(2, 0.0), (3, 0.0), (3, 0.7), (10, 1.0), (10, 3.0)]:
            token_ids, log_prob, score = decoding.beam_search_beams(
                self.captioner, self.features, beam_width=width, length_normalization=alpha
            )
            scores = self._scores(alpha)
            for b in range(len(self.features)):
                found = [self._index(row) for row in token_ids[b].numpy()]
                self.assertLen(set(found), width)
                self.assertAllClose(log_prob[b], self.exhaustive[b, found], atol=1e-5)
                self.assertAllClose(score[b], scores[b, found], atol=1e-5)
                self.assertLessEqual(score[b, 0], scores[b].max() + 1e-5)
                reference = _reference_beam_search(self.prefixes[b], width, alpha)
                expected = [tokens for tokens, _ in reference]
                self.assertEqual([tuple(self.hypotheses[i][: self.lengths[i]]) for i in found], expected)
                self.assertAllClose(log_prob[b], [log_prob for _, log_prob in reference], atol=1e-5)
            best_ids, best_log_prob = decoding.beam_search(
                self.captioner, self.features, beam_width=width, length_normalization=alpha
            )
            self.assertAllEqual(best_ids, token_ids[:, 0])
            self.assertAllClose(best_log_prob, log_prob[:, 0])
            differs_from_greedy |= not np.array_equal(best_ids, greedy_ids)
        self.assertTrue(differs_from_greedy)  # the fixture gives narrow beams something to find

    def test_width_one_is_greedy(self):
        for alpha in (0.0, 0.8):
            beam_ids, beam_log_prob = decoding.beam_search(
                self.captioner, self.features, beam_width=1, length_normalization=alpha
            )
            greedy_ids, greedy_log_prob = decoding.greedy_search(self.captioner, self.features)
            self.assertAllEqual(beam_ids, greedy_ids)
            self.assertAllClose(beam_log_prob, greedy_log_prob, atol=1e-6)

    def test_first_step_has_no_duplicate_beams(self):
        # K larger than the tokens a first step can make: the surplus beams are empty (-inf).
        _, log_prob, score = decoding.beam_search_beams(
            self.captioner, self.features, beam_width=6, max_length=2
        )
        self.assertTrue(np.all(np.isfinite(log_prob[:, : len(ALLOWED)])))
        self.assertTrue(np.all(np.isneginf(score[:, len(ALLOWED) :])))

    def test_graph_with_unknown_batch_size_matches_eager(self):
        decode = tf.function(
            lambda f: decoding.beam_search(self.captioner, f, beam_width=3, length_normalization=0.7),
            input_signature=[tf.TensorSpec([None, *self.features.shape[1:]], tf.float32)],
        )
        expected = decoding.beam_search(self.captioner, self.features, beam_width=3, length_normalization=0.7)
        actual = decode(self.features)
        self.assertAllEqual(actual[0], expected[0])
        self.assertAllClose(actual[1], expected[1], atol=1e-5)
        self.assertEqual(tuple(decode(self.features[:0])[0].shape), (0, STEPS))
        # Rows are independent: one image alone gives its row of the batch.
        alone = decode(self.features[2:3])
        self.assertAllEqual(alone[0][0], expected[0][2])

    def test_bad_arguments(self):
        with self.assertRaises(UserError):
            decoding.beam_search(self.captioner, self.features, beam_width=0)
        with self.assertRaises(UserError):
            decoding.beam_search(self.captioner, self.features, length_normalization=-1.0)


class AttentionBeamSearchTest(BeamSearchTest):
    """The same checks with a captioner that attends over regions: each beam reads its own
    image's features (`[B, 1 + N, E]`, repeated per beam) at every step."""

    def _make_captioner(self):
        return _captioner(attention_heads=2)


class SampleTest(TestCase, FormatMixin):
    def setUp(self):
        super().setUp()
        self.captioner = _captioner()
        self.features = _features(self.captioner)
        self.seeds = tf.constant([0, 1, 2, 3, 4, 5], tf.int64)

    def test_same_seed_same_caption_different_seeds_differ(self):
        first = decoding.sample(self.captioner, self.features, self.seeds)
        self.assert_format(*first, len(self.features))
        again = decoding.sample(self.captioner, self.features, self.seeds)
        self.assertAllEqual(first[0], again[0])
        self.assertAllEqual(first[1], again[1])
        one_image = tf.repeat(self.features[:1], 16, axis=0)
        token_ids, _ = decoding.sample(self.captioner, one_image, tf.range(16, dtype=tf.int64))
        self.assertGreater(len({tuple(row) for row in token_ids.numpy()}), 2)

    def test_a_row_depends_only_on_its_own_seed(self):
        token_ids, log_prob = decoding.sample(self.captioner, self.features, self.seeds, temperature=1.5)
        for i in range(len(self.features)):
            row = slice(i, i + 1)
            alone = decoding.sample(self.captioner, self.features[row], self.seeds[row], temperature=1.5)
            self.assertAllEqual(alone[0][0], token_ids[i])
            self.assertAllClose(alone[1][0], log_prob[i], atol=1e-5)
        order = [3, 0, 5, 1, 4, 2]
        shuffled = decoding.sample(
            self.captioner, tf.gather(self.features, order), tf.gather(self.seeds, order), temperature=1.5
        )
        self.assertAllEqual(shuffled[0], tf.gather(token_ids, order))

    def test_log_prob_is_of_the_distribution_sampled_from(self):
        temperature, top_k = 0.7, 3
        token_ids, log_prob = decoding.sample(
            self.captioner, self.features, self.seeds, temperature=temperature, top_k=top_k
        )
        ids = token_ids.numpy()
        inputs = np.concatenate([np.full([len(ids), 1], START_ID), ids[:, :-1]], axis=1)
        scores = self.captioner.sequence_logits(self.features, inputs).numpy() / temperature
        scores[..., [PAD_ID, START_ID]] = -np.inf
        kth = np.sort(scores, axis=-1)[..., -top_k][..., None]
        scores = np.where(scores >= kth, scores, -np.inf)
        log_probs = tf.nn.log_softmax(scores, axis=-1).numpy()
        picked = np.take_along_axis(log_probs, ids[..., None], axis=-1)[..., 0]
        self.assertTrue(np.all(np.isfinite(picked[ids != PAD_ID])))  # never outside the top k
        self.assertAllClose(log_prob, np.sum(np.where(ids != PAD_ID, picked, 0.0), axis=1), atol=1e-5)

    def test_top_1_and_low_temperature_are_greedy(self):
        greedy_ids, _ = decoding.greedy_search(self.captioner, self.features)
        top_1_ids, top_1_log_prob = decoding.sample(self.captioner, self.features, self.seeds, top_k=1)
        self.assertAllEqual(top_1_ids, greedy_ids)
        self.assertAllClose(top_1_log_prob, np.zeros(len(self.features)))  # one choice: probability 1
        cold_ids, _ = decoding.sample(self.captioner, self.features, self.seeds, temperature=1e-3)
        self.assertAllEqual(cold_ids, greedy_ids)

    def test_first_token_frequencies_match_the_tempered_distribution(self):
        draws = 4000
        temperature = 1.5
        features = tf.repeat(self.features[:1], draws, axis=0)

        @tf.function
        def first_token(f, s, k):
            return decoding.sample(self.captioner, f, s, temperature=temperature, top_k=k, max_length=2)[0][:, 0]

        logits, _ = self.captioner.step(
            tf.constant([START_ID], tf.int64), self.captioner.initial_state(self.features[:1]), self.features[:1]
        )
        scores = logits.numpy()[0] / temperature
        scores[[PAD_ID, START_ID]] = -np.inf
        for top_k in (0, 2):
            kept = scores.copy()
            if top_k:
                kept[np.argsort(kept)[:-top_k]] = -np.inf
            expected = tf.nn.softmax(kept).numpy()
            self.assertGreater(np.sort(expected)[-2], 0.05)  # not a one-hot: the test can fail
            tokens = first_token(features, tf.range(draws, dtype=tf.int64), top_k).numpy()
            frequencies = np.bincount(tokens, minlength=VOCAB) / draws
            tolerance = 4 * np.sqrt(expected * (1 - expected) / draws) + 1e-3
            self.assertTrue(np.all(np.abs(frequencies - expected) <= tolerance), (frequencies, expected))

    def test_graph_with_unknown_batch_size_matches_eager(self):
        decode = tf.function(
            lambda f, s: decoding.sample(self.captioner, f, s, temperature=0.8, top_k=3),
            input_signature=[tf.TensorSpec([None, FEATURES], tf.float32), tf.TensorSpec([None], tf.int64)],
        )
        expected = decoding.sample(self.captioner, self.features, self.seeds, temperature=0.8, top_k=3)
        actual = decode(self.features, self.seeds)
        self.assertAllEqual(actual[0], expected[0])
        self.assertAllClose(actual[1], expected[1], atol=1e-5)
        self.assertEqual(tuple(decode(self.features[:0], self.seeds[:0])[0].shape), (0, STEPS))

    def test_bad_arguments(self):
        with self.assertRaises(UserError):
            decoding.sample(self.captioner, self.features, self.seeds, top_k=-1)
        with self.assertRaises(UserError):
            decoding.sample(self.captioner, self.features, self.seeds, temperature=0.0)


class ExportedGraphTest(TestCase):
    def test_graphs_hold_only_core_tf_ops(self):
        captioner = _captioner()
        features = tf.TensorSpec([None, FEATURES], tf.float32)
        seeds = tf.TensorSpec([None], tf.int64)
        functions = [
            tf.function(lambda f: decoding.greedy_search(captioner, f)).get_concrete_function(features),
            tf.function(lambda f, s: decoding.sample(captioner, f, s, 0.9, 2)).get_concrete_function(features, seeds),
            tf.function(lambda f: decoding.beam_search(captioner, f, 3, 6, 0.6)).get_concrete_function(features),
        ]
        core = set(dir(tf.raw_ops))
        for function in functions:
            graph_def = function.graph.as_graph_def()
            ops = {node.op for node in graph_def.node}
            for library_function in graph_def.library.function:
                ops |= {node.op for node in library_function.node_def}
            self.assertIn("While", {op.replace("Stateless", "") for op in ops})
            self.assertEmpty(ops - core - {f.signature.name for f in graph_def.library.function})
