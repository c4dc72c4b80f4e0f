//! The Shapiro-Wilk W statistic, after Royston's algorithm AS R94 (Applied Statistics 44(4),
//! 1995; the approximation of Royston 1992), as in R's `swilk.c` and SciPy's `swilk.f`.
//!
//! W is the squared correlation between the sorted sample and the coefficients `a` of the
//! normal order statistics: close to 1 for a normal sample, lower the less normal it looks.
//! The coefficients use Blom's scores `m_i = Φ⁻¹((i - 3/8) / (n + 1/4))` (Φ⁻¹ by Wichura's
//! AS 241, `PPND16`) and Royston's polynomial corrections of the two outermost coefficients.
//! Only W is computed (PRADA compares W with a threshold); no p-value.
//!
//! The coefficients depend only on the sample size `n` and cost about as much as the rest of
//! the test (`ppnd16` for each of the `n / 2` scores), while PRADA tests a sample of nearly the
//! same size on every query. So they are computed once per `n` and kept for the life of the
//! process, for `n` up to 1000 (twice PRADA's default window of 500): at most
//! about 2 MB when every size up to it has been used, about 0.5 MB for the default window.
//! Larger samples (up to [`MAX_N`]) get theirs computed on each call, as before. The cached
//! values come from the same code, so W is the same, bit for bit.

use std::borrow::Cow;
use std::sync::OnceLock;

/// Smallest sample the test accepts.
pub const MIN_N: usize = 3;
/// Largest sample AS R94 is validated for.
pub const MAX_N: usize = 5000;
/// Largest sample size whose coefficients are kept once computed (see the module docs).
const CACHED_MAX_N: usize = 1000;

/// The coefficients of each size `MIN_N..=CACHED_MAX_N`, at index `n - MIN_N`, set on first
/// use. Read-mostly: once set, a read is an atomic load, no lock.
static CACHE: [OnceLock<Box<[f64]>>; CACHED_MAX_N - MIN_N + 1] =
    [const { OnceLock::new() }; CACHED_MAX_N - MIN_N + 1];

/// Royston's correction polynomials for the largest and second largest coefficient.
const C1: [f64; 6] = [0.0, 0.221_157, -0.147_981, -2.071_19, 4.434_685, -2.706_056];
const C2: [f64; 6] = [0.0, 0.042_981, -0.293_762, -1.752_461, 5.682_633, -3.582_633];

/// `cc[0] + cc[1] x + ... + cc[5] x^5`.
fn poly(cc: &[f64; 6], x: f64) -> f64 {
    cc.iter().rev().fold(0.0, |acc, c| acc * x + c)
}

/// The Shapiro-Wilk W of `sample` (any order; it is sorted here).
///
/// `None` when the sample has fewer than [`MIN_N`] or more than [`MAX_N`] values, a value that
/// is not finite, or no spread (all values equal: W is undefined).
///
/// ```
/// use mlguard_modelsec::shapiro::shapiro_wilk_w;
/// // scipy.stats.shapiro([148, 154, 158, 160, 161, 162, 166, 170, 182, 195]).statistic
/// let w = shapiro_wilk_w(&[148., 154., 158., 160., 161., 162., 166., 170., 182., 195.]).unwrap();
/// assert!((w - 0.908_049_114).abs() < 1e-6);
/// assert!(shapiro_wilk_w(&[1.0, 1.0, 1.0]).is_none());
/// ```
#[must_use]
pub fn shapiro_wilk_w(sample: &[f64]) -> Option<f64> {
    let n = sample.len();
    if !(MIN_N..=MAX_N).contains(&n) || sample.iter().any(|v| !v.is_finite()) {
        return None;
    }
    let mut x = sample.to_vec();
    x.sort_by(f64::total_cmp);
    shapiro_wilk_w_sorted(&x)
}

/// [`shapiro_wilk_w`] of a sample already sorted ascending by [`f64::total_cmp`] (not copied,
/// not sorted again): the same W, bit for bit, as `shapiro_wilk_w` of the same values in any
/// order. PRADA keeps its distances sorted as they arrive and tests a slice of them.
pub(crate) fn shapiro_wilk_w_sorted(x: &[f64]) -> Option<f64> {
    w_sorted_with(x, cached_coefficients)
}

