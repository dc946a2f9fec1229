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
#include <cstring>
#include <queue>
#include <vector>

#include "sprintz/sprintz.hpp"

namespace tenfold {
namespace sprintz {

namespace {

constexpr int kMaxLen = 11;
constexpr size_t kTableBytes = 128 + 4 * (kHuffmanStreams - 1);

// Huffman code lengths limited to kMaxLen (frequencies are flattened until they fit).
void code_lengths(const uint64_t* freq_in, uint8_t* len) {
  std::vector<uint64_t> freq(freq_in, freq_in + 256);
  for (;;) {
    std::fill(len, len + 256, 0);
    std::vector<int> used;
    for (int s = 0; s < 256; ++s)
      if (freq[s]) used.push_back(s);
    if (used.empty()) return;
    if (used.size() == 1) {  // a complete code needs two leaves: add an unused one
      len[used[0]] = 1;
      len[used[0] ^ 1] = 1;
      return;
    }
    // nodes: leaves 0..255, internal 256..; parent links give depths
    std::vector<int> parent(512, -1);
    using Item = std::pair<uint64_t, int>;
    std::priority_queue<Item, std::vector<Item>, std::greater<Item>> pq;
    for (int s : used) pq.push({freq[s], s});
    int next = 256;
    while (pq.size() > 1) {
      Item a = pq.top();
      pq.pop();
      Item b = pq.top();
      pq.pop();
      parent[a.second] = next;
      parent[b.second] = next;
      pq.push({a.first + b.first, next});
      ++next;
    }
    int maxlen = 0;
    for (int s : used) {
      int depth = 0;
      for (int x = s; parent[x] >= 0; x = parent[x]) ++depth;
      len[s] = uint8_t(std::min(depth, 255));
      maxlen = std::max(maxlen, depth);
    }
    if (maxlen <= kMaxLen) return;
    for (int s : used) freq[s] = (freq[s] >> 1) | 1;
  }
}

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
    const int v = next[l]++;
    int r = 0;
    for (int i = 0; i < l; ++i) r |= ((v >> i) & 1) << (l - 1 - i);
    code[s] = uint16_t(r);
  }
}

struct BitWriter {
  uint8_t* p;
  uint8_t* end;
  uint64_t acc = 0;
  int n = 0;
  bool overflow = false;
  void put(uint32_t bits, int len) {
    acc |= uint64_t(bits) << n;
    n += len;
    while (n >= 8) {
      if (p == end) {
        overflow = true;
        return;
      }
      *p++ = uint8_t(acc);
      acc >>= 8;
      n -= 8;
    }
  }
  void flush() {
    if (n > 0) {
      if (p == end) overflow = true;
      else *p++ = uint8_t(acc);
    }
    acc = 0;
    n = 0;
  }
};



}  // namespace

size_t huffman_max_bytes(size_t n) { return kTableBytes + n + 64; }

size_t huffman_encode(const uint8_t* src, size_t n, uint8_t* dst, size_t cap) {
  if (n < 256 || cap < kTableBytes) return 0;
  uint64_t freq[256] = {0};
  for (size_t i = 0; i < n; ++i) freq[src[i]]++;
  uint8_t len[256];
  code_lengths(freq, len);
  uint64_t bits = 0;
  for (int s = 0; s < 256; ++s) bits += freq[s] * len[s];
  const size_t est = kTableBytes + bits / 8 + 4;
  // Decoding the Huffman stage costs about as much time as the rest of the decoder, so it is
  // used only where it makes the chunk at least 5% smaller.
  if (est > n - n / 20) return 0;
  uint16_t code[256] = {0};
  canonical_codes(len, code);
  for (int k = 0; k < 128; ++k) dst[k] = uint8_t(len[2 * k] | (len[2 * k + 1] << 4));
  const size_t q = n / kHuffmanStreams;
  uint8_t* o = dst + kTableBytes;
  uint8_t* const end = dst + cap;
  for (int s = 0; s < kHuffmanStreams; ++s) {
    const size_t a = s * q, b = s == kHuffmanStreams - 1 ? n : a + q;
    BitWriter w{o, end};
    for (size_t i = a; i < b && !w.overflow; ++i) w.put(code[src[i]], len[src[i]]);
    w.flush();
    if (w.overflow) return 0;
    const uint32_t bytes = uint32_t(w.p - o);
    if (s < kHuffmanStreams - 1) std::memcpy(dst + 128 + 4 * s, &bytes, 4);
    o = w.p;
  }
  const size_t total = size_t(o - dst);
  return total <= n - n / 20 ? total : 0;
}

}  // namespace sprintz
}  // namespace tenfold
