"""MSVC portability check of the C++ sources (`make check-msvc`), without MSVC.

No MSVC compiler or standard library exists on this machine, so each translation unit that a
Windows x86-64 build compiles (everything under cpp/ but the NEON units) goes through clang in
two modes that approximate it:

1. Preprocessed as MSVC sees it: target x86_64-pc-windows-msvc (LLP64, _WIN32, _M_X64,
   _MSC_VER) with __clang__ and __GNUC__ undefined once the system headers are read
   (msvc_prelude.hpp), so every `defined(_MSC_VER) && !defined(__clang__)` branch is the one
   taken. The lines that come from our own files
   (cpp/**) must then hold no GCC-only construct: __attribute__, any __builtin_*, __int128,
   inline asm, typeof, __extension__, __restrict__, `#pragma GCC`, vector_size.
2. Compiled (-fsyntax-only) in that same mode with -pedantic-errors: our MSVC branches must
   parse and type-check against clang's MSVC-compatible <intrin.h> (_BitScanForward on 32-bit
   `unsigned long`, __cpuidex, _xgetbv, _mm_prefetch), and no GNU language extension
   (variable-length arrays, __int128, statement expressions, zero-size arrays, `?:` without a
   middle operand, case ranges) may remain; `long` is 32 bits as on Windows.

The C++ library is this machine's libstdc++ (the __GCC_ATOMIC_* macros its <atomic> reads are
predefined for it; they are not visible to the scan, which looks only at our files).

What this cannot check: MSVC's own front end (its two-phase lookup, constexpr and template
quirks, warnings promoted to errors) and its STL; its intrinsic headers' types (MSVC's __m128i,
__m256i and NEON types are unions, so GCC vector operators on them, `a + b` or `v[i]`, compile
under clang in any mode and would fail only under MSVC: the scan below looks for them by name
pattern and is not exhaustive); bindings.cpp beyond the scan (nanobind does not instantiate
against libstdc++ on an LLP64 target, so it is not compiled in this mode); errors where glibc's
LP64 int64_t/uint64_t typedefs (`long`, 32 bits here) meet 64-bit constants (printed as notes);
linking; and the MSVC ARM64 build (not in the wheel
matrix). Prints one line per failure and exits non-zero if any unit fails.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import sysconfig
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CPP = ROOT / "cpp"
PRELUDE = Path(__file__).resolve().parent / "msvc_prelude.hpp"

# Flags of each x86 unit, as CMakeLists.txt passes them for MSVC (/arch:AVX2, /arch:AVX512).
UNIT_FLAGS = {
    "avx2": ["-mavx2", "-mfma", "-mbmi", "-mbmi2", "-mpopcnt", "-mf16c"],
    "avx512": ["-mavx2", "-mfma", "-mbmi", "-mbmi2", "-mpopcnt", "-mf16c", "-mavx512f", "-mavx512bw",
               "-mavx512vl", "-mavx512dq"],
}
# The predefined macros libstdc++'s <atomic> needs (GCC and Clang define them on Linux).
LIBSTDCXX_MACROS = [f"-D__GCC_ATOMIC_{k}_LOCK_FREE=2" for k in
                    ("BOOL", "CHAR", "CHAR16_T", "CHAR32_T", "WCHAR_T", "SHORT", "INT", "LONG", "LLONG",
                     "POINTER")] + ["-D__GCC_ATOMIC_TEST_AND_SET_TRUEVAL=1"]
GCC_ONLY = re.compile(
    r"__attribute__|__builtin_\w+|__int128|\b__asm__\b|\basm\s*\(|\b__typeof__\b|\btypeof\b|__extension__"
    r"|__restrict__|#\s*pragma\s+GCC|vector_size|__label__")
# GCC vector-extension use on intrinsic types (MSVC's are unions): a subscript of a vector-typed
# expression or arithmetic written with operators. Heuristic: variables declared with a vector type
# on the same line and then subscripted.
VECTOR_SUBSCRIPT = re.compile(r"\b(__m(?:128|256|512)[id]?|u?int\d+x\d+_t|float\d+x\d+_t)\s+(\w+)\s*=.*(?<![\w.>])\2\s*\[")


def system_includes() -> list[str]:
    """libstdc++ and glibc include directories of this machine's C++ compiler, in search order."""
    out = subprocess.run(["clang++", "-E", "-x", "c++", "-v", os.devnull], capture_output=True, text=True).stderr
    lines = out.splitlines()
    start = lines.index("#include <...> search starts here:") + 1
    dirs = []
    for line in lines[start:]:
        if line.startswith("End of search list"):
            break
        d = line.strip()
        if "/clang/" not in d:  # clang's own resource headers come with the target
            dirs += ["-isystem", d]
    return dirs


