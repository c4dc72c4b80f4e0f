//! Training: a random forest of linfa-trees decision trees, reproducible from its seed.
//!
//! Each tree gets its own bootstrap sample (`n` rows drawn with replacement) and its own random
//! feature subset (`max_features` columns drawn **without** replacement, per tree: linfa-trees
//! 0.8.1 has no hook for per-split sampling). The tree is fitted by linfa-trees on those rows and
//! columns, then flattened with its feature indexes mapped back to the full schema,
//! canonicalized (see [`canonicalize`]) and checked against the class-order replica
//! (`crate::exact`), refitting until they agree, so the same seed gives the same forest.

use std::panic::{AssertUnwindSafe, catch_unwind};

use linfa::prelude::*;
use linfa_trees::{DecisionTree, TreeNode};
use ndarray::{Array1, Axis};
use rand::seq::index::sample;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::data::LabeledData;
use crate::error::TrainError;
use crate::exact;
use crate::flat::{FileNode, FlatForest, MAX_TREE_NODES};

/// Default number of trees (as scikit-learn's `RandomForestClassifier`).
pub const DEFAULT_TREES: usize = 100;
/// Default seed for the split and the forest.
pub const DEFAULT_SEED: u64 = 0;
/// Default held-out fraction.
pub const DEFAULT_TEST_FRACTION: f64 = 0.3;
/// How many times a tree is fitted with linfa-trees before the replica's tree is used.
const MAX_FITS: usize = 32;
/// Most trees a forest may have.
pub const MAX_TREES: usize = 10_000;

/// Random forest and train/test split parameters. Consuming builder; validated when training.
///
/// ```
/// use mlguard_model::ForestParams;
/// let params = ForestParams::new().n_trees(10).max_depth(Some(4)).seed(7);
/// assert_eq!(params.get_n_trees(), 10);
/// ```
#[derive(Debug, Clone, PartialEq)]
#[must_use]
pub struct ForestParams {
    n_trees: usize,
    max_depth: Option<usize>,
    max_features: Option<usize>,
    seed: u64,
    test_fraction: f64,
}

impl Default for ForestParams {
    fn default() -> Self {
        Self::new()
    }
}

impl ForestParams {
    /// 100 trees, unlimited depth, `ceil(sqrt(n_features))` features per tree, seed 0, 30% test.
    pub fn new() -> Self {
        Self {
            n_trees: DEFAULT_TREES,
            max_depth: None,
            max_features: None,
            seed: DEFAULT_SEED,
            test_fraction: DEFAULT_TEST_FRACTION,
        }
    }

    /// Number of trees (1 to [`MAX_TREES`]).
    pub fn n_trees(mut self, n: usize) -> Self {
        self.n_trees = n;
        self
    }

    /// Maximum tree depth (`None`: grow until leaves are pure).
    pub fn max_depth(mut self, depth: Option<usize>) -> Self {
        self.max_depth = depth;
        self
    }

    /// Features drawn (without replacement) for each tree; `None`: `ceil(sqrt(n_features))`.
    pub fn max_features(mut self, k: Option<usize>) -> Self {
        self.max_features = k;
        self
    }

    /// Seed of the split and of every random draw in training.
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// Fraction of each class held out for testing, strictly between 0 and 1.
    pub fn test_fraction(mut self, fraction: f64) -> Self {
        self.test_fraction = fraction;
        self
    }

    /// The configured tree count.
    #[must_use]
    pub fn get_n_trees(&self) -> usize {
        self.n_trees
    }

    /// The configured maximum depth.
    #[must_use]
    pub fn get_max_depth(&self) -> Option<usize> {
        self.max_depth
    }

    /// The configured seed.
    #[must_use]
    pub fn get_seed(&self) -> u64 {
        self.seed
    }

    /// The configured test fraction.
    #[must_use]
    pub fn get_test_fraction(&self) -> f64 {
        self.test_fraction
    }

    /// Features per tree for data with `n_features` columns.
    #[must_use]
    pub fn features_per_tree(&self, n_features: usize) -> usize {
        self.max_features.unwrap_or_else(|| {
            // ceil(sqrt(n)) without floating point.
            let mut k = 0;
            while k * k < n_features {
                k += 1;
            }
            k
        })
    }

