// Sprintz: lossless compression of 8/16-bit integer time series (Blalock et al., 2018), our format.
//
// Stream (all integers little-endian):
//   header (40 bytes): "TFSZ", u8 version=3, u8 dtype (0 int8, 1 uint8, 2 int16, 3 uint16; version 3
//     only: 4 int32, 5 uint32, 6 int64, 7 uint64, 8 float32, 9 float64, whose chunks codec_wide.hpp describes),
//     u8 ndim (1|2), u8 order (0 C, 1 F), u8 forecaster (0 delta, 1 FIRE), u8 flags (bit0: entropy
//     requested), u16 reserved=0, u32 chunk_rows (multiple of 16), u64 n, u64 nvars,
//     u32 checksum (of header bytes 4-31 followed by the checksum of the stream's bytes 40-end,
//     i.e. everything after the header), u32 reserved=0.
//   The checksum covers the compressed bytes, so the decoder verifies it in one pass over the
//   input BEFORE it allocates or writes any output: a corrupt stream cannot make it expand a
//   65,536:1 zero run into gigabytes first. Version 2 streams (same layout; their checksum is of
//   header bytes 4-31 followed by the checksum of the decoded array's bytes in memory order,
//   verified after decoding) still decode.
//   ceil(n / chunk_rows) chunks, each: u8 mode (0 packed, 1 Huffman-coded packed, 2 raw rows,
//     row-major, used when coding does not pay; Huffman only where it saves >= 5%), u8 forecaster
//     of this chunk (FIRE streams use FIRE only in chunks where it beats delta by >= 1%), u8 lag
//     (0, or 2..16 for a lagged-delta 1-variable chunk, see sprintz.cpp), 1 zero byte,
//     u32 stored length, u32 packed length, then the stored bytes.
// A chunk's packed stream covers `rows` rows of the (n, nvars) matrix; forecaster state starts at
// zero in every chunk. Rows go in superblocks of 16 = two blocks of 8 rows:
//   nvars header bytes: var v's low nibble = width code of block 0, high nibble = block 1
//     (code w < 15 means w bits; 15 means 16 bits; 8-bit data allows 0..8);
//   if every header byte is zero: a LEB128 count k of further all-zero superblocks (the run is 1+k);
//   else block 0 then block 1, each: for every var, 8 zigzagged residuals bit-packed LSB-first in
//     exactly `width` bytes (value i occupies bits [i*width, (i+1)*width)).
// The last rows % 16 rows of a chunk are stored raw, row-major, little-endian.
// Exception (version 2): a 1-variable FIRE chunk is split into 8 segments of m = rows / 128 * 16
// samples coded as an (m, 8) column-major matrix (independent FIRE states, so the decoder runs
// them in SIMD lanes), prefixed by that part's u32 byte length, then the remaining rows - 8m
// samples as one variable (see sprintz.cpp).
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

