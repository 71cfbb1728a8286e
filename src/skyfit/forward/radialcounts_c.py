"""The C code of :class:`~skyfit.forward.radialcounts.RadialCounts` and its gradient.

Functions of the node (the numbers of energy bins, constants of the code) and the names
of inputs, outputs and the failure branch, returning the text compiled; the op's props
(cutout shape, spline step and intervals, runs) are arguments at run time (:func:`call`),
so the text is the same for every source. The loops run over four
energy planes at a time (GCC vector extensions: the compiler left these short loops
scalar; unaligned loads and stores) and pixel by pixel: the sub-pixels and the bins
arrive sorted by pixel, so the value's and the fused op's loops split into runs of whole
pixels (:func:`chunks`), one per OpenMP thread. Each run first computes its sub-pixels'
chords and spline intervals in one loop that the compiler vectorises across sub-pixels
(:func:`prepass`; done inside the loops over planes, this scalar part took about half
their time): the Galactic centre's value+gradient went from ~2.2 to ~1.9 ms.
"""

from __future__ import annotations

import contextlib
import functools
import zlib
from pathlib import Path

import numpy as np

D2R = np.pi / 180.0

SUPPORT = """
        #ifndef SKYFIT_V4D
        #define SKYFIT_V4D
        /* inlined into the loops' functions whatever the module's optimisation */
        #define SKYFIT_INLINE static inline __attribute__((always_inline))
        typedef double skyfit_v4d __attribute__((vector_size(32)));
        SKYFIT_INLINE skyfit_v4d skyfit_ld4(const double *p) {
            skyfit_v4d v; memcpy(&v, p, sizeof(v)); return v; }
        SKYFIT_INLINE void skyfit_st4(double *p, skyfit_v4d v) { memcpy(p, &v, sizeof(v)); }
        /* vector v of a row of planes: four, or the last tt (zeros beyond); tt is a
           constant of the code: the tail is element moves in registers (a memcpy of a
           variable size went through the stack, ~10x slower) */
        SKYFIT_INLINE skyfit_v4d skyfit_ldv(const double *p, long v, long nv, long tt) {
            if (v < nv) return skyfit_ld4(p);
            skyfit_v4d x = {0.0, 0.0, 0.0, 0.0};
            for (int i = 0; i < 4; ++i) if (i < tt) x[i] = p[i];
            return x; }
        SKYFIT_INLINE void skyfit_stv(double *p, skyfit_v4d x, long v, long nv, long tt) {
            if (v < nv) { skyfit_st4(p, x); return; }
            for (int i = 0; i < 4; ++i) if (i < tt) p[i] = x[i]; }
        SKYFIT_INLINE double skyfit_hsum(skyfit_v4d x) { return x[0] + x[1] + x[2] + x[3]; }
        /* GNU OpenMP's threads do not survive fork(): a child process (multiprocessing,
           PyMC's chains) whose parent ran a parallel region waits for them forever.
           The child runs its loops on one thread (SKYFIT_AT_FORK: the module's init) */
        static int skyfit_forked = 0;
        #if defined(_OPENMP) && !defined(_WIN32)
        #include <pthread.h>
        static void skyfit_in_child(void) { skyfit_forked = 1; }
        #define SKYFIT_AT_FORK pthread_atfork(NULL, NULL, skyfit_in_child);
        #else
        #define SKYFIT_AT_FORK
        #endif
        /* the loops' functions: optimised (GCC; clang has no per-function level) */
        #if defined(__GNUC__) && !defined(__clang__)
        #define SKYFIT_OPTIMISE __attribute__((optimize("O3"), noinline))
        /* tuned for no CPU in particular, with 256-bit vectors where GCC vectorises
           (vector_target; the vector width as a target option since GCC 8) */
        #if __GNUC__ >= 8
        #define SKYFIT_TUNE ",prefer-vector-width=256,tune=generic"
        #else
        #define SKYFIT_TUNE ",tune=generic"
        #endif
        #else
        #define SKYFIT_OPTIMISE __attribute__((noinline))
        #define SKYFIT_TUNE ""
        #endif
        #endif
        """


