"""The command-line programs: ``enhance``, ``enhance-train``, ``enhance-database``, ``enhance-weights``.

Each module has ``main(argv=None)``, which parses the arguments, calls the library
and returns the exit code (0 done, 1 some files failed, 2 a user error, 130
interrupted); :mod:`enhance_lib.scripts.common` gives them the same error handling.
Library messages name the parameters of the Python API in backticks (```pixel_scale```);
the programs show them as their flags (``--pixel-scale``).
"""
