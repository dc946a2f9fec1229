#include "common/isa.hpp"

#include <atomic>
#include <stdexcept>

#if defined(TENFOLD_X86)
#if defined(_MSC_VER) && !defined(__clang__)
#include <intrin.h>
#else
#include <cpuid.h>
#endif
#endif

namespace tenfold {

namespace {
std::atomic<int> g_active{-1};

#if defined(TENFOLD_X86)
struct Regs {
  uint32_t a, b, c, d;
};

Regs cpuid(uint32_t leaf, uint32_t sub) {
  Regs r{0, 0, 0, 0};
#if defined(_MSC_VER) && !defined(__clang__)
  int v[4];
  __cpuidex(v, static_cast<int>(leaf), static_cast<int>(sub));
  r = {static_cast<uint32_t>(v[0]), static_cast<uint32_t>(v[1]), static_cast<uint32_t>(v[2]),
       static_cast<uint32_t>(v[3])};
#else
  __cpuid_count(leaf, sub, r.a, r.b, r.c, r.d);
#endif
  return r;
}

// XCR0: which register states the OS saves on a context switch. Only valid if OSXSAVE is set.
uint64_t xcr0() {
#if defined(_MSC_VER) && !defined(__clang__)
  return _xgetbv(0);
#else
  uint32_t lo, hi;
  __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
  return (static_cast<uint64_t>(hi) << 32) | lo;
#endif
}

constexpr uint64_t kXcr0Avx = (1u << 1) | (1u << 2);                       // SSE, AVX upper halves
constexpr uint64_t kXcr0Avx512 = kXcr0Avx | (1u << 5) | (1u << 6) | (1u << 7);  // opmask, ZMM 0-15 upper, ZMM 16-31

uint32_t x86_features() {
  const uint32_t max_leaf = cpuid(0, 0).a;
  if (max_leaf < 1) return 0;
  const Regs l1 = cpuid(1, 0);
  const auto bit = [](uint32_t reg, int i) { return ((reg >> i) & 1u) != 0; };
  uint32_t f = 0;
  if (bit(l1.c, 20)) f |= kSse42;
  if (bit(l1.c, 23)) f |= kPopcnt;
  if (bit(l1.c, 28)) f |= kAvx;
  if (bit(l1.c, 12)) f |= kFma;
  if (bit(l1.c, 29)) f |= kF16c;
  if (bit(l1.c, 27)) {  // OSXSAVE: xgetbv is available
    const uint64_t x = xcr0();
    if ((x & kXcr0Avx) == kXcr0Avx) f |= kOsAvx;
    if ((x & kXcr0Avx512) == kXcr0Avx512) f |= kOsAvx512;
  }
  if (max_leaf >= 7) {
    const Regs l7 = cpuid(7, 0);
    if (bit(l7.b, 3)) f |= kBmi1;
    if (bit(l7.b, 5)) f |= kAvx2;
    if (bit(l7.b, 8)) f |= kBmi2;
    if (bit(l7.b, 16)) f |= kAvx512f;
    if (bit(l7.b, 17)) f |= kAvx512dq;
    if (bit(l7.b, 30)) f |= kAvx512bw;
    if (bit(l7.b, 31)) f |= kAvx512vl;
  }
  return f;
}

bool vendor_family_slow_pdep() {
  const Regs v = cpuid(0, 0);
  const bool amd = v.b == 0x68747541 && v.d == 0x69746e65 && v.c == 0x444d4163;    // AuthenticAMD
  const bool hygon = v.b == 0x6f677948 && v.d == 0x6e65476e && v.c == 0x656e6975;  // HygonGenuine
  if (!(amd || hygon) || v.a < 1) return false;
  const uint32_t a = cpuid(1, 0).a;
  uint32_t family = (a >> 8) & 0xf;
  if (family == 0xf) family += (a >> 20) & 0xff;
  return family == 0x17 || family == 0x18;
}
#endif

// Keep in step with the flags CMakeLists.txt compiles each unit with (tests/test_isa.py checks).
constexpr uint32_t kAvx2Unit = kSse42 | kPopcnt | kAvx | kAvx2 | kFma | kBmi1 | kBmi2 | kF16c | kOsAvx;
constexpr uint32_t kAvx512Unit = kAvx2Unit | kAvx512f | kAvx512bw | kAvx512vl | kAvx512dq | kOsAvx512;
}  // namespace

const std::vector<std::pair<Feature, const char*>>& feature_names() {
  static const std::vector<std::pair<Feature, const char*>> names = {
      {kSse42, "sse4.2"},     {kPopcnt, "popcnt"},     {kAvx, "avx"},           {kAvx2, "avx2"},
      {kFma, "fma"},          {kBmi1, "bmi1"},         {kBmi2, "bmi2"},         {kF16c, "f16c"},
      {kOsAvx, "os_avx"},     {kAvx512f, "avx512f"},   {kAvx512bw, "avx512bw"}, {kAvx512vl, "avx512vl"},
      {kAvx512dq, "avx512dq"}, {kOsAvx512, "os_avx512"}, {kNeon, "neon"}};
  return names;
}

uint32_t cpu_features() {
#if defined(TENFOLD_X86)
  static const uint32_t f = x86_features();
  return f;
#elif defined(TENFOLD_ARM64)
  return kNeon;  // Advanced SIMD is mandatory in AArch64
#else
  return 0;
#endif
}

uint32_t required_features(Isa isa) {
  switch (isa) {
    case Isa::Scalar: return 0;
    case Isa::Avx2: return kAvx2Unit;
    case Isa::Avx512: return kAvx512Unit;
    case Isa::Neon: return kNeon;
  }
  return 0;
}

std::vector<Isa> compiled_isas() {
#if defined(TENFOLD_X86)
  return {Isa::Scalar, Isa::Avx2, Isa::Avx512};
#elif defined(TENFOLD_ARM64)
  return {Isa::Scalar, Isa::Neon};
#else
  return {Isa::Scalar};
#endif
}

std::vector<Isa> usable_isas(uint32_t features) {
  std::vector<Isa> out;
  for (Isa isa : compiled_isas()) {
    const uint32_t need = required_features(isa);
    if ((features & need) == need) out.push_back(isa);
  }
  return out;
}

Isa choose_isa(uint32_t features) { return usable_isas(features).back(); }

Isa detect_isa() { return choose_isa(cpu_features()); }

Isa active_isa() {
  int v = g_active.load(std::memory_order_relaxed);
  if (v < 0) {
    v = static_cast<int>(detect_isa());
    g_active.store(v, std::memory_order_relaxed);
  }
  return static_cast<Isa>(v);
}

void set_active_isa(Isa isa) {
  for (Isa ok : usable_isas(cpu_features()))
    if (ok == isa) {
      g_active.store(static_cast<int>(isa), std::memory_order_relaxed);
      return;
    }
  throw std::invalid_argument(std::string("this CPU does not support the ") + isa_name(isa) +
                              " path (best available: " + isa_name(detect_isa()) + ")");
}

bool slow_pdep() {
#if defined(TENFOLD_X86)
  static const bool slow = vendor_family_slow_pdep();
  return slow;
#else
  return false;
#endif
}

const char* isa_name(Isa isa) {
  switch (isa) {
    case Isa::Scalar: return "scalar";
    case Isa::Avx2: return "avx2";
    case Isa::Avx512: return "avx512";
    case Isa::Neon: return "neon";
  }
  return "unknown";
}

Isa isa_from_name(const std::string& name) {
  if (name == "scalar") return Isa::Scalar;
  if (name == "avx2") return Isa::Avx2;
  if (name == "avx512") return Isa::Avx512;
  if (name == "neon") return Isa::Neon;
  throw std::invalid_argument("unknown ISA '" + name + "': expected scalar, avx2, avx512 or neon");
}

}  // namespace tenfold