@functools.cache
def vector_target() -> str:
    """The instruction set the loops' functions are compiled for (a GCC/clang ``target``
    attribute), whatever the flags of the module around them: ``"avx2,fma"`` on x86-64
    CPUs that have both (numpy's record of this CPU), with AVX-512 (F, VL, DQ) where
    the CPU has it, else ``""`` (the compiler's default). PyTensor compiles one module
    per operation for this CPU, but a whole graph in one module
    (:class:`~skyfit.forward.linker.WholeGraphCLinker`) for any x86-64 at ``-O1``:
    there the loops ran at a third of their speed with no target, and AVX-512's 32
    vector registers (the loops' four-plane vectors stay the same) keep most sums per
    plane out of the stack and let GCC vectorise the chords' prepass: one
    Galactic-centre point source's fused op 95 -> 65 us there (in a module for this
    CPU, which has them anyway: 71 us). With GCC the loops are also tuned for no CPU
    in particular, with 256-bit vectors where it vectorises (``SKYFIT_TUNE``): in a
    module for this CPU (a Zen 5, which GCC 12 tunes as a Zen 3) the same op took
    59-60 us against 65-70 us with the module's tuning, and 256-bit vectors keep older
    Intel CPUs out of their AVX-512 clock reduction."""
    try:
        from numpy._core._multiarray_umath import __cpu_features__ as features
    except ImportError:  # numpy 1
        try:
            from numpy.core._multiarray_umath import __cpu_features__ as features
        except ImportError:
            return ""
    if not (features.get("AVX2") and features.get("FMA3")):
        return ""
    if all(features.get(f) for f in ("AVX512F", "AVX512VL", "AVX512DQ")):
        return "avx2,fma,avx512f,avx512vl,avx512dq"
    return "avx2,fma"


def target_attribute() -> str:
    """The loops' functions' ``target`` attribute (:func:`vector_target`, with
    ``SKYFIT_TUNE``), or nothing where there is no target."""
    target = vector_target()
    return f'__attribute__((target("{target}" SKYFIT_TUNE)))' if target else ""


def energy_bins(node) -> tuple[int, int]:
    """``(T, E)``: the numbers of true and reconstructed energy bins, from the static
    shapes of the node's spline table and dispersion (constants of the code)."""
    return node.inputs[6].type.shape[2], node.inputs[8].type.shape[1]


def _function_name(op, node) -> str:
    n_t, n_e = energy_bins(node)
    return f"skyfit_{type(op).__name__}_{n_t}_{n_e}"


def function(op, node, name) -> str:
    """The op's C code (``op.c_body``) as a function of its own, compiled at ``-O3`` for
    :func:`vector_target`; inputs and outputs as PyTensor's arrays, the work array by
    reference, the cutout's pixels, the spline's step and intervals and the number of
    runs (the op's params: :func:`call`) as arguments; returns nonzero with a Python
    error set. Its text depends only on the op's class and numbers of energy bins (not
    on ``name``): a module of many such nodes (one per source) holds it once, and
    PyTensor compiles it once for all the sources it serves."""
    n_in, n_out = len(node.inputs), len(node.outputs)
    body = op.c_body(node, "apart", [f"in_{i}" for i in range(n_in)],
                     [f"(*out_{i})" for i in range(n_out)], {"fail": "return 1;"})
    params = ", ".join([*(f"PyArrayObject *in_{i}" for i in range(n_in)),
                        *(f"PyArrayObject **out_{i}" for i in range(n_out)),
                        "double *&work_apart", "size_t &cap_apart",
                        "const npy_intp NPIX", "const double H", "const npy_intp NODES",
                        "const int CHUNKS"])
    return f"""
    SKYFIT_OPTIMISE {target_attribute()}
    static int {_function_name(op, node)}({params}) {{
    {body}
    return 0;
    }}"""


def call(op, node, name, inputs, outputs, sub) -> str:
    """The op's C code in PyTensor's function: a call of :func:`function`'s, with the
    op's geometry from its params (``ny, nx, h, nodes, chunks``) at run time, so that
    the code is the same for every cutout and spline."""
    p = sub["params"]
    args = ", ".join([*inputs, *(f"&{o}" for o in outputs), f"work_{name}", f"cap_{name}",
                      f"{p}->ny * {p}->nx", f"{p}->h", f"{p}->nodes", f"(int){p}->chunks"])
    return f"if ({_function_name(op, node)}({args})) {{ {sub['fail']} }}"


