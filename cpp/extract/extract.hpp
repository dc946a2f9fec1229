// EXTRACT (Blalock & Guttag, ICDM'16): the inner loop of the instance search.
#pragma once
#include <cstddef>
#include <cstdint>

namespace tenfold::extract {

// Scores every prefix cands[0:k] of a candidate list (k = 2..C) under the EXTRACT objective.
//   XT, BT   (n, F) row-major: binary features and blurred features, time-major
//   cands    C window starts, each with cands[i] + W <= n (checked by the caller)
//   log0     (F) log background rate of each blurred feature
// For each k: counts = sum of XT windows, theta = (sum of BT windows) / k,
//   filt = log(theta) - log0 where theta > 1/2, counts > 0 and that difference is > 0, else 0;
//   score = sum(counts * filt) - max(k * p0blur * sum(filt), k * sum(filt * XT[cands[k]] window))
// (the last term only when a (k+1)-th candidate exists). scores has C + 1 entries; entries not
// evaluated are -inf. Evaluation stops once k - 1 >= 2 * (best k so far) + 8.
// Returns the number of prefixes evaluated.
size_t prefix_scores(const float* XT, const float* BT, size_t n, size_t F, const int64_t* cands,
                     size_t C, size_t W, const float* log0, double p0blur, double* scores);

}  // namespace tenfold::extract

namespace tenfold::extract {

// Greedy non-overlapping maxima: repeatedly take the largest v[i] > floor whose index is at
// least `sep` away from every index taken so far (ties: smaller index first), until `limit`
// are taken. Writes them to out (largest first) and returns how many.
size_t nonoverlapping_maxima(const double* v, size_t n, size_t sep, double floor, size_t limit,
                             int64_t* out);

}  // namespace tenfold::extract

namespace tenfold::extract {

// Band-limited dynamic time warping between segments of two multivariate series.
//   ZA (nA, d), ZB (nB, d) row-major; segment s of A is rows [startsA[s], endsA[s]) (same for B;
//   each at least one row long, checked by the caller).
// For segments a (length la) and b (length lb): local cost c(i, j) = Euclidean distance between
// row i of a and row j of b (squares summed over k = 0..d-1 in order, then sqrt); cumulative
// D(i, j) = min(D(i-1, j) + c, D(i, j-1) + c, D(i-1, j-1) + 2c) (ties: that order), D(0, 0) = 2c;
// the result is D(la-1, lb-1) / (la + lb). Only cells within `radius` of the scaled diagonal are
// used: j in [ceil(i * s - radius), floor(i * s + radius)] with s = (lb-1)/(la-1) (0 if la = 1)
// and radius = max(band * max(la, lb), s / 2 + 1); a one-row segment a uses every j.
// out (SA, SB) row-major. If `symmetric` (A and B the same), only a < b is computed, mirrored,
// and the diagonal is 0.
void dtw_segments(const double* ZA, const int64_t* startsA, const int64_t* endsA, size_t SA,
                  const double* ZB, const int64_t* startsB, const int64_t* endsB, size_t SB, size_t d,
                  double band, bool symmetric, double* out);

}  // namespace tenfold::extract
