//! Statistics of the training data, kept in the model file (format version 2) so a server can
//! tell an input that looks like the training data from one that does not (an "input envelope").
//!
//! What is stored, per model:
//!
//! - per-feature `min` / `max` observed in the training rows;
//! - the `mean` vector and the **inverse of the regularized covariance** matrix, which is all a
//!   Mahalanobis distance `sqrt((x - mean)ᵀ Σ⁻¹ (x - mean))` needs;
//! - a calibrated `threshold` on that distance.
//!
//! **Regularization.** The sample covariance (denominator `n - 1`) gets a ridge `λ` added to its
//! diagonal before it is inverted, `λ = RIDGE_FRACTION × (trace(Σ) / d)` (one thousandth of the
//! mean variance), or [`RIDGE_FLOOR`] when every feature is constant. `Σ + λI` is then symmetric
//! positive definite, so it is always invertible, even with collinear or constant features or
//! fewer rows than features (Ledoit & Wolf's shrinkage idea in its simplest form).
//!
//! **Threshold.** `threshold = max(THRESHOLD_MARGIN × max_i d(x_i), sqrt(χ²_d(0.999)))`: the
//! largest training distance times a margin of 1.25, but never below the square root of the
//! 99.9th percentile of a chi-square distribution with `d` degrees of freedom, which is what the
//! squared Mahalanobis distance of a Gaussian sample follows (Mahalanobis 1936; the chi-square
//! quantile uses the Wilson–Hilferty approximation, Wilson & Hilferty 1931, within 2.5 % for
//! `d ≥ 2`). The empirical term covers training data that is not Gaussian (iris is three
//! clusters); the chi-square term keeps a tiny training set from giving a threshold so tight
//! that ordinary inputs are flagged. For iris (d = 4) the chi-square term is 4.33.

use ndarray::Array2;
use serde::{Deserialize, Serialize};

/// Ridge added to the covariance diagonal, as a fraction of the mean variance.
pub const RIDGE_FRACTION: f64 = 1e-3;
/// Ridge used when every feature has zero variance.
pub const RIDGE_FLOOR: f64 = 1e-9;
/// The largest training distance is multiplied by this to give the threshold.
pub const THRESHOLD_MARGIN: f64 = 1.25;
/// Standard normal quantile of 0.999 (for the Wilson–Hilferty chi-square quantile).
const Z_999: f64 = 3.090_232_306_167_813;

/// Statistics of the training rows; see the [module docs](self) for how each is computed.
///
/// ```
/// use mlguard_model::{TrainingStats, iris};
/// let stats = TrainingStats::from_rows(iris().features()).unwrap();
/// assert_eq!(stats.mean.len(), 4);
/// assert!(stats.mahalanobis(&[5.8, 3.0, 4.3, 1.3]) < stats.threshold);
/// assert!(stats.mahalanobis(&[5.8, 3.0, 1.0, 2.5]) > stats.threshold); // short petals, wide
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrainingStats {
    /// Training rows the statistics were computed from.
    pub samples: usize,
    /// Smallest value of each feature in the training rows.
    pub min: Vec<f64>,
    /// Largest value of each feature in the training rows.
    pub max: Vec<f64>,
    /// Mean of each feature.
    pub mean: Vec<f64>,
    /// `(Σ + λI)⁻¹`, row-major, one row per feature.
    pub inv_covariance: Vec<Vec<f64>>,
    /// The ridge `λ` that was added to the covariance diagonal.
    pub ridge: f64,
    /// Mahalanobis distance above which an input is out of distribution.
    pub threshold: f64,
    /// Largest Mahalanobis distance of a training row.
    pub max_training_distance: f64,
}

