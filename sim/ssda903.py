"""SSDA903 in and out: a run's children as DfE's children-looked-after return, and back.

**Export** (:func:`export_903`): for one LA, an RCC or all of England and a collection
year (1 April to 31 March), every child looked after at any time in the year, written
as DfE's ``Header`` and ``Episodes`` files (plus ``UASC`` for unaccompanied children),
one folder per LA as each LA makes its own return, with DfE's codes:

================  ==========  ============================================================
model             PLACE       PLACE_PROVIDER
================  ==========  ============================================================
kinship foster    U3          PR1 (the LA approves connected carers)
LA foster         U6          PR1, PR2 when the carer belongs to another LA (pooled)
IFA foster        U6          PR4
LA home           K2          PR1, PR2 when the home is in another LA
private home      K2          PR4
supported         H5 (K3 from 2025-26)  PR4
with parents      P1          PR0
for adoption      A6          PR1
emergency         Z1 (Z11 from 2025-26)  blank (DfE: no provider for Z codes)
================  ==========  ============================================================

Placed for adoption is A4 (A3 when the foster carer adopts): the model keeps one legal
status per child (C2 or V2), so no placement order (E1, needed for A5/A6) is recorded.
RNE is ``S`` for a child's first episode, ``P`` for a change of placement and ``U`` for
placement for adoption with the same carer. REC is ``X1`` between episodes and, when the
child leaves, E4A (home), E11 (adopted), E45 (special guardianship from foster care; E41
from other placements), E5 (18, independent living with support) or E8. Fields the model
does not represent are filled honestly: ETHNIC ``NOBT`` (not obtained), UPN ``UN1``/``UN2``
(DfE's codes for no UPN), MOTHER 0 (no births in care), no home postcode for unaccompanied
children (as DfE asks); CIN is N2 for disabled children, N8 for
unaccompanied children and otherwise drawn from DfE's published mix (seeded, so the same
run gives the same files); REASON_PLACE_CHANGE is CLOSE when a provider closed, CARPL
for planned moves (out of an emergency placement, into adoption) and otherwise drawn
from DfE 2024's reasons. Postcodes are the model's real postcodes, in full by default
(the validator derives PL_LA and distance from them); ``postcodes="partial"`` writes
outward code + first digit of the inward code for sharing.

**Import** (:func:`seed_from_903`): the children looked after on 31 March of an
extract's year become the model's starting stock for the LAs it covers (scenario field
``initial_population``), each in the placement type, at the age and at the home-to-
placement distance the extract gives.

**Check** (:func:`validate_903`): DfE's rules from the ``csc-validator-be-903`` package,
run in the isolated ``.venv-903`` (its pins clash with ours; ``make venv-903``).
"""

from __future__ import annotations

import datetime as dt
import json
import math
import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from sim.errors import ScenarioError, SimInputError
from sim.scenario import AGE_BAND_EDGES, AGE_BANDS
from sim.types import TYPE_NAMES, ExitReason, Need, PlacementType

if TYPE_CHECKING:
    from sim.geography import Geography
    from sim.model import CareMarketModel
    from sim.results import RunResult

HEADER_COLUMNS = ("CHILD", "SEX", "DOB", "ETHNIC", "UPN", "MOTHER", "MC_DOB")
EPISODE_COLUMNS = ("CHILD", "DECOM", "RNE", "LS", "CIN", "PLACE", "PLACE_PROVIDER", "DEC",
                   "REC", "REASON_PLACE_CHANGE", "HOME_POST", "PL_POST", "URN")
UASC_COLUMNS = ("CHILD", "SEX", "DOB", "DUC")
FILES = {"header": HEADER_COLUMNS, "episodes": EPISODE_COLUMNS, "uasc": UASC_COLUMNS}
MANIFEST = "ssda903.json"
DATE = "%d/%m/%Y"
DAYS_PER_WEEK = 7

T = PlacementType
NO_DISTANCE = (T.WITH_PARENTS, T.ADOPTION)  # DfE reports no distance for these
DISTANCE_BANDS = ("0-5", "5-10", "10-20", "20+")
DISTANCE_EDGES = (5.0, 10.0, 20.0)

# Category of need (CIN) of children who are not disabled or unaccompanied: DfE, Children
# looked after in England 2023, by category of need (N2 and N8 are set from the model).
CIN_MIX = {"N1": 0.66, "N3": 0.03, "N4": 0.08, "N5": 0.15, "N6": 0.01, "N7": 0.002,
           "N8": 0.068}
# Reasons for placement changes that the model does not tell apart: DfE 2024 shares of
# changes (8% carer request over behaviour; the rest an estimate of the published mix).
MOVE_REASONS = {"CARPL": 0.40, "CREQB": 0.10, "CREQO": 0.12, "CHILD": 0.10,
                "LAREQ": 0.08, "ALLEG": 0.02, "STAND": 0.03, "APPRR": 0.02, "PLACE": 0.05,
                "OTHER": 0.08}
INDEPENDENT = (T.IFA_FOSTER, T.PRIVATE_HOME, T.SUPPORTED, T.EMERGENCY)


class SSDA903Error(SimInputError):
    """An SSDA903 folder or file that cannot be read; the message names the file."""


# -- codes ---------------------------------------------------------------------------------
def place_code(ptype: PlacementType, year: int) -> str:
    """DfE placement type code (PLACE) for a model placement type in a collection year."""
    if ptype == T.SUPPORTED:
        return "H5" if year < 2026 else "K3"
    if ptype == T.EMERGENCY:
        return "Z1" if year < 2026 else "Z11"
    return {T.KINSHIP: "U3", T.LA_FOSTER: "U6", T.IFA_FOSTER: "U6", T.LA_HOME: "K2",
            T.PRIVATE_HOME: "K2", T.WITH_PARENTS: "P1", T.ADOPTION: "A6"}[ptype]