def openmp() -> bool:
    """Whether the C compiler builds OpenMP code: PyTensor's check (a test compilation,
    ~0.3 s), once per compiler, remembered in PyTensor's compile directory."""
    from pytensor import config
    from pytensor.link.c.op import OpenMPOp

    if OpenMPOp.gxx_support_openmp is None:
        key = zlib.crc32(f"{config.cxx} {config.gcc__cxxflags}".encode())
        mark = Path(config.compiledir) / f"skyfit-openmp-{key:08x}"
        try:
            OpenMPOp.gxx_support_openmp = mark.read_text() == "1"
        except OSError:
            OpenMPOp.gxx_support_openmp = bool(OpenMPOp.test_gxx_support())
            with contextlib.suppress(OSError):
                mark.write_text("1" if OpenMPOp.gxx_support_openmp else "0")
    return OpenMPOp.gxx_support_openmp


class OpenMPCode:
    """The C interface that skyfit's ops with OpenMP loops share (a mixin before
    ``COp``): ``-fopenmp`` where the compiler has it (:func:`openmp`), the headers, and
    the module's init code that marks a forked child (``SKYFIT_AT_FORK``; their loops
    then run on one thread, see :data:`SUPPORT`)."""

    def c_compile_args(self, **kwargs):
        return ["-fopenmp"] if openmp() else []

    def c_headers(self, **kwargs):
        return ["<math.h>", "<string.h>", "<stdlib.h>", *(["<omp.h>"] if openmp() else [])]

    def c_init_code(self, **kwargs):
        return ["SKYFIT_AT_FORK"]


def threads(entries: str, per_thread: int) -> str:
    """C code declaring ``int nth``, the OpenMP threads for a loop over ``entries`` (a C
    expression): one per ``per_thread`` entries at most (a parallel region costs ~1-2 us),
    at most 16 and ``OMP_NUM_THREADS``, one without OpenMP or in a forked child."""
    return f"""int nth = 1;
        #ifdef _OPENMP
        nth = omp_get_max_threads();
        {{
            const npy_intp most_ = 1 + ({entries}) / {per_thread};
            if (nth > most_) nth = (int)most_;
        }}
        if (nth > 16) nth = 16;
        if (skyfit_forked) nth = 1;
        #endif"""


