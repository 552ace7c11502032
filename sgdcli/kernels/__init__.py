"""Compiled code: every Numba kernel of sgdcli, and the Numba runtime.

Imports only NumPy, Numba, llvmlite and the standard library (an
import-linter contract), so the compile cache can be checked against this
package's sources alone (jit.py).
"""
