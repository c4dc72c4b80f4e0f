//! The flattened forest: every tree's nodes in one contiguous `Vec`, walked without recursion.
//!
//! In memory a node is 16 bytes (`threshold: f64`, `feature: u32`, `next: u32`). A split node's
//! children sit side by side: the left child at `next`, the right child at `next + 1`; a leaf has
//! `feature == LEAF` and its class index in `next`. Trees are laid out breadth-first, one after the
//! other, so the top levels of every tree are packed together. A sample goes left when
//! `x[feature] < threshold` (the same rule as linfa-trees' own prediction). Trees are walked four
//! at a time, so the CPU overlaps their independent chains of loads.

use serde::{Deserialize, Serialize};

/// Marks a leaf in [`Node::feature`].
const LEAF: u32 = u32::MAX;

/// Most nodes one tree may have (keeps every index in `u32` and bounds load time).
pub(crate) const MAX_TREE_NODES: usize = 1 << 20;

#[derive(Debug, Clone, Copy, PartialEq)]
struct Node {
    threshold: f64,
    feature: u32,
    next: u32,
}

/// One node as written in a model file; child indexes are relative to the tree's first node.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub(crate) enum FileNode {
    /// An internal node: go `left` when `x[feature] < threshold`, else `right`.
    Split {
        feature: u32,
        threshold: f64,
        left: u32,
        right: u32,
    },
    /// A leaf voting for `class`.
    Leaf { class: u32 },
}

/// A trained random forest in its flattened, cache-friendly inference form.
///
/// Built by training ([`crate::ForestParams`]) or by loading a model file; every index in it was
/// checked when it was built, so walking it cannot go out of bounds.
#[derive(Debug, Clone, PartialEq)]
pub struct FlatForest {
    nodes: Vec<Node>,
    roots: Vec<u32>,
    n_features: usize,
    n_classes: usize,
}

impl FlatForest {
    /// Builds the forest from per-tree node lists (file form), checking every index.
    ///
    /// Each tree must be a proper tree rooted at its node 0: children after their parent, every
    /// node but the root referenced exactly once, features below `n_features`, classes below
    /// `n_classes`, thresholds finite.
    pub(crate) fn from_trees(
        trees: &[Vec<FileNode>],
        n_features: usize,
        n_classes: usize,
    ) -> Result<Self, String> {
        if trees.is_empty() {
            return Err("the forest has no trees".into());
        }
        if n_features == 0 || n_classes == 0 {
            return Err("the forest needs at least one feature and one class".into());
        }
        let total: usize = trees.iter().map(Vec::len).sum();
        if total > u32::MAX as usize / 2 {
            return Err("too many nodes".into());
        }
        let mut nodes = Vec::with_capacity(total);
        let mut roots = Vec::with_capacity(trees.len());
        for (t, tree) in trees.iter().enumerate() {
            validate_tree(tree, n_features, n_classes).map_err(|e| format!("tree {t}: {e}"))?;
            roots.push(u32::try_from(nodes.len()).map_err(|_| "too many nodes")?);
            layout_tree(tree, &mut nodes);
        }
        Ok(Self {
            nodes,
            roots,
            n_features,
            n_classes,
        })
    }

    /// The per-tree node lists in file form (breadth-first, tree-relative indexes).
    pub(crate) fn to_trees(&self) -> Vec<Vec<FileNode>> {
        let mut trees = Vec::with_capacity(self.roots.len());
        for (t, &root) in self.roots.iter().enumerate() {
            let start = root as usize;
            let end = self.roots.get(t + 1).map_or(self.nodes.len(), |&r| r as usize);
            let base = root;
            let tree = self.nodes[start..end]
                .iter()
                .map(|n| {
                    if n.feature == LEAF {
                        FileNode::Leaf { class: n.next }
                    } else {
                        FileNode::Split {
                            feature: n.feature,
                            threshold: n.threshold,
                            left: n.next - base,
                            right: n.next - base + 1,
                        }
                    }
                })
                .collect();
            trees.push(tree);
        }
        trees
    }

    /// Number of trees.
    #[must_use]
    pub fn n_trees(&self) -> usize {
        self.roots.len()
    }

    /// Total number of nodes over all trees.
    #[must_use]
    pub fn n_nodes(&self) -> usize {
        self.nodes.len()
    }

    /// Number of features a sample must have.
    #[must_use]
    pub fn n_features(&self) -> usize {
        self.n_features
    }

    /// Number of classes the trees vote for.
    #[must_use]
    pub fn n_classes(&self) -> usize {
        self.n_classes
    }

