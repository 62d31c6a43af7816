"""Write firmware/runtime/har_lstm_exp.h, the LSTM kernel's table of gemmlowp's exp (see
har_edge/codegen/gemmlowp.py). Run from the repository root: ``python tools/make_lstm_tables.py``."""

from __future__ import annotations

from pathlib import Path

from har_edge.codegen.gemmlowp import EXP_HEADER, exp_table_header
from har_edge.fsutil import atomic_write_text


def main() -> None:
    path = Path(__file__).resolve().parent.parent / EXP_HEADER
    atomic_write_text(path, exp_table_header())
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