impl TrainingStats {
    /// Computes the statistics of `rows` (one sample per row).
    ///
    /// # Errors
    /// A message when there are no rows or columns, or a value is not finite.
    pub fn from_rows(rows: &Array2<f64>) -> Result<Self, String> {
        let (n, d) = rows.dim();
        if n == 0 || d == 0 {
            return Err("no rows or no features".into());
        }
        if rows.iter().any(|v| !v.is_finite()) {
            return Err("a value is not finite".into());
        }
        #[allow(clippy::cast_precision_loss)]
        let nf = n as f64;
        let mut min = vec![f64::INFINITY; d];
        let mut max = vec![f64::NEG_INFINITY; d];
        let mut mean = vec![0.0; d];
        for row in rows.rows() {
            for (j, &v) in row.iter().enumerate() {
                min[j] = min[j].min(v);
                max[j] = max[j].max(v);
                mean[j] += v;
            }
        }
        for m in &mut mean {
            *m /= nf;
        }
        let mut cov = vec![vec![0.0; d]; d];
        for row in rows.rows() {
            for a in 0..d {
                let da = row[a] - mean[a];
                for b in 0..d {
                    cov[a][b] += da * (row[b] - mean[b]);
                }
            }
        }
        let denom = if n > 1 { nf - 1.0 } else { 1.0 };
        for r in &mut cov {
            for v in r.iter_mut() {
                *v /= denom;
            }
        }
        #[allow(clippy::cast_precision_loss)]
        let mean_var = (0..d).map(|i| cov[i][i]).sum::<f64>() / d as f64;
        let ridge = if mean_var > 0.0 {
            (RIDGE_FRACTION * mean_var).max(RIDGE_FLOOR)
        } else {
            RIDGE_FLOOR
        };
        for (i, r) in cov.iter_mut().enumerate() {
            r[i] += ridge;
        }
        let inv_covariance = invert(&cov).ok_or("the regularized covariance is singular")?;
        let mut stats = Self {
            samples: n,
            min,
            max,
            mean,
            inv_covariance,
            ridge,
            threshold: 0.0,
            max_training_distance: 0.0,
        };
        let max_dist = rows
            .rows()
            .into_iter()
            .map(|r| stats.mahalanobis(&r.to_vec()))
            .fold(0.0, f64::max);
        stats.max_training_distance = max_dist;
        stats.threshold = (THRESHOLD_MARGIN * max_dist).max(chi_square_999(d).sqrt());
        Ok(stats)
    }

    /// Number of features.
    #[must_use]
    pub fn len(&self) -> usize {
        self.mean.len()
    }

    /// True when there are no features (never for statistics built by [`Self::from_rows`]).
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.mean.is_empty()
    }

    /// The Mahalanobis distance of `x` from the training mean (NaN if `x` has the wrong length).
    #[must_use]
    pub fn mahalanobis(&self, x: &[f64]) -> f64 {
        if x.len() != self.mean.len() {
            return f64::NAN;
        }
        let diff: Vec<f64> = x.iter().zip(&self.mean).map(|(a, m)| a - m).collect();
        let mut sum = 0.0;
        for (row, da) in self.inv_covariance.iter().zip(&diff) {
            let dot: f64 = row.iter().zip(&diff).map(|(s, db)| s * db).sum();
            sum += da * dot;
        }
        sum.max(0.0).sqrt()
    }

    /// Checks the statistics read from a file against a model with `n_features` features.
    pub(crate) fn validate(&self, n_features: usize) -> Result<(), String> {
        let d = n_features;
        if self.min.len() != d || self.max.len() != d || self.mean.len() != d {
            return Err(format!("training statistics do not have {d} features"));
        }
        if self.inv_covariance.len() != d || self.inv_covariance.iter().any(|r| r.len() != d) {
            return Err(format!("inv_covariance is not {d} x {d}"));
        }
        let finite = self
            .min
            .iter()
            .chain(&self.max)
            .chain(&self.mean)
            .chain(self.inv_covariance.iter().flatten())
            .chain([&self.ridge, &self.threshold, &self.max_training_distance])
            .all(|v| v.is_finite());
        if !finite {
            return Err("a training statistic is not finite".into());
        }
        if self.min.iter().zip(&self.max).any(|(a, b)| a > b) {
            return Err("a training minimum is above its maximum".into());
        }
        if self.threshold <= 0.0 || self.ridge < 0.0 || self.max_training_distance < 0.0 {
            return Err("the training distance threshold must be positive".into());
        }
        for i in 0..d {
            if self.inv_covariance[i][i] <= 0.0 {
                return Err("inv_covariance is not positive definite".into());
            }
            for j in 0..i {
                let (a, b) = (self.inv_covariance[i][j], self.inv_covariance[j][i]);
                if (a - b).abs() > 1e-9 * (1.0 + a.abs().max(b.abs())) {
                    return Err("inv_covariance is not symmetric".into());
                }
            }
        }
        Ok(())
    }
}