def setup(node, inputs, sub, name):
    """Contiguous views of the inputs, the source vector, the work arrays."""
    lon, lat, flux, xyz, w, pix, table, expo, disp, mrow, bins = inputs[:11]
    fail = sub["fail"]
    names = ["F", "X", "W", "PIX", "C", "EX", "D", "M", "BINS"]
    arrays = [flux, xyz, w, pix, table, expo, disp, mrow, bins]
    ctypes = ["double"] * 3 + ["npy_int64"] + ["double"] * 4 + ["npy_int64"]
    if len(inputs) > 11:  # the gradient's g_at
        names, arrays, ctypes = [*names, "GA"], [*arrays, inputs[12]], [*ctypes, "double"]
    decl = "\n".join(f"PyArrayObject *{n}_c = PyArray_GETCONTIGUOUS({a});"
                     for n, a in zip(names, arrays, strict=True))
    ptrs = "\n".join(f"const {t} *{n} = (const {t}*)PyArray_DATA({n}_c);"
                     for n, t in zip(names, ctypes, strict=True))
    release = " ".join(f"Py_XDECREF({n}_c);" for n in names)
    n_t, n_e = energy_bins(node)
    return f"""
    {decl}
    {ptrs}
    /* the numbers of energy bins are constants of the code: short loops unrolled,
       vectors of four planes; NT4: vectors per true-energy row */
    constexpr npy_intp T = {n_t}, E = {n_e}, NT4 = (T + 3) / 4;
    /* NV full vectors of four planes per row, then TT planes one by one */
    constexpr npy_intp NV = T / 4, TT = T - 4 * NV, TT1 = TT > 0 ? TT : 1;
    const npy_intp P = PyArray_DIMS({w})[0];
    const npy_intp K = PyArray_DIMS({bins})[0];
    /* exposure and the fitted bins' weights: one (T,) row for all pixels, or one
       per pixel */
    const npy_intp ES = PyArray_DIMS({expo})[0] == 1 ? 0 : T;
    const npy_intp MS = PyArray_DIMS({mrow})[0] == 1 ? 0 : T;
    const double D2R = {D2R!r}, INV_H = 1.0 / H, INV_D2R = 1.0 / D2R;
    const double lon_r = ((double*)PyArray_DATA({lon}))[0] * D2R;
    const double lat_r = ((double*)PyArray_DATA({lat}))[0] * D2R;
    const double s0 = cos(lat_r) * cos(lon_r), s1 = cos(lat_r) * sin(lon_r),
                 s2 = sin(lat_r);
    /* work: padded dispersion columns, T sums, each bin's pixel and energy */
    const size_t need = (size_t)(4 * E * NT4 + T + 2 * K + 5 * P);
    if (cap_{name} < need) {{
        free(work_{name});
        cap_{name} = need;
        work_{name} = (double*)malloc(cap_{name} * sizeof(double));
        if (work_{name} == NULL) cap_{name} = 0;
    }}
    double *acc = work_{name};
    int bad = acc == NULL || PyArray_SIZE({xyz}) != 3 * P || PyArray_DIMS({pix})[0] != P
        || PyArray_SIZE({flux}) != T || PyArray_DIMS({expo})[1] != T
        || (ES != 0 && PyArray_DIMS({expo})[0] != NPIX)
        || PyArray_DIMS({table})[2] != T || PyArray_DIMS({disp})[0] != T
        || PyArray_DIMS({disp})[1] != E || PyArray_DIMS({mrow})[1] != T
        || (MS != 0 && PyArray_DIMS({mrow})[0] != NPIX);
    /* each bin's pixel BP and energy BE (NPIX is known at run time only: a division
       in doubles, exact after one correction, instead of an integer division) */
    npy_intp *__restrict__ BP = (npy_intp*)(acc + 4 * E * NT4 + T), *__restrict__ BE = BP + K;
    const double INV_NPIX = 1.0 / (double)NPIX;
    for (npy_intp k = 0, last = 0; k < K && !bad; ++k) {{
        const npy_intp b = BINS[k];
        npy_intp e = (npy_intp)((double)b * INV_NPIX), pixel = b - e * NPIX;
        if (pixel < 0) {{ --e; pixel += NPIX; }} else if (pixel >= NPIX) {{ ++e; pixel -= NPIX; }}
        bad = b < 0 || b >= E * NPIX || pixel < last;
        BP[k] = last = pixel;
        BE[k] = e;
    }}
    if (bad) {{
        {release}
        PyErr_SetString(PyExc_ValueError, "RadialCounts: inconsistent input shapes, "
                        "or bins outside the cutout or not sorted by pixel");
        {fail}
    }}
    double *__restrict__ DC = acc;  /* D columns padded: DC[e][n], NT4 vectors */
    double *__restrict__ SUMS = DC + 4 * E * NT4;  /* T sums, set by each op */
    /* each node's spline interval and offset, and up to three more numbers (prepass) */
    npy_intp *__restrict__ NI_ = BE + K;
    double *__restrict__ NT_ = (double*)(NI_ + P), *__restrict__ NX0_ = NT_ + P,
           *__restrict__ NX1_ = NX0_ + P, *__restrict__ NX2_ = NX1_ + P;
    for (npy_intp e = 0; e < E; ++e)
        for (npy_intp n = 0; n < 4 * NT4; ++n)
            DC[e * 4 * NT4 + n] = n < T ? D[n * E + e] : 0.0;
    """, release


def prepass(*extra: str) -> str:
    """The nodes ``P0 .. P1``'s chords, vectorised across nodes (the loops over energy
    planes then read them): each node's spline interval ``NI_[p]`` (``NODES``, the
    table's row of zeros, beyond the profile's reach), its offset ``NT_[p]`` there and
    ``NX{i}_[p]``, the C expressions ``extra[i]`` of ``dx, dy, dz`` (the node's
    offset from the source) and ``f`` (its weight over its chord in radians, 0 where
    that vanishes)."""
    weight = ("const double f = rr > 0.0 ? W[p] / (rr * D2R * D2R) : 0.0;"
              if extra else "")  # the value's loops need no slopes
    stores = "\n".join(f"NX{i}_[p] = {x};" for i, x in enumerate(extra))
    return f"""
    #pragma omp simd
    for (npy_intp p = P0; p < P1; ++p) {{
        const double dx = s0 - X[p], dy = s1 - X[P + p], dz = s2 - X[2 * P + p];
        const double rr = sqrt(dx * dx + dy * dy + dz * dz) * INV_D2R;
        double q = rr * INV_H;
        q = q > 0.0 ? q : 0.0;  /* NaN too: its offset, and the values, stay NaN */
        q = q < (double)NODES ? q : (double)NODES;
        const npy_intp idx = (npy_intp)q;
        const double t = rr - idx * H;
        {weight}
        NI_[p] = idx;
        NT_[p] = t > H ? H : t;  /* NaN stays NaN */
        {stores}
    }}"""


