"""Which warehouse file the dashboard reads, and a cheap identity of it for cache keys.

The dashboard never opens the warehouse itself: it only names the file and hands the name to
`privacy`. The file is `$EDUDASH_DB` when set, else the default the privacy layer uses.
"""

from __future__ import annotations

import os
from pathlib import Path

import privacy

ENV_VAR = "EDUDASH_DB"
# The repository's default warehouse file (the same one `edudash build` writes without --db).
_DEFAULT_DB = Path(privacy.__file__).resolve().parents[1] / "warehouse" / "data" / "edudash.duckdb"


def warehouse_path() -> Path:
    """The warehouse file of this dashboard: $EDUDASH_DB, else privacy's default file."""
    env = os.environ.get(ENV_VAR)
    if env:
        return Path(env).expanduser().resolve()
    default = getattr(privacy, "default_db_path", None)
    if callable(default):
        return Path(default()).resolve()
    return _DEFAULT_DB


def warehouse_identity(path: Path | None = None) -> tuple[str, int, int, int]:
    """(path, device, inode, mtime_ns): changes whenever a rebuilt warehouse is swapped in.

    Part of every cache key, so a page never shows tables of a warehouse that was replaced.
    A missing file gives zeros (the page then reports the missing warehouse).
    """
    p = path or warehouse_path()
    try:
        st = p.stat()
    except FileNotFoundError:
        return (str(p), 0, 0, 0)
    return (str(p), st.st_dev, st.st_ino, st.st_mtime_ns)


NOISE_ENV = "EDUDASH_NOISE"


def noise_setting() -> privacy.NoiseSpec | None:
    """The server's noise setting: None (exact counts with suppression) unless configured.

    Set by whoever runs the server, never by a viewer: `$EDUDASH_NOISE` = laplace or gaussian,
    with `$EDUDASH_NOISE_EPSILON` (laplace) or `$EDUDASH_NOISE_RHO` (gaussian) as the whole
    release's budget. A misconfiguration raises `privacy.noise.NoiseError` (a ValueError).
    """
    mechanism = os.environ.get(NOISE_ENV, "").strip().lower() or None
    if mechanism is None:
        return None
    epsilon = os.environ.get("EDUDASH_NOISE_EPSILON")
    rho = os.environ.get("EDUDASH_NOISE_RHO")
    return privacy.noise_spec(
        mechanism,
        epsilon=float(epsilon) if epsilon else None,
        rho=float(rho) if rho else None,
    )
