"""Mixed precision (16-bit computations; float32 weights, outputs and losses) and XLA for every
model a `train` verb trains: fitting, loss scaling, saving, loading and export."""

import contextlib
import io
import json
import os

import keras
import numpy as np
import onnxruntime
import tensorflow as tf
from tensorflow.core.protobuf import saved_model_pb2

from tests import test_attngan, test_captioner, test_dcgan, test_joint_embedding, test_seqgan
from tests.test_captioner_export import _write_captioner_run
from tests.test_case import TestCase
from tests.test_export import _write_run as _write_dcgan_run
from tests.test_gumbel import gumbel_gan
from tfgan_text.cli import main
from tfgan_text.errors import UserError
from tfgan_text.export import export_run
from tfgan_text.export.text_to_image import text_to_image_archive
from tfgan_text.models import load_model
from tfgan_text.models.text_encoder import WordRNNEncoder
from tfgan_text.models.text_to_image.dcgan import DCGANDiscriminator, DCGANGenerator, TextConditionalDCGAN
from tfgan_text.text import PyTokenizer
from tfgan_text.training.precision import PRECISIONS, dtype_policy
from tfgan_text.training.train_dcgan import train_dcgan

BFLOAT16 = "mixed_bfloat16"


def _dcgan():
    """A tiny DCGAN whose word-RNN text encoder trains with D."""
    return TextConditionalDCGAN(
        DCGANGenerator(32, embedding_dim=16, ngf=8),
        DCGANDiscriminator(32, embedding_dim=16, ndf=8),
        WordRNNEncoder(test_dcgan.VOCAB, embedding_dim=8, hidden_dim=16),
        train_text_encoder=True,
        seed=3,
    )


def _compiled(model, **options):
    model.compile(**options)
    return model


def _arrays(outputs):
    """A model's outputs (a tensor or a structure of them) as a list of numpy arrays."""
    return [keras.ops.convert_to_numpy(x) for x in tf.nest.flatten(outputs)]


def _dtypes(tensors):
    return {keras.backend.standardize_dtype(x.dtype) for x in tensors}


def _weights(variables):
    return [np.array(v.numpy()) for v in variables]


def _update(before, variables):
    """The change of `variables` since `before`, flattened."""
    return np.concatenate([(v.numpy() - b).ravel() for b, v in zip(before, variables)])


def _signature_dtypes(saved_model_dir):
    """`{signature: ({input: dtype}, {output: dtype})}` of a SavedModel."""
    signatures = tf.saved_model.load(saved_model_dir).signatures
    return {name: ({key: spec.dtype for key, spec in function.structured_input_signature[1].items()},
                   {key: tensor.dtype for key, tensor in function.structured_outputs.items()})
            for name, function in signatures.items()}


def _graph_dtypes(saved_model_dir):
    """Every dtype that an op of the SavedModel's graph or function library is given."""
    proto = saved_model_pb2.SavedModel()
    with open(os.path.join(saved_model_dir, "saved_model.pb"), "rb") as file:
        proto.ParseFromString(file.read())
    types = set()
    for graph in (meta_graph.graph_def for meta_graph in proto.meta_graphs):
        for node in [*graph.node, *(node for function in graph.library.function for node in function.node_def)]:
            for value in node.attr.values():
                types.update([value.type, *value.list.type])
    return {tf.dtypes.as_dtype(t) for t in types if t}


class DtypePolicyTest(TestCase):
    def test_sets_the_global_policy_inside_and_restores_it(self):
        for name, compute_dtype in zip(PRECISIONS, ("float32", "float16", "bfloat16")):
            with dtype_policy(name):
                layer = keras.layers.Dense(2)
            self.assertEqual((layer.compute_dtype, layer.variable_dtype), (compute_dtype, "float32"))
            self.assertEqual(keras.config.dtype_policy().name, "float32")
        with self.assertRaises(RuntimeError), dtype_policy(BFLOAT16):
            raise RuntimeError("a failed run")
        self.assertEqual(keras.config.dtype_policy().name, "float32")

    def test_an_unknown_precision_is_a_one_line_user_error(self):
        with self.assertRaisesRegex(UserError, r"^unknown mixed precision 'float16'; expected one of off, "
                                               r"mixed_float16, mixed_bfloat16$"):
            with dtype_policy("float16"):
                pass


