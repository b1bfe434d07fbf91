"""Names of the files and folders the package writes into run directories and exports, defined once.

```
RUN_DIR/                      (a training run, see tfgan_text.training.run_dir)
  run.json  vocab.txt  tokenizer.json  text_encoder.keras  image_encoder.keras  damsm_report.json
  discriminator.keras  checkpoints/  samples/  logs/  model.keras
saved_models/NAME/VERSION/    (a SavedModel for TF Serving)
  saved_model.pb  variables/  assets/  assets.extra/{vocab.txt, tokenizer.json, run.json, captioner.json}
saved_models/NAME/onnx/
  model.onnx  vocab.json  config.json  run.json
```
"""

RUN_SETTINGS_FILE = "run.json"
MODEL_FILE = "model.keras"
TEXT_ENCODER_FILE = "text_encoder.keras"
IMAGE_ENCODER_FILE = "image_encoder.keras"
DAMSM_REPORT_FILE = "damsm_report.json"
DISCRIMINATOR_FILE = "discriminator.keras"
CHECKPOINTS_DIR = "checkpoints"
SAMPLES_DIR = "samples"
LOGS_DIR = "logs"

VOCAB_FILE = "vocab.txt"
TOKENIZER_SETTINGS_FILE = "tokenizer.json"

# TF Serving's place for files a client may want beside a version.
EXTRA_DIR = "assets.extra"
CAPTIONER_CONFIG_FILE = "captioner.json"

ONNX_DIR = "onnx"
ONNX_FILE = "model.onnx"
ONNX_VOCAB_FILE = "vocab.json"
ONNX_CONFIG_FILE = "config.json"
