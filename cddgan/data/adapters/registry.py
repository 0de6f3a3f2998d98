"""The name -> adapter table the config's `adapter:` key picks from."""

from __future__ import annotations

from cddgan.data.adapters import folders, ntire, realworld, reside
from cddgan.data.adapters.base import Adapter
from cddgan.data.adapters.unpaired import UNPAIRED_KEYS

_ENTRIES = [
    Adapter("reside-its", reside.find_its, UNPAIRED_KEYS, "hazy/ (or haze/) and clear/ of RESIDE ITS"),
    Adapter(
        "reside-ots",
        reside.find_ots,
        UNPAIRED_KEYS,
        "hazy/ (or haze/, sub-folders allowed) and clear/ of RESIDE OTS",
    ),
    Adapter("sots-indoor", reside.find_sots_indoor, frozenset(), "hazy/ and gt/ (or clear/) of SOTS indoor"),
    Adapter(
        "sots-outdoor", reside.find_sots_outdoor, frozenset(), "hazy/ and gt/ (or clear/) of SOTS outdoor"
    ),
    Adapter("hsts", realworld.find_hsts, realworld.HSTS_KEYS, "synthetic/ and real-world/ of HSTS"),
    Adapter("rtts", realworld.find_rtts, frozenset(), "JPEGImages/ of RTTS"),
    Adapter("i-haze", ntire.find_i_haze, frozenset(), "'# I-HAZY NTIRE 2018' (or the folder itself)"),
    Adapter("o-haze", ntire.find_o_haze, frozenset(), "'# O-HAZY NTIRE 2018' (or the folder itself)"),
    Adapter(
        "nh-haze", ntire.find_nh_haze, frozenset(), "NH-HAZE's *_hazy.png and *_GT.png (flat or hazy/ + GT/)"
    ),
    Adapter("dense-haze", ntire.find_dense_haze, frozenset(), "hazy/ and GT/ of Dense-Haze"),
    Adapter("paired-folders", folders.find_paired, folders.PAIRED_KEYS, "hazy_dir and clear_dir"),
    Adapter("unpaired-folders", folders.find_unpaired, folders.UNPAIRED_KEYS, "hazy_dir and clear_dir"),
    # Generated, not read: cddgan.data.synthetic validates its own keys.
    Adapter("synthetic", None, frozenset(), "", "Procedural haze from cddgan.data.synthetic.make_synthetic."),
]

ADAPTERS: dict[str, Adapter] = {
    a.name: a
    if a.doc or a.find is None
    else Adapter(a.name, a.find, a.keys, a.root_hint, a.find.__doc__ or "")
    for a in _ENTRIES
}
