"""ONNX emitters of the upsampling layers: ``Conv2DTranspose`` (ConvTranspose) and
``UpSampling2D`` (Resize).

ONNX ConvTranspose crops ``pads`` from the full scatter output and appends
``output_padding`` rows at the end; Keras' geometry (``core.layers.conv2d_transpose``)
is a crop at the start plus a cut or a zero extension at the end, so the start crop
becomes the begin pad and the end becomes either an end pad or output_padding.
Resize runs on the NHWC tensor itself (scales 1 on batch and channels): 'nearest' as
``asymmetric``/``floor`` (row o reads row floor(o / size)), 'bilinear' as ``linear``
with ``half_pixel`` coordinates, Keras' (and TF's) resize.

>>> sorted(EMITTERS)
['Conv2DTranspose', 'UpSampling2D']
"""

from __future__ import annotations

import numpy as np

from core.export.onnx.emitters import _nchw, _nhwc, emit_activation
from core.layers.conv2d_transpose import transpose_axis


def conv2d_transpose(g, layer, xs):
    kernel = np.transpose(np.asarray(layer.kernel.numpy()), (3, 2, 0, 1))  # (C, F, kh, kw)
    begin, end, extra = [], [], []
    for a, size in enumerate(g.shape(xs[0])[1:3]):
        k, s, d = layer.kernel_size[a], layer.strides[a], layer.dilation_rate[a]
        op = None if layer.output_padding is None else layer.output_padding[a]
        out, crop = transpose_axis(size, k, s, d, layer.padding, op)
        full = (size - 1) * s + (k - 1) * d + 1
        begin.append(crop)
        end.append(max(0, full - crop - out))
        extra.append(max(0, out - (full - crop)))
    inputs = [_nchw(g, xs[0]), g.const(kernel)]
    if layer.use_bias:
        inputs.append(g.weight(layer.bias))
    y = g.op("ConvTranspose", inputs, kernel_shape=list(kernel.shape[2:]),
             strides=list(layer.strides), dilations=list(layer.dilation_rate),
             pads=begin + end, output_padding=extra)
    return emit_activation(g, layer, _nhwc(g, y), layer.activation)


def up_sampling_2d(g, layer, xs):
    sh, sw = layer.size
    scales = g.const(np.array([1.0, sh, sw, 1.0], np.float32))
    if layer.interpolation == "nearest":
        attrs = {"mode": "nearest", "coordinate_transformation_mode": "asymmetric",
                 "nearest_mode": "floor"}
    else:
        attrs = {"mode": "linear", "coordinate_transformation_mode": "half_pixel"}
    return g.op("Resize", [xs[0], "", scales], **attrs)


EMITTERS = {"Conv2DTranspose": conv2d_transpose, "UpSampling2D": up_sampling_2d}