    pub(crate) fn validate(&self, n_features: usize) -> Result<(), TrainError> {
        let invalid = |name, reason: String| Err(TrainError::InvalidParam { name, reason });
        if self.n_trees == 0 || self.n_trees > MAX_TREES {
            return invalid("n_trees", format!("{} not in 1..={MAX_TREES}", self.n_trees));
        }
        if self.max_depth == Some(0) {
            return invalid("max_depth", "must be at least 1".into());
        }
        let k = self.features_per_tree(n_features);
        if k == 0 || k > n_features {
            return invalid("max_features", format!("{k} not in 1..={n_features}"));
        }
        if !(self.test_fraction > 0.0 && self.test_fraction < 1.0) {
            return invalid(
                "test_fraction",
                format!("{} is not strictly between 0 and 1", self.test_fraction),
            );
        }
        Ok(())
    }

    /// Fits the forest on all of `train` (no split). Same parameters and data: same forest, bit
    /// for bit.
    ///
    /// # Errors
    /// [`TrainError::InvalidParam`] for bad parameters; [`TrainError::TreeFit`] when linfa-trees
    /// refuses (or panics on) a tree; [`TrainError::Flatten`] for a tree shape we cannot flatten.
    pub fn fit(&self, train: &LabeledData) -> Result<FlatForest, TrainError> {
        self.fit_counting(train).map(|(forest, _)| forest)
    }

    /// [`Self::fit`], also returning how many trees fell back to the exact replica.
    pub(crate) fn fit_counting(&self, train: &LabeledData) -> Result<(FlatForest, usize), TrainError> {
        let x = train.features();
        let (n, n_features) = x.dim();
        let n_classes = train.classes().len();
        self.validate(n_features)?;
        let k = self.features_per_tree(n_features);
        let mut rng = ChaCha8Rng::seed_from_u64(self.seed);
        // The split uses stream 0 of the same seed; the forest draws from stream 1.
        rng.set_stream(1);
        let tree_params = DecisionTree::params().max_depth(self.max_depth);

        let mut trees = Vec::with_capacity(self.n_trees);
        let mut fallbacks = 0;
        for t in 0..self.n_trees {
            let rows: Vec<usize> = (0..n).map(|_| rng.gen_range(0..n)).collect();
            let mut cols = sample(&mut rng, n_features, k).into_vec();
            cols.sort_unstable();

            let sub_x = x.select(Axis(0), &rows).select(Axis(1), &cols);
            let sub_y: Array1<usize> = rows.iter().map(|&r| train.labels()[r]).collect();
            let dataset = Dataset::new(sub_x, sub_y);
            let sub_y_slice = dataset.targets().as_slice().unwrap_or(&[]);
            let reference = canonicalize(
                &exact::fit(dataset.records(), sub_y_slice, &cols, n_classes, self.max_depth),
                dataset.records(),
                dataset.targets(),
                &cols,
                n_classes,
            );
            let mut agreed = false;
            for _ in 0..MAX_FITS {
                let tree = fit_linfa(&tree_params, &dataset, t)?;
                let mut nodes = Vec::new();
                flatten(tree.root_node(), &cols, n_classes, &mut nodes)
                    .map_err(|reason| TrainError::Flatten { tree: t, reason })?;
                let nodes = canonicalize(&nodes, dataset.records(), dataset.targets(), &cols, n_classes);
                if nodes == reference {
                    agreed = true;
                    break;
                }
            }
            fallbacks += usize::from(!agreed);
            trees.push(reference);
        }
        let forest = FlatForest::from_trees(&trees, n_features, n_classes)
            .map_err(|reason| TrainError::Flatten { tree: 0, reason })?;
        Ok((forest, fallbacks))
    }
}

/// Fits one linfa-trees tree; an error or a panic inside linfa-trees becomes a typed error.
fn fit_linfa(
    params: &linfa_trees::DecisionTreeParams<f64, usize>,
    dataset: &Dataset<f64, usize, ndarray::Ix1>,
    t: usize,
) -> Result<DecisionTree<f64, usize>, TrainError> {
    match catch_unwind(AssertUnwindSafe(|| params.fit(dataset))) {
        Ok(Ok(tree)) => Ok(tree),
        Ok(Err(source)) => Err(TrainError::TreeFit { tree: t, source }),
        Err(_) => Err(TrainError::TreeFit {
            tree: t,
            source: linfa::Error::Priors("linfa-trees panicked".into()),
        }),
    }
}

