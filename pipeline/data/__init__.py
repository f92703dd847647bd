"""Audio datasets: FSDD (local folder or verified download) and folders of labelled WAVs."""

from scnn.data.audio import AudioError, load_audio
from scnn.data.datasets import FSDD, AudioDataset, Clip, LabelledFolder, SplitSpec, open_dataset

__all__ = [
    "FSDD",
    "AudioDataset",
    "AudioError",
    "Clip",
    "LabelledFolder",
    "SplitSpec",
    "load_audio",
    "open_dataset",
]
