"""The Python that builds and runs the generated firmware (``build``, ``boards``, ``flow``…). The C it
compiles (the int8 and float kernels, the harness, the head, the library templates and the board
folders) is in the repository's top-level ``firmware/``; ``sources.firmware_root`` finds it in a
checkout or an installed wheel."""
