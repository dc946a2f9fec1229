// Byte-wise canonical Huffman coding for the packed Sprintz stream (our own implementation).
//
// Layout: 128 bytes of code lengths (symbol 2k in the low nibble of byte k, 2k+1 in the high
// nibble; 0 = unused, max 11), three u32 byte lengths of streams 0-2 (stream 3 takes the rest),
// then four bit streams. The n symbols are split into four runs: q = n / 4 symbols for streams
// 0-2, the remainder for stream 3, so the decoder runs four independent dependency chains.
// Bits are written LSB first, each code bit-reversed, so the decoder peeks the low 11 bits and
// looks up a 2048-entry table. Codes are always complete (Kraft sum exactly 1; a lone symbol
// gets an unused partner), and the decoder rejects any other code, so every table slot is
// valid. The decoder reads only inside the input buffer and rejects any stream whose symbols
// consumed bits beyond its own bytes. Used only where it saves >= 5% (see huffman_encode).
#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "sprintz/sprintz.hpp"

namespace tenfold {
namespace sprintz {

namespace {

constexpr int kMaxLen = 11;
constexpr size_t kTableBytes = 128 + 4 * (kHuffmanStreams - 1);

// Huffman code lengths limited to kMaxLen (frequencies are flattened until they fit). Leaves are
// sorted once per round and merged with the queue of internal nodes (created in order of
// weight), the two-queue form of Huffman's algorithm: the same merges, in the same order, as a
// priority queue of (weight, id) pairs, without a heap or any allocation.
void code_lengths(const uint64_t* freq, uint8_t* len) {
  uint64_t leaf[256];  // weight << 8 | symbol (weights stay below 2^56: n < 2^32)
  int m = 0;
  for (int s = 0; s < 256; ++s)
    if (freq[s]) leaf[m++] = freq[s] << 8 | uint64_t(s);
  std::fill(len, len + 256, 0);
  if (m == 0) return;
  if (m == 1) {  // a complete code needs two leaves: add an unused one
    const int s = int(leaf[0] & 255);
    len[s] = 1;
    len[s ^ 1] = 1;
    return;
  }
  std::sort(leaf, leaf + m);
  for (int round = 0;; ++round) {
    if (round) {  // flatten: w -> w / 2 | 1 keeps the order but for new ties (keys stay distinct: the symbol)
      for (int k = 0; k < m; ++k) leaf[k] = (((leaf[k] >> 9) | 1) << 8) | (leaf[k] & 255);
      std::sort(leaf, leaf + m);
    }
    uint64_t weight[255];
    int parent[512];  // leaves 0..255, internal node k is 256 + k
    int li = 0, ni = 0, nn = 0;
    auto pop = [&](uint64_t& w) {
      if (li < m && (ni == nn || (leaf[li] >> 8) <= weight[ni])) {  // ties: the leaf (smaller id)
        w = leaf[li] >> 8;
        return int(leaf[li++] & 255);
      }
      w = weight[ni];
      return 256 + ni++;
    };
    for (int k = 0; k < m - 1; ++k) {
      uint64_t wa, wb;
      const int a = pop(wa), b = pop(wb);
      parent[a] = parent[b] = 256 + nn;
      weight[nn++] = wa + wb;
    }
    int depth[255];  // of internal nodes; a node's parent was created after it
    depth[nn - 1] = 0;
    for (int k = nn - 2; k >= 0; --k) depth[k] = depth[parent[256 + k] - 256] + 1;
    int maxlen = 0;
    for (int k = 0; k < m; ++k) {
      const int s = int(leaf[k] & 255), d = depth[parent[s] - 256] + 1;
      len[s] = uint8_t(d);
      maxlen = std::max(maxlen, d);
    }
    if (maxlen <= kMaxLen) return;
  }
}

// c log2 c for the counts c < kLog2TableSize (0 for c = 0), computed once: the entropy bound below
// reads one per symbol instead of calling log2.
constexpr uint64_t kLog2TableSize = 4096;
const double* count_log2_table() {
  static const std::vector<double> table = [] {
    std::vector<double> t(kLog2TableSize, 0.0);
    for (uint64_t c = 2; c < kLog2TableSize; ++c) t[c] = double(c) * std::log2(double(c));
    return t;
  }();
  return table.data();
}

// Each byte with its bits in reverse order.
constexpr struct Reverse8 {
  uint8_t v[256];
  constexpr Reverse8() : v() {
    for (int b = 0; b < 256; ++b)
      for (int i = 0; i < 8; ++i) v[b] |= uint8_t(((b >> i) & 1) << (7 - i));
  }
  constexpr uint8_t operator[](unsigned b) const { return v[b]; }
} kReverse8;

// Canonical codes (MSB-first value), returned bit-reversed for LSB-first writing.
void canonical_codes(const uint8_t* len, uint16_t* code) {
  int count[kMaxLen + 1] = {0};
  for (int s = 0; s < 256; ++s) count[len[s]]++;
  count[0] = 0;
  int next[kMaxLen + 2] = {0};
  int c = 0;
  for (int l = 1; l <= kMaxLen; ++l) {
    c = (c + count[l - 1]) << 1;
    next[l] = c;
  }
  for (int s = 0; s < 256; ++s) {
    const int l = len[s];
    if (!l) continue;
    const unsigned v = unsigned(next[l]++);  // < 2^l, l <= kMaxLen < 16: its 16-bit reversal shifted down
    const unsigned r16 = unsigned(kReverse8[v & 255]) << 8 | kReverse8[(v >> 8) & 255];
    code[s] = uint16_t(r16 >> (16 - l));
  }
}

// One stream's bit writer: LSB first, flushed whole bytes at a time. put4() appends up to 4 codes
// (<= 44 bits) and stores 8 bytes at once, so the caller must leave 8 bytes of room; put() and
// finish() write byte by byte and are used for a stream's last bytes.
// The code of each symbol (bit-reversed) and its length, in two tables: one load each, no unpacking.
struct CodeTable {
  uint64_t code[256];
  uint8_t len[256];
};

struct BitWriter {
  uint8_t* p = nullptr;
  uint64_t acc = 0;
  int n = 0;
  void put4(const CodeTable& t, const uint8_t* sym) {
    for (int k = 0; k < 4; ++k) {
      acc |= t.code[sym[k]] << n;
      n += t.len[sym[k]];
    }
    std::memcpy(p, &acc, 8);
    p += n >> 3;
    acc >>= n & ~7;
    n &= 7;
  }
  void put(const CodeTable& t, uint8_t sym) {
    acc |= t.code[sym] << n;
    n += t.len[sym];
    while (n >= 8) {
      *p++ = uint8_t(acc);
      acc >>= 8;
      n -= 8;
    }
  }
  void finish() {
    if (n > 0) *p++ = uint8_t(acc);
  }
};

}  // namespace

size_t huffman_max_bytes(size_t n) { return kTableBytes + n + 64; }

size_t huffman_encode(const uint8_t* src, size_t n, uint8_t* dst, size_t cap) {
  constexpr int S = kHuffmanStreams;
  if (n < 256 || n > 0xFFFFFFFFu || cap < huffman_max_bytes(n)) return 0;
  // Stream s codes symbols [s q, (s + 1) q) (the last one up to n). One histogram per stream,
  // filled in one interleaved pass (4 independent counters per step instead of 1), gives both
  // the code and each stream's exact size, so all four streams can be written at once.
  const size_t q = n / S;
  size_t first[S + 1];
  for (int s = 0; s < S; ++s) first[s] = size_t(s) * q;
  first[S] = n;
  // Two counter tables per stream (even and odd positions): runs of one symbol, common here,
  // would otherwise wait on the previous increment of the same counter.
  uint32_t freq2[2][S][256] = {};
  size_t i = 0;
  for (; i + 2 <= q; i += 2)
    for (int s = 0; s < S; ++s) {
      freq2[0][s][src[first[s] + i]]++;
      freq2[1][s][src[first[s] + i + 1]]++;
    }
  if (i < q)  // odd q: the last of each stream's first q symbols
    for (int s = 0; s < S; ++s) freq2[0][s][src[first[s] + i]]++;
  for (size_t k = first[S - 1] + q; k < n; ++k) freq2[0][S - 1][src[k]]++;  // the last stream's extra n % S
  uint32_t (&freq)[S][256] = freq2[0];  // per stream: the two tables summed
  uint64_t total_freq[256] = {};
  for (int s = 0; s < S; ++s)
    for (int c = 0; c < 256; ++c) {
      freq[s][c] += freq2[1][s][c];
      total_freq[c] += freq[s][c];
    }
  // Huffman's code is never shorter than the entropy n H = n log2 n - sum c log2 c: where even that
  // would not save the 5% asked below, return before building the code (small chunks, whose packed
  // bytes are close to uniform, pay the table build for nothing otherwise). log2 is within a few
  // ulps; kEntropySlack more than covers that, so the bound stays below the code's true size.
  {
    constexpr double kEntropySlack = 1e-9;
    const double* clogc = count_log2_table();
    double sum_clogc = 0;
    for (int c = 0; c < 256; ++c) {
      const uint64_t f = total_freq[c];
      sum_clogc += f < kLog2TableSize ? clogc[f] : double(f) * std::log2(double(f));
    }
    const double nd = double(n);
    const double bits_lower = (nd * std::log2(nd) - sum_clogc) * (1 - kEntropySlack) - nd * kEntropySlack;
    if (double(kTableBytes + S) + std::floor(bits_lower / 8) > double(n - n / 20)) return 0;
  }
  uint8_t len[256];
  code_lengths(total_freq, len);
  uint64_t stream_bits[S] = {}, bits = 0;
  for (int s = 0; s < S; ++s) {
    for (int c = 0; c < 256; ++c) stream_bits[s] += uint64_t(freq[s][c]) * len[c];
    bits += stream_bits[s];
  }
  const size_t est = kTableBytes + bits / 8 + S;
  // Decoding the Huffman stage costs about as much time as the rest of the decoder, so it is
  // used only where it makes the chunk at least 5% smaller.
  if (est > n - n / 20) return 0;
  uint16_t code[256] = {0};
  canonical_codes(len, code);
  CodeTable tab;
  for (int c = 0; c < 256; ++c) {
    tab.code[c] = code[c];
    tab.len[c] = len[c];
  }
  for (int k = 0; k < 128; ++k) dst[k] = uint8_t(len[2 * k] | (len[2 * k + 1] << 4));
  // Stream s occupies [start[s], start[s + 1]); its 8-byte stores must stay inside it, since the
  // next stream is being written at the same time.
  uint8_t* start[S + 1];
  start[0] = dst + kTableBytes;
  for (int s = 0; s < S; ++s) {
    start[s + 1] = start[s] + (stream_bits[s] + 7) / 8;
    if (s < S - 1) {
      const uint32_t bytes = uint32_t(start[s + 1] - start[s]);
      std::memcpy(dst + 128 + 4 * s, &bytes, 4);
    }
  }
  const uint8_t* const limit_last = dst + cap;  // the last stream may overrun its end (room checked above)
  BitWriter w[S];
  for (int s = 0; s < S; ++s) w[s].p = start[s];
  for (i = 0; i + 4 <= q; i += 4) {
    bool room = w[S - 1].p + 8 <= limit_last;
    for (int s = 0; s < S - 1; ++s) room &= w[s].p + 8 <= start[s + 1];
    if (!room) break;
    for (int s = 0; s < S; ++s) w[s].put4(tab, src + first[s] + i);
  }
  for (int s = 0; s < S; ++s) {
    for (size_t k = first[s] + i; k < first[s + 1]; ++k) w[s].put(tab, src[k]);
    w[s].finish();
    if (w[s].p != start[s + 1]) return 0;  // cannot happen: sizes are exact
  }
  const size_t total = size_t(start[S] - dst);
  return total <= n - n / 20 ? total : 0;
}

}  // namespace sprintz
}  // namespace tenfold
