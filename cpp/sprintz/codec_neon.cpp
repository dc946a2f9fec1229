// NEON Sprintz kernels (AArch64): the shared codec (codec_impl.inc) with NEON bit unpacking and
// packing, a NEON forecaster for the encoder and a NEON checksum; equal to codec_scalar.cpp byte
// for byte (tests/native/neon_kernels.cpp).
// Unpacking 8 values of b bits: value i occupies bits [i*b, (i+1)*b) of the packed bytes, so it
// lies in the bytes from (i*b)/8 on, shifted right by (i*b)%8. One vqtbl1q_u8 gathers those bytes
// into a lane per value (2 bytes per uint16 lane for b <= 8, 4 per uint32 lane for b <= 16; indices
// past the 16 loaded bytes read 0), a variable shift aligns and a mask keeps b bits. The index and
// shift vectors of each width are built once. Packing is the reverse in three halving steps:
// adjacent lanes merge (low | high << width) until one 64-bit lane (8-bit data) or two (16-bit)
// hold the block. The encoder's forecaster (delta or FIRE, then zigzag and the OR of each block's
// residuals for its width code) runs 8 variables at a time in two int32x4 vectors, as the AVX2
// unit does. Reconstruction is the shared code compiled for this unit.
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

template <class T>
int forecast_rows_neon(const T* base, size_t nv, ptrdiff_t rs, ptrdiff_t cs, int fc, struct State st, T* tile,
                       uint8_t* codes);

// 8 residuals of b bits (1 <= b <= W, each < 2^b) packed LSB first, the layout of pack8: writes 8
// bytes (8-bit data) or 16 (16-bit), of which the first b are the block.
inline void pack8_neon(const uint8_t* u, int b, uint8_t* o) {
  const uint16x4_t p16 = vreinterpret_u16_u8(vld1_u8(u));  // lane k: u[2k] | u[2k+1] << 8
  const uint32x2_t p32 = vreinterpret_u32_u16(  // u[2k] | u[2k+1] << b
      vorr_u16(vand_u16(p16, vdup_n_u16(0xFF)), vshl_u16(vshr_n_u16(p16, 8), vdup_n_s16(int16_t(b)))));
  const uint64x1_t p64 = vreinterpret_u64_u32(  // 4 values in 4b bits per 32-bit lane
      vorr_u32(vand_u32(p32, vdup_n_u32(0xFFFF)), vshl_u32(vshr_n_u32(p32, 16), vdup_n_s32(2 * b))));
  const uint64x1_t all = vorr_u64(vand_u64(p64, vdup_n_u64(0xFFFFFFFFu)),
                                  vshl_u64(vshr_n_u64(p64, 32), vdup_n_s64(4 * b)));
  vst1_u8(o, vreinterpret_u8_u64(all));
}
inline void pack8_neon(const uint16_t* u, int b, uint8_t* o) {
  const uint32x4_t p32 = vreinterpretq_u32_u16(vld1q_u16(u));  // lane k: u[2k] | u[2k+1] << 16
  const uint64x2_t p64 = vreinterpretq_u64_u32(  // u[2k] | u[2k+1] << b, 2b bits per 32-bit lane
      vorrq_u32(vandq_u32(p32, vdupq_n_u32(0xFFFF)), vshlq_u32(vshrq_n_u32(p32, 16), vdupq_n_s32(b))));
  const uint64x2_t q = vorrq_u64(vandq_u64(p64, vdupq_n_u64(0xFFFFFFFFu)),  // 4 values in 4b bits per lane
                                 vshlq_u64(vshrq_n_u64(p64, 32), vdupq_n_s64(2 * b)));
  const uint64_t q0 = vgetq_lane_u64(q, 0), q1 = vgetq_lane_u64(q, 1);
  const int s = 4 * b;  // 4..64
  const uint64_t out[2] = {s == 64 ? q0 : q0 | (q1 << s), s == 64 ? q1 : q1 >> (64 - s)};
  std::memcpy(o, out, 16);
}

#define SPRINTZ_RECON(T, tile, nv, st, out, rs, cs, fc) recon_generic<T>(tile, nv, st, out, rs, cs, fc)
#define SPRINTZ_PACK8(T, u, b, o) pack8_neon(u, b, o)
#define SPRINTZ_FORECAST_ROWS(T, base, nv, rs, cs, fc, st, tile, codes) \
  forecast_rows_neon<T>(base, nv, rs, cs, fc, st, tile, codes)
#include "sprintz/codec_impl.inc"
#include "sprintz/checksum.inc"
#include "sprintz/huffman_decode.inc"
#undef SPRINTZ_RECON
#undef SPRINTZ_FORECAST_ROWS
#undef SPRINTZ_PACK8