/// Pre-order flattening of a linfa-trees node; features mapped through `cols`.
pub(crate) fn flatten(
    node: &TreeNode<f64, usize>,
    cols: &[usize],
    n_classes: usize,
    out: &mut Vec<FileNode>,
) -> Result<u32, String> {
    if out.len() >= MAX_TREE_NODES {
        return Err("tree too large".into());
    }
    let me = u32::try_from(out.len()).map_err(|_| "tree too large")?;
    if let Some(class) = node.prediction() {
        if class >= n_classes {
            return Err(format!("leaf class {class} >= {n_classes}"));
        }
        out.push(FileNode::Leaf {
            class: u32::try_from(class).map_err(|_| "class index too large")?,
        });
        return Ok(me);
    }
    let (sub_feature, threshold, _) = node.split();
    let feature = *cols
        .get(sub_feature)
        .ok_or_else(|| format!("split feature {sub_feature} outside the tree's columns"))?;
    let children = node.children();
    let (Some(Some(left)), Some(Some(right))) = (children.first(), children.get(1)) else {
        return Err("internal node without two children".into());
    };
    out.push(FileNode::Leaf { class: 0 }); // replaced below
    let l = flatten(left, cols, n_classes, out)?;
    let r = flatten(right, cols, n_classes, out)?;
    out[me as usize] = FileNode::Split {
        feature: u32::try_from(feature).map_err(|_| "feature index too large")?,
        threshold,
        left: l,
        right: r,
    };
    Ok(me)
}

/// Makes a fitted tree independent of linfa-trees' tie-breaking.
///
/// linfa-trees picks a leaf's class among tied classes in `HashMap` order (random per process),
/// then prunes sibling leaves that picked the same class, so a tie can change both the leaf class
/// and the tree's shape from one run to the next. This recomputes every leaf's class counts from
/// the bootstrap rows, then applies the most generous pruning any run could have done: a split
/// whose two (collapsed) children share a majority class becomes a leaf. The result is the same
/// whatever order linfa saw: a leaf takes the lowest-indexed class among its tied majority.
pub(crate) fn canonicalize(
    nodes: &[FileNode],
    sub_x: &ndarray::Array2<f64>,
    sub_y: &Array1<usize>,
    cols: &[usize],
    n_classes: usize,
) -> Vec<FileNode> {
    // Class counts at each leaf, routing rows with the prediction rule (`x < threshold` left).
    let mut counts = vec![vec![0u32; n_classes]; nodes.len()];
    for (row, &y) in sub_x.rows().into_iter().zip(sub_y) {
        let mut i = 0usize;
        while let Some(FileNode::Split {
            feature,
            threshold,
            left,
            right,
        }) = nodes.get(i)
        {
            // `feature` is a full-schema index; the sub-matrix holds `cols` in order.
            let Some(pos) = cols.iter().position(|&c| c == *feature as usize) else {
                break;
            };
            i = if row[pos] < *threshold { *left } else { *right } as usize;
        }
        if let Some(c) = counts.get_mut(i).and_then(|c| c.get_mut(y)) {
            *c += 1;
        }
    }
    // Bottom-up (pre-order puts children after their parent): majority sets and collapse flags.
    let mut modal = vec![vec![false; n_classes]; nodes.len()];
    let mut collapsed = vec![false; nodes.len()];
    for i in (0..nodes.len()).rev() {
        match nodes[i] {
            FileNode::Leaf { class } => {
                let best = counts[i].iter().copied().max().unwrap_or(0);
                if best == 0 {
                    // No row reaches this leaf: keep linfa's class.
                    if let Some(m) = modal[i].get_mut(class as usize) {
                        *m = true;
                    }
                } else {
                    for (m, &c) in modal[i].iter_mut().zip(&counts[i]) {
                        *m = c == best;
                    }
                }
                collapsed[i] = true;
            }
            FileNode::Split { left, right, .. } => {
                let (l, r) = (left as usize, right as usize);
                let common: Vec<bool> = modal[l].iter().zip(&modal[r]).map(|(a, b)| *a && *b).collect();
                if collapsed[l] && collapsed[r] && common.contains(&true) {
                    collapsed[i] = true;
                    modal[i] = common;
                }
            }
        }
    }
    let mut out = Vec::with_capacity(nodes.len());
    emit(0, nodes, &modal, &collapsed, &mut out);
    out
}

