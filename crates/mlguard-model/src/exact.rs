//! A replica of linfa-trees 0.8.1's CART fit with a fixed summation order, used to make training
//! reproducible.
//!
//! linfa-trees scores candidate splits in `f32`, summing the per-class Gini terms in `HashMap`
//! order, which changes from run to run; when two candidate splits score within rounding of each
//! other, which one wins can change too. This module runs the same algorithm (same candidate
//! order, same thresholds, same `f32` arithmetic, same stopping rules, default hyperparameters)
//! but sums the class terms in class-index order. Its tree is therefore the one linfa-trees
//! produces whenever its maps happen to iterate in class order. Training refits with
//! linfa-trees until they agree, and uses this tree if they never do.

use ndarray::{Array2, ArrayView1};

use crate::flat::FileNode;

/// linfa-trees' default `min_weight_split` (a node needs this many rows to split).
const MIN_SPLIT: usize = 2;
/// linfa-trees' default `min_weight_leaf`.
const MIN_LEAF: usize = 1;
/// linfa-trees' default `min_impurity_decrease`.
const MIN_DECREASE: f64 = 0.00001;
/// linfa-trees treats sorted neighbours closer than this as equal.
const SAME_VALUE: f64 = 1e-5;

/// Fits one unpruned tree in pre-order; `x` holds only the tree's columns, features in the output
/// are mapped through `cols`.
pub(crate) fn fit(
    x: &Array2<f64>,
    y: &[usize],
    cols: &[usize],
    n_classes: usize,
    max_depth: Option<usize>,
) -> Vec<FileNode> {
    let sorted: Vec<Vec<(usize, f64)>> = (0..x.ncols())
        .map(|f| {
            let mut pairs: Vec<(usize, f64)> = x.column(f).iter().copied().enumerate().collect();
            // Stable, like linfa-trees' `sort_by(partial_cmp)`.
            pairs.sort_by(|a, b| a.1.partial_cmp(&b.1).unwrap_or(std::cmp::Ordering::Greater));
            pairs
        })
        .collect();
    let fitter = Fitter {
        x,
        y,
        cols,
        n_classes,
        max_depth,
        sorted,
    };
    let mut out = Vec::new();
    fitter.node(&vec![true; y.len()], 0, &mut out);
    out
}

struct Fitter<'a> {
    x: &'a Array2<f64>,
    y: &'a [usize],
    cols: &'a [usize],
    n_classes: usize,
    max_depth: Option<usize>,
    sorted: Vec<Vec<(usize, f64)>>,
}

/// linfa-trees' `gini_impurity`, summing in class-index order: `1 - sum((c / n)^2)` in `f32`.
/// Only the classes linfa's map holds matter; absent classes add an exact zero.
fn gini(counts: &[u64]) -> f32 {
    #[allow(clippy::cast_precision_loss)]
    let n: f32 = counts.iter().map(|&c| c as f32).sum();
    #[allow(clippy::cast_precision_loss)]
    let purity: f32 = counts.iter().map(|&c| c as f32 / n).map(|p| p * p).sum();
    1.0 - purity
}