/// [`shapiro_wilk_w_sorted`] with the coefficients of size `n` from `coefficients_of(n)`
/// (called only once `n` is known to be in `MIN_N..=MAX_N`).
fn w_sorted_with<A: AsRef<[f64]>>(x: &[f64], coefficients_of: impl FnOnce(usize) -> A) -> Option<f64> {
    let n = x.len();
    // Sorted by `total_cmp`: a NaN or an infinity, if any, is at one of the two ends.
    if !(MIN_N..=MAX_N).contains(&n) || !x[0].is_finite() || !x[n - 1].is_finite() {
        return None;
    }
    debug_assert!(x.windows(2).all(|w| w[0].total_cmp(&w[1]).is_le()));
    let range = x[n - 1] - x[0];
    if range.is_nan() || range <= 0.0 {
        return None;
    }
    let a = coefficients_of(n);
    let a = a.as_ref();
    // The full, antisymmetric coefficient vector against the ascending sample:
    // position i (0-based) gets -a[i] in the lower half, +a[n-1-i] in the upper half.
    let half = n / 2;
    let coef = |i: usize| -> f64 {
        if i < half {
            -a[i]
        } else if n - 1 - i < half {
            a[n - 1 - i]
        } else {
            0.0
        }
    };
    // Scale by the range (as AS R94 does) to keep the sums well conditioned.
    #[allow(clippy::cast_precision_loss)]
    let nf = n as f64;
    let mean_x = x.iter().map(|v| v / range).sum::<f64>() / nf;
    let mean_a = (0..n).map(coef).sum::<f64>() / nf;
    let (mut saa, mut sxx, mut sax) = (0.0, 0.0, 0.0);
    for (i, v) in x.iter().enumerate() {
        let da = coef(i) - mean_a;
        let dx = v / range - mean_x;
        saa += da * da;
        sxx += dx * dx;
        sax += da * dx;
    }
    if saa <= 0.0 || sxx <= 0.0 {
        return None;
    }
    // W = 1 - w1 with w1 computed as AS R94 does, for precision near 1.
    let root = (saa * sxx).sqrt();
    let w1 = (root - sax) * (root + sax) / (saa * sxx);
    Some((1.0 - w1).clamp(0.0, 1.0))
}

/// [`coefficients`] of size `n` (in `MIN_N..=MAX_N`): from [`CACHE`] when `n` is at most
/// [`CACHED_MAX_N`] (computed and stored on first use), computed afresh otherwise.
fn cached_coefficients(n: usize) -> Cow<'static, [f64]> {
    let Some(cell) = n.checked_sub(MIN_N).and_then(|i| CACHE.get(i)) else {
        return Cow::Owned(coefficients(n));
    };
    if let Some(a) = cell.get() {
        return Cow::Borrowed(a);
    }
    // Computed before taking the cell, so no thread waits on another's computation; threads
    // racing on the same `n` compute the same values and the first to finish stores them.
    let fresh = coefficients(n).into_boxed_slice();
    Cow::Borrowed(cell.get_or_init(|| fresh))
}

/// The `n / 2` positive coefficients `a_1 >= a_2 >= ...` (for the largest order statistics).
fn coefficients(n: usize) -> Vec<f64> {
    let half = n / 2;
    if n == 3 {
        return vec![std::f64::consts::FRAC_1_SQRT_2];
    }
    #[allow(clippy::cast_precision_loss)]
    let an = n as f64;
    let an25 = an + 0.25;
    // m_i for the upper half: -Φ⁻¹((i - 3/8) / (n + 1/4)) > 0, i = 1..=half.
    let m: Vec<f64> = (1..=half)
        .map(|i| {
            #[allow(clippy::cast_precision_loss)]
            let p = (i as f64 - 0.375) / an25;
            -ppnd16(p)
        })
        .collect();
    let summ2 = 2.0 * m.iter().map(|v| v * v).sum::<f64>();
    let ssumm2 = summ2.sqrt();
    let rsn = 1.0 / an.sqrt();
    let a1 = poly(&C1, rsn) + m[0] / ssumm2;
    let mut a = vec![0.0; half];
    let (first, fac) = if n > 5 {
        let a2 = m[1] / ssumm2 + poly(&C2, rsn);
        let fac =
            ((summ2 - 2.0 * m[0] * m[0] - 2.0 * m[1] * m[1]) / (1.0 - 2.0 * a1 * a1 - 2.0 * a2 * a2)).sqrt();
        a[1] = a2;
        (2, fac)
    } else {
        let fac = ((summ2 - 2.0 * m[0] * m[0]) / (1.0 - 2.0 * a1 * a1)).sqrt();
        (1, fac)
    };
    a[0] = a1;
    for i in first..half {
        a[i] = m[i] / fac;
    }
    a
}