class BFloat16TrainingTest(TestCase):
    """Under `mixed_bfloat16` each model trains with finite losses; its layers compute in
    bfloat16, its weights, outputs and losses are float32; it saves, and loads in bfloat16
    inside the policy and in float32 outside it."""

    def _fit(self, make, batch, steps=2):
        with dtype_policy(BFLOAT16):
            model = make()
            history = model.fit(tf.data.Dataset.from_tensors(batch).repeat(), steps_per_epoch=steps, epochs=1,
                                verbose=0)
        for name, values in history.history.items():
            self.assertTrue(np.isfinite(values).all(), name)
        self.assertEqual(_dtypes(v for v in model.weights if "float" in v.dtype), {"float32"})
        return model

    def _assert_saves_and_loads(self, model, layer, outputs, atol):
        """`layer(model)` computes in bfloat16; the `.keras` file loads as the same model inside
        the policy (`outputs(model)` equal), and outside it as a float32 one (close)."""
        self.assertEqual(layer(model).compute_dtype, "bfloat16")
        path = os.path.join(self.temp_dir(), "model.keras")
        model.save(path)
        expected = _arrays(outputs(model))
        with dtype_policy(BFLOAT16):
            restored = load_model(path)
        self.assertEqual((restored.dtype_policy.name, layer(restored).compute_dtype), (BFLOAT16, "bfloat16"))
        for actual, wanted in zip(_arrays(outputs(restored)), expected, strict=True):
            self.assertAllEqual(actual, wanted)
        float32 = load_model(path)
        self.assertEqual((float32.dtype_policy.name, layer(float32).compute_dtype), ("float32", "float32"))
        for actual, wanted in zip(_arrays(outputs(float32)), expected, strict=True):
            self.assertAllClose(actual, wanted, atol=atol, rtol=0.0)
        return float32

    def test_dcgan(self):
        batch = test_dcgan._batch()
        model = self._fit(lambda: _compiled(_dcgan()), batch)
        noise = np.random.default_rng(0).standard_normal((4, 100)).astype("float32")
        images = model((batch["token_ids"], noise))
        embedding = model.encode_text(batch["token_ids"])
        logits = model.discriminator({"image": images, "embedding": embedding})
        self.assertEqual(_dtypes([images, embedding, logits]), {"float32"})
        self._assert_saves_and_loads(model, lambda m: m.generator.get_layer("project"),
                                     lambda m: m((batch["token_ids"], noise)), atol=0.02)

    def test_attngan(self):
        batch = test_attngan._batch()
        model = self._fit(lambda: _compiled(test_attngan._gan()), batch)
        noise = np.random.default_rng(0).standard_normal((4, test_attngan.NOISE)).astype("float32")
        outputs = model.stage_outputs(batch["token_ids"], noise)
        embedding = model.encode_text(batch["token_ids"])
        logits = model.discriminators[-1]({"image": outputs["images"][-1], "embedding": embedding})
        self.assertEqual(_dtypes([*outputs["images"], *outputs["attention"], embedding, *logits.values()]), {"float32"})
        self._assert_saves_and_loads(model, lambda m: m.generator.initial, lambda m: m((batch["token_ids"], noise)),
                                     atol=0.02)

    def test_joint_embedding(self):
        batch = test_joint_embedding._toy_batch()
        model = self._fit(test_joint_embedding._word_joint, batch)
        self.assertEqual(_dtypes(model(batch).values()), {"float32"})
        self._assert_saves_and_loads(model, lambda m: m.text_encoder.rnn, lambda m: m(batch), atol=0.05)

    def test_mle_captioner(self):
        batch = test_captioner._batch(4)

        def make():
            return _compiled(test_captioner._captioner(attention_heads=2), optimizer=keras.optimizers.Adam(1e-3))

        model = self._fit(make, batch)
        self.assertEqual(_dtypes([model(batch)]), {"float32"})
        float32 = self._assert_saves_and_loads(model, lambda m: m.decoder, lambda m: m(batch), atol=0.02)
        # A float32 model loaded in a mixed-precision run (a resumed or fine-tuned one) computes in it.
        path = os.path.join(self.temp_dir(), "float32.keras")
        float32.save(path)
        with dtype_policy(BFLOAT16):
            mixed = load_model(path)
        self.assertEqual((mixed.dtype_policy.name, mixed.decoder.compute_dtype), (BFLOAT16, "bfloat16"))

    def _assert_caption_gan(self, model):
        batch = test_seqgan.tiny_batch()
        logits = model.discriminator({"image": batch["image"], "tokens": batch["token_ids"][:, 1:]})
        self.assertEqual(_dtypes([logits, model(batch)]), {"float32"})
        self.assertEqual(model.discriminator.sentence_encoder.compute_dtype, "bfloat16")
        self._assert_saves_and_loads(model, lambda m: m.captioner.decoder, lambda m: m(batch), atol=0.02)

    def test_seqgan(self):
        self._assert_caption_gan(self._fit(lambda: _compiled(test_seqgan.seqgan()), test_seqgan.tiny_batch()))

    def test_gumbel_caption_gan(self):
        self._assert_caption_gan(self._fit(lambda: _compiled(gumbel_gan()), test_seqgan.tiny_batch()))


