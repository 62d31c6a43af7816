"""C sources of the int8 runtime, the test harness and the board folders (package data), and the
Python that builds and runs them (``build``, ``boards``)."""
