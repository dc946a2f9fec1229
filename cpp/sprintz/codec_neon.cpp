// NEON Sprintz kernels (AArch64): the shared codec (codec_impl.inc) with NEON bit unpacking in
// the decoder and a NEON checksum; equal to codec_scalar.cpp byte for byte.
// Unpacking 8 values of b bits: value i occupies bits [i*b, (i+1)*b) of the packed bytes, so it
// lies in the bytes from (i*b)/8 on, shifted right by (i*b)%8. One vqtbl1q_u8 gathers those bytes
// into a lane per value (2 bytes per uint16 lane for b <= 8, 4 per uint32 lane for b <= 16; indices
// past the 16 loaded bytes read 0), a variable shift aligns and a mask keeps b bits. The index and
// shift vectors of each width are built once. Reconstruction and the encoder are the shared code
// compiled for this unit (no NEON-specific code there yet).
#include <arm_neon.h>

#include <algorithm>
#include <cstring>
#include <type_traits>

#include "common/portable.hpp"
#include "sprintz/sprintz.hpp"

namespace tenfold {
namespace sprintz {
namespace neon {
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

// Byte gathers and right shifts for every width: 8-bit values in uint16 lanes (b <= 8), 16-bit
// values in two vectors of uint32 lanes (b <= 16).
struct UnpackTables {
  uint8x16_t idx8[9];
  int16x8_t shift8[9];
  uint16x8_t mask8[9];
  uint8x16_t idx16[17][2];
  int32x4_t shift16[17][2];
  uint32x4_t mask16[17];
  UnpackTables() {
    for (int b = 0; b <= 16; ++b) {
      uint8_t i16[2][16];
      int32_t s16[2][4];
      uint8_t i8[16];
      int16_t s8[8];
      for (int i = 0; i < 8; ++i) {
        const int bit = i * b, byte = bit / 8;
        for (int k = 0; k < 4; ++k) i16[i / 4][4 * (i % 4) + k] = static_cast<uint8_t>(byte + k);
        s16[i / 4][i % 4] = -(bit % 8);
        for (int k = 0; k < 2; ++k) i8[2 * i + k] = static_cast<uint8_t>(byte + k);
        s8[i] = static_cast<int16_t>(-(bit % 8));
      }
      for (int h = 0; h < 2; ++h) {
        idx16[b][h] = vld1q_u8(i16[h]);
        shift16[b][h] = vld1q_s32(s16[h]);
      }
      mask16[b] = vdupq_n_u32((1u << b) - 1);
      if (b <= 8) {
        idx8[b] = vld1q_u8(i8);
        shift8[b] = vld1q_s16(s8);
        mask8[b] = vdupq_n_u16(static_cast<uint16_t>((1u << b) - 1));
      }
    }
  }
};
const UnpackTables& tables() {
  static const UnpackTables t;
  return t;
}

inline void unpack16(const uint8_t* bytes16, int b, uint8_t* out) {
  const UnpackTables& t = tables();
  const uint8x16_t v = vld1q_u8(bytes16);
  const uint16x8_t w = vreinterpretq_u16_u8(vqtbl1q_u8(v, t.idx8[b]));
  vst1_u8(out, vmovn_u16(vandq_u16(vshlq_u16(w, t.shift8[b]), t.mask8[b])));
}
inline void unpack16(const uint8_t* bytes16, int b, uint16_t* out) {
  const UnpackTables& t = tables();
  const uint8x16_t v = vld1q_u8(bytes16);
  uint16x4_t half[2];
  for (int h = 0; h < 2; ++h) {
    const uint32x4_t w = vreinterpretq_u32_u8(vqtbl1q_u8(v, t.idx16[b][h]));
    half[h] = vmovn_u32(vandq_u32(vshlq_u32(w, t.shift16[b][h]), t.mask16[b]));
  }
  vst1q_u16(out, vcombine_u16(half[0], half[1]));
}

template <class T>
void unpack_fast(const uint8_t* p, int b, T* out) {
  unpack16(p, b, out);
}
template <class T>
void unpack_safe(const uint8_t* p, int b, T* out) {
  uint8_t buf[16] = {0};
  std::memcpy(buf, p, size_t(b));
  unpack16(buf, b, out);
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

// 16 lane accumulators as four uint32x4 vectors: acc = rotl(acc + w * kP2, 13) * kP1 (mod 2^32).
void checksum_stripes(uint32_t* acc, const uint8_t* data, size_t nstripes) {
  uint32x4_t a[4];
  for (int k = 0; k < 4; ++k) a[k] = vld1q_u32(acc + 4 * k);
  for (size_t i = 0; i < nstripes; ++i)
    for (int k = 0; k < 4; ++k) {
      const uint32x4_t w = vreinterpretq_u32_u8(vld1q_u8(data + 64 * i + 16 * k));
      const uint32x4_t s = vmlaq_n_u32(a[k], w, kP2);
      a[k] = vmulq_n_u32(vsriq_n_u32(vshlq_n_u32(s, 13), s, 19), kP1);
    }
  for (int k = 0; k < 4; ++k) vst1q_u32(acc + 4 * k, a[k]);
}

#include "sprintz/entry_points.inc"  // encode8, encode16, huffman_decode, checksum

}  // namespace neon
}  // namespace sprintz
}  // namespace tenfold
