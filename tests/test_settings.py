"""Run settings: one flag per field, presets, and what a resumed run may not change."""

import dataclasses
import json
import os

from tests.test_case import TestCase
from tests.test_cli import run_cli
from tests.test_train_dcgan import tree_digest
from tfgan_text import cli, presets
from tfgan_text.errors import UserError
from tfgan_text.training.attngan_settings import AttnGANSettings
from tfgan_text.training.captioner_settings import CaptionerSettings
from tfgan_text.training.damsm_settings import DAMSMSettings
from tfgan_text.training.dcgan_settings import DCGANSettings

TRAIN_VERBS = {"dcgan": DCGANSettings, "text-encoder": DCGANSettings, "captioner": CaptionerSettings,
               "damsm": DAMSMSettings, "attngan": AttnGANSettings}
TINY_FLAGS = ["--batch-size", "8", "--steps-per-epoch", "2", "--epochs", "1", "--text-encoder-epochs", "1",
              "--ngf", "8", "--ndf", "8", "--text-embedding-dim", "8", "--text-hidden-dim", "8"]


def _train_parser(verb):
    """The argparse parser of `tfgan-text train VERB`."""
    verbs = next(action for action in cli.build_parser()._actions if action.dest == "verb")
    models = next(action for action in verbs.choices["train"]._actions if action.dest == "model")
    return models.choices[verb]


def _flag_value(field, choices):
    """Command-line words that set `field` to a value other than its default, and that value."""
    if field.type is bool:
        return ([f"--no-{field.name}".replace("_", "-")], False) if field.default else \
            ([f"--{field.name}".replace("_", "-")], True)
    words = [f"--{field.name}".replace("_", "-")]
    if choices:
        value = next(choice for choice in choices if choice != field.default)
        return words + [value], value
    kind = cli._flag_type(field.type)
    if kind in (list, tuple):
        return words + ["8", "16"], [8, 16]
    value = {int: 7, float: 0.25, str: "elsewhere"}[kind]
    return words + [str(value)], value


class SettingsFlagsTest(TestCase):
    def test_every_settings_field_has_a_flag_that_sets_it(self):
        for verb, settings_class in TRAIN_VERBS.items():
            parser = _train_parser(verb)
            options = {action.dest: action for action in parser._actions}
            for field in dataclasses.fields(settings_class):
                with self.subTest(verb=verb, field=field.name):
                    self.assertIn(field.name, options, f"train {verb} has no flag for {field.name}")
                    self.assertTrue(field.metadata["help"].strip())
                    words, value = _flag_value(field, settings_class.field_choices(field))
                    args = parser.parse_args(["--out", "run", *words])
                    self.assertEqual(getattr(args, field.name), value)
                    unset = parser.parse_args(["--out", "run"])
                    self.assertIsNone(getattr(unset, field.name))  # unset: the preset's or default value

    def test_a_list_flag_without_values_clears_a_presets_list(self):
        args = _train_parser("dcgan").parse_args(["--out", "run", "--preset", "shapes-demo", "--generator-attention-sizes"])
        self.assertEqual(args.generator_attention_sizes, [])
        settings = DCGANSettings.from_given({"preset": "shapes-demo", "generator_attention_sizes": []})
        self.assertEqual(settings.generator_attention_sizes, [])

    def test_bad_values_are_one_line_before_anything_is_written(self):
        out = os.path.join(self.temp_dir(), "run")
        for words, message in ((["--image-size", "48"], "image size must be 32, 64 or 128, got 48"),
                               (["--learning-rate", "0"], "learning-rate must be a number > 0, got 0.0"),
                               (["--ngf", "wide"], "argument --ngf: invalid int value: 'wide'"),
                               (["--preset", "reed2017"], "argument --preset: invalid choice: 'reed2017'"),
                               (["--loss", "wasserstein"], "argument --loss: invalid choice: 'wasserstein'")):
            with self.subTest(words=words):
                status, _, err = run_cli("train", "dcgan", "--out", out, *words)
                self.assertEqual(status, 2)
                self.assertEqual(len(err.strip().splitlines()), 1, err)
                self.assertIn(message, err)
        self.assertFalse(os.path.exists(out))