def placement_type(place: str, provider: str, age: float = 17.0) -> PlacementType:
    """The model's placement type for DfE codes (every PLACE code maps to one)."""
    place = str(place).strip().upper()
    own = str(provider).strip().upper() in ("PR1", "PR2", "PR3")
    if place in ("U1", "U2", "U3"):
        return T.KINSHIP
    if place in ("U4", "U5", "U6"):
        return T.LA_FOSTER if own else T.IFA_FOSTER
    if place in ("K1", "K2"):
        return T.LA_HOME if own else T.PRIVATE_HOME
    if place in ("R1", "R2", "R3", "R5", "S1"):  # other residential settings
        return T.PRIVATE_HOME
    if place in ("H5", "K3", "P2", "P3"):
        return T.SUPPORTED if age >= 16 else T.PRIVATE_HOME
    if place == "P1":
        return T.WITH_PARENTS
    if place in ("A3", "A4", "A5", "A6"):
        return T.ADOPTION
    if place.startswith(("T", "Z")):
        return T.EMERGENCY
    raise SSDA903Error(f"PLACE: unknown placement type code {place!r}")


def sex_code(male: bool, year: int) -> str:
    """SEX: 1/2 up to 2023-24, M/F from 2024-25 (DfE's change of coding)."""
    if year >= 2025:
        return "M" if male else "F"
    return "1" if male else "2"


def partial_postcode(postcode: str) -> str:
    """Outward code and the first digit of the inward code (``"M1 1AE"`` -> ``"M1 1"``)."""
    text = str(postcode).replace(" ", "").upper()
    return f"{text[:-3]} {text[-3]}"


def distance_band(miles: float, ptype: PlacementType, uasc: bool = False) -> str:
    """DfE-style distance band; ``n/a`` where DfE reports none (P1, A, UASC)."""
    if ptype in NO_DISTANCE or uasc or miles != miles:  # NaN: unknown
        return "n/a"
    return DISTANCE_BANDS[int(np.searchsorted(DISTANCE_EDGES, miles, side="left"))]


def age_band(age: float) -> str:
    """Age band as DfE publishes it (under 1, 1-4, 5-9, 10-15, 16-17)."""
    i = int(np.searchsorted(AGE_BAND_EDGES[1:-1], age, side="right"))
    return AGE_BANDS[min(i, len(AGE_BANDS) - 1)]


# -- choosing LAs --------------------------------------------------------------------------
def select_las(geography: Geography, la: str | None = None, rcc: str | None = None,
               everyone: bool = False) -> list[int]:
    """LA indices for ``--la CODE``, ``--rcc PRESET`` (a pathfinder) or ``--all``."""
    given = [x for x in (la, rcc) if x] + (["all"] if everyone else [])
    if len(given) != 1:
        raise SimInputError("give exactly one of --la CODE, --rcc PRESET or --all")
    if everyone:
        return [a.index for a in geography.las]
    if la:
        return [geography.la(code, "--la").index for code in str(la).split(",")]
    from sim.data import load_national

    presets = load_national().policies.rcc_pathfinders
    if rcc not in presets:
        raise SimInputError(f"--rcc: unknown preset {rcc!r} (allowed: {', '.join(presets)})")
    return [geography.la(code, "--rcc").index for code in presets[rcc]]


# -- export --------------------------------------------------------------------------------
@dataclass
class Return903:
    """One LA's return for one collection year: DfE's tables as string columns."""

    la: str
    year: int
    header: pd.DataFrame
    episodes: pd.DataFrame
    uasc: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=UASC_COLUMNS))

    def write(self, folder: str | Path) -> Path:
        """``header.csv``, ``episodes.csv`` and (if any) ``uasc.csv`` in ``folder``."""
        out = Path(folder)
        out.mkdir(parents=True, exist_ok=True)
        self.header.to_csv(out / "header.csv", index=False)
        self.episodes.to_csv(out / "episodes.csv", index=False)
        if len(self.uasc):
            self.uasc.to_csv(out / "uasc.csv", index=False)
        else:
            (out / "uasc.csv").unlink(missing_ok=True)
        return out


def _dates(start: dt.date, weeks: pd.Series | np.ndarray, up: bool = False) -> pd.Series:
    """Model weeks (fractions allowed) as dates, counting 7 days a week from ``start``.

    Fractions of a day round down (``up``: up, for birth dates, so that no age is
    overstated by rounding).
    """
    days = np.asarray(weeks, dtype=float) * DAYS_PER_WEEK
    days = np.ceil(days) if up else np.floor(days)
    return pd.Series(pd.Timestamp(start) + pd.to_timedelta(days, unit="D"))


def _collection(start_year: int, year: int, weeks: float) -> tuple[dt.date, dt.date]:
    """First and last day of collection year ``year``, checked against the run."""
    start = dt.date(start_year, 3, 31)
    run_end = start + dt.timedelta(days=int(weeks * DAYS_PER_WEEK))
    first, last = dt.date(year - 1, 4, 1), dt.date(year, 3, 31)
    if year <= start_year or last > run_end + dt.timedelta(days=7):
        raise SimInputError(
            f"--year: {year} is out of range; the run covers collection years "
            f"{start_year + 1} to {max(start_year + 1, run_end.year - (run_end.month < 4))} "
            "(years ending 31 March)")
    return first, last


