// Runtime choice of the SIMD path. Kernels exist as separate translation units per ISA
// (<kernel>_scalar.cpp, _avx2.cpp, _avx512.cpp on x86, _neon.cpp on AArch64); dispatchers
// switch on active_isa(). Which units a build holds follows the target architecture (CMake
// compiles the x86 units only for x86 targets and the NEON units only for AArch64 ones).
#pragma once
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#if defined(__x86_64__) || defined(_M_X64) || defined(__i386__) || defined(_M_IX86)
#define TENFOLD_X86 1
#elif defined(__aarch64__) || defined(_M_ARM64)
#define TENFOLD_ARM64 1
#endif

namespace tenfold {

enum class Isa : int { Scalar = 0, Avx2 = 1, Avx512 = 2, Neon = 3 };

// CPU (and operating-system) features the ISA units depend on, one bit each.
enum Feature : uint32_t {
  kSse42 = 1u << 0,
  kPopcnt = 1u << 1,
  kAvx = 1u << 2,
  kAvx2 = 1u << 3,
  kFma = 1u << 4,
  kBmi1 = 1u << 5,
  kBmi2 = 1u << 6,
  kF16c = 1u << 7,
  kOsAvx = 1u << 8,  // the OS saves the 256-bit registers (XCR0 bits 1-2)
  kAvx512f = 1u << 9,
  kAvx512bw = 1u << 10,
  kAvx512vl = 1u << 11,
  kAvx512dq = 1u << 12,
  kOsAvx512 = 1u << 13,  // the OS saves the 512-bit and mask registers (XCR0 bits 1-2, 5-7)
  kNeon = 1u << 14,
};

// Every feature bit with its name (for tests and diagnostics).
const std::vector<std::pair<Feature, const char*>>& feature_names();
// Features of this CPU and OS (cpuid and xgetbv on x86; NEON is part of every AArch64 CPU).
uint32_t cpu_features();
// Features the unit of `isa` was compiled for: it may run only where all of them are present.
uint32_t required_features(Isa isa);
// ISAs whose units this build holds, portable first.
std::vector<Isa> compiled_isas();
// ISAs runnable with `features` (compiled and every required feature present), portable first.
// Pure: tests call it with faked feature sets.
std::vector<Isa> usable_isas(uint32_t features);
// The preferred ISA for `features` (the last of usable_isas).
Isa choose_isa(uint32_t features);

// Best ISA this CPU (and OS) supports: choose_isa(cpu_features()).
Isa detect_isa();
// ISA currently used by the dispatchers (defaults to detect_isa()).
Isa active_isa();
// Force a path; throws std::invalid_argument if the CPU cannot run it.
void set_active_isa(Isa isa);

// True on CPUs that run pdep/pext in microcode (AMD Zen 1/2 and Hygon: family 17h/18h, ~20x
// slower than elsewhere); false on every other CPU and non-x86 target.
bool slow_pdep();

const char* isa_name(Isa isa);
Isa isa_from_name(const std::string& name);  // throws std::invalid_argument

}  // namespace tenfold
