"""Instrument response maps: PSF (true or reco energy), PSF kernels, energy dispersion."""

from .edisp import EDispKernelMap, EDispMap, identity_kernel
from .psf import PSFKernel, PSFMap, RecoPSFMap

__all__ = ["EDispKernelMap", "EDispMap", "PSFKernel", "PSFMap", "RecoPSFMap", "identity_kernel"]
