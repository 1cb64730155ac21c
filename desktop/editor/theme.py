"""Canvas colours and metrics shared by the scene items (the widgets use QSS).

>>> GROUP_COLOURS["Core"].startswith("#")
True
"""

BACKGROUND = "#1e2127"
GRID_MINOR = "#262a31"
GRID_MAJOR = "#2f343d"
NODE_BG = "#2b2f37"
NODE_BORDER = "#3d434e"
NODE_SELECTED = "#5fa8ff"
NODE_ERROR = "#e5534b"
NODE_WARNING = "#e3b341"  # the Problems panel's warning dot
TEXT = "#e6e6e6"
TEXT_DIM = "#9aa3ad"
PORT = "#8b949e"
PORT_HOT = "#5fa8ff"
WIRE = "#7d8590"
WIRE_SELECTED = "#5fa8ff"
WIRE_BAD = "#e5534b"
LABEL_BG = "#1e2127"

NODE_WIDTH = 220.0
NODE_HEIGHT = 78.0
HEADER = 6.0

GROUP_COLOURS = {
    "Input": "#3fb950",
    "Core": "#5fa8ff",
    "Convolution": "#d2a8ff",
    "Pooling": "#f0883e",
    "Normalization": "#56d4dd",
    "Merge": "#e3b341",
    "Activation": "#ff7b72",
    "Regularization": "#a5d6ff",
    "Reshaping": "#bc8cff",
    "Model": "#7ee787",  # nested models (group cards and frames)
}
WIRE_MASK = "#e3b341"  # a wire carrying a Keras mask (dashed)


def group_colour(group: str) -> str:
    return GROUP_COLOURS.get(group, "#8b949e")
