// Sprintz stream format and dispatch (baseline translation unit). See sprintz.hpp for the layout.
#include "sprintz/sprintz.hpp"
#include "sprintz/wide_blocks.hpp"

#include <algorithm>
#include <cstring>
#include <memory>
#include <utility>
#include <stdexcept>
#include <string>

#include "common/isa.hpp"
#include "common/portable.hpp"

namespace tenfold {
namespace sprintz {

namespace {

constexpr uint8_t kMagic[4] = {'T', 'F', 'S', 'Z'};
constexpr uint8_t kVersion = 3;        // written; checksum of the compressed bytes
constexpr uint8_t kLegacyVersion = 2;  // still read; checksum of the decoded data
constexpr uint64_t kMaxChunkBytes = uint64_t(1) << 20;  // raw bytes per chunk (16 rows always allowed)

template <class U>
void put(std::vector<uint8_t>& o, size_t at, U v) {
  std::memcpy(o.data() + at, &v, sizeof(U));
}
template <class U>
U get(const uint8_t* p) {
  U v;
  std::memcpy(&v, p, sizeof(U));
  return v;
}

// The SIMD unit of this build: AVX2 on x86 (its kernels unpack with pdep: CPUs that run it in
// microcode keep the portable kernels), NEON on AArch64.
#if defined(TENFOLD_X86)
namespace simd = avx2;
bool use_simd() {
  const Isa isa = active_isa();
  return (isa == Isa::Avx2 || isa == Isa::Avx512) && !slow_pdep();
}
#elif defined(TENFOLD_ARM64)
namespace simd = neon;
bool use_simd() { return active_isa() == Isa::Neon; }
#else
namespace simd = scalar;  // no SIMD unit in this build
bool use_simd() { return false; }
#endif

size_t encode_plain(const uint8_t* x, int bits, const View& v, int fc, uint8_t* dst, int32_t* scratch) {
  if (bits == 8)
    return use_simd() ? simd::encode8(x, v, fc, dst, scratch) : scalar::encode8(x, v, fc, dst, scratch);
  const uint16_t* x16 = reinterpret_cast<const uint16_t*>(x);
  return use_simd() ? simd::encode16(x16, v, fc, dst, scratch) : scalar::encode16(x16, v, fc, dst, scratch);
}

const char* decode_plain(const uint8_t* src, size_t len, size_t readable, uint8_t* out, int bits, const View& v,
                         int fc, int32_t* scratch) {
  if (bits == 8)
    return use_simd() ? simd::decode8(src, len, readable, out, v, fc, scratch)
                      : scalar::decode8(src, len, readable, out, v, fc, scratch);
  uint16_t* o16 = reinterpret_cast<uint16_t*>(out);
  return use_simd() ? simd::decode16(src, len, readable, o16, v, fc, scratch)
                    : scalar::decode16(src, len, readable, o16, v, fc, scratch);
}

// A 1-variable FIRE chunk of `rows` samples is coded as kSegments independent segments of
// m = rows / (16 kSegments) * 16 samples each, i.e. an (m, kSegments) Fortran-ordered matrix,
// so the decoder runs the serial FIRE recurrence of all segments at once in SIMD lanes; the
// last rows - kSegments m (< 16 kSegments) samples follow as one variable. Packed stream:
// u32 byte length L of the matrix part, the matrix part (L bytes), then the rest.
constexpr size_t kSegments = 8;
bool segmented(const View& v, int fc) { return fc == kForecastFire && v.nvars == 1; }
size_t segment_rows(size_t rows) { return rows / (16 * kSegments) * 16; }

size_t encode_unlagged(const uint8_t* x, int bits, const View& v, int fc, uint8_t* dst, int32_t* scratch) {
  if (!segmented(v, fc)) return encode_plain(x, bits, v, fc, dst, scratch);
  const size_t m = segment_rows(v.rows), isz = size_t(bits / 8);
  const size_t l1 = encode_plain(x, bits, View{m, kSegments, v.rs, ptrdiff_t(m) * v.rs}, fc, dst + 4, scratch);
  const uint32_t l32 = uint32_t(l1);
  std::memcpy(dst, &l32, 4);
  const size_t done = m * kSegments;
  return 4 + l1 +
         encode_plain(x + done * size_t(v.rs) * isz, bits, View{v.rows - done, 1, v.rs, v.cs}, fc, dst + 4 + l1,
                      scratch);
}

const char* decode_unlagged(const uint8_t* src, size_t len, size_t readable, uint8_t* out, int bits,
                            const View& v, int fc, int32_t* scratch) {
  if (!segmented(v, fc)) return decode_plain(src, len, readable, out, bits, v, fc, scratch);
  if (len < 4) return "truncated segment length";
  uint32_t l1;
  std::memcpy(&l1, src, 4);
  if (l1 > len - 4) return "segment length exceeds the chunk";
  const size_t m = segment_rows(v.rows), isz = size_t(bits / 8), done = m * kSegments;
  if (const char* err = decode_plain(src + 4, l1, readable - 4, out, bits,
                                     View{m, kSegments, v.rs, ptrdiff_t(m) * v.rs}, fc, scratch))
    return err;
  return decode_plain(src + 4 + l1, len - 4 - l1, readable - 4 - l1, out + done * size_t(v.rs) * isz, bits,
                      View{v.rows - done, 1, v.rs, v.cs}, fc, scratch);
}

// Lagged delta (1-variable chunks, chunk header byte 2 = L in [2, kMaxLag]): the chunk's first
// m = rows / L * L samples are coded as an (rows / L, L) C-ordered matrix, i.e. each sample is
// predicted from the one L steps earlier (periodic signals such as appliance cycles), decoded by
// the many-variable kernels; the last rows - m samples follow as one variable. Packed stream:
// u32 byte length of the matrix part, the matrix part, then the rest.
constexpr int kMaxLag = 16;

// The lag whose deltas look cheapest on the chunk's first 4096 samples (0 if none beats lag 1
// by 25%); estimated cost of a delta d: its bit length.
int pick_lag(const uint8_t* x, int bits, size_t rows) {
  const size_t n = std::min<size_t>(rows, 4096);
  if (n < 4 * kMaxLag) return 0;
  static_assert(kMaxLag == wide::kProbeLags && 4096 <= wide::kNarrowProbeMax, "the probe prices these lags");
  uint64_t cost[kMaxLag + 1];
  wide::narrow_lag_costs(x, bits, n, cost);  // SIMD kernels, equal to the scalar rule
  int best = 0;
  uint64_t best_cost = cost[1] - cost[1] / 4;
  for (int L = 2; L <= kMaxLag; ++L)  // a longer lag must be clearly better (multiples of a period tie)
    if (cost[L] < (best ? best_cost - best_cost / 8 : best_cost)) {
      best = L;
      best_cost = cost[L];
    }
  return best;
}

size_t encode_chunk(const uint8_t* x, int bits, const View& v, int fc, int lag, uint8_t* dst, int32_t* scratch) {
  if (lag < 2) return encode_unlagged(x, bits, v, fc, dst, scratch);
  const size_t L = size_t(lag), m = v.rows / L, isz = size_t(bits / 8);
  const size_t l1 = encode_plain(x, bits, View{m, L, ptrdiff_t(L), 1}, fc, dst + 4, scratch);
  const uint32_t l32 = uint32_t(l1);
  std::memcpy(dst, &l32, 4);
  return 4 + l1 + encode_plain(x + m * L * isz, bits, View{v.rows - m * L, 1, 1, 1}, fc, dst + 4 + l1, scratch);
}

const char* decode_chunk(const uint8_t* src, size_t len, size_t readable, uint8_t* out, int bits, const View& v,
                         int fc, int lag, int32_t* scratch) {
  if (lag < 2) return decode_unlagged(src, len, readable, out, bits, v, fc, scratch);
  if (len < 4) return "truncated lag part length";
  uint32_t l1;
  std::memcpy(&l1, src, 4);
  if (l1 > len - 4) return "lag part length exceeds the chunk";
  const size_t L = size_t(lag), m = v.rows / L, isz = size_t(bits / 8);
  if (const char* err = decode_plain(src + 4, l1, readable - 4, out, bits, View{m, L, ptrdiff_t(L), 1}, fc, scratch))
    return err;
  return decode_plain(src + 4 + l1, len - 4 - l1, readable - 4 - l1, out + m * L * isz, bits,
                      View{v.rows - m * L, 1, 1, 1}, fc, scratch);
}

// Raw chunks (mode 2) hold their rows row-major. Copies isz-byte elements between the view
// (rows x nvars at strides rs, cs) and its packed rows: gather (view -> packed) when compressing,
// scatter (packed -> view) when decompressing.
void copy_rows(const View& v, size_t isz, const uint8_t* from, uint8_t* to, bool gather) {
  if (v.cs == 1) {
    std::memcpy(to, from, v.rows * v.nvars * isz);
    return;
  }
  size_t k = 0;  // byte offset in the packed rows
  for (size_t r = 0; r < v.rows; ++r)
    for (size_t j = 0; j < v.nvars; ++j, k += isz) {
      const ptrdiff_t at = (ptrdiff_t(r) * v.rs + ptrdiff_t(j) * v.cs) * ptrdiff_t(isz);
      if (gather)
        std::memcpy(to + k, from + at, isz);
      else
        std::memcpy(to + at, from + k, isz);
    }
}

// The stored checksum covers the header fields (bytes 4-31) as well as the chunks (version 3) or
// the decoded data (version 2), so a corrupted dtype, order or shape is caught too.
uint32_t stream_checksum(const uint8_t* header, uint32_t data_sum) {
  uint8_t tmp[32];
  std::memcpy(tmp, header + 4, 28);
  std::memcpy(tmp + 28, &data_sum, 4);
  return scalar::checksum(tmp, sizeof tmp);
}

namespace chk {
#include "sprintz/checksum.inc"
}

// The data checksum computed incrementally, chunk by chunk, while each chunk's output is still
// in cache (C order, where chunks are consecutive byte ranges). Same value as checksum().
struct StreamingChecksum {
  uint32_t acc[16];
  uint8_t buf[64];
  size_t nbuf = 0;
  uint64_t total = 0;
  StreamingChecksum() { chk::checksum_init(acc); }
  void stripes(const uint8_t* p, size_t n) {
    if (use_simd()) simd::checksum_stripes(acc, p, n);
    else scalar::checksum_stripes(acc, p, n);
  }
  void update(const uint8_t* p, size_t len) {
    total += len;
    if (nbuf) {
      const size_t take = std::min(len, 64 - nbuf);
      std::memcpy(buf + nbuf, p, take);
      nbuf += take;
      p += take;
      len -= take;
      if (nbuf < 64) return;
      stripes(buf, 1);
      nbuf = 0;
    }
    stripes(p, len / 64);
    nbuf = len % 64;
    std::memcpy(buf, p + len / 64 * 64, nbuf);
  }
  uint32_t finish() const { return chk::checksum_finish(acc, buf, nbuf, size_t(total)); }
};

// An uninitialized byte buffer (std::vector would zero it on every call). at_least() keeps the
// memory across calls: a fresh multi-MB allocation costs a page fault per 4 KiB, over 10% of a
// compress call, and more where malloc returns memory to the OS eagerly (Dask workers).
struct Buffer {
  std::unique_ptr<uint8_t[]> p;
  size_t n = 0;
  uint8_t* data() { return p.get(); }
  size_t size() const { return n; }
  void at_least(size_t size) {
    if (size > n) {
      p.reset(new uint8_t[size]);
      n = size;
    }
  }
  void swap(Buffer& o) {
    p.swap(o.p);
    std::swap(n, o.n);
  }
};

// Per-thread scratch of compress(), sized by the largest chunk seen (chunks are <= 1 MiB raw).
struct CompressScratch {
  Buffer packed, alt, coded;
  std::vector<int32_t> words;
};

void fail(const std::string& what) { throw std::invalid_argument("corrupt or invalid Sprintz stream: " + what); }

}  // namespace

// state (3 x nvars rounded up to 8) + tile (16 nvars values) + width codes (2 nvars bytes) + slack: the AVX2 path
// reads a whole 8-variable tile group (up to 64 values) past the last variable's tile.
size_t scratch_words(size_t nvars) {
  // 1-variable chunks decode as kSegments (FIRE) or up to kMaxLag (lagged) variables
  nvars = std::max(nvars, std::max(kSegments, size_t(kMaxLag)));
  // + room for the fused AVX2 kernels' payload copy and offset table
  return 3 * ((nvars + 7) / 8 * 8) + 8 * nvars + nvars / 2 + 16 + 64 + 2 * nvars + 32;
}

size_t max_packed_bytes(size_t rows, size_t nvars, int bits) {
  const size_t nsb = rows / 16;
  // + 4-byte part length, a second zero-run count and (lagged chunks) up to 15 L raw samples,
  // each costing no more than its worst-case packed size, for 1-variable chunks
  return nsb * (nvars + 2 * nvars * size_t(bits)) + 160 + (rows % 16) * nvars * size_t(bits / 8);
}

int dtype_bits(int dtype) { return dtype < 2 ? 8 : 16; }

size_t dtype_size(int dtype) {
  static constexpr uint8_t kSize[kNumDtypes] = {1, 1, 2, 2, 4, 4, 8, 8, 4, 8};
  return dtype >= 0 && dtype < kNumDtypes ? kSize[dtype] : 0;
}

const char* huffman_decode(const uint8_t* src, size_t len, size_t readable, uint8_t* dst, size_t n) {
  return use_simd() ? simd::huffman_decode(src, len, readable, dst, n)
                    : scalar::huffman_decode(src, len, readable, dst, n);
}

uint32_t checksum(const uint8_t* data, size_t len) {
  return use_simd() ? simd::checksum(data, len) : scalar::checksum(data, len);
}

// Appends one 8/16-bit chunk (its 12-byte header, then its body) to out: packed with the
// forecaster that pays, lagged where that pays, Huffman-coded where that pays, raw otherwise.
static void append_chunk(std::vector<uint8_t>& out, const uint8_t* chunk_data, int bits, const View& v, int forecaster,
                  bool entropy) {
  static thread_local CompressScratch tls;
  const size_t rows = v.rows, nvars = v.nvars, isz = size_t(bits / 8);
  if (tls.words.size() < scratch_words(nvars)) tls.words.resize(scratch_words(nvars));
  int32_t* const scratch = tls.words.data();
  // scratch kept across calls, grown to the largest chunk seen, left uninitialized
  const size_t psize = max_packed_bytes((rows + 15) / 16 * 16, nvars, bits);
  Buffer &packed = tls.packed, &alt = tls.alt, &coded = tls.coded;
  packed.at_least(psize);
  if (forecaster == kForecastFire || nvars == 1) alt.at_least(psize);
  if (entropy) coded.at_least(huffman_max_bytes(psize));
  size_t plen = encode_chunk(chunk_data, bits, v, forecaster, 0, packed.data(), scratch);
  // FIRE is kept for a chunk only where it beats delta by >= 1% (delta decodes faster).
  int chunk_fc = forecaster, lag = 0;
  if (forecaster == kForecastFire) {
    const size_t dlen = encode_chunk(chunk_data, bits, v, kForecastDelta, 0, alt.data(), scratch);
    if (plen >= dlen - dlen / 100) {
      packed.swap(alt);
      plen = dlen;
      chunk_fc = kForecastDelta;
    }
  }
  // 1 variable: a lagged delta where the estimate says it may pay and it is >= 2% smaller
  if (nvars == 1) {
    const int L = pick_lag(chunk_data, bits, rows);
    if (L) {
      const size_t llen = encode_chunk(chunk_data, bits, v, kForecastDelta, L, alt.data(), scratch);
      if (llen < plen - plen / 50) {
        packed.swap(alt);
        plen = llen;
        chunk_fc = kForecastDelta;
        lag = L;
      }
    }
  }
  size_t clen = entropy ? huffman_encode(packed.data(), plen, coded.data(), coded.size()) : 0;
  uint8_t mode = clen ? 1 : 0;
  const uint8_t* body = clen ? coded.data() : packed.data();
  size_t blen = clen ? clen : plen;
  size_t stored_plen = plen;
  const size_t raw_bytes = rows * nvars * isz;
  if (blen >= raw_bytes) {  // incompressible chunk: store the rows verbatim (row-major)
    mode = 2;
    copy_rows(v, isz, chunk_data, packed.data(), /*gather=*/true);
    body = packed.data();
    blen = stored_plen = raw_bytes;
  }
  const size_t at = out.size();
  out.resize(at + kChunkHeaderBytes + blen);
  out[at] = mode;
  out[at + 1] = uint8_t(chunk_fc);
  out[at + 2] = uint8_t(mode == 2 ? 0 : lag);
  out[at + 3] = 0;
  put<uint32_t>(out, at + 4, uint32_t(blen));
  put<uint32_t>(out, at + 8, uint32_t(stored_plen));
  std::memcpy(out.data() + at + kChunkHeaderBytes, body, blen);
}

void append_chunk16(std::vector<uint8_t>& out, const uint16_t* x, const View& v, int forecaster, bool entropy) {
  append_chunk(out, reinterpret_cast<const uint8_t*>(x), 16, v, forecaster, entropy);
}

void compress(std::vector<uint8_t>& out, const uint8_t* data, int dtype, size_t n, size_t nvars, int ndim, int order,
              int forecaster, bool entropy, size_t chunk_rows) {
  if (dtype < 0 || dtype >= kNumDtypes)
    throw std::invalid_argument("dtype code must be in [0, " + std::to_string(kNumDtypes - 1) + "]");
  if (nvars == 0 || (ndim == 1 && nvars != 1) || ndim < 1 || ndim > 2)
    throw std::invalid_argument("shape must be (n,) or (n, nvars) with nvars >= 1");
  const int bits = dtype_bits(dtype);
  const size_t isz = dtype_size(dtype);
  if (chunk_rows == 0 || chunk_rows % 16 || chunk_rows > 0xFFFFFFF0u ||
      (chunk_rows > 16 && uint64_t(chunk_rows) * nvars * isz > kMaxChunkBytes))
    throw std::invalid_argument("chunk_rows must be a positive multiple of 16 within the chunk size limit");
  if (n > (uint64_t(1) << 62) / nvars / isz) throw std::invalid_argument("array too large");
  out.resize(kHeaderBytes);
  std::memcpy(out.data(), kMagic, 4);
  out[4] = kVersion;
  out[5] = uint8_t(dtype);
  out[6] = uint8_t(ndim);
  out[7] = uint8_t(order);
  out[8] = uint8_t(forecaster);
  out[9] = entropy ? 1 : 0;
  put<uint16_t>(out, 10, 0);
  put<uint32_t>(out, 12, uint32_t(chunk_rows));
  put<uint64_t>(out, 16, uint64_t(n));
  put<uint64_t>(out, 24, uint64_t(nvars));
  put<uint32_t>(out, 32, 0);  // the checksum, once the chunks are written
  put<uint32_t>(out, 36, 0);
  const ptrdiff_t rs = order == 0 ? ptrdiff_t(nvars) : 1, cs = order == 0 ? 1 : ptrdiff_t(n);
  for (size_t r0 = 0; r0 < n; r0 += chunk_rows) {
    const size_t rows = std::min(chunk_rows, n - r0);
    const View v{rows, nvars, rs, cs};
    const uint8_t* chunk_data = data + r0 * size_t(rs) * isz;
    if (dtype >= kFirstWideDtype)
      wide::append_chunk(out, chunk_data, dtype, v, forecaster, entropy);
    else
      append_chunk(out, chunk_data, bits, v, forecaster, entropy);
  }
  reseal(out.data(), out.size());
}

void reseal(uint8_t* buf, size_t len) {
  if (len < kHeaderBytes) throw std::invalid_argument("reseal: shorter than the header");
  const uint32_t sum = stream_checksum(buf, checksum(buf + kHeaderBytes, len - kHeaderBytes));
  std::memcpy(buf + 32, &sum, 4);
}

Header parse_header(const uint8_t* buf, size_t len) {
  if (len < kHeaderBytes) fail("shorter than the 40-byte header");
  if (std::memcmp(buf, kMagic, 4) != 0) fail("bad magic (not a tenfold Sprintz stream)");
  if (buf[4] != kVersion && buf[4] != kLegacyVersion)
    throw std::invalid_argument("unsupported Sprintz format version " + std::to_string(buf[4]) +
                                " (this build reads versions " + std::to_string(kLegacyVersion) + " and " +
                                std::to_string(kVersion) + ")");
  Header h;
  h.version = buf[4];
  h.dtype = buf[5];
  h.ndim = buf[6];
  h.order = buf[7];
  h.forecaster = buf[8];
  h.flags = buf[9];
  h.chunk_rows = get<uint32_t>(buf + 12);
  h.n = get<uint64_t>(buf + 16);
  h.nvars = get<uint64_t>(buf + 24);
  h.checksum = get<uint32_t>(buf + 32);
  if (h.dtype >= kNumDtypes) fail("unknown dtype code");
  if (h.dtype >= kFirstWideDtype && h.version == kLegacyVersion) fail("dtype code not defined in version 2");
  if (h.ndim < 1 || h.ndim > 2) fail("ndim must be 1 or 2");
  if (h.order > 1) fail("unknown order");
  if (h.forecaster > 1) fail("unknown forecaster");
  if (h.flags > 1 || get<uint16_t>(buf + 10) != 0 || get<uint32_t>(buf + 36) != 0) fail("reserved bits set");
  if (h.nvars == 0 || (h.ndim == 1 && h.nvars != 1)) fail("invalid number of variables");
  if (h.chunk_rows == 0 || h.chunk_rows % 16) fail("invalid chunk size");
  const size_t isz = dtype_size(h.dtype);
  if (h.nvars > (uint64_t(1) << 40) || h.n > (uint64_t(1) << 62) / h.nvars / isz) fail("array too large");
  if (h.chunk_rows > 16 && uint64_t(h.chunk_rows) * h.nvars * isz > kMaxChunkBytes) fail("chunk too large");
  // every chunk needs at least its 12-byte header: rejects absurd sizes before any allocation
  const uint64_t nchunks = (h.n + h.chunk_rows - 1) / h.chunk_rows;
  if (nchunks > (len - kHeaderBytes) / kChunkHeaderBytes) fail("truncated (fewer bytes than chunks)");
  // every non-empty chunk stores at least nvars header bytes, or 1/8 of them when Huffman-coded
  if (nchunks && (h.nvars / 8 + kChunkHeaderBytes) > (len - kHeaderBytes) / nchunks)
    fail("truncated (too few bytes for the number of variables)");
  return h;
}

Header open_stream(const uint8_t* buf, size_t len) {
  const Header h = parse_header(buf, len);
  if (h.version != kLegacyVersion &&
      stream_checksum(buf, checksum(buf + kHeaderBytes, len - kHeaderBytes)) != h.checksum)
    fail("checksum mismatch (stream corrupted)");
  return h;
}

void decompress(const uint8_t* buf, size_t len, uint8_t* out, size_t out_len) {
  decode(open_stream(buf, len), buf, len, out, out_len);
}

// Decodes the 8/16-bit chunk at buf[pos] (header and body) into out (geometry v), advancing pos.
static void decode_chunk_at(const uint8_t* buf, size_t len, size_t& pos, uint8_t* out, int bits, const View& v,
                     int header_fc, int32_t* scratch, Buffer& plain) {
  const size_t rows = v.rows, nvars = v.nvars, isz = size_t(bits / 8);
  if (len - pos < kChunkHeaderBytes) fail("truncated chunk header");
  const uint8_t mode = buf[pos];
  if (mode > 2 || buf[pos + 1] > 1 || buf[pos + 3]) fail("invalid chunk mode");
  const int lag = buf[pos + 2];
  if (lag && (lag < 2 || lag > kMaxLag || nvars != 1 || buf[pos + 1] != kForecastDelta || mode == 2))
    fail("invalid chunk lag");
  if (buf[pos + 1] == kForecastFire && header_fc != kForecastFire) fail("chunk forecaster not allowed");
  const int chunk_fc = buf[pos + 1];
  const size_t blen = get<uint32_t>(buf + pos + 4), plen = get<uint32_t>(buf + pos + 8);
  pos += kChunkHeaderBytes;
  if (blen > len - pos) fail("chunk longer than the buffer (truncated?)");
  if (plen > max_packed_bytes(rows, nvars, bits)) fail("chunk claims an impossible size");
  const uint8_t* src = buf + pos;
  size_t readable = len - pos;
  if (mode == 2) {
    if (blen != plen || plen != rows * nvars * isz) fail("raw chunk length mismatch");
    copy_rows(v, isz, src, out, /*gather=*/false);
    pos += blen;
    return;
  }
  if (mode == 0) {
    if (blen != plen) fail("stored chunk length mismatch");
  } else {
    plain.at_least(plen + 16);
    if (const char* err = huffman_decode(src, blen, len - pos, plain.data(), plen)) fail(err);
    src = plain.data();
    readable = plain.size();
  }
  if (const char* err = decode_chunk(src, plen, readable, out, bits, v, chunk_fc, lag, scratch)) fail(err);
  pos += blen;
}

void decode_chunk16(const uint8_t* buf, size_t len, size_t& pos, uint16_t* out, const View& v, int header_fc) {
  static thread_local std::vector<int32_t> scratch;
  static thread_local Buffer plain;
  if (scratch.size() < scratch_words(v.nvars)) scratch.resize(scratch_words(v.nvars));
  decode_chunk_at(buf, len, pos, reinterpret_cast<uint8_t*>(out), 16, v, header_fc, scratch.data(), plain);
}

void decode(const Header& h, const uint8_t* buf, size_t len, uint8_t* out, size_t out_len) {
  const bool legacy = h.version == kLegacyVersion;  // checksum of the decoded data, computed here
  const int bits = dtype_bits(h.dtype);
  const size_t isz = dtype_size(h.dtype), n = size_t(h.n), nvars = size_t(h.nvars);
  if (out_len != n * nvars * isz) throw std::invalid_argument("output buffer has the wrong size");
  const ptrdiff_t rs = h.order == 0 ? ptrdiff_t(nvars) : 1, cs = h.order == 0 ? 1 : ptrdiff_t(n);
  std::vector<int32_t> scratch(h.dtype >= kFirstWideDtype ? 0 : scratch_words(nvars));
  Buffer plain;
  StreamingChecksum running;
  size_t pos = kHeaderBytes;
  for (size_t r0 = 0; r0 < n; r0 += h.chunk_rows) {
    const size_t rows = std::min(size_t(h.chunk_rows), n - r0);
    const View v{rows, nvars, rs, cs};
    uint8_t* const chunk_out = out + r0 * size_t(rs) * isz;
    if (h.dtype >= kFirstWideDtype)
      wide::decode_chunk(buf, len, pos, chunk_out, h.dtype, v, h.forecaster);
    else
      decode_chunk_at(buf, len, pos, chunk_out, bits, v, h.forecaster, scratch.data(), plain);
    if (legacy && h.order == 0) running.update(out + r0 * nvars * isz, rows * nvars * isz);
  }
  if (pos != len) fail("trailing bytes after the last chunk");
  if (!legacy) return;
  const uint32_t data_sum = h.order == 0 ? running.finish() : checksum(out, out_len);
  if (stream_checksum(buf, data_sum) != h.checksum) fail("checksum mismatch (data or header corrupted)");
}

}  // namespace sprintz
}  // namespace tenfold
