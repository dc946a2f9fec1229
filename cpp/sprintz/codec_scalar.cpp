// Portable Sprintz kernels: the reference every SIMD path is tested against.
#include <algorithm>
#include <cstring>
#include <type_traits>

#include "common/portable.hpp"
#include "sprintz/sprintz.hpp"

namespace tenfold {
namespace sprintz {
namespace scalar {
namespace {
#define SPRINTZ_RECON(T, tile, nv, st, out, rs, cs, fc) recon_generic<T>(tile, nv, st, out, rs, cs, fc)
#include "sprintz/codec_impl.inc"
#include "sprintz/checksum.inc"
#include "sprintz/huffman_decode.inc"
#undef SPRINTZ_RECON

template <class T>
bool header_total(const uint8_t* hdr, size_t nv, size_t& total) {
  return header_total_scalar<T>(hdr, nv, total);
}

template <class T>
void unpack_fast(const uint8_t* p, int b, T* out) {
  uint64_t lo, hi;
  std::memcpy(&lo, p, 8);
  std::memcpy(&hi, p + 8, 8);
  unpack_bits<T>(lo, hi, b, out);
}
template <class T>
void unpack_safe(const uint8_t* p, int b, T* out) {
  uint8_t buf[16] = {0};
  std::memcpy(buf, p, size_t(b));
  uint64_t lo, hi;
  std::memcpy(&lo, buf, 8);
  std::memcpy(&hi, buf + 8, 8);
  unpack_bits<T>(lo, hi, b, out);
}
}  // namespace

const char* decode8(const uint8_t* src, size_t len, size_t readable, uint8_t* out, const View& v, int fc,
                    int32_t* scratch) {
  return decode_impl<uint8_t>(src, len, readable, out, v, fc, scratch);
}
const char* decode16(const uint8_t* src, size_t len, size_t readable, uint16_t* out, const View& v, int fc,
                     int32_t* scratch) {
  return decode_impl<uint16_t>(src, len, readable, out, v, fc, scratch);
}

void checksum_stripes(uint32_t* acc, const uint8_t* data, size_t nstripes) {
  for (size_t i = 0; i < nstripes * 64; i += 64)
    for (int j = 0; j < 16; ++j) {
      uint32_t w;
      std::memcpy(&w, data + i + 4 * j, 4);
      acc[j] = rotl32(acc[j] + w * kP2, 13) * kP1;
    }
}

#include "sprintz/entry_points.inc"  // encode8, encode16, huffman_decode, checksum

}  // namespace scalar
}  // namespace sprintz
}  // namespace tenfold