def _all_episodes(result: RunResult, las: list[int]) -> pd.DataFrame:
    """Closed and still-open placement episodes of the chosen LAs' children."""
    kids = result.children
    ep = result.episodes[result.episodes["la"].isin(las)][
        ["child", "la", "start_week", "end_week", "placement_type", "setting", "setting_la",
         "postcode", "distance_miles"]].copy()
    names = {name: i for i, name in enumerate(TYPE_NAMES)}
    ep["ptype"] = ep.pop("placement_type").astype(str).map(names).astype(int)
    open_ = kids[(kids["open_type"] >= 0) & kids["la"].isin(las)]
    ep_open = pd.DataFrame({
        "child": open_["child"], "la": open_["la"], "start_week": open_["open_start_week"],
        "end_week": np.nan, "setting": open_["open_setting"],
        "setting_la": open_["open_setting_la"], "postcode": open_["open_postcode"],
        "distance_miles": open_["open_distance"], "ptype": open_["open_type"]})
    ep = pd.concat([ep, ep_open], ignore_index=True)
    ep["start_week"] = ep["start_week"].astype(float)
    ep["end_week"] = ep["end_week"].astype(float)
    ep = ep[~(ep["end_week"] <= ep["start_week"])]  # moved again the same week: no episode
    ep = ep.sort_values(["child", "start_week"], kind="stable").reset_index(drop=True)
    # A 2019 stock child's first known placement starts when they entered care (supported
    # accommodation no earlier than the 16th birthday, the youngest it may take).
    k = kids.set_index("child")
    entered = ep["child"].map(k["entered_week"])
    sixteen = ep["child"].map(k["birth_week"]) + 16 * 52.1775
    entered = np.where(ep["ptype"] == T.SUPPORTED, np.maximum(entered, sixteen), entered)
    first = (~ep["child"].duplicated()).to_numpy()
    ep.loc[first, "start_week"] = np.minimum(ep.loc[first, "start_week"], entered[first])
    return ep


def export_903(result: RunResult, year: int, las: list[int], geography: Geography | None = None,
               postcodes: str = "full") -> dict[str, Return903]:
    """SSDA903 returns for collection year ``year`` (ending 31 March) of LAs ``las``."""
    if postcodes not in ("full", "partial"):
        raise SimInputError(f"postcodes: {postcodes!r} is not allowed (full or partial)")
    if result.children is None or not len(result.children):
        raise SimInputError("this run has no children table (re-run it with this version "
                            "of sim to export SSDA903 files)")
    from sim.geography import load_geography

    geo = geography or load_geography()
    meta = result.meta
    start_year = int(meta.get("scenario_data", {}).get("start_year", 2019))
    first, last = _collection(start_year, year, float(meta.get("weeks", 0)))
    start = dt.date(start_year, 3, 31)
    ep = _all_episodes(result, las)
    kids = result.children.set_index("child")
    ep["DECOM_d"] = _dates(start, ep["start_week"]).to_numpy()
    ep["DEC_d"] = _dates(start, ep["end_week"].fillna(np.inf).clip(upper=1e6)).to_numpy()
    ep.loc[ep["end_week"].isna(), "DEC_d"] = pd.NaT
    last_ts, first_ts = pd.Timestamp(last), pd.Timestamp(first)
    in_year = (ep["DECOM_d"] <= last_ts) & (ep["DEC_d"].isna() | (ep["DEC_d"] >= first_ts))
    # Previous-episode facts (for RNE, reasons) come from the full history.
    ep["prev_type"] = ep.groupby("child")["ptype"].shift(1)
    ep["next_type"] = ep.groupby("child")["ptype"].shift(-1)
    ep["is_first"] = ~ep["child"].duplicated()
    ep["is_last"] = ~ep["child"].duplicated(keep="last")
    seed = int(meta.get("seed", 0))
    rng = np.random.default_rng(np.random.SeedSequence([seed, year, 903]))
    ep["move_reason"] = rng.choice(list(MOVE_REASONS), size=len(ep),
                                   p=_norm(list(MOVE_REASONS.values())))
    ep = ep[in_year].copy()
    returns: dict[str, Return903] = {}
    for la in las:
        rows = ep[ep["la"] == la]
        code = geo.las[la].ons_code
        returns[code] = _one_return(code, la, year, rows, kids, geo, start, last_ts, postcodes,
                                    seed)
    return returns


def _norm(p: list[float]) -> np.ndarray:
    arr = np.asarray(p, dtype=float)
    return arr / arr.sum()


