#!/usr/bin/env python
"""Train an Enhance network (the original's ``train.py`` flags, plus the database paths).

    python train.py -o network/test -a start -e 15 -d 5 -m keepsize -lr 1e-4 -lrm 1.0 \\
        -b 32 -n 1e-3 -l2 1e-6 --database train.h5 --validation valid.h5

Without ``--database`` (as in the original README's command) it trains on a
synthetic-Sun database of the data type ``-t`` (intensity by default), built
once in ``$ENHANCE_CACHE_DIR`` (default ``~/.cache/enhance``).
"""

import sys

from enhance_lib.scripts.train import main

if __name__ == "__main__":
    sys.exit(main())