/// Wilson–Hilferty approximation of the 0.999 quantile of χ² with `k` degrees of freedom.
fn chi_square_999(k: usize) -> f64 {
    #[allow(clippy::cast_precision_loss)]
    let k = k as f64;
    let h = 2.0 / (9.0 * k);
    k * (1.0 - h + Z_999 * h.sqrt()).powi(3)
}

/// Gauss–Jordan inversion with partial pivoting; `None` when a pivot vanishes.
#[allow(clippy::needless_range_loop)] // matrix code reads best with indexes
fn invert(m: &[Vec<f64>]) -> Option<Vec<Vec<f64>>> {
    let d = m.len();
    let mut a: Vec<Vec<f64>> = m.to_vec();
    let mut inv: Vec<Vec<f64>> = (0..d)
        .map(|i| (0..d).map(|j| if i == j { 1.0 } else { 0.0 }).collect())
        .collect();
    for col in 0..d {
        let pivot = (col..d).max_by(|&x, &y| a[x][col].abs().total_cmp(&a[y][col].abs()))?;
        if a[pivot][col].abs() < f64::MIN_POSITIVE {
            return None;
        }
        a.swap(col, pivot);
        inv.swap(col, pivot);
        let p = a[col][col];
        for j in 0..d {
            a[col][j] /= p;
            inv[col][j] /= p;
        }
        for r in 0..d {
            if r != col {
                let f = a[r][col];
                if f != 0.0 {
                    for j in 0..d {
                        a[r][j] -= f * a[col][j];
                        inv[r][j] -= f * inv[col][j];
                    }
                }
            }
        }
    }
    // Symmetrize (the exact inverse of a symmetric matrix is symmetric; rounding is not).
    for i in 0..d {
        for j in 0..i {
            let v = 0.5 * (inv[i][j] + inv[j][i]);
            inv[i][j] = v;
            inv[j][i] = v;
        }
    }
    Some(inv)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    #[allow(clippy::needless_range_loop)]
    fn inverse_times_matrix_is_identity() {
        let m = vec![vec![4.0, 1.0, 0.5], vec![1.0, 3.0, 0.2], vec![0.5, 0.2, 2.0]];
        let inv = invert(&m).unwrap();
        for i in 0..3 {
            for j in 0..3 {
                let v: f64 = (0..3).map(|k| m[i][k] * inv[k][j]).sum();
                let want = if i == j { 1.0 } else { 0.0 };
                assert!((v - want).abs() < 1e-12, "{i},{j}: {v}");
            }
        }
    }

    #[test]
    fn constant_and_collinear_features_still_invert() {
        // Column 1 is constant, column 2 is twice column 0.
        let rows = array![[1.0, 5.0, 2.0], [2.0, 5.0, 4.0], [3.0, 5.0, 6.0]];
        let s = TrainingStats::from_rows(&rows).unwrap();
        assert!(s.validate(3).is_ok());
        assert!(s.mahalanobis(&[2.0, 5.0, 4.0]) < 1e-6);
        // Breaking the collinearity is far out.
        assert!(s.mahalanobis(&[2.0, 5.0, 0.0]) > s.threshold);
        // One row, every feature constant: the floor ridge.
        let one = TrainingStats::from_rows(&array![[1.0, 2.0]]).unwrap();
        assert_eq!(one.ridge, RIDGE_FLOOR);
    }

    #[test]
    fn chi_square_quantile_is_close_to_the_table() {
        // Table values of χ²(0.999): k=2 13.816, k=4 18.467, k=10 29.588.
        for (k, table) in [(2, 13.816), (4, 18.467), (10, 29.588)] {
            let approx = chi_square_999(k);
            assert!((approx - table).abs() / table < 0.025, "k={k}: {approx}");
        }
    }

    #[test]
    fn iris_threshold_covers_every_training_row() {
        let s = TrainingStats::from_rows(crate::iris().features()).unwrap();
        assert!(s.threshold >= s.max_training_distance * THRESHOLD_MARGIN - 1e-12);
        assert!(s.threshold >= chi_square_999(4).sqrt());
        assert_eq!(s.samples, 150);
        assert_eq!(s.min[2], 1.0);
        assert_eq!(s.max[2], 6.9);
    }

    #[test]
    fn refuses_empty_and_non_finite() {
        assert!(TrainingStats::from_rows(&Array2::zeros((0, 4))).is_err());
        assert!(TrainingStats::from_rows(&array![[1.0, f64::NAN]]).is_err());
    }
}
