"""Families of synthetic Suns: truth scenes drawn from different rules.

Each family is a module with a ``draw(seed, *, size, pixel_scale)`` that returns a
:class:`~enhance_lib.training.suns.features.Sun` (intensity in I/I_qs, line-of-sight
field in G, the parameters it drew), the same for the same arguments:

* ``'cells'`` (:mod:`~enhance_lib.training.suns.cells`): the synthetic Sun the truth
  scenes have always used, byte for byte;
* ``'basins'`` (:mod:`~enhance_lib.training.suns.basins`): granules as basins of a random
  field, irregular spots with twisted filaments, light bridges and umbral dots, network on
  supergranular basins;
* ``'clustered'`` (:mod:`~enhance_lib.training.suns.clustered`): granulation from a
  band-passed, skewed random field with elongated granules of emerging flux, a δ-spot with
  opposite-polarity penumbrae, log-normal flux elements clustered on a network mask.

:data:`FAMILIES` maps the names to the draw functions;
:func:`enhance_lib.training.scenes.truth_scene` takes a ``family``.
"""

from . import basins, cells, clustered

__all__ = ["FAMILIES"]

#: The families by name: their ``draw`` functions.
FAMILIES = {"cells": cells.draw, "basins": basins.draw, "clustered": clustered.draw}