template <class T>
bool header_total(const uint8_t* hdr, size_t nv, size_t& total) {
  return header_total_scalar<T>(hdr, nv, total);
}

// Byte gathers and right shifts for every width: 8-bit values in uint16 lanes (b <= 8), 16-bit
// values in two vectors of uint32 lanes (b <= 16). Computed at compile time (read-only data), so
// the kernels carry no first-call guard of a function-local static.
struct UnpackTables {
  uint8_t idx8[9][16];
  int16_t shift8[9][8];
  uint8_t idx16[17][2][16];
  int32_t shift16[17][2][4];
};
constexpr UnpackTables make_unpack_tables() {
  UnpackTables t{};
  for (int b = 0; b <= 16; ++b)
    for (int i = 0; i < 8; ++i) {
      const int bit = i * b, byte = bit / 8;
      for (int k = 0; k < 4; ++k) t.idx16[b][i / 4][4 * (i % 4) + k] = static_cast<uint8_t>(byte + k);
      t.shift16[b][i / 4][i % 4] = -(bit % 8);
      if (b <= 8) {
        for (int k = 0; k < 2; ++k) t.idx8[b][2 * i + k] = static_cast<uint8_t>(byte + k);
        t.shift8[b][i] = static_cast<int16_t>(-(bit % 8));
      }
    }
  return t;
}
constexpr UnpackTables kUnpack = make_unpack_tables();