/// Pre-order copy of node `i`, collapsed subtrees written as one leaf.
fn emit(
    i: usize,
    nodes: &[FileNode],
    modal: &[Vec<bool>],
    collapsed: &[bool],
    out: &mut Vec<FileNode>,
) -> u32 {
    let me = u32::try_from(out.len()).unwrap_or(u32::MAX);
    match nodes[i] {
        FileNode::Split {
            feature,
            threshold,
            left,
            right,
        } if !collapsed[i] => {
            out.push(FileNode::Leaf { class: 0 }); // replaced below
            let l = emit(left as usize, nodes, modal, collapsed, out);
            let r = emit(right as usize, nodes, modal, collapsed, out);
            out[me as usize] = FileNode::Split {
                feature,
                threshold,
                left: l,
                right: r,
            };
        }
        _ => {
            let class = modal[i].iter().position(|&m| m).unwrap_or(0);
            out.push(FileNode::Leaf {
                class: u32::try_from(class).unwrap_or(0),
            });
        }
    }
    me
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The flattened tree routes every iris row to the class linfa-trees itself predicts.
    #[test]
    fn flattened_tree_predicts_like_linfa() {
        let data = crate::data::iris();
        let cols = [0usize, 1, 2, 3];
        for depth in [None, Some(2), Some(3)] {
            let dataset = Dataset::new(data.features().clone(), Array1::from(data.labels().to_vec()));
            let tree = DecisionTree::params().max_depth(depth).fit(&dataset).unwrap();
            let mut nodes = Vec::new();
            flatten(tree.root_node(), &cols, 3, &mut nodes).unwrap();
            let nodes = canonicalize(&nodes, dataset.records(), dataset.targets(), &cols, 3);
            let forest = FlatForest::from_trees(&[nodes], 4, 3).unwrap();
            let theirs: Array1<usize> = tree.predict(dataset.records());
            let rows: Vec<Vec<f64>> = dataset.records().rows().into_iter().map(|r| r.to_vec()).collect();
            let leaves: Vec<usize> = rows.iter().map(|x| linfa_leaf(tree.root_node(), x)).collect();
            let mut ties = 0;
            for (i, (x, their)) in rows.iter().zip(theirs.iter()).enumerate() {
                let mut votes = [0u32; 3];
                forest.vote(x, &mut votes);
                let ours = votes.iter().position(|&v| v == 1).unwrap();
                if ours != *their {
                    // Allowed only where linfa's leaf holds a tie between the two classes: linfa
                    // then picks in HashMap order; we pick the lowest index, or the class shared
                    // with a sibling leaf when we merge the two.
                    let count = |c: usize| {
                        (0..rows.len())
                            .filter(|&j| leaves[j] == leaves[i] && data.labels()[j] == c)
                            .count()
                    };
                    assert_eq!(count(ours), count(*their), "row {i} at depth {depth:?}");
                    ties += 1;
                }
            }
            assert!(ties <= 4, "{ties} tied rows at depth {depth:?}");
        }
    }

    /// Identity of the linfa leaf `x` reaches (its address).
    fn linfa_leaf(mut node: &TreeNode<f64, usize>, x: &[f64]) -> usize {
        while node.prediction().is_none() {
            let (f, t, _) = node.split();
            let children = node.children();
            let next = if x[f] < t { children[0] } else { children[1] };
            node = next.as_deref().unwrap();
        }
        std::ptr::from_ref(node) as usize
    }

    #[test]
    fn features_per_tree_defaults_to_ceil_sqrt() {
        let p = ForestParams::new();
        assert_eq!(p.features_per_tree(1), 1);
        assert_eq!(p.features_per_tree(4), 2);
        assert_eq!(p.features_per_tree(5), 3);
        assert_eq!(p.features_per_tree(16), 4);
        assert_eq!(p.max_features(Some(3)).features_per_tree(4), 3);
    }
}