class PresetsTest(TestCase):
    def test_every_preset_resolves_to_checked_settings_that_record_its_name(self):
        weights = os.path.join(self.temp_dir(), "backbone.weights.h5")
        open(weights, "wb").close()
        for verb, settings_class in (("dcgan", DCGANSettings), ("captioner", CaptionerSettings), ("damsm", DAMSMSettings),
                                     ("attngan", AttnGANSettings)):
            self.assertTrue(presets.preset_names(verb))
            for name in presets.preset_names(verb):
                with self.subTest(verb=verb, preset=name):
                    given = {"preset": name}
                    if presets.preset_settings(verb, name).get("image_encoder", "cnn") != "cnn":
                        given["backbone_weights"] = weights  # a backbone's weights are the user's file
                    if verb == "attngan" and name == "attngan-cub":
                        given["damsm"] = "runs/damsm_cub"  # its DAMSM needs the user's Inception weights
                    settings = settings_class.from_given(given)
                    self.assertEqual(settings.preset, name)
                    for field, value in presets.preset_settings(verb, name).items():
                        self.assertEqual(getattr(settings, field), value, field)
                    self.assertTrue(presets.preset_description(verb, name))

    def test_given_values_override_the_presets(self):
        settings = DCGANSettings.from_given({"preset": "shapes-demo", "epochs": 2, "batch_size": 4})
        self.assertEqual((settings.epochs, settings.batch_size, settings.matching_weight), (2, 4, 5.0))
        self.assertEqual(DCGANSettings.from_given({}).preset, None)
        with self.assertRaisesRegex(UserError, "unknown preset 'nope' for train dcgan; choose one of fashion-mnist, quick, reed2016"):
            DCGANSettings.from_given({"preset": "nope"})

    def test_the_damsm_presets(self):
        self.assertEqual(presets.preset_names("damsm"), ["attngan-cub", "quick", "shapes"])
        for name in ("quick", "shapes"):
            settings = DAMSMSettings.from_given({"preset": name})
            self.assertEqual((settings.data, settings.image_size, settings.image_encoder), ("shapes", 64, "cnn"))
        with self.assertRaisesRegex(UserError, "image-encoder InceptionV3 needs --backbone-weights FILE"):
            DAMSMSettings.from_given({"preset": "attngan-cub"})

    def test_attngan_cub_is_the_papers_damsm(self):
        weights = os.path.join(self.temp_dir(), "inception_v3_notop.h5")
        open(weights, "wb").close()
        settings = DAMSMSettings.from_given({"preset": "attngan-cub", "backbone_weights": weights})
        self.assertEqual((settings.image_encoder, settings.backbone_region_layer, settings.image_size),
                         ("InceptionV3", "mixed7", 299))
        self.assertEqual((settings.text_embedding_dim, settings.text_hidden_dim, settings.rnn_type), (300, 256, "lstm"))
        self.assertEqual((settings.gamma1, settings.gamma2, settings.gamma3, settings.word_weight), (4.0, 5.0, 10.0, 1.0))
        self.assertEqual((settings.batch_size, settings.learning_rate, settings.beta_1, settings.epochs),
                         (48, 0.002, 0.5, 600))

    def test_attngan_presets(self):
        self.assertEqual(presets.preset_names("attngan"), ["attngan-cub", "attngan-shapes", "quick"])
        paper = AttnGANSettings.from_given({"preset": "attngan-cub", "damsm": "runs/damsm_cub"})
        self.assertEqual((paper.base_size, paper.stages, paper.image_size, paper.latent_dim, paper.condition_dim),
                         (64, 3, 256, 100, 100))
        self.assertEqual((paper.ngf, paper.ndf, paper.damsm_weight, paper.batch_size), (32, 64, 5.0, 20))
        self.assertEqual(AttnGANSettings.from_given({"preset": "attngan-shapes"}).image_size, 64)
        with self.assertRaisesRegex(UserError, "damsm-preset attngan-cub: .*needs --backbone-weights FILE.*pass --damsm RUN"):
            AttnGANSettings.from_given({"preset": "attngan-cub"})

    def test_reed2016_is_the_papers_recipe(self):
        settings = DCGANSettings.from_given({"preset": "reed2016"})
        self.assertEqual((settings.ngf, settings.ndf, settings.batch_size, settings.learning_rate, settings.beta_1),
                         (128, 64, 64, 2e-4, 0.5))
        self.assertEqual((settings.loss, settings.gan_int, settings.interpolation_beta, settings.captions_per_image),
                         ("gan_cls", True, 0.5, 4))
        self.assertEqual((settings.text_encoder, settings.epochs, settings.learning_rate_halving_epochs),
                         ("char_cnn_rnn", 600, 100))

    def test_shapes_demo_is_the_recipe_the_shipped_demo_records(self):
        recorded = DCGANSettings.saved(_shipped_run_settings("dcgan_shapes"))
        expected = dataclasses.asdict(DCGANSettings.from_given({"preset": "shapes-demo"}))
        self.assertEqual(recorded, json.loads(json.dumps(expected)))

    def test_attngan_shapes_is_the_recipe_the_shipped_attngan_records(self):
        recorded = AttnGANSettings.saved(_shipped_run_settings("attngan_shapes"))
        expected = dataclasses.asdict(AttnGANSettings.from_given({"preset": "attngan-shapes"}))
        self.assertEqual(recorded, json.loads(json.dumps(expected)))

    def test_the_fashion_mnist_models_record_their_presets(self):
        recorded = DCGANSettings.saved(_shipped_run_settings("dcgan_fashion_mnist"))
        expected = dataclasses.asdict(DCGANSettings.from_given({"preset": "fashion-mnist"}))
        self.assertEqual(recorded, json.loads(json.dumps(expected)))
        recorded = _shipped_run_settings("captioner_fashion_mnist")
        self.assertEqual(recorded["preset"], "fashion-mnist-seqgan")
        for name, value in presets.preset_settings("captioner", "fashion-mnist-seqgan").items():
            self.assertEqual(recorded[name], value, name)
        for name, value in presets.preset_settings("captioner", "fashion-mnist").items():  # from its MLE run
            if name not in ("mode", "epochs", "steps_per_epoch"):
                self.assertEqual(recorded[name], json.loads(json.dumps(value)), name)