impl Fitter<'_> {
    fn counts(&self, mask: &[bool]) -> Vec<u64> {
        let mut c = vec![0u64; self.n_classes];
        for (&m, &y) in mask.iter().zip(self.y) {
            if m && let Some(v) = c.get_mut(y) {
                *v += 1;
            }
        }
        c
    }

    fn leaf(counts: &[u64], out: &mut Vec<FileNode>) -> u32 {
        let me = u32::try_from(out.len()).unwrap_or(u32::MAX);
        let best = counts.iter().copied().max().unwrap_or(0);
        let class = counts.iter().position(|&c| c == best).unwrap_or(0);
        out.push(FileNode::Leaf {
            class: u32::try_from(class).unwrap_or(0),
        });
        me
    }

    fn node(&self, mask: &[bool], depth: usize, out: &mut Vec<FileNode>) -> u32 {
        let parent = self.counts(mask);
        let n: u64 = parent.iter().sum();
        #[allow(clippy::cast_possible_truncation)]
        if (n as usize) < MIN_SPLIT || self.max_depth.is_some_and(|d| depth >= d) {
            return Self::leaf(&parent, out);
        }
        // (score, sub-feature, threshold); lower is better, as in linfa-trees.
        let mut best: Option<(f32, usize, f64)> = None;
        for (f, sorted) in self.sorted.iter().enumerate() {
            let mut right = parent.clone();
            let mut left = vec![0u64; self.n_classes];
            let (mut n_right, mut n_left) = (n, 0u64);
            for i in 0..sorted.len().saturating_sub(1) {
                let (row, value) = sorted[i];
                if !mask[row] {
                    continue;
                }
                let class = self.y[row];
                right[class] -= 1;
                left[class] += 1;
                n_right -= 1;
                n_left += 1;
                let next = sorted[i + 1].1;
                if (value - next).abs() < SAME_VALUE {
                    continue;
                }
                #[allow(clippy::cast_possible_truncation)]
                if (n_right as usize) < MIN_LEAF || (n_left as usize) < MIN_LEAF {
                    continue;
                }
                #[allow(clippy::cast_precision_loss)]
                let w = n_right as f32 / n as f32;
                let score = w * gini(&right) + (1.0 - w) * gini(&left);
                if best.is_none_or(|(b, _, _)| score < b) {
                    best = Some((score, f, (value + next) / 2.0));
                }
            }
        }
        let Some((score, f, threshold)) = best else {
            return Self::leaf(&parent, out);
        };
        if f64::from(gini(&parent)) - f64::from(score) < MIN_DECREASE {
            return Self::leaf(&parent, out);
        }
        let column: ArrayView1<'_, f64> = self.x.column(f);
        let left_mask: Vec<bool> = mask
            .iter()
            .zip(column)
            .map(|(&m, &v)| m && v <= threshold)
            .collect();
        let right_mask: Vec<bool> = mask
            .iter()
            .zip(column)
            .map(|(&m, &v)| m && v > threshold)
            .collect();
        if !left_mask.contains(&true) || !right_mask.contains(&true) {
            return Self::leaf(&parent, out);
        }
        let me = u32::try_from(out.len()).unwrap_or(u32::MAX);
        out.push(FileNode::Leaf { class: 0 }); // replaced below
        let l = self.node(&left_mask, depth + 1, out);
        let r = self.node(&right_mask, depth + 1, out);
        out[me as usize] = FileNode::Split {
            feature: u32::try_from(self.cols[f]).unwrap_or(u32::MAX),
            threshold,
            left: l,
            right: r,
        };
        me
    }
}

#[cfg(test)]
mod tests {
    use linfa::prelude::*;
    use linfa_trees::DecisionTree;
    use ndarray::Array1;

    use super::*;

    #[test]
    fn gini_matches_the_textbook_formula() {
        assert_eq!(gini(&[5, 0, 0]), 0.0);
        assert!((gini(&[1, 1, 0]) - 0.5).abs() < 1e-7);
        assert!((gini(&[1, 1, 1]) - 2.0 / 3.0).abs() < 1e-6);
    }

    /// On the whole iris set, linfa-trees' tree equals the replica's once both are canonical,
    /// within a few fits (a fit whose maps iterate in another order may differ).
    #[test]
    fn replica_matches_linfa_trees_on_iris() {
        let data = crate::data::iris();
        let x = data.features().clone();
        let y = data.labels().to_vec();
        let cols = [0, 1, 2, 3];
        for depth in [None, Some(2), Some(4)] {
            let canon = |nodes: &[FileNode]| {
                crate::forest::canonicalize(nodes, &x, &Array1::from(y.clone()), &cols, 3)
            };
            let reference = canon(&fit(&x, &y, &cols, 3, depth));
            let dataset = Dataset::new(x.clone(), Array1::from(y.clone()));
            let agreed = (0..32).any(|_| {
                let tree = DecisionTree::params().max_depth(depth).fit(&dataset).unwrap();
                let mut nodes = Vec::new();
                crate::forest::flatten(tree.root_node(), &cols, 3, &mut nodes).unwrap();
                canon(&nodes) == reference
            });
            assert!(agreed, "depth {depth:?}");
        }
    }
}