/// Φ⁻¹(p), the standard normal quantile, by Wichura's algorithm AS 241 (`PPND16`, about 16
/// digits). `p` must be in (0, 1); returns ±infinity at the ends.
#[must_use]
#[allow(clippy::excessive_precision)] // Wichura's published constants, kept as published
pub fn ppnd16(p: f64) -> f64 {
    const A: [f64; 8] = [
        3.387_132_872_796_366_608,
        133.141_667_891_784_377_45,
        1_971.590_950_306_551_442_7,
        13_731.693_765_509_461_125,
        45_921.953_931_549_871_457,
        67_265.770_927_008_700_853,
        33_430.575_583_588_128_105,
        2_509.080_928_730_122_672_7,
    ];
    const B: [f64; 8] = [
        1.0,
        42.313_330_701_600_911_252,
        687.187_007_492_057_908_3,
        5_394.196_021_424_751_107_7,
        21_213.794_301_586_595_867,
        39_307.895_800_092_710_61,
        28_729.085_735_721_942_674,
        5_226.495_278_852_854_561,
    ];
    const C: [f64; 8] = [
        1.423_437_110_749_683_577_34,
        4.630_337_846_156_545_295_9,
        5.769_497_221_460_691_405_5,
        3.647_848_324_763_204_605_04,
        1.270_458_252_452_368_382_58,
        0.241_780_725_177_450_611_77,
        0.022_723_844_989_269_184_583_3,
        7.745_450_142_783_414_076_4e-4,
    ];
    const D: [f64; 8] = [
        1.0,
        2.053_191_626_637_758_821_87,
        1.676_384_830_183_803_849_4,
        0.689_767_334_985_100_004_55,
        0.148_103_976_427_480_074_59,
        0.015_198_666_563_616_457_196_6,
        5.475_938_084_995_344_946e-4,
        1.050_750_071_644_416_843_24e-9,
    ];
    const E: [f64; 8] = [
        6.657_904_643_501_103_777_2,
        5.463_784_911_164_114_369_9,
        1.784_826_539_917_291_335_8,
        0.296_560_571_828_504_891_23,
        0.026_532_189_526_576_123_093,
        0.001_242_660_947_388_078_438_6,
        2.711_555_568_743_487_578_15e-5,
        2.010_334_399_292_288_132_65e-7,
    ];
    const F: [f64; 8] = [
        1.0,
        0.599_832_206_555_887_937_69,
        0.136_929_880_922_735_805_31,
        0.014_875_361_290_850_614_852_5,
        7.868_691_311_456_132_591e-4,
        1.846_318_317_510_054_681_8e-5,
        1.421_511_758_316_445_888_7e-7,
        2.044_263_103_389_939_785_64e-15,
    ];
    fn horner(c: &[f64; 8], x: f64) -> f64 {
        c.iter().rev().fold(0.0, |acc, v| acc * x + v)
    }
    if p <= 0.0 {
        return f64::NEG_INFINITY;
    }
    if p >= 1.0 {
        return f64::INFINITY;
    }
    let q = p - 0.5;
    if q.abs() <= 0.425 {
        let r = 0.180_625 - q * q;
        return q * horner(&A, r) / horner(&B, r);
    }
    let r = if q < 0.0 { p } else { 1.0 - p };
    let r = (-r.ln()).sqrt();
    let value = if r <= 5.0 {
        let r = r - 1.6;
        horner(&C, r) / horner(&D, r)
    } else {
        let r = r - 5.0;
        horner(&E, r) / horner(&F, r)
    };
    if q < 0.0 { -value } else { value }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Reference values produced with SciPy 1.x on this machine:
    //   python3 -c "from scipy import stats; print(stats.shapiro(SAMPLE).statistic)"
    // (SciPy's swilk.f is AS R94 in single precision, hence the 1e-5 tolerance), and for Φ⁻¹:
    //   python3 -c "from statistics import NormalDist; print(NormalDist().inv_cdf(P))"
    const TOL: f64 = 1e-5;

    fn close(sample: &[f64], want: f64) {
        let w = shapiro_wilk_w(sample).unwrap();
        assert!((w - want).abs() < TOL, "W = {w}, scipy says {want}");
    }

    #[test]
    fn matches_scipy_on_small_samples() {
        close(&[1.0, 2.0, 4.0], 0.964_285_714_285_714_2);
        close(&[2.1, 3.4, 1.9, 5.6, 4.4], 0.932_084_939_195_386_3);
        close(
            &[148., 154., 158., 160., 161., 162., 166., 170., 182., 195.],
            0.908_049_114_102_890_6,
        );
        close(
            &[0.1, 0.2, 0.3, 0.5, 0.8, 1.3, 2.1, 3.4, 5.5, 8.9, 14.4],
            0.761_320_965_339_097_5,
        );
        // [float(i*i % 17) + 0.5*i for i in range(20)]
        let twenty: Vec<f64> = (0..20u32)
            .map(|i| f64::from(i * i % 17) + 0.5 * f64::from(i))
            .collect();
        close(&twenty, 0.975_804_667_499_373_3);
    }

    #[test]
    fn matches_scipy_on_a_normal_and_a_uniform_sample() {
        // numpy.random.default_rng(7).normal(0, 1, 50), rounded to 6 decimals.
        let normal = [
            0.00123, 0.298746, -0.274138, -0.890592, -0.454671, -0.991647, 0.060144, 1.340215, -0.492207,
            -0.620475, 0.489842, 0.356887, 0.105414, -0.930468, -0.029252, 0.695303, -1.344215, -0.457616,
            -1.901223, -1.289538, -1.841735, -0.235091, -1.267446, 0.271264, 0.156751, -0.186931, -2.51676,
            -0.538693, -0.048501, 0.113309, -1.530136, -0.477753, -0.978519, -0.808837, 1.060899, -0.807535,
            -0.032522, 0.88439, -0.5836, -0.111702, 0.110464, 0.063782, -1.225056, 0.07614, 1.358823,
            -1.547145, 0.859383, 0.119354, -0.64147, 2.000417,
        ];
        close(&normal, 0.989_730_584_804_711_1);
        // The same generator's next 100 uniform(0, 1) draws, rounded to 6 decimals.
        let uniform = [
            0.598184, 0.059252, 0.387632, 0.323036, 0.1502, 0.816338, 0.379446, 0.978748, 0.589992, 0.605056,
            0.637997, 0.67645, 0.150788, 0.440313, 0.239564, 0.402498, 0.096704, 0.967828, 0.215004,
            0.671765, 0.30042, 0.874077, 0.662215, 0.131616, 0.845074, 0.944948, 0.903917, 0.569719, 0.14546,
            0.192463, 0.927906, 0.552326, 0.180552, 0.884057, 0.641572, 0.569694, 0.376288, 0.410955,
            0.239489, 0.038057, 0.876219, 0.46773, 0.547635, 0.322163, 0.751325, 0.025197, 0.372185, 0.03035,
            0.122892, 0.967148, 0.657761, 0.42822, 0.52374, 0.872809, 0.344211, 0.590291, 0.683684, 0.355414,
            0.519098, 0.765247, 0.909179, 0.151062, 0.933419, 0.005179, 0.752978, 0.810527, 0.136764,
            0.418904, 0.815256, 0.014271, 0.628462, 0.793024, 0.513004, 0.725849, 0.226423, 0.198521,
            0.363127, 0.179406, 0.346061, 0.948124, 0.573333, 0.340068, 0.271525, 0.952039, 0.444478,
            0.980395, 0.515523, 0.521166, 0.896541, 0.742767, 0.580653, 0.42665, 0.878188, 0.411646, 0.92276,
            0.068715, 0.429997, 0.519515, 0.950938, 0.250999,
        ];
        close(&uniform, 0.953_660_425_524_455_5);
    }

    #[test]
    fn order_does_not_matter_and_scale_shift_do_not_either() {
        let a = [5.0, 1.0, 3.0, 2.0, 8.0, 13.0, 21.0];
        let b: Vec<f64> = a.iter().rev().map(|v| 10.0 * v - 7.0).collect();
        let (wa, wb) = (shapiro_wilk_w(&a).unwrap(), shapiro_wilk_w(&b).unwrap());
        assert!((wa - wb).abs() < 1e-12);
    }

    #[test]
    fn refuses_what_it_cannot_test() {
        assert!(shapiro_wilk_w(&[1.0, 2.0]).is_none());
        assert!(shapiro_wilk_w(&[2.0; 10]).is_none());
        assert!(shapiro_wilk_w(&[1.0, f64::NAN, 3.0]).is_none());
        assert!(shapiro_wilk_w(&vec![1.0; MAX_N + 1]).is_none());
    }

    /// `n` pseudo-random values (xorshift64*), sorted as PRADA keeps them.
    fn sorted_sample(n: usize, seed: u64) -> Vec<f64> {
        let mut state = seed;
        let mut x: Vec<f64> = (0..n)
            .map(|_| {
                state ^= state >> 12;
                state ^= state << 25;
                state ^= state >> 27;
                #[allow(clippy::cast_precision_loss)]
                let v = (state.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 11) as f64;
                v / 9_007_199_254_740_992.0
            })
            .collect();
        x.sort_by(f64::total_cmp);
        x
    }

    /// W with coefficients computed afresh for this call, never from the cache.
    fn fresh_w(x: &[f64]) -> Option<f64> {
        w_sorted_with(x, coefficients)
    }

    #[test]
    fn cached_coefficients_give_the_same_w_bit_for_bit() {
        let sizes = (MIN_N..=CACHED_MAX_N).chain([CACHED_MAX_N + 1, 1777, MAX_N]);
        for n in sizes {
            let x = sorted_sample(n, 0x9e37_79b9_7f4a_7c15 ^ n as u64);
            let want = fresh_w(&x).unwrap().to_bits();
            // The first call may fill the cache, the second reads it.
            for _ in 0..2 {
                assert_eq!(shapiro_wilk_w_sorted(&x).map(f64::to_bits), Some(want), "n = {n}");
                let a = cached_coefficients(n);
                assert_eq!(matches!(a, Cow::Borrowed(_)), n <= CACHED_MAX_N, "n = {n}");
                let bits = |v: &[f64]| v.iter().map(|c| c.to_bits()).collect::<Vec<_>>();
                assert_eq!(bits(&a), bits(&coefficients(n)), "n = {n}");
            }
            assert_eq!(
                CACHE.get(n - MIN_N).is_some_and(|c| c.get().is_some()),
                n <= CACHED_MAX_N
            );
            // And through the public entry point, which copies and sorts.
            let mut shuffled = x.clone();
            shuffled.reverse();
            assert_eq!(shapiro_wilk_w(&shuffled).map(f64::to_bits), Some(want), "n = {n}");
        }
    }

    #[test]
    fn threads_racing_to_fill_the_cache_all_get_the_same_w() {
        // The sizes the other cache test reaches last, so the threads most likely find the
        // cells empty and race to fill them.
        let sizes = [CACHED_MAX_N, CACHED_MAX_N - 1, CACHED_MAX_N - 2, 997];
        let samples: Vec<Vec<f64>> = sizes.iter().map(|&n| sorted_sample(n, n as u64)).collect();
        let want: Vec<u64> = samples.iter().map(|x| fresh_w(x).unwrap().to_bits()).collect();
        std::thread::scope(|scope| {
            for _ in 0..4 {
                scope.spawn(|| {
                    for (x, want) in samples.iter().zip(&want) {
                        assert_eq!(shapiro_wilk_w_sorted(x).map(f64::to_bits), Some(*want));
                    }
                });
            }
        });
    }

    #[test]
    fn ppnd16_matches_python_statistics() {
        // NormalDist().inv_cdf(p)
        for (p, want) in [
            (0.5, 0.0),
            (0.975, 1.959_963_984_540_054),
            (0.001, -3.090_232_306_167_813_6),
            (0.2, -0.841_621_233_572_914_4),
            (1e-10, -6.361_340_902_404_056),
        ] {
            let got = ppnd16(p);
            assert!((got - want).abs() < 1e-12, "p={p}: {got} vs {want}");
        }
        assert_eq!(ppnd16(0.0), f64::NEG_INFINITY);
        assert_eq!(ppnd16(1.0), f64::INFINITY);
    }
}