class Float16LossScalingTest(TestCase):
    def test_the_gans_wrap_their_optimizers_under_float16_only(self):
        for name in PRECISIONS:
            with dtype_policy(name):
                gan = _compiled(_dcgan())
                given = keras.optimizers.LossScaleOptimizer(keras.optimizers.Adam(), initial_scale=8.0)
                captions = _compiled(test_seqgan.seqgan(), g_optimizer=given)
            wrapped = name == "mixed_float16"
            for optimizer in (gan.d_optimizer, gan.g_optimizer, captions.d_optimizer):
                self.assertEqual(isinstance(optimizer, keras.optimizers.LossScaleOptimizer), wrapped, name)
            self.assertIs(captions.g_optimizer, given)  # never wrapped twice

    def _one_sgd_step(self, precision, loss_scale=None):
        """The DCGAN from the seed-0 weights after one SGD step in `precision`, and the updates
        of D's and G's weights."""
        keras.utils.set_random_seed(0)
        with dtype_policy(precision):
            gan = _dcgan()
            optimizers = [keras.optimizers.SGD(0.1), keras.optimizers.SGD(0.1)]
            if loss_scale:
                optimizers = [keras.optimizers.LossScaleOptimizer(o, initial_scale=loss_scale) for o in optimizers]
            gan.compile(d_optimizer=optimizers[0], g_optimizer=optimizers[1])
            networks = (gan.discriminator, gan.generator)
            before = [_weights(network.trainable_variables) for network in networks]
            history = gan.fit(tf.data.Dataset.from_tensors(test_dcgan._batch()).repeat(), steps_per_epoch=1, epochs=1,
                              verbose=0)
        self.assertTrue(np.isfinite(list(history.history.values())).all(), precision)
        return gan, [_update(weights, network.trainable_variables) for weights, network in zip(before, networks)]

    def test_a_float16_step_scales_the_loss_and_unscales_the_gradients(self):
        """One SGD step from the same weights in float32 and in float16 with a loss scale of
        256 updates the weights alike; a missing scaling or unscaling would make the float16
        update 256 times smaller or larger."""
        _, (d_float32, g_float32) = self._one_sgd_step("off")
        gan, (d_float16, g_float16) = self._one_sgd_step("mixed_float16", loss_scale=256.0)
        self.assertEqual(gan.generator.get_layer("project").compute_dtype, "float16")
        for optimizer in (gan.d_optimizer, gan.g_optimizer):  # the step was taken, not skipped
            self.assertEqual((float(optimizer.dynamic_scale.numpy()), int(optimizer.iterations.numpy())), (256.0, 1))
        self.assertLess(np.linalg.norm(d_float16 - d_float32) / np.linalg.norm(d_float32), 0.2)
        self.assertGreater(np.dot(g_float16, g_float32) / np.linalg.norm(g_float16) / np.linalg.norm(g_float32), 0.9)
        self.assertBetween(np.linalg.norm(g_float16) / np.linalg.norm(g_float32), 0.5, 2.0)


class XlaTest(TestCase):
    def test_dcgan_fits_jit_compiled_in_bfloat16(self):
        with dtype_policy(BFLOAT16):
            gan = _compiled(_dcgan(), jit_compile=True)
            history = gan.fit(tf.data.Dataset.from_tensors(test_dcgan._batch()).repeat(), steps_per_epoch=2, epochs=1,
                              verbose=0)
        self.assertIs(gan.jit_compile, True)  # Keras turns it off for a model it deems unfit for XLA
        self.assertTrue(np.isfinite(list(history.history.values())).all())

    def test_seqgan_refuses_xla_but_its_discriminator_pretraining_takes_it(self):
        with self.assertRaisesRegex(UserError, "rollouts do not compile with XLA"):
            test_seqgan.seqgan().compile(jit_compile=True)
        pretraining = _compiled(test_seqgan.seqgan(discriminator_only=True), jit_compile=True)
        self.assertIs(pretraining.jit_compile, True)


