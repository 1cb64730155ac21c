"""The sequence layers (one import for ``core.layers``): embeddings, 1-D convolution
and pooling, layer normalization, masking, RepeatVector, Permute, TimeDistributed.

>>> from core.layers.sequence import Embedding
>>> Embedding(100, 8).compute_output_shape((None, 12))
(None, 12, 8)
"""

from core.layers.conv1d import Conv1D
from core.layers.embedding import Embedding
from core.layers.layer_normalization import LayerNormalization
from core.layers.masking import Masking
from core.layers.permute import Permute
from core.layers.pooling1d import (
    AveragePooling1D,
    GlobalAveragePooling1D,
    GlobalMaxPooling1D,
    MaxPooling1D,
)
from core.layers.repeat_vector import RepeatVector
from core.layers.text_vectorization import TextVectorization
from core.layers.time_distributed import TimeDistributed

# Keras' aliases.
Convolution1D = Conv1D
MaxPool1D = MaxPooling1D
AvgPool1D = AveragePooling1D
GlobalMaxPool1D = GlobalMaxPooling1D
GlobalAvgPool1D = GlobalAveragePooling1D

__all__ = ["Embedding", "Conv1D", "Convolution1D", "MaxPooling1D", "MaxPool1D",
           "AveragePooling1D", "AvgPool1D", "GlobalMaxPooling1D", "GlobalMaxPool1D",
           "GlobalAveragePooling1D", "GlobalAvgPool1D", "LayerNormalization", "Masking",
           "RepeatVector", "Permute", "TimeDistributed", "TextVectorization"]