def node_coefficients() -> str:
    """Node ``p``'s spline interval's coefficients ``c0..c3`` and offset ``t`` there
    (:func:`prepass`)."""
    return """
    const double t = NT_[p];
    const double *__restrict__ c0 = C + NI_[p] * 4 * T, *__restrict__ c1 = c0 + T,
                 *__restrict__ c2 = c1 + T, *__restrict__ c3 = c2 + T;
"""


def chunks(part, release, fail):
    """Runs of whole pixels (with their bins) done apart, one per OpenMP thread where
    OpenMP is on (at least 4096 sub-pixels each; ``CHUNKS`` > 0 fixes their number),
    in turn otherwise and in a process forked from one that ran them (``RUN``):
    ``nch`` of them, ``part`` doubles of partial sums each in ``parts``, ``start(c)``
    (first sub-pixel of run ``c``) and ``first_bin(p)`` (first bin at or after
    sub-pixel ``p``'s pixel)."""
    return f"""
    int nch = CHUNKS;
    if (nch <= 0) {{
        nch = 1;
        #ifdef _OPENMP
        nch = omp_get_max_threads();
        if (nch > 1 + P / 4096) nch = 1 + P / 4096;
        #endif
    }}
    double *parts = (double*)malloc(nch * ({part}) * sizeof(double));  /* ld4/st4 */
    if (parts == NULL) {{ {release} PyErr_NoMemory(); {fail} }}
    auto start = [&](int c) -> npy_intp {{
        npy_intp p = (npy_intp)((double)P * c / nch);
        while (p > 0 && p < P && PIX[p] == PIX[p - 1]) ++p;
        return p;
    }};
    auto first_bin = [&](npy_intp p) -> npy_intp {{
        if (p >= P) return K;
        npy_intp lo = 0, hi = K;
        while (lo < hi) {{
            const npy_intp mid = (lo + hi) / 2;
            if (BP[mid] < PIX[p]) lo = mid + 1; else hi = mid;
        }}
        return lo;
    }};"""


RUN = """
    #pragma omp parallel for schedule(static, 1) num_threads(skyfit_forked ? 1 : nch)
    for (int c = 0; c < nch; ++c) {
    const npy_intp P0 = start(c), P1 = start(c + 1);
    const npy_intp K1 = c == nch - 1 ? K : first_bin(P1);
    npy_intp k = c == 0 ? 0 : first_bin(P0);
"""


def scalar_out(o, release, fail):
    """Allocate the 0-d output ``o`` if needed."""
    return f"""
    if ({o} == NULL) {{
        {o} = (PyArrayObject*)PyArray_EMPTY(0, NULL, NPY_FLOAT64, 0);
        if ({o} == NULL) {{ {release} {fail} }}
    }}"""


def vector_out(o, size, release, fail):
    """Allocate the 1-d output ``o`` of ``size`` elements if needed."""
    return f"""
    if ({o} == NULL || PyArray_SIZE({o}) != {size}) {{
        Py_XDECREF({o});
        npy_intp size_ = {size};
        {o} = (PyArrayObject*)PyArray_EMPTY(1, &size_, NPY_FLOAT64, 0);
        if ({o} == NULL) {{ {release} {fail} }}
    }}"""