class ExportTest(TestCase):
    """A run trained in mixed precision exports as a float32 run does."""

    def _export(self, write_run, precision, onnx=False):
        run_dir = self.temp_dir()
        with dtype_policy(precision):
            model = write_run(run_dir)
        return run_dir, model, export_run(run_dir, "model", to=self.temp_dir(), onnx=onnx)

    def test_dcgan_saved_model_and_onnx(self):
        _, _, float32 = self._export(_write_dcgan_run, "off")
        run_dir, model, mixed = self._export(_write_dcgan_run, BFLOAT16, onnx=True)
        self.assertEqual(_signature_dtypes(mixed["saved_model"]), _signature_dtypes(float32["saved_model"]))
        self.assertNotIn(tf.bfloat16, _graph_dtypes(mixed["saved_model"]))
        # The check can fail: the bfloat16 model itself, archived as it is, computes in bfloat16.
        unconverted = os.path.join(self.temp_dir(), "unconverted")
        text_to_image_archive(model, run_dir).write_out(unconverted, verbose=False)
        self.assertIn(tf.bfloat16, _graph_dtypes(unconverted))
        # ONNX Runtime gives the SavedModel's images, within the ONNX export's tolerance.
        ids = PyTokenizer.load(mixed["onnx"]).encode(["a small red circle on the left", "a blue star"])
        noise = np.random.default_rng(0).standard_normal((2, 16)).astype(np.float32)
        session = onnxruntime.InferenceSession(os.path.join(mixed["onnx"], "model.onnx"))
        got = session.run(["images"], {"token_ids": ids, "noise": noise})[0]
        signature = tf.saved_model.load(mixed["saved_model"]).signatures["from_token_ids"]
        expected = signature(token_ids=tf.constant(ids), noise=tf.constant(noise))["images"].numpy()
        self.assertLess(np.abs(got - expected).max(), 1e-4)

    def test_captioner_saved_model(self):
        _, _, float32 = self._export(_write_captioner_run, "off")
        _, _, mixed = self._export(_write_captioner_run, BFLOAT16)
        self.assertEqual(_signature_dtypes(mixed["saved_model"]), _signature_dtypes(float32["saved_model"]))
        self.assertNotIn(tf.bfloat16, _graph_dtypes(mixed["saved_model"]))


class MixedPrecisionRunTest(TestCase):
    """`--mixed-precision` and `--jit-compile` on a `train` command, end to end."""

    def test_a_bfloat16_xla_run_trains_records_its_precision_and_resumes_only_in_it(self):
        run = os.path.join(self.temp_dir(), "run")
        history = keras.callbacks.History()
        model = train_dcgan(run, verbose=0, callbacks=[history], mixed_precision="mixed_bfloat16", jit_compile=True,
                            image_size=32, batch_size=8, steps_per_epoch=2, epochs=1, text_encoder_epochs=1, ngf=8,
                            ndf=8, text_embedding_dim=16, text_hidden_dim=16)
        self.assertTrue(all(np.isfinite(values).all() for values in history.history.values()))
        self.assertEqual(model.generator.compute_dtype, "bfloat16")
        self.assertTrue(model.jit_compile)
        self.assertEqual(keras.config.dtype_policy().name, "float32", "the run restores the global policy")
        with open(os.path.join(run, "run.json"), encoding="utf-8") as file:
            self.assertEqual(json.load(file)["mixed_precision"], "mixed_bfloat16")
        saved = load_model(os.path.join(run, "model.keras"))
        self.assertTrue(all(weight.dtype == np.float32 for weight in saved.get_weights()))

        status, stderr = _run_cli(["train", "dcgan", "--out", run, "--resume", "--mixed-precision", "off"])
        self.assertEqual(status, 2)
        self.assertIn("mixed-precision='mixed_bfloat16'", stderr)
        self.assertEqual(stderr.strip().count("\n"), 0)

    def test_bad_values_are_one_line_errors_before_anything_is_written(self):
        run = os.path.join(self.temp_dir(), "run")
        status, stderr = _run_cli(["train", "captioner", "--out", run, "--mode", "seqgan", "--init-from", run,
                                   "--jit-compile"])
        self.assertEqual(status, 2)
        self.assertIn("cannot compile SeqGAN's rollouts", stderr)
        with self.assertRaises(SystemExit):
            _run_cli(["train", "dcgan", "--out", run, "--mixed-precision", "float8"])
        with self.assertRaisesRegex(UserError, "mixed-precision must be one of"):
            train_dcgan(run, mixed_precision="half")
        self.assertFalse(os.path.exists(run))


def _run_cli(argv):
    """`(exit status, stderr)` of `tfgan-text ARGV` run in this process."""
    stderr = io.StringIO()
    with contextlib.redirect_stderr(stderr):
        status = main(argv)
    return status, stderr.getvalue()
