"""Brute-force point-source npred cube for the Crab (reference for skyfit's exact PSF path).

Writes ``reference/bruteforce_crab_cube.npz``: Gammapy's background npred plus the Crab
point source computed without Gammapy's approximations (PSF profile integrated over
40 x 40 sub-pixels around the exact position, exact spectral integral; see
``make_gammapy_reference.bruteforce_point_npred``). Run with Gammapy 2.1 installed::

    .venv/bin/python validation/make_bruteforce_cube.py
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from make_gammapy_reference import (  # noqa: E402
    CRAB_NSUB,
    DATA,
    bruteforce_point_npred,
    load_dataset,
    provenance,
)


def main() -> None:
    crab = DATA / "fermi-3fhl-crab"
    for tag, models in [("crab", "Fermi-LAT-3FHL_models.yaml")]:
        ds = load_dataset(crab / "Fermi-LAT-3FHL_data_Fermi-LAT.fits", crab / models,
                          "Fermi-LAT")
        point = ds.models["Crab Nebula"]
        cube, _ = bruteforce_point_npred(ds, point, nsub=CRAB_NSUB)
        background = ds.npred_background().data
        np.savez_compressed(HERE / "reference" / f"bruteforce_{tag}_cube.npz",
                            point=cube.astype(np.float32),
                            background=background.astype(np.float32),
                            provenance=str(provenance({"command": " ".join(sys.argv)})))
        print(tag, cube.sum(axis=(1, 2)))


if __name__ == "__main__":
    main()
