// Runtime choice of the SIMD path. Kernels exist as separate translation units per ISA
// (<kernel>_scalar.cpp, _avx2.cpp, _avx512.cpp); dispatchers switch on active_isa().
#pragma once
#include <string>

namespace tenfold {

enum class Isa : int { Scalar = 0, Avx2 = 1, Avx512 = 2 };

// Best ISA this CPU (and OS) supports.
Isa detect_isa();
// ISA currently used by the dispatchers (defaults to detect_isa()).
Isa active_isa();
// Force a path; throws std::invalid_argument if the CPU cannot run it.
void set_active_isa(Isa isa);

const char* isa_name(Isa isa);
Isa isa_from_name(const std::string& name);  // throws std::invalid_argument

}  // namespace tenfold