def _one_return(code: str, la: int, year: int, ep: pd.DataFrame, kids: pd.DataFrame,
                geo: Geography, start: dt.date, last: pd.Timestamp, postcodes: str,
                seed: int) -> Return903:
    """Header, Episodes and UASC tables of one LA."""
    children = sorted(set(ep["child"].tolist()))
    k = kids.loc[children]
    rng = np.random.default_rng(np.random.SeedSequence([seed, year, la, 2]))
    cin_draw = rng.choice(list(CIN_MIX), size=len(children), p=_norm(list(CIN_MIX.values())))
    cin = pd.Series(np.where(k["uasc"].to_numpy(dtype=bool), "N8",
                             np.where(k["need"].to_numpy() == int(Need.DISABLED), "N2",
                                      cin_draw)), index=children)
    dob = _dates(start, k["birth_week"].to_numpy(), up=True)
    dob.index = children
    ep = ep.copy()  # a newborn's first episode starts no earlier than the birth date
    ep["DECOM_d"] = np.maximum(ep["DECOM_d"].to_numpy(), dob.loc[ep["child"]].to_numpy())
    with_parents = set(ep.loc[ep["ptype"] == T.WITH_PARENTS, "child"].tolist())
    # One legal status per child: a care order (C2) for children ever placed with parents.
    base_ls = pd.Series(["C2" if c in with_parents else ls
                         for c, ls in zip(children, k["legal_status"], strict=True)],
                        index=children)
    # Postcodes: the child's home and each placement's (see _placement_postcodes).
    home_pc = pd.Series([geo.postcode(int(i)) for i in k["postcode"]], index=children)
    pl_pc = _placement_postcodes(ep, home_pc, geo, la, seed)
    ls = base_ls.loc[ep["child"]].to_numpy()
    rne = np.where(ep["is_first"], "S", "P")
    exit_week = ep["child"].map(kids["exit_week"])
    exit_reason = ep["child"].map(kids["exit_reason"])
    ended = ep["DEC_d"].notna() & (ep["DEC_d"] <= last)
    leaves = ended & ep["is_last"] & exit_week.notna()
    rec = np.where(~ended, "", np.where(leaves, [
        _rec(int(r), p) for r, p in zip(exit_reason.fillna(-1), ep["ptype"], strict=True)],
        "X1"))
    reason = np.where((rec == "X1"), _move_reasons(ep), "")
    places = np.array(_places(ep, rec, year))
    provider = [_provider(int(t), int(sla), la) for t, sla in
                zip(ep["ptype"], ep["setting_la"], strict=True)]
    # DfE: no home postcode for unaccompanied children (they have no home in England).
    home = np.where(ep["child"].map(k["uasc"]).to_numpy(dtype=bool), "",
                    home_pc.loc[ep["child"]].to_numpy())
    place_pc = pl_pc.to_numpy()
    # DfE rule 392d: only placements with parents share the home postcode; a setting that
    # happens to share it (a kin carer next door) gets the adjacent postcode.
    clash = (place_pc == home) & (places != "P1") & (home != "")
    place_pc = np.where(clash, [_adjacent_postcode(geo, p) if c else p
                                for p, c in zip(place_pc, clash, strict=True)], place_pc)
    if postcodes == "partial":
        home = np.array([partial_postcode(p) if p else "" for p in home])
        place_pc = np.array([partial_postcode(p) if p else "" for p in place_pc])
    episodes = pd.DataFrame({
        "CHILD": ep["child"].astype(str).to_numpy(),
        "DECOM": ep["DECOM_d"].dt.strftime(DATE).to_numpy(),
        "RNE": rne, "LS": ls, "CIN": cin.loc[ep["child"]].to_numpy(),
        "PLACE": places,
        "PLACE_PROVIDER": np.where(np.char.startswith(places.astype(str), "A"), "PR1",
                                   provider),
        "DEC": np.where(ended, ep["DEC_d"].dt.strftime(DATE), ""),
        "REC": rec, "REASON_PLACE_CHANGE": reason,
        "HOME_POST": home, "PL_POST": place_pc,
        "URN": ["XXXXXXX" if p.startswith("A") else _urn(int(t), int(s), la, year)
                for t, s, p in zip(ep["ptype"], ep["setting"], places, strict=True)],
    })
    male = k["male"].to_numpy(dtype=bool)
    header = pd.DataFrame({
        "CHILD": [str(c) for c in children],
        "SEX": [sex_code(m, year) for m in male],
        "DOB": dob.dt.strftime(DATE).to_numpy(),
        "ETHNIC": "NOBT",  # ethnicity is not modelled: DfE's "information not yet obtained"
        "UPN": _upn(dob, last), "MOTHER": _mother(male), "MC_DOB": "",
    })
    uasc_kids = [c for c, u in zip(children, k["uasc"], strict=True) if u]
    uasc = pd.DataFrame({
        "CHILD": [str(c) for c in uasc_kids],
        "SEX": [sex_code(bool(kids.at[c, "male"]), year) for c in uasc_kids],
        "DOB": dob.loc[uasc_kids].dt.strftime(DATE).to_numpy(),
        # Unaccompanied status ceases at 18 (DfE: the date of the 18th birthday).
        "DUC": [(d + pd.DateOffset(years=18)).strftime(DATE) for d in dob.loc[uasc_kids]],
    }, columns=UASC_COLUMNS)
    return Return903(code, year, header, episodes, uasc)


def _places(ep: pd.DataFrame, rec: np.ndarray, year: int) -> list[str]:
    """PLACE codes; placed for adoption as A4 (not with the current foster carer).

    The model keeps one legal status per child, so placements for adoption are coded as
    with consent (A3/A4) rather than under a placement order (A5/A6, which need LS E1).
    A child the model adopts before a placement for adoption could start (adopted within
    the weeks such a placement lasts) has that last episode recorded as placed for
    adoption (A4): DfE's rules require an adoption to follow a placement for adoption
    (A3, with the current foster carer, would need a change of legal status).
    """
    out = []
    for t, r in zip(ep["ptype"], rec, strict=True):
        t = T(int(t))
        if t == T.ADOPTION or r in ("E11", "E12"):
            out.append("A4")
        else:
            out.append(place_code(t, year))
    return out


def _mother(male: np.ndarray) -> np.ndarray:
    """MOTHER: 0 (not a mother) for every girl; the model has no births in care."""
    return np.where(male, "", "0")


def _rec(reason: int, ptype: int) -> str:
    """REC for a child's last episode, from the model's exit route."""
    if reason == ExitReason.ADOPTED:
        return "E11"
    if reason == ExitReason.RETURN_HOME:
        return "E4A"
    if reason == ExitReason.SPECIAL_GUARDIANSHIP:  # only from foster care (DfE rule 516)
        if ptype in (T.KINSHIP, T.LA_FOSTER, T.IFA_FOSTER):
            return "E45"
        return "E4A" if ptype == T.WITH_PARENTS else "E41"
    if reason == ExitReason.AGE_18:
        return "E5"
    return "E8"


def _move_reasons(ep: pd.DataFrame) -> np.ndarray:
    """REASON_PLACE_CHANGE of an episode that ends in a move."""
    planned = (ep["ptype"] == T.EMERGENCY) | (ep["next_type"] == T.ADOPTION)
    return np.where(planned, "CARPL", ep["move_reason"])