namespace tenfold {
namespace sprintz {

constexpr int kForecastDelta = 0;
constexpr int kForecastFire = 1;

// Geometry of one chunk: element (r, v) lives at base[r * rs + v * cs].
struct View {
  size_t rows, nvars;
  ptrdiff_t rs, cs;
};

// Per-call scratch, sized by scratch_words(nvars): forecaster state and a 16 x nvars tile.
size_t scratch_words(size_t nvars);

// Worst-case packed size of a chunk of `rows` rows.
size_t max_packed_bytes(size_t rows, size_t nvars, int bits);

#define TENFOLD_SPRINTZ_KERNELS                                                                   \
  size_t encode8(const uint8_t* x, const View& v, int forecaster, uint8_t* dst, int32_t* scratch);  \
  size_t encode16(const uint16_t* x, const View& v, int forecaster, uint8_t* dst, int32_t* scratch); \
  /* src[0, len) is the packed stream; bytes up to src + readable may be read (readable >= len). */ \
  /* Returns nullptr on success or a static error message. */                                     \
  const char* decode8(const uint8_t* src, size_t len, size_t readable, uint8_t* out, const View& v, \
                      int forecaster, int32_t* scratch);                                           \
  const char* decode16(const uint8_t* src, size_t len, size_t readable, uint16_t* out, const View& v, \
                       int forecaster, int32_t* scratch);                                          \
  uint32_t checksum(const uint8_t* data, size_t len);                                              \
  /* the checksum's inner loop: nstripes 64-byte stripes into the 16 lane accumulators */          \
  void checksum_stripes(uint32_t* acc, const uint8_t* data, size_t nstripes);                       \
  /* src[0, len) is the coded chunk; bytes up to src + readable may be read */                   \
  const char* huffman_decode(const uint8_t* src, size_t len, size_t readable, uint8_t* dst, size_t n);

namespace scalar { TENFOLD_SPRINTZ_KERNELS }
namespace avx2 { TENFOLD_SPRINTZ_KERNELS }
namespace neon { TENFOLD_SPRINTZ_KERNELS }
#undef TENFOLD_SPRINTZ_KERNELS

// Huffman stage (huffman.cpp): kHuffmanStreams interleaved bit streams per coded chunk.
constexpr int kHuffmanStreams = 4;
// encode returns 0 when coding would not save at least 5%.
size_t huffman_encode(const uint8_t* src, size_t n, uint8_t* dst, size_t cap);
const char* huffman_decode(const uint8_t* src, size_t len, size_t readable, uint8_t* dst,
                           size_t n);  // dispatching
size_t huffman_max_bytes(size_t n);

struct Header {
  int version, dtype, ndim, order, forecaster, flags;
  uint32_t chunk_rows, checksum;
  uint64_t n, nvars;
};
constexpr size_t kHeaderBytes = 40;
constexpr size_t kChunkHeaderBytes = 12;

constexpr int kFirstWideDtype = 4;  // dtype codes >= 4 are coded by codec_wide.cpp
constexpr int kNumDtypes = 10;
int dtype_bits(int dtype);     // 8 or 16, for the dtype codes below kFirstWideDtype
size_t dtype_size(int dtype);  // bytes per item; 0 for an unknown code
// One 16-bit chunk in the stream's chunk format, header and body (codec_wide.cpp stores chunks
// whose values span less than 2^16 this way): appended to out / decoded from buf[pos], pos advanced
// (throws std::invalid_argument on a corrupt chunk).
void append_chunk16(std::vector<uint8_t>& out, const uint16_t* x, const View& v, int forecaster, bool entropy);
void decode_chunk16(const uint8_t* buf, size_t len, size_t& pos, uint16_t* out, const View& v, int header_fc);
namespace wide {
// One chunk of a 32/64-bit integer or float dtype (code >= kFirstWideDtype), header and body.
void append_chunk(std::vector<uint8_t>& out, const uint8_t* x, int dtype, const View& v, int forecaster, bool entropy);
void decode_chunk(const uint8_t* buf, size_t len, size_t& pos, uint8_t* out, int dtype, const View& v, int header_fc);
}  // namespace wide
// Parses and validates the header (no checksum check); throws std::invalid_argument.
Header parse_header(const uint8_t* buf, size_t len);
// parse_header, then (version 3) the checksum of the compressed bytes: call before allocating
// the output. Throws std::invalid_argument.
Header open_stream(const uint8_t* buf, size_t len);
// Decodes a stream opened by open_stream into out (out_len must be the header's n * nvars *
// itemsize bytes); version 2 streams have their decoded data checked here. Throws std::invalid_argument.
void decode(const Header& h, const uint8_t* buf, size_t len, uint8_t* out, size_t out_len);
// Recomputes the checksum of a version 3 stream in place (for fuzzers that mutate streams and
// want them to reach the decoder).
void reseal(uint8_t* buf, size_t len);

// data: the array's bytes in memory order (C: row-major, F: column-major). The stream replaces
// out's contents; pass the same vector again to reuse its memory.
void compress(std::vector<uint8_t>& out, const uint8_t* data, int dtype, size_t n, size_t nvars, int ndim, int order,
              int forecaster, bool entropy, size_t chunk_rows);
// open_stream + decode. Throws std::invalid_argument.
void decompress(const uint8_t* buf, size_t len, uint8_t* out, size_t out_len);
uint32_t checksum(const uint8_t* data, size_t len);

}  // namespace sprintz
}  // namespace tenfold
