# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
# distutils: extra_compile_args = -O3 -march=native -fopenmp
# distutils: extra_link_args = -fopenmp
"""The reference model (synthetic.REFERENCE_MODEL_YAML) hand-written in Cython: one fused row
loop over the Arrow buffers, OpenMP over rows. Compiled by benchmarks/peers.py (pyximport) into
a cache directory; this is the "what a skilled engineer would write by hand" bound."""
from cython.parallel import prange
from libc.math cimport exp
from libc.stdint cimport int16_t, int32_t, int64_t, uint8_t

cdef inline int bit(const uint8_t[::1] bm, Py_ssize_t j) noexcept nogil:
    return (bm[j >> 3] >> (j & 7)) & 1

cdef inline int ok(const uint8_t[::1] bm, Py_ssize_t off, Py_ssize_t i) noexcept nogil:
    # no validity bitmap (size 0): every row valid
    if bm.shape[0] == 0:
        return 1
    return bit(bm, off + i)

def score(Py_ssize_t n,
          const int32_t[::1] ind, const uint8_t[::1] ind_v, Py_ssize_t ind_o, int32_t ind_null,
          const double[::1] ind_pts,
          const int32_t[::1] size, const uint8_t[::1] size_v, Py_ssize_t size_o,
          const int32_t[::1] title, const uint8_t[::1] title_v, Py_ssize_t title_o,
          int32_t title_null, const double[::1] title_pts,
          const double[::1] rev, const uint8_t[::1] rev_v, Py_ssize_t rev_o,
          const int32_t[::1] country, const uint8_t[::1] country_v, Py_ssize_t country_o,
          int32_t country_null, const double[::1] country_pts,
          const uint8_t[::1] free_d, const uint8_t[::1] free_v, Py_ssize_t free_o,
          const int16_t[::1] pv, const uint8_t[::1] pv_v, Py_ssize_t pv_o,
          const int32_t[::1] wv, const uint8_t[::1] wv_v, Py_ssize_t wv_o,
          const int32_t[::1] eo, const uint8_t[::1] eo_v, Py_ssize_t eo_o,
          const uint8_t[::1] web_d, const uint8_t[::1] web_v, Py_ssize_t web_o,
          const int64_t[::1] last, const uint8_t[::1] last_v, Py_ssize_t last_o,
          const uint8_t[::1] uns_d, const uint8_t[::1] uns_v, Py_ssize_t uns_o,
          int64_t as_of_us, double decay_k,
          double[::1] fit_out, double[::1] eng_out, double[::1] total_out, int32_t[::1] tier_out):
    cdef Py_ssize_t i
    cdef double fit, eng, r, days, t
    cdef int32_t s, w, p
    with nogil:
        for i in prange(n, schedule="static"):
            fit = ind_pts[ind[ind_o + i] if ok(ind_v, ind_o, i) else ind_null]
            if ok(size_v, size_o, i):
                s = size[size_o + i]
                if s >= 50 and s <= 5000:
                    fit = fit + 15.0
                elif s > 5000:
                    fit = fit + 10.0
            fit = fit + title_pts[title[title_o + i] if ok(title_v, title_o, i) else title_null]
            if ok(rev_v, rev_o, i):
                r = rev[rev_o + i]
                if r > 0:
                    fit = fit + min(r / 2000000.0, 15.0)
            fit = fit + country_pts[country[country_o + i] if ok(country_v, country_o, i)
                                    else country_null]
            if ok(free_v, free_o, i) and bit(free_d, free_o + i):
                fit = fit - 15.0
            fit = min(max(fit, 0.0), 100.0)

            eng = 0.0
            if ok(pv_v, pv_o, i):
                eng = eng + min(5.0 * pv[pv_o + i], 25.0)
            if ok(wv_v, wv_o, i):
                w = wv[wv_o + i]
                if w >= 3:
                    eng = eng + min(2.0 * w, 20.0)
            if ok(eo_v, eo_o, i):
                eng = eng + min(1.5 * eo[eo_o + i], 15.0)
            if ok(web_v, web_o, i) and bit(web_d, web_o + i):
                eng = eng + 15.0
            if ok(last_v, last_o, i):
                days = <double>(as_of_us - last[last_o + i]) / 86400000000.0
                eng = eng + 30.0 * exp(days * decay_k)
                if days > 180.0:
                    eng = eng - 10.0
            if ok(pv_v, pv_o, i) and ok(wv_v, wv_o, i) and pv[pv_o + i] == 0 and wv[wv_o + i] < 2:
                eng = eng - 10.0
            if ok(uns_v, uns_o, i) and bit(uns_d, uns_o + i):
                eng = eng - 40.0
            eng = min(max(eng, 0.0), 100.0)
            fit_out[i] = fit
            eng_out[i] = eng
            t = 0.6 * fit + 0.4 * eng
            total_out[i] = t
            tier_out[i] = 0 if t >= 40.0 else (1 if t >= 25.0 else 2)