    /// Adds one vote per tree into `votes` (length [`Self::n_classes`]).
    ///
    /// `sample` must have exactly [`Self::n_features`] finite values (the model checks this first,
    /// with typed errors); otherwise no vote is cast.
    pub fn vote(&self, sample: &[f64], votes: &mut [u32]) {
        if sample.len() != self.n_features
            || votes.len() != self.n_classes
            || !sample.iter().all(|v| v.is_finite())
        {
            return;
        }
        // Four trees at a time: their walks are independent chains of loads, which the CPU
        // overlaps.
        let mut groups = self.roots.chunks_exact(4);
        for group in &mut groups {
            let mut at = [0usize; 4];
            for (a, &r) in at.iter_mut().zip(group) {
                *a = r as usize;
            }
            loop {
                let mut moved = false;
                for a in &mut at {
                    let node = self.nodes[*a];
                    if node.feature != LEAF {
                        let go_right = sample[node.feature as usize] >= node.threshold;
                        *a = node.next as usize + usize::from(go_right);
                        moved = true;
                    }
                }
                if !moved {
                    break;
                }
            }
            for a in at {
                if let Some(v) = votes.get_mut(self.nodes[a].next as usize) {
                    *v += 1;
                }
            }
        }
        for &root in groups.remainder() {
            let class = self.leaf_class(root as usize, sample);
            if let Some(v) = votes.get_mut(class as usize) {
                *v += 1;
            }
        }
    }

    #[inline]
    fn leaf_class(&self, root: usize, sample: &[f64]) -> u32 {
        let mut i = root;
        loop {
            // Indexes were validated at construction: children follow their parent inside the
            // same tree and features are below `n_features == sample.len()`.
            let node = self.nodes[i];
            if node.feature == LEAF {
                return node.next;
            }
            // Same as linfa-trees' `x < threshold` goes left, for the finite inputs we accept.
            let go_right = sample[node.feature as usize] >= node.threshold;
            i = node.next as usize + usize::from(go_right);
        }
    }
}

fn validate_tree(tree: &[FileNode], n_features: usize, n_classes: usize) -> Result<(), String> {
    if tree.is_empty() {
        return Err("empty tree".into());
    }
    if tree.len() > MAX_TREE_NODES {
        return Err(format!("more than {MAX_TREE_NODES} nodes"));
    }
    let mut referenced = vec![false; tree.len()];
    for (i, node) in tree.iter().enumerate() {
        match *node {
            FileNode::Leaf { class } => {
                if class as usize >= n_classes {
                    return Err(format!("node {i}: class {class} >= {n_classes}"));
                }
            }
            FileNode::Split {
                feature,
                threshold,
                left,
                right,
            } => {
                if feature as usize >= n_features {
                    return Err(format!("node {i}: feature {feature} >= {n_features}"));
                }
                if !threshold.is_finite() {
                    return Err(format!("node {i}: threshold is not finite"));
                }
                for child in [left, right] {
                    let c = child as usize;
                    if c <= i || c >= tree.len() {
                        return Err(format!("node {i}: child {child} out of order or range"));
                    }
                    if std::mem::replace(&mut referenced[c], true) {
                        return Err(format!("node {c} has two parents"));
                    }
                }
            }
        }
    }
    if let Some(orphan) = referenced.iter().skip(1).position(|r| !r) {
        return Err(format!("node {} is unreachable", orphan + 1));
    }
    Ok(())
}

