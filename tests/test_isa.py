"""Choice of SIMD path: a unit runs only where the CPU has every feature it was compiled for."""

import re
from pathlib import Path

import pytest

import tenfold
from tenfold import _core

ROOT = Path(__file__).resolve().parent.parent
# GCC/Clang flag of CMakeLists.txt -> feature name of cpp/common/isa.cpp
FLAG_FEATURES = {"-mavx2": "avx2", "-mfma": "fma", "-mbmi": "bmi1", "-mbmi2": "bmi2", "-mpopcnt": "popcnt",
                 "-mf16c": "f16c", "-mavx512f": "avx512f", "-mavx512bw": "avx512bw", "-mavx512vl": "avx512vl",
                 "-mavx512dq": "avx512dq"}
X86 = "avx2" in _core.compiled_isas()
ARM = "neon" in _core.compiled_isas()


def cmake_flags(unit):
    """The GCC/Clang flags CMakeLists.txt compiles `unit` ("AVX2" or "AVX512") with."""
    text = (ROOT / "CMakeLists.txt").read_text()
    flags = {}
    for name, body in re.findall(r"set\((\w+)_FLAGS ([^)]*)\)", text):
        if body.startswith("/"):  # MSVC spelling
            continue
        flags[name] = [f for word in body.split() for f in (flags.get(word[2:-1], []) if word.startswith("${")
                                                            else [word])]
    return flags[unit]


@pytest.mark.parametrize("isa", ["avx2", "avx512"])
def test_every_compile_flag_is_a_checked_feature(isa):
    flags = cmake_flags(isa.upper())
    assert flags, "no flags parsed"
    unknown = [f for f in flags if f not in FLAG_FEATURES]
    assert not unknown, f"flags without a run-time check in isa.cpp: {unknown}"
    required = set(_core.isa_requirements(isa))
    assert {FLAG_FEATURES[f] for f in flags} <= required
    # the wider registers must also be saved by the operating system
    assert ("os_avx512" if isa == "avx512" else "os_avx") in required


@pytest.mark.skipif(not X86, reason="x86 units not in this build")
def test_choice_from_faked_feature_sets():
    avx2 = _core.isa_requirements("avx2")
    avx512 = _core.isa_requirements("avx512")
    assert _core.choose_isa([]) == "scalar"
    assert _core.choose_isa(avx2) == "avx2"
    assert _core.choose_isa(avx512) == "avx512"
    assert _core.usable_isas(avx512) == ["scalar", "avx2", "avx512"]
    # any one feature missing demotes the unit, including OS support for the wide registers
    for f in avx2:
        assert _core.choose_isa([g for g in avx512 if g != f]) == "scalar", f
    for f in set(avx512) - set(avx2):
        assert _core.choose_isa([g for g in avx512 if g != f]) == "avx2", f
    # NEON is not part of an x86 build
    assert _core.choose_isa(["neon"]) == "scalar"


@pytest.mark.skipif(not ARM, reason="NEON units not in this build")
def test_choice_on_arm():
    assert _core.choose_isa(["neon"]) == "neon"
    assert _core.choose_isa([]) == "scalar"
    assert _core.choose_isa(_core.isa_requirements("avx2") if "avx2" in _core.compiled_isas() else []) == "scalar"


def test_detection_matches_this_cpu():
    supported = tenfold.supported_isas()
    assert supported[0] == "scalar"
    assert supported == _core.usable_isas(_core.cpu_features())
    assert _core.detect_isa() == supported[-1]
    for isa in supported:
        assert set(_core.isa_requirements(isa)) <= set(_core.cpu_features())


def test_unknown_feature_rejected():
    with pytest.raises(ValueError, match="unknown CPU feature 'sse9'"):
        _core.choose_isa(["sse9"])


def test_forcing_a_path_the_build_lacks_is_refused():
    missing = [i for i in tenfold._runtime.ISAS if i not in tenfold.supported_isas()]
    assert missing  # an x86 build lacks neon, an ARM build the x86 units
    for name in missing:
        with pytest.raises(ValueError, match="cannot run"):
            tenfold.set_isa(name)
