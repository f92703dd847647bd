"""Defaults and names shared by the library and the CLI, importable without torch.

The ``scnn`` command builds its options from these, so ``scnn --help`` does not import
the training stack; the library modules take their defaults from here (one place each).
"""

from __future__ import annotations

# scnn.train.TrainConfig
TRAIN_EPOCHS = 40
TRAIN_BATCH_SIZE = 64
TRAIN_LR = 3e-3
# scnn.energy_loss: chips with a cost table (scnn.hw.energy)
ENERGY_CHIPS = ("loihi1", "loihi2")
ENERGY_WARMUP = 0.5  # fraction of the training steps over which the weight ramps up
# scnn.qat: Loihi-exact fine-tuning; weights are in integer units (up to 254): a step of
# ~0.1 unit at the peak
QAT_EPOCHS = 3
QAT_LR = 0.1
# scnn.models.scnn.FAMILY (its keys; cnn_<name> is each one's CNN twin)
MODEL_FAMILY = ("model_a", "model_b", "scnn")
MODEL_NAMES = ", ".join(MODEL_FAMILY + tuple(f"cnn_{n}" for n in MODEL_FAMILY))
# scnn.convert: weight/threshold normalisation
CONVERT_METHODS = ("data", "model")
CONVERT_TARGETS = ("lif", "sdnn")
# scnn.sdnn: lambda_k percentile; vth_k as a fraction of lambda_k (0: every change sent)
SDNN_PERCENTILE = 99.99
SDNN_THRESHOLD = 0.05
# scnn.sdnn_qat: peak learning rate of the integer-unit weights (up to 127 or 254)
SDNN_RETRAIN_LR = 0.05
# scnn.stream: streamed networks (float epochs; Loihi-exact fine-tuning of the
# integer-unit weights)
STREAM_EPOCHS = 80
STREAM_QAT_EPOCHS = 3
STREAM_QAT_LR = 0.05
STREAM_SDNN_QAT_EPOCHS = 40  # float training through the sigma-delta deadbands
STREAM_SDNN_QAT_LR = 1e-3
STREAM_SDNN_LEAK_SHIFT = 4  # host readout beta = 1 - 2**-4 = 0.9375
LEAK_SHIFT_MAX = 15
STREAM_SDNN_THRESHOLD = 0.1  # fraction of a layer's activation scale
# scnn.runner.STAGES, in order
STAGE_NAMES = ("data", "features", "train", "qat", "export", "simulate", "lava", "profile",
               "report")