def msvc_mode(unit: Path) -> list[str]:
    isa = re.search(r"_(avx2|avx512)\.cpp$", unit.name)
    flags = ["clang++", "--target=x86_64-pc-windows-msvc", "-fms-compatibility", "-fms-extensions",
             "-std=c++17", "-Wno-#warnings", "-Wno-builtin-macro-redefined", *LIBSTDCXX_MACROS,
             *system_includes(), f"-I{CPP}", "-include", str(PRELUDE)]
    if unit.name == "bindings.cpp":
        import nanobind  # the build dependency (pyproject.toml)
        flags += ["-DTENFOLD_CHECK_BINDINGS", "-isystem", sysconfig.get_paths()["include"],
                  "-isystem", nanobind.include_dir()]
    return flags + (UNIT_FLAGS[isa.group(1)] if isa else [])


def own_lines(preprocessed: str) -> list[tuple[str, int, str]]:
    """(file, line, text) of every preprocessed line that comes from a file under cpp/."""
    out, current, lineno = [], "", 0
    for line in preprocessed.splitlines():
        m = re.match(r'#\s*(?:line\s+)?(\d+)\s+"([^"]*)"', line)
        if m:
            lineno, current = int(m.group(1)), m.group(2)
            continue
        if current.startswith(str(CPP)) and line.strip():
            out.append((current, lineno, line))
        lineno += 1
    return out


def gcc_only(path: str, lineno: int, text: str, sources: dict[str, list[str]]) -> str | None:
    """The GCC-only construct on a preprocessed line of ours, if any. The active #define lines of
    our files are kept (-dD) and scanned as they are; on other lines a hit counts only if the raw
    source line holds it too, so that intrinsics that clang's headers define as macros over
    __builtin_ia32_* (they exist under MSVC as real functions) are not taken for our code."""
    for pattern in (GCC_ONLY, VECTOR_SUBSCRIPT):
        m = pattern.search(text)
        if not m:
            continue
        if text.lstrip().startswith("#define"):
            return m.group(0)
        raw = sources.setdefault(path, Path(path).read_text().splitlines())
        if 0 < lineno <= len(raw) and pattern.search(raw[lineno - 1]):
            return m.group(0)
    return None


# Errors that come from compiling against glibc on an LLP64 target, not from our code: glibc
# types int64_t/uint64_t as `long` when its word size is 64, which is 32 bits here.
LIBRARY_ARTIFACT = re.compile(r"aka '(unsigned )?long'")


def check(unit: Path) -> tuple[list[str], list[str]]:
    """(problems, notes) of one unit."""
    cmd = msvc_mode(unit)
    problems: list[str] = []
    pre = subprocess.run([*cmd, "-E", "-dD", str(unit)], capture_output=True, text=True)
    if pre.returncode:
        return [f"{unit}: preprocessing failed\n{pre.stderr}"], []
    sources: dict[str, list[str]] = {}
    for path, lineno, text in own_lines(pre.stdout):
        hit = gcc_only(path, lineno, text, sources)
        if hit:
            problems.append(f"{Path(path).relative_to(ROOT)}:{lineno}: GCC-only `{hit[:40]}` "
                            f"in the MSVC build of {unit.relative_to(ROOT)}")
    if unit.name == "bindings.cpp":  # nanobind's class_ does not instantiate against libstdc++ on LLP64
        return problems, ["note: bindings.cpp scanned only (not compiled in MSVC mode)"]
    syn = subprocess.run([*cmd, "-fsyntax-only", "-pedantic-errors", "-Werror=vla", str(unit)],
                         capture_output=True, text=True)
    # libstdc++ and glibc are not made for an LLP64 Windows target: their own errors (reported in
    # /usr/include) are not ours; any error reported in one of our files is, but for the
    # int64_t-is-long artifacts, which are listed as notes.
    ours = [line for line in syn.stderr.splitlines()
            if re.match(rf"{re.escape(str(CPP))}/\S+:\d+:\d+: error", line)]
    notes = [f"note (glibc's LP64 typedefs, not checked): {line}" for line in ours if LIBRARY_ARTIFACT.search(line)]
    errors = [line for line in ours if not LIBRARY_ARTIFACT.search(line)]
    if errors:
        problems.append(f"{unit.relative_to(ROOT)}: does not compile in MSVC mode\n" + "\n".join(errors))
    return problems, notes


def main(argv: list[str]) -> int:
    units = [Path(a).resolve() for a in argv] or sorted(p for p in CPP.rglob("*.cpp") if not p.name.endswith("_neon.cpp"))
    failures = 0
    for unit in units:
        problems, notes = check(unit)
        failures += bool(problems)
        for p in problems + notes:
            print(p)
    print(f"MSVC mode: {len(units) - failures} of {len(units)} units clean")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