/// Appends `tree` (already validated) breadth-first with sibling children adjacent.
fn layout_tree(tree: &[FileNode], out: &mut Vec<Node>) {
    let base = out.len();
    let placeholder = Node {
        threshold: 0.0,
        feature: LEAF,
        next: 0,
    };
    out.push(placeholder);
    let mut queue = std::collections::VecDeque::from([(0usize, base)]);
    while let Some((src, dst)) = queue.pop_front() {
        out[dst] = match tree[src] {
            FileNode::Leaf { class } => Node {
                threshold: 0.0,
                feature: LEAF,
                next: class,
            },
            FileNode::Split {
                feature,
                threshold,
                left,
                right,
            } => {
                let l = out.len();
                out.push(placeholder);
                out.push(placeholder);
                queue.push_back((left as usize, l));
                queue.push_back((right as usize, l + 1));
                Node {
                    threshold,
                    feature,
                    // Fits: the caller capped the total node count below u32::MAX / 2.
                    next: u32::try_from(l).unwrap_or(u32::MAX),
                }
            }
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stump() -> Vec<FileNode> {
        vec![
            FileNode::Split {
                feature: 0,
                threshold: 1.0,
                left: 1,
                right: 2,
            },
            FileNode::Leaf { class: 0 },
            FileNode::Leaf { class: 1 },
        ]
    }

    #[test]
    fn stump_routes_below_threshold_left() {
        let f = FlatForest::from_trees(&[stump()], 1, 2).unwrap();
        let mut v = [0, 0];
        f.vote(&[0.5], &mut v);
        assert_eq!(v, [1, 0]);
        let mut v = [0, 0];
        f.vote(&[1.0], &mut v);
        assert_eq!(v, [0, 1]);
    }

    #[test]
    fn unbalanced_trees_reach_their_leaves_and_bad_samples_cast_no_vote() {
        // depth-2 right spine next to a single leaf
        let spine = vec![
            FileNode::Split {
                feature: 0,
                threshold: 1.0,
                left: 1,
                right: 2,
            },
            FileNode::Leaf { class: 0 },
            FileNode::Split {
                feature: 1,
                threshold: 5.0,
                left: 3,
                right: 4,
            },
            FileNode::Leaf { class: 1 },
            FileNode::Leaf { class: 2 },
        ];
        let f = FlatForest::from_trees(&[spine.clone(), vec![FileNode::Leaf { class: 2 }]], 2, 3).unwrap();
        for (x, expected) in [
            ([0.0, 9.0], [1, 0, 1]),
            ([2.0, 0.0], [0, 1, 1]),
            ([2.0, 9.0], [0, 0, 2]),
        ] {
            let mut v = [0; 3];
            f.vote(&x, &mut v);
            assert_eq!(v, expected, "{x:?}");
        }
        for x in [[f64::INFINITY, 9.0], [f64::NAN, 0.0], [2.0, f64::NEG_INFINITY]] {
            let mut v = [0; 3];
            f.vote(&x, &mut v);
            assert_eq!(v, [0, 0, 0]);
        }
        assert_eq!(f.to_trees(), vec![spine, vec![FileNode::Leaf { class: 2 }]]);
    }

    #[test]
    fn grouped_walk_votes_like_one_tree_at_a_time() {
        let trees: Vec<Vec<FileNode>> = (0..7u32)
            .map(|t| {
                vec![
                    FileNode::Split {
                        feature: t % 2,
                        threshold: f64::from(t),
                        left: 1,
                        right: 2,
                    },
                    FileNode::Leaf { class: t % 3 },
                    FileNode::Leaf { class: (t + 1) % 3 },
                ]
            })
            .collect();
        let all = FlatForest::from_trees(&trees, 2, 3).unwrap();
        for x in [[0.5, 6.5], [3.0, 3.0], [9.0, -1.0], [2.5, 4.5]] {
            let mut together = [0; 3];
            all.vote(&x, &mut together);
            let mut one_by_one = [0; 3];
            for tree in &trees {
                FlatForest::from_trees(std::slice::from_ref(tree), 2, 3)
                    .unwrap()
                    .vote(&x, &mut one_by_one);
            }
            assert_eq!(together, one_by_one, "{x:?}");
            assert_eq!(together.iter().sum::<u32>(), 7);
        }
    }

    #[test]
    fn round_trips_through_file_form() {
        let f = FlatForest::from_trees(&[stump(), stump()], 1, 2).unwrap();
        assert_eq!(f.to_trees(), vec![stump(), stump()]);
    }

    #[test]
    fn rejects_cycles_sharing_and_bad_indexes() {
        let mut t = stump();
        t[0] = FileNode::Split {
            feature: 0,
            threshold: 1.0,
            left: 1,
            right: 1,
        };
        assert!(FlatForest::from_trees(&[t], 1, 2).is_err());
        let cyc = vec![FileNode::Split {
            feature: 0,
            threshold: 1.0,
            left: 0,
            right: 0,
        }];
        assert!(FlatForest::from_trees(&[cyc], 1, 2).is_err());
        assert!(FlatForest::from_trees(&[stump()], 1, 1).is_err());
        assert!(FlatForest::from_trees(&[stump()], 0, 2).is_err());
        assert!(FlatForest::from_trees(&[], 1, 2).is_err());
        assert!(FlatForest::from_trees(&[vec![]], 1, 2).is_err());
        let orphan = vec![FileNode::Leaf { class: 0 }, FileNode::Leaf { class: 0 }];
        assert!(FlatForest::from_trees(&[orphan], 1, 2).is_err());
    }
}