def _provider(ptype: int, setting_la: int, la: int) -> str:
    """PLACE_PROVIDER: own LA, another LA, private, parents (see the module table)."""
    t = T(ptype)
    if t == T.WITH_PARENTS:
        return "PR0"
    if t == T.EMERGENCY:
        return ""
    if t in (T.KINSHIP, T.ADOPTION):
        return "PR1"
    if t in (T.LA_FOSTER, T.LA_HOME):
        return "PR1" if setting_la in (la, -1) else "PR2"
    return "PR4"


def _urn(ptype: int, setting: int, la: int, year: int) -> str:
    """A synthetic Ofsted URN (``SC`` + 6 digits) of the registered service.

    Homes and supported accommodation: the setting's; IFA carers: their agency's (the
    household stands for it); LA and kinship carers: the LA's fostering service. Placed
    for adoption: ``XXXXXXX`` (DfE's code for adoption agencies); with parents and
    emergency placements have none, nor supported accommodation before it was registered
    with Ofsted (28 October 2023).
    """
    t = T(ptype)
    if t in (T.WITH_PARENTS, T.EMERGENCY) or (t == T.SUPPORTED and year < 2024):
        return ""
    if t == T.ADOPTION:
        return "XXXXXXX"
    if t in (T.KINSHIP, T.LA_FOSTER):
        return f"SC{900000 + la:06d}"
    return f"SC{100000 + max(setting, 0) % 800000:06d}"


def _upn(dob: pd.Series, last: pd.Timestamp) -> np.ndarray:
    """UPN: not modelled, so DfE's 'unknown' codes: UN1 under school age, else UN2.

    (UN1: not yet of school age; UN2: of school age but no UPN known to the LA.)
    """
    school_age = dob + pd.DateOffset(years=4) <= pd.Timestamp(last.year - 1, 8, 31)
    return np.where(school_age, "UN2", "UN1")


def _placement_postcodes(ep: pd.DataFrame, home: pd.Series, geo: Geography, la: int,
                         seed: int) -> pd.Series:
    """PL_POST of each episode: the setting's postcode; with parents, the child's home.

    Placements with no setting get a real postcode consistent with the model: placed for
    adoption, another postcode in the child's LA (distance is not reported for them);
    emergency placements, a postcode about 25 miles away (the model counts them as
    beyond 20 miles, location unknown).
    """
    rng = np.random.default_rng(np.random.SeedSequence([seed, la, 25]))
    out = []
    for child, t, pc in zip(ep["child"], ep["ptype"], ep["postcode"], strict=True):
        t = T(int(t))
        if pc >= 0:
            out.append(geo.postcode(int(pc)))
        elif t == T.WITH_PARENTS:
            out.append(home.loc[child])
        elif t == T.ADOPTION:
            i, _, _ = geo.sample_postcode(la, rng)
            out.append(geo.postcode(i))
        else:
            out.append(_far_postcode(geo, home.loc[child], rng))
    return pd.Series(out, index=ep.index)


def _adjacent_postcode(geo: Geography, postcode: str) -> str:
    """The next postcode in the directory's order (the same street or sector)."""
    keys, order = _postcode_keys(geo)
    pos = int(np.searchsorted(keys, postcode.replace(" ", "").encode()))
    return geo.postcode(int(order[min(pos + 1, len(keys) - 1)]))


def _far_postcode(geo: Geography, home: str, rng: np.random.Generator,
                  miles: float = 25.0) -> str:
    """A real postcode about ``miles`` from ``home`` (within 21-30 miles if one exists)."""
    from sim.geography import distance_miles

    e, n, la = geo.locate(home)
    d = geo.centroid_distance_matrix()[la.index]
    near = np.flatnonzero((d > 10) & (d < 45))
    best, best_gap = home, math.inf
    for other in rng.permutation(near)[:6].tolist():
        sample = geo.sample_postcodes(geo.las[other], 40, rng)
        dist = distance_miles(e, n, sample.easting, sample.northing)
        j = int(np.argmin(np.abs(dist - miles)))
        if abs(dist[j] - miles) < best_gap:
            best, best_gap = geo.postcode(int(sample.index[j])), abs(dist[j] - miles)
        if best_gap < 4:
            break
    return best


def write_903(returns: dict[str, Return903], out: str | Path, info: dict[str, Any]) -> Path:
    """One folder per LA (``OUT/<ONS code>/``) and ``ssda903.json`` describing them."""
    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    for code, ret in returns.items():
        ret.write(folder / code)
    manifest = {**info, "las": sorted(returns),
                "children": {c: len(r.header) for c, r in returns.items()},
                "episodes": {c: len(r.episodes) for c, r in returns.items()}}
    (folder / MANIFEST).write_text(json.dumps(manifest, indent=2, default=str))
    return folder


def export_run(result: RunResult, year: int, out: str | Path, las: list[int],
               postcodes: str = "full", geography: Geography | None = None) -> Path:
    """Export and write a run's SSDA903 returns (what ``sim export-903`` does)."""
    returns = export_903(result, year, las, geography, postcodes)
    info = {"collection_year": year,
            "collection_period": f"01/04/{year - 1} to 31/03/{year}",
            "scale": result.meta.get("scale", 1.0), "seed": result.meta.get("seed"),
            "scenario": result.meta.get("scenario"), "postcodes": postcodes,
            "note": "Simulated children (care-market-sim), not real data."}
    return write_903(returns, out, info)


