"""``python -m desktop [project.nwproj]`` starts the editor.

>>> # python -m desktop resources/examples/mnist_cnn.nwproj
"""

import sys

from desktop.app import main

sys.exit(main())