def _shipped_run_settings(name):
    """The run.json recorded in a shipped model's newest version, checked equal to the one beside its ONNX graph."""
    root = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "saved_models", name)
    version = max(int(entry) for entry in os.listdir(root) if entry.isdigit())
    with open(os.path.join(root, str(version), "assets.extra", "run.json"), encoding="utf-8") as file:
        recorded = json.load(file)
    with open(os.path.join(root, "onnx", "run.json"), encoding="utf-8") as file:
        if json.load(file) != recorded:
            raise AssertionError(f"{name}: the ONNX graph records other settings than version {version}")
    return recorded


class ResumeTest(TestCase):
    def test_a_cli_run_records_its_preset_and_refuses_other_data_on_resume(self):
        out = os.path.join(self.temp_dir(), "run")
        status, _, err = run_cli("train", "dcgan", "--preset", "quick", "--out", out, *TINY_FLAGS)
        self.assertEqual(status, 0, err)
        with open(os.path.join(out, "run.json"), encoding="utf-8") as file:
            recorded = json.load(file)
        self.assertEqual((recorded["preset"], recorded["image_size"], recorded["batch_size"]), ("quick", 32, 8))
        before = tree_digest(out)
        for words, message in ((["--seed", "1"], "trained with seed=0, not 1: a run goes on with the data"),
                               (["--data", self.temp_dir()], "trained with data='shapes', not "),
                               (["--format", "cub"], "trained with format='auto', not 'cub'"),
                               (["--preset", "shapes-demo"], "trained with preset='quick', not 'shapes-demo'"),
                               (["--image-size", "64"], "another architecture")):
            with self.subTest(words=words):
                status, _, err = run_cli("train", "dcgan", "--out", out, "--resume", *words)
                self.assertEqual(status, 2)
                self.assertEqual(len(err.strip().splitlines()), 1, err)
                self.assertIn(message, err)
        self.assertEqual(tree_digest(out), before)

    def test_the_same_data_folder_by_another_path_resumes(self):
        data = self.temp_dir()
        saved = dataclasses.asdict(CaptionerSettings(data=data))
        same = CaptionerSettings().resumed_from(saved, {"data": os.path.join(data, "..", os.path.basename(data)), "epochs": 3})
        self.assertEqual(same.epochs, 3)
        with self.assertRaisesRegex(UserError, "a run goes on with the data and vocabulary it was started on"):
            CaptionerSettings().resumed_from(saved, {"data": self.temp_dir()})