inline void unpack16(const uint8_t* bytes16, int b, uint8_t* out) {
  const uint8x16_t v = vld1q_u8(bytes16);
  const uint16x8_t w = vreinterpretq_u16_u8(vqtbl1q_u8(v, vld1q_u8(kUnpack.idx8[b])));
  const uint16x8_t mask = vdupq_n_u16(static_cast<uint16_t>((1u << b) - 1));
  vst1_u8(out, vmovn_u16(vandq_u16(vshlq_u16(w, vld1q_s16(kUnpack.shift8[b])), mask)));
}
inline void unpack16(const uint8_t* bytes16, int b, uint16_t* out) {
  const uint8x16_t v = vld1q_u8(bytes16);
  const uint32x4_t mask = vdupq_n_u32((1u << b) - 1);
  uint16x4_t half[2];
  for (int h = 0; h < 2; ++h) {
    const uint32x4_t w = vreinterpretq_u32_u8(vqtbl1q_u8(v, vld1q_u8(kUnpack.idx16[b][h])));
    half[h] = vmovn_u32(vandq_u32(vshlq_u32(w, vld1q_s32(kUnpack.shift16[b][h])), mask));
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
// 8 values of a row as two int32x4 (zero-extended).
inline void widen_row(const uint8_t* row, int32x4_t* x) {
  const uint16x8_t w = vmovl_u8(vld1_u8(row));
  x[0] = vreinterpretq_s32_u32(vmovl_u16(vget_low_u16(w)));
  x[1] = vreinterpretq_s32_u32(vmovl_u16(vget_high_u16(w)));
}
inline void widen_row(const uint16_t* row, int32x4_t* x) {
  const uint16x8_t w = vld1q_u16(row);
  x[0] = vreinterpretq_s32_u32(vmovl_u16(vget_low_u16(w)));
  x[1] = vreinterpretq_s32_u32(vmovl_u16(vget_high_u16(w)));
}
// -1, 0 or 1 per lane
inline int32x4_t sign_of(int32x4_t x) {
  return vsubq_s32(vreinterpretq_s32_u32(vcltzq_s32(x)), vreinterpretq_s32_u32(vcgtzq_s32(x)));
}
// The low W bits of each lane, sign-extended.
template <int W>
inline int32x4_t sext_lanes(int32x4_t x) {
  return vshrq_n_s32(vshlq_n_s32(x, 32 - W), 32 - W);
}

// The encoder's forecaster for one block of 8 rows (codec_impl.inc, encode_impl): C-ordered rows
// (cs == 1, rs == nv) or contiguous columns (rs == 1), 8 variables per step. Residuals go to the
// var-major tile, width codes to codes[v]; returns the OR of the codes (0: an all-zero block).
template <class T>
int forecast_rows_neon(const T* base, size_t nv, ptrdiff_t rs, ptrdiff_t cs, int fc, State st, T* tile,
                       uint8_t* codes) {
  (void)rs;  // rows lie nv apart (cs == 1) or one apart in each column (rs == 1)
  constexpr int W = Tr<T>::W;
  const uint32x4_t mask = vdupq_n_u32((1u << W) - 1);
  const int32x4_t amax = vdupq_n_s32(kFireMax), amin = vdupq_n_s32(-kFireMax);
  int any = 0;
  for (size_t v0 = 0; v0 < nv; v0 += 8) {
    const size_t w = std::min<size_t>(8, nv - v0);
    int32x4_t p[2], d[2], a[2], g[2] = {vdupq_n_s32(0), vdupq_n_s32(0)};
    uint32x4_t ored[2] = {vdupq_n_u32(0), vdupq_n_u32(0)};
    for (int h = 0; h < 2; ++h) {
      p[h] = vld1q_s32(st.prev + v0 + 4 * h);
      d[h] = vld1q_s32(st.d + v0 + 4 * h);
      a[h] = vld1q_s32(st.a + v0 + 4 * h);
    }
    T u[8][8];  // [row][variable]
    T rows_t[8][8] = {};  // contiguous columns: the 8 x w block transposed
    if (cs != 1)
      for (size_t j = 0; j < w; ++j) {
        const T* col = base + ptrdiff_t(v0 + j) * cs;
        for (int i = 0; i < 8; ++i) rows_t[i][j] = col[i];
      }
    for (int i = 0; i < 8; ++i) {
      const T* row = cs != 1 ? rows_t[i] : base + size_t(i) * nv + v0;
      int32x4_t xi[2];
      // a partial group's over-read (8 - w values) must land in the block's later rows
      if (cs != 1 || w == 8 || size_t(7 - i) * nv >= 8 - w) {
        widen_row(row, xi);
      } else {  // near the block's end: never read past it
        T tmp[8] = {};
        std::memcpy(tmp, row, w * sizeof(T));
        widen_row(tmp, xi);
      }
      uint32x4_t zz[2];
      for (int h = 0; h < 2; ++h) {
        int32x4_t e;
        if (fc == kForecastDelta) {
          e = vsubq_s32(xi[h], p[h]);
        } else {
          const int32x4_t pred = vaddq_s32(p[h], vshrq_n_s32(vmulq_s32(a[h], d[h]), kFireShift));
          e = vsubq_s32(xi[h], pred);
        }
        e = sext_lanes<W>(e);
        if (fc != kForecastDelta) {
          g[h] = vmlaq_s32(g[h], sign_of(e), sign_of(d[h]));  // += sgn(e) * sgn(d)
          d[h] = sext_lanes<W>(vsubq_s32(xi[h], p[h]));
        }
        zz[h] = vandq_u32(vreinterpretq_u32_s32(veorq_s32(vaddq_s32(e, e), vshrq_n_s32(e, 31))), mask);
        ored[h] = vorrq_u32(ored[h], zz[h]);
        p[h] = xi[h];
      }
      const uint16x8_t z16 = vcombine_u16(vmovn_u32(zz[0]), vmovn_u32(zz[1]));
      if (W == 8) vst1_u8(reinterpret_cast<uint8_t*>(u[i]), vmovn_u16(z16));
      else vst1q_u16(reinterpret_cast<uint16_t*>(u[i]), z16);
    }
    int32_t pv[8], dv[8], av[8];
    uint8_t cv[8];
    for (int h = 0; h < 2; ++h) {
      vst1q_s32(pv + 4 * h, p[h]);
      if (fc != kForecastDelta) {
        vst1q_s32(dv + 4 * h, d[h]);
        vst1q_s32(av + 4 * h, vminq_s32(vmaxq_s32(vaddq_s32(a[h], g[h]), amin), amax));
      }
    }
    // width codes: the bit length of each variable's OR (32 - clz), 16-bit data capped at 15
    const uint16x8_t bits = vcombine_u16(vmovn_u32(vsubq_u32(vdupq_n_u32(32), vclzq_u32(ored[0]))),
                                         vmovn_u32(vsubq_u32(vdupq_n_u32(32), vclzq_u32(ored[1]))));
    vst1_u8(cv, vmovn_u16(W == 16 ? vminq_u16(bits, vdupq_n_u16(15)) : bits));
    for (size_t j = 0; j < w; ++j) {  // state of the real variables only (padding lanes stay as they were)
      st.prev[v0 + j] = pv[j];
      if (fc != kForecastDelta) {
        st.d[v0 + j] = dv[j];
        st.a[v0 + j] = av[j];
      }
      T* t = tile + (v0 + j) * 8;
      for (int i = 0; i < 8; ++i) t[i] = u[i][j];
      codes[v0 + j] = cv[j];
      any |= cv[j];
    }
  }
  return any;
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