def value_code(node, name, inputs, outputs, sub):
    """The C code of :class:`~skyfit.forward.radialcounts.RadialCounts`."""
    o_total, o_at = outputs
    head, release = setup(node, inputs, sub, name)
    fail = sub["fail"]
    return f"""
    {{
    {head}
    {scalar_out(o_total, release, fail)}
    {vector_out(o_at, "K", release, fail)}
    double *O = (double*)PyArray_DATA({o_at});
    {chunks("T", release, fail)}
    {RUN}
    {prepass()}
    /* pixel by pixel (the sub-pixels and the bins sorted by pixel): x in registers,
       its sum over the fitted bins, the dispersion at the pixel's bins */
    skyfit_v4d sums[NV > 0 ? NV : 1];
    double tail[TT1];
    for (npy_intp v = 0; v < NV; ++v) sums[v] = skyfit_v4d{{0.0, 0.0, 0.0, 0.0}};
    for (npy_intp i = 0; i < TT; ++i) tail[i] = 0.0;
    for (npy_intp p = P0; p < P1;) {{
        const npy_intp j = PIX[p];
        for (; k < K1 && BP[k] < j; ++k) O[k] = 0.0;  /* no sub-pixel there */
        skyfit_v4d av[NV > 0 ? NV : 1];
        double at[TT1];
        for (npy_intp v = 0; v < NV; ++v) av[v] = skyfit_v4d{{0.0, 0.0, 0.0, 0.0}};
        for (npy_intp i = 0; i < TT; ++i) at[i] = 0.0;
        for (; p < P1 && PIX[p] == j; ++p) {{
            {node_coefficients()}
            const double wp = W[p];
            for (npy_intp v = 0; v < NV; ++v) {{
                const npy_intp n = 4 * v;
                skyfit_v4d y = skyfit_ld4(c3 + n);
                y = skyfit_ld4(c2 + n) + t * y;
                y = skyfit_ld4(c1 + n) + t * y;
                y = skyfit_ld4(c0 + n) + t * y;
                av[v] += wp * y;
            }}
            for (npy_intp i = 0; i < TT; ++i) {{
                const npy_intp n = 4 * NV + i;
                at[i] += wp * (c0[n] + t * (c1[n] + t * (c2[n] + t * c3[n])));
            }}
        }}
        /* times exposure and flux: x */
        const double *__restrict__ ex = EX + j * ES, *__restrict__ mr = M + j * MS;
        for (npy_intp v = 0; v < NV; ++v) {{
            av[v] *= skyfit_ld4(ex + 4 * v) * skyfit_ld4(F + 4 * v);
            sums[v] += av[v] * skyfit_ld4(mr + 4 * v);
        }}
        for (npy_intp i = 0; i < TT; ++i) {{
            const npy_intp n = 4 * NV + i;
            at[i] *= ex[n] * F[n];
            tail[i] += at[i] * mr[n];
        }}
        for (; k < K1 && BP[k] == j; ++k) {{
            const double *__restrict__ dc = DC + BE[k] * 4 * NT4;
            skyfit_v4d y = skyfit_v4d{{0.0, 0.0, 0.0, 0.0}};
            for (npy_intp v = 0; v < NV; ++v) y += av[v] * skyfit_ld4(dc + 4 * v);
            double o = y[0] + y[1] + y[2] + y[3];
            for (npy_intp i = 0; i < TT; ++i) o += at[i] * dc[4 * NV + i];
            O[k] = o;
        }}
    }}
    for (; k < K1; ++k) O[k] = 0.0;
    double *mine = parts + c * T;
    for (npy_intp v = 0; v < NV; ++v) skyfit_st4(mine + 4 * v, sums[v]);
    for (npy_intp i = 0; i < TT; ++i) mine[4 * NV + i] = tail[i];
    }}  /* runs */
    for (npy_intp n = 0; n < T; ++n) SUMS[n] = 0.0;
    for (int c = 0; c < nch; ++c)  /* in a fixed order */
        for (npy_intp n = 0; n < T; ++n) SUMS[n] += parts[c * T + n];
    free(parts);
    double total = 0.0;
    for (npy_intp n = 0; n < T; ++n) total += SUMS[n];
    ((double*)PyArray_DATA({o_total}))[0] = total;
    {release}
    }}
    """


