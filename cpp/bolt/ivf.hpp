// Inverted-file search over Bolt codes: only the probed lists of each query are scanned.
//
// Layout: the lists' codes one after the other in one blocked buffer (bolt.hpp), list l in
// blocks [block_off[l], block_off[l+1]) holding sizes[l] rows, the rest of its last block zero
// padding. Rows are numbered in list order: row = row_start[l] + position in list l.
#pragma once
#include <cstddef>
#include <cstdint>

namespace tenfold {
namespace bolt {

// For each query q: scans the lists probes[q * nprobe + j] (-1 = none; a list given twice is
// scanned once) with the query's lookup
// tables luts + q * C * 16 (one table for every list: Bolt codes the vectors themselves, not
// residuals) and writes its k best rows, best first: dist (integer sums, 0xFFFFFFFF where
// missing) and rows (-1 where missing). Which of the rows tied at the k-th sum are kept is
// deterministic (ivf.cpp says how) and does not depend on
// n_threads (queries are split over threads). The caller has checked that every probe is
// < nlist and that the offsets describe the buffer.
void ivf_search(const uint8_t* codes, int ncols, const int64_t* block_off, const int64_t* sizes,
                const int64_t* row_start, int64_t nlist, const int32_t* probes, int nprobe,
                const uint8_t* luts, int nq, int k, uint32_t* dist, int64_t* rows, int n_threads);

}  // namespace bolt
}  // namespace tenfold