# -- validation ----------------------------------------------------------------------------
# Rules that cannot pass or cannot be judged on simulated data, with the reason. Rules that
# need tables a simulated return does not have (Reviews, OC2, OC3, AD1, Missing, previous
# year, Ofsted provider lists) are skipped by the validator itself.
EXCLUDED_RULES: dict[str, str] = {
    "169": "the validator's LA lookup (ONS 2021) lacks the district codes of 2023-24 "
           "(E06000063-66, E08000038-39) that its own postcode file uses, so placements in "
           "Cumbria, North Yorkshire, Somerset, Barnsley and Sheffield get no PL_LA; the "
           "postcodes are real (both come from the same ONS Postcode Directory)",
    "241": "needs Ofsted's provider lists (where a provider has premises); without them "
           "the package compares supported accommodation (K3) with the placing LA, so "
           "every K3 placement outside the LA fails",
}


@dataclass
class ValidationReport:
    """What DfE's rules found in one LA's return."""

    la: str
    ruleset: str
    rules: int
    run: list[str]
    skipped: list[str]
    failed_to_run: list[str]
    errors: dict[str, dict[str, Any]]

    @property
    def breaches(self) -> dict[str, dict[str, Any]]:
        """Errors on rules that apply to simulated data (not in :data:`EXCLUDED_RULES`)."""
        return {k: v for k, v in self.errors.items() if k not in EXCLUDED_RULES}

    def lines(self) -> list[str]:
        """A short human-readable report."""
        out = [f"{self.la}: {self.ruleset}, {len(self.run)} rules run, {len(self.skipped)} "
               f"skipped (tables not in a simulated return), {len(self.failed_to_run)} "
               f"could not run; {len(self.breaches)} broken"]
        for code, e in sorted(self.errors.items()):
            tag = " (excluded: see EXCLUDED_RULES)" if code in EXCLUDED_RULES else ""
            out.append(f"  rule {code}: {e['count']} rows: {e['message'][:110]}{tag}")
        return out


def validator_python() -> Path:
    """Python of the isolated validator environment (``$SIM_903_PYTHON`` or ``.venv-903``)."""
    env = os.environ.get("SIM_903_PYTHON")
    if env:
        return Path(env)
    root = Path(__file__).resolve().parents[1]
    return root / ".venv-903" / "bin" / "python"


def validate_903(folder: str | Path, la: str | None = None, year: int | None = None,
                 timeout: float = 600) -> list[ValidationReport]:
    """DfE's SSDA903 rules on an export folder (every LA in it, or one ``la``)."""
    folder = Path(folder)
    manifest = _manifest(folder)
    year = year or int(manifest["collection_year"])
    las = [la] if la else list(manifest["las"])
    python = validator_python()
    if not python.exists():
        raise SimInputError(f"the SSDA903 validator is not installed ({python} not found); "
                            "run `make venv-903` (or set SIM_903_PYTHON)")
    runner = Path(__file__).with_name("_validate903.py")
    reports = []
    for code in las:
        proc = subprocess.run([str(python), "-I", str(runner), str(folder / code), "--year",
                               str(year), "--la", code], capture_output=True, text=True,
                              timeout=timeout, check=False)
        if proc.returncode != 0:
            raise SimInputError(f"SSDA903 validator failed on {folder / code}: "
                                f"{proc.stderr.strip().splitlines()[-1:]}")
        data = json.loads(proc.stdout)
        reports.append(ValidationReport(code, data["ruleset"], data["rules"], data["run"],
                                        data["skipped"], data["failed_to_run"],
                                        data["errors"]))
    return reports


# -- import --------------------------------------------------------------------------------
def _manifest(folder: Path) -> dict[str, Any]:
    path = folder / MANIFEST
    if path.exists():
        try:
            return json.loads(path.read_text())
        except json.JSONDecodeError as err:
            raise SSDA903Error(f"{path}: not valid JSON ({err})") from None
    if (folder / "episodes.csv").exists():  # one LA's files, named by the folder
        return {"las": [folder.name], "single": True}
    raise SSDA903Error(f"{folder}: no {MANIFEST} and no episodes.csv (an SSDA903 folder "
                       "written by `sim export-903`, or one LA's header.csv + episodes.csv)")


def read_903(folder: str | Path) -> tuple[dict[str, dict[str, pd.DataFrame]], dict[str, Any]]:
    """Every LA's tables in an SSDA903 folder, as strings, and the folder's manifest."""
    folder = Path(folder)
    if not folder.is_dir():
        raise SSDA903Error(f"{folder}: no such SSDA903 folder")
    manifest = _manifest(folder)
    out: dict[str, dict[str, pd.DataFrame]] = {}
    for code in manifest["las"]:
        sub = folder if manifest.get("single") else folder / code
        tables = {}
        for name, columns in FILES.items():
            path = sub / f"{name}.csv"
            if not path.exists():
                if name == "uasc":
                    tables[name] = pd.DataFrame(columns=columns)
                    continue
                raise SSDA903Error(f"{path}: missing ({name} table of the SSDA903 return)")
            frame = pd.read_csv(path, dtype=str, keep_default_na=False)
            missing = [c for c in columns if c not in frame.columns]
            if missing:
                raise SSDA903Error(f"{path}: missing column(s) {', '.join(missing)}")
            tables[name] = frame
        out[code] = tables
    return out, manifest