def grad_code(node, name, inputs, outputs, sub):
    """The C code of :class:`~skyfit.forward.radialcounts.RadialCountsGrad`."""
    o_lon, o_lat, o_flux = outputs
    g_total = inputs[11]
    head, release = setup(node, inputs, sub, name)
    fail = sub["fail"]
    return f"""
    {{
    {head}
    if (PyArray_SIZE(GA_c) != K) {{
        {release}
        PyErr_SetString(PyExc_ValueError, "RadialCountsGrad: g_at must match the bins");
        {fail}
    }}
    const double gt = ((double*)PyArray_DATA({g_total}))[0];
    {scalar_out(o_lon, release, fail)}
    {scalar_out(o_lat, release, fail)}
    {vector_out(o_flux, "T", release, fail)}
    double *gf = (double*)PyArray_DATA({o_flux});
    /* d chord / d s times the weight and the slopes, summed: lanes of four
       planes (gx, gy, gz) and the tail planes (sx, sy, sz) */
    const skyfit_v4d zero = skyfit_v4d{{0.0, 0.0, 0.0, 0.0}};
    skyfit_v4d gx = zero, gy = zero, gz = zero, gfv[NV > 0 ? NV : 1];
    double sx = 0.0, sy = 0.0, sz = 0.0, gft[TT1];
    for (npy_intp v = 0; v < NV; ++v) gfv[v] = zero;
    for (npy_intp i = 0; i < TT; ++i) gft[i] = 0.0;
    const npy_intp P0 = 0, P1 = P;
    {prepass("f * dx", "f * dy", "f * dz")}
    npy_intp k = 0;
    for (npy_intp p = 0; p < P;) {{  /* pixel by pixel, as in RadialCounts */
        const npy_intp j = PIX[p];
        for (; k < K && BP[k] < j; ++k) {{}}  /* no sub-pixel there */
        /* back through the fitted bins, the dispersion and the exposure: bv, b */
        const double *__restrict__ ex = EX + j * ES, *__restrict__ mr = M + j * MS;
        skyfit_v4d bv[NV > 0 ? NV : 1], bf[NV > 0 ? NV : 1], av[NV > 0 ? NV : 1];
        double b[TT1], at[TT1];
        for (npy_intp v = 0; v < NV; ++v) bv[v] = gt * skyfit_ld4(mr + 4 * v);
        for (npy_intp i = 0; i < TT; ++i) b[i] = gt * mr[4 * NV + i];
        for (; k < K && BP[k] == j; ++k) {{
            const double *__restrict__ dc = DC + BE[k] * 4 * NT4;
            for (npy_intp v = 0; v < NV; ++v) bv[v] += GA[k] * skyfit_ld4(dc + 4 * v);
            for (npy_intp i = 0; i < TT; ++i) b[i] += GA[k] * dc[4 * NV + i];
        }}
        for (npy_intp v = 0; v < NV; ++v) {{
            bv[v] *= skyfit_ld4(ex + 4 * v);
            bf[v] = bv[v] * skyfit_ld4(F + 4 * v);
            av[v] = zero;
        }}
        for (npy_intp i = 0; i < TT; ++i) {{
            b[i] *= ex[4 * NV + i];
            at[i] = 0.0;
        }}
        for (; p < P && PIX[p] == j; ++p) {{
            {node_coefficients()}
            const double wp = W[p];
            const double fx = NX0_[p], fy = NX1_[p], fz = NX2_[p];
            skyfit_v4d slope = zero;
            for (npy_intp v = 0; v < NV; ++v) {{
                const npy_intp n = 4 * v;
                const skyfit_v4d k0 = skyfit_ld4(c0 + n), k1 = skyfit_ld4(c1 + n),
                                 k2 = skyfit_ld4(c2 + n), k3 = skyfit_ld4(c3 + n);
                av[v] += wp * (k0 + t * (k1 + t * (k2 + t * k3)));
                slope += bf[v] * (k1 + t * (2.0 * k2 + (3.0 * t) * k3));
            }}
            double tail = 0.0;
            for (npy_intp i = 0; i < TT; ++i) {{
                const npy_intp n = 4 * NV + i;
                at[i] += wp * (c0[n] + t * (c1[n] + t * (c2[n] + t * c3[n])));
                tail += b[i] * F[n] * (c1[n] + t * (2.0 * c2[n] + 3.0 * t * c3[n]));
            }}
            gx += fx * slope; gy += fy * slope; gz += fz * slope;
            sx += fx * tail; sy += fy * tail; sz += fz * tail;
        }}
        for (npy_intp v = 0; v < NV; ++v) gfv[v] += bv[v] * av[v];
        for (npy_intp i = 0; i < TT; ++i) gft[i] += b[i] * at[i];
    }}
    for (npy_intp v = 0; v < NV; ++v) skyfit_st4(gf + 4 * v, gfv[v]);
    for (npy_intp i = 0; i < TT; ++i) gf[4 * NV + i] = gft[i];
    const double g0 = gx[0] + gx[1] + gx[2] + gx[3] + sx,
                 g1 = gy[0] + gy[1] + gy[2] + gy[3] + sy,
                 g2 = gz[0] + gz[1] + gz[2] + gz[3] + sz;
    ((double*)PyArray_DATA({o_lon}))[0] = (-g0 * s1 + g1 * s0) * D2R;
    ((double*)PyArray_DATA({o_lat}))[0] =
        (-g0 * sin(lat_r) * cos(lon_r) - g1 * sin(lat_r) * sin(lon_r)
         + g2 * cos(lat_r)) * D2R;
    {release}
    }}
    """