def _locate_any(geo: Geography, postcode: str) -> tuple[float, float, int]:
    """Grid reference and postcode index of a full postcode, or of a partial one's sector."""
    keys, order = _postcode_keys(geo)
    text = str(postcode).replace(" ", "").upper()
    lo = int(np.searchsorted(keys, text.encode()))
    if lo < len(keys) and keys[lo] == text.encode():
        i = int(order[lo])
        return float(geo.easting[i]), float(geo.northing[i]), i
    hi = int(np.searchsorted(keys, (text + "\x7f").encode()))
    cand = [int(order[j]) for j in range(lo, hi) if len(keys[j]) == len(text) + 2]
    if not cand:
        raise SSDA903Error(f"unknown postcode {postcode!r} (not an English postcode or sector)")
    return (float(np.mean(geo.easting[cand])), float(np.mean(geo.northing[cand])),
            cand[len(cand) // 2])


_KEYS: dict[int, tuple[np.ndarray, np.ndarray]] = {}


def _postcode_keys(geo: Geography) -> tuple[np.ndarray, np.ndarray]:
    if id(geo) not in _KEYS:
        order = np.argsort(geo.postcodes, kind="stable")
        _KEYS.clear()
        _KEYS[id(geo)] = (geo.postcodes[order], order)
    return _KEYS[id(geo)]


def stock_from_903(folder: str | Path, geography: Geography | None = None) -> pd.DataFrame:
    """Children looked after on 31 March of an extract's year, one row each.

    Columns: la (index), child, male, birth_week and entered_week (weeks before that
    31 March, negative), legal_status, uasc, need, ptype, home postcode (index and grid
    reference), placement grid reference and distance_miles (home to placement, DfE's
    measure), age_band and distance_band.
    """
    from sim.geography import distance_miles, load_geography

    geo = geography or load_geography()
    tables, manifest = read_903(folder)
    home_rng = np.random.default_rng(903)
    rows = []
    for code, t in tables.items():
        la = geo.la(code, f"{folder}").index
        year = int(manifest.get("collection_year") or _year_of(t["episodes"]))
        end = pd.Timestamp(dt.date(year, 3, 31))
        ep = t["episodes"].copy()
        ep["DECOM_d"] = pd.to_datetime(ep["DECOM"], format=DATE, errors="coerce")
        ep["DEC_d"] = pd.to_datetime(ep["DEC"], format=DATE, errors="coerce")
        if ep["DECOM_d"].isna().any():
            bad = ep.loc[ep["DECOM_d"].isna(), "DECOM"].iloc[0]
            raise SSDA903Error(f"{folder}/{code}/episodes.csv: DECOM {bad!r} is not a date "
                               "(dd/mm/yyyy)")
        ep = ep.sort_values(["CHILD", "DECOM_d"], kind="stable")
        open_ = ep[(ep["DECOM_d"] <= end) & (ep["DEC_d"].isna() | (ep["DEC_d"] > end))]
        open_ = open_.drop_duplicates("CHILD", keep="last")
        started = ep[ep["RNE"] == "S"].groupby("CHILD")["DECOM_d"].max()
        earliest = ep.groupby("CHILD")["DECOM_d"].min()
        head = t["header"].drop_duplicates("CHILD").set_index("CHILD")
        uasc = set(t["uasc"]["CHILD"])
        for r in open_.itertuples(index=False):
            if r.CHILD not in head.index:
                raise SSDA903Error(f"{folder}/{code}: child {r.CHILD!r} has episodes but no "
                                   "header row")
            h = head.loc[r.CHILD]
            dob = pd.to_datetime(h["DOB"], format=DATE, errors="coerce")
            if pd.isna(dob):
                raise SSDA903Error(f"{folder}/{code}/header.csv: DOB {h['DOB']!r} of child "
                                   f"{r.CHILD!r} is not a date (dd/mm/yyyy)")
            age = (end - dob).days / 365.25
            ptype = placement_type(r.PLACE, r.PLACE_PROVIDER, age)
            entry = started.get(r.CHILD, earliest[r.CHILD])
            if r.PL_POST:
                pe, pn, _ = _locate_any(geo, r.PL_POST)
            if r.HOME_POST:
                he, hn, hi = _locate_any(geo, r.HOME_POST)
            else:  # unaccompanied children: a home in the LA, distance not reported
                hi, he, hn = geo.sample_postcode(la, home_rng)
            if not r.PL_POST:
                pe, pn = he, hn
            miles = float(distance_miles(he, hn, pe, pn))
            if ptype in NO_DISTANCE:
                miles = 0.0
            need = (Need.DISABLED if r.CIN == "N2" else Need.COMPLEX
                    if ptype in (T.LA_HOME, T.PRIVATE_HOME) and age < 16 else Need.STANDARD)
            rows.append({
                "la": la, "child": r.CHILD, "male": h["SEX"] in ("1", "M"),
                "birth_week": -(end - dob).days / DAYS_PER_WEEK,
                "entered_week": -(end - entry).days / DAYS_PER_WEEK,
                "legal_status": "C2" if r.LS in ("E1", "D1") else (r.LS or "C2"),
                "uasc": r.CHILD in uasc, "need": int(need), "ptype": int(ptype),
                "home_postcode": hi, "home_easting": he, "home_northing": hn,
                "place_easting": pe, "place_northing": pn, "distance_miles": miles,
                "age_band": age_band(age),
                "distance_band": distance_band(miles, ptype, r.CHILD in uasc)})
    return pd.DataFrame(rows)


def _year_of(episodes: pd.DataFrame) -> int:
    """Collection year of an extract with no manifest: the year of its latest date."""
    dates = pd.to_datetime(pd.concat([episodes["DECOM"], episodes["DEC"]]), format=DATE,
                           errors="coerce").dropna()
    if dates.empty:
        raise SSDA903Error("episodes.csv has no dates")
    last = dates.max()
    return int(last.year + (last.month > 3))


def stock_table(stock: pd.DataFrame) -> pd.DataFrame:
    """Counts by placement type, age band and distance band (the round-trip check)."""
    frame = stock.assign(placement=[T(int(t)).name.lower() for t in stock["ptype"]])
    return (frame.groupby(["placement", "age_band", "distance_band"]).size()
            .rename("children").reset_index())


def model_stock(model: CareMarketModel, las: list[int] | None = None) -> pd.DataFrame:
    """The model's children in care now, in :func:`stock_from_903`'s banding."""
    rows = []
    for c in model.children.values():
        if c.ptype is None or (las is not None and c.la not in las):
            continue
        rows.append({"la": c.la, "child": c.unique_id, "ptype": int(c.ptype),
                     "age_band": age_band(c.age()),
                     "distance_band": distance_band(c.distance, c.ptype, c.uasc)})
    return pd.DataFrame(rows, columns=["la", "child", "ptype", "age_band", "distance_band"])


def seed_from_903(model: CareMarketModel, folder: str | Path,
                  rng: np.random.Generator) -> set[int]:
    """Place an extract's children as the model's starting stock; returns the LAs seeded.

    Each child is placed in the recorded placement type: in the free setting of that type
    nearest the recorded placement postcode (the LA's own for in-house carers and LA
    homes; a place is added if none is free, since the extract says the child lives
    there), with kin (a kinship household), with parents, for adoption or in an emergency
    placement. Distance from home is the extract's (DfE's home-to-placement measure).
    Leaving care is drawn as for the national stock. An extract written from a run at
    another scale is thinned to this model's scale.
    """
    from sim.agents.child import Child
    from sim.demand import sample_exits

    path = _resolve(folder, model.scenario.source_file)
    stock = stock_from_903(path, model.geography)
    _, manifest = read_903(path)
    if stock.empty:
        return set()
    active = set(model.active_las)
    outside = sorted(set(stock["la"]) - active)
    if outside:
        names = ", ".join(model.geography.las[i].ons_code for i in outside)
        raise ScenarioError(f"initial_population: {path} covers LA(s) {names} that are not in "
                            "the run (only_las)")
    keep = min(model.scenario.scale / float(manifest.get("scale", 1.0)), 1.0)
    if keep < 1.0:
        stock = stock[rng.random(len(stock)) < keep]
    children = []
    for r in stock.itertuples(index=False):
        c = Child(model, int(r.la), int(r.home_postcode), float(r.home_easting),
                  float(r.home_northing), float(r.birth_week), bool(r.male), Need(int(r.need)),
                  bool(r.uasc), str(r.legal_status), float(r.entered_week))
        model.children[c.unique_id] = c
        model.outcomes.on_enter(c)
        children.append(c)
    if children:
        ages = np.array([c.age() for c in children])
        in_care = np.array([-c.entered_week for c in children])
        exit_week, reason = sample_exits(rng, 0.0, ages, in_care, model.hazards)
        for c, w, why in zip(children, exit_week.tolist(), reason.tolist(), strict=True):
            model._schedule_exit(c, w, why)  # the model's own calendar entry for leaving
    finder = _NearestSetting(model)
    for c, r in zip(children, stock.itertuples(index=False), strict=True):
        ptype = T(int(r.ptype))
        if ptype in NO_DISTANCE:
            model.place_without_setting(c, ptype)
            continue
        if ptype == T.EMERGENCY:
            model.place_emergency(c)
            continue
        if ptype == T.KINSHIP:
            model.place_with_kin([c])
        else:
            s = finder.nearest(ptype, c.la, float(r.place_easting), float(r.place_northing))
            if s is None:
                model.place_emergency(c)
                continue
            model.place(c, s, s.fits(c))
        if not c.uasc:
            _pin_distance(model, c, float(r.distance_miles))
    return set(int(i) for i in stock["la"].unique())


def _resolve(folder: str | Path, scenario_file: str) -> Path:
    """A folder named in a scenario: relative paths are relative to the scenario file."""
    path = Path(folder)
    if not path.is_absolute() and scenario_file.endswith(".toml"):
        candidate = Path(scenario_file).parent / path
        if candidate.exists():
            return candidate
    return path


def _pin_distance(model: CareMarketModel, child: Any, miles: float) -> None:
    """Record the extract's home-to-placement distance (the counters follow)."""
    model.outcomes.on_unplace(child)
    child.distance = miles
    model.outcomes.on_place(child)


class _NearestSetting:
    """Free settings of a type nearest a point (KD-trees built once per type and owner)."""

    def __init__(self, model: CareMarketModel) -> None:
        self.model = model
        self.trees: dict[tuple, tuple[Any, list]] = {}

    def _tree(self, ptype: PlacementType, owner: int | None) -> tuple[Any, list]:
        key = (ptype, owner)
        if key not in self.trees:
            from scipy.spatial import cKDTree

            settings = [s for s in self.model.settings[ptype] if s.open and
                        not getattr(s, "retiring", False) and (owner is None or s.la == owner)]
            pts = np.array([[s.easting, s.northing] for s in settings]).reshape(-1, 2)
            self.trees[key] = (cKDTree(pts) if settings else None, settings)
        return self.trees[key]

    def nearest(self, ptype: PlacementType, la: int, e: float, n: float) -> Any:
        """The nearest setting with a free place, else the nearest one given a place."""
        owners: list[int | None] = [la, None] if ptype in (T.LA_FOSTER, T.LA_HOME) else [None]
        for owner in owners:
            tree, settings = self._tree(ptype, owner)
            if tree is None:
                continue
            k = min(32, len(settings))
            _, idx = tree.query([e, n], k=k)
            idx = np.atleast_1d(idx)
            for i in idx.tolist():
                if settings[i].free_places > 0:
                    return settings[i]
            s = settings[int(idx[0])]
            s.places += 1  # the extract says a child lives here: so there was a place
            self.model.vacancies.refresh(s)
            return s
        return None


def main_validate(argv: list[str] | None = None) -> int:  # pragma: no cover - helper
    """``python -m sim.ssda903 FOLDER``: validate an export folder and print the report."""
    args = argv if argv is not None else sys.argv[1:]
    for report in validate_903(args[0]):
        print("\n".join(report.lines()))
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main_validate())
