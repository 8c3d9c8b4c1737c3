//! An order-statistic B+ tree: a sequence of small `Copy` items, kept in
//! the order its owner gives them, with insertion, removal and access by
//! rank in O(log n), and a binary search by any monotone predicate in
//! O(log n). The large encoding of a sorted set (`zset.rs`) keeps its
//! (score, member) order in one, the way Redis keeps a skiplist with span
//! counts, in a fraction of the memory: items sit 64 to a leaf, not one
//! node (with its level pointers) per element.
//!
//! Each branch keeps, per child, the child's length (for ranks) and first
//! item (for searches). Nodes are allocated at their full capacity once, so
//! the memory is exact by counting nodes (see [`Ranked::memory`]).

use crate::memory::size_class;

/// Items per leaf: 64 items of 16 bytes fill a 1 KiB size class.
const LEAF_CAP: usize = 64;
/// Children per branch.
const BRANCH_CAP: usize = 32;
/// A node with fewer is merged with (or refilled from) a sibling.
const LEAF_MIN: usize = LEAF_CAP / 4;
const BRANCH_MIN: usize = BRANCH_CAP / 4;

enum Node<T> {
    Leaf(Vec<T>),
    Branch(Vec<Child<T>>),
}

struct Child<T> {
    /// The subtree's first item (the search key of the subtree).
    first: T,
    /// Items in the subtree.
    len: usize,
    node: Node<T>,
}

impl<T: Copy> Node<T> {
    fn first(&self) -> Option<T> {
        match self {
            Node::Leaf(items) => items.first().copied(),
            Node::Branch(children) => children.first().map(|c| c.first),
        }
    }

    fn len(&self) -> usize {
        match self {
            Node::Leaf(items) => items.len(),
            Node::Branch(children) => children.iter().map(|c| c.len).sum(),
        }
    }

    fn underfull(&self) -> bool {
        match self {
            Node::Leaf(items) => items.len() < LEAF_MIN,
            Node::Branch(children) => children.len() < BRANCH_MIN,
        }
    }
}

impl<T: Copy> Child<T> {
    /// A child for a non-empty node.
    fn of(node: Node<T>) -> Option<Child<T>> {
        Some(Child { first: node.first()?, len: node.len(), node })
    }

    /// Bring `first` and `len` up to date after the node changed.
    fn refresh(&mut self) {
        self.len = self.node.len();
        if let Some(first) = self.node.first() {
            self.first = first;
        }
    }
}

/// How many nodes of each kind exist, for the memory figure.
#[derive(Clone, Copy, Default)]
struct Counts {
    leaves: usize,
    branches: usize,
}

/// An order-statistic B+ tree of `T`.
pub struct Ranked<T> {
    root: Node<T>,
    len: usize,
    counts: Counts,
}

impl<T: Copy> Default for Ranked<T> {
    fn default() -> Self {
        Ranked { root: Node::Leaf(Vec::with_capacity(LEAF_CAP)), len: 0, counts: Counts { leaves: 1, branches: 0 } }
    }
}

/// The child holding `rank` and the rank within it; a rank one past the
/// end goes to the last child.
fn locate<T>(children: &[Child<T>], mut rank: usize) -> (usize, usize) {
    let last = children.len().saturating_sub(1);
    for (i, child) in children.iter().enumerate() {
        if rank < child.len || i == last {
            return (i, rank);
        }
        rank -= child.len;
    }
    (0, rank)
}

/// Insert `value` at `pos` of `items`, which is full (`cap` long): split
/// it and return the right part. With `keep_full`, an insert at either end
/// leaves the full part whole, so leaves filled in order stay full (a
/// branch always splits in halves, so that it keeps at least two children).
fn split_insert<X>(items: &mut Vec<X>, pos: usize, value: X, cap: usize, keep_full: bool) -> Vec<X> {
    let at = match pos {
        0 if keep_full => 0,
        p if p == cap && keep_full => cap,
        _ => cap / 2,
    };
    let mut right = Vec::with_capacity(cap);
    right.extend(items.drain(at..));
    if pos == cap && at == cap {
        right.push(value);
    } else if pos <= at {
        items.insert(pos, value);
    } else {
        right.insert(pos - at, value);
    }
    right
}

/// Even out two neighbouring nodes' items: all into `left` if they fit in
/// one node (returns true: `right` is now empty), else half each.
fn rebalance_items<X>(left: &mut Vec<X>, right: &mut Vec<X>, cap: usize) -> bool {
    let total = left.len() + right.len();
    if total <= cap {
        left.append(right);
        return true;
    }
    let half = total / 2;
    if left.len() < half {
        let moved = half - left.len();
        left.extend(right.drain(..moved));
    } else {
        let moved: Vec<X> = left.drain(half..).collect();
        right.splice(0..0, moved);
    }
    false
}

impl<T: Copy> Ranked<T> {
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Bytes of the nodes, by allocator size class.
    pub fn memory(&self) -> usize {
        self.counts.leaves * size_class(LEAF_CAP * std::mem::size_of::<T>())
            + self.counts.branches * size_class(BRANCH_CAP * std::mem::size_of::<Child<T>>())
    }

    /// The item at `rank` (0 is the first).
    pub fn get(&self, rank: usize) -> Option<T> {
        if rank >= self.len {
            return None;
        }
        let (mut node, mut rank) = (&self.root, rank);
        loop {
            match node {
                Node::Leaf(items) => return items.get(rank).copied(),
                Node::Branch(children) => {
                    let (i, r) = locate(children, rank);
                    (node, rank) = (&children[i].node, r);
                }
            }
        }
    }

    /// How many leading items satisfy `below`, which must hold for a
    /// prefix of the sequence and not after it (a binary search).
    pub fn partition_point(&self, below: impl Fn(&T) -> bool) -> usize {
        let (mut node, mut base) = (&self.root, 0);
        loop {
            match node {
                Node::Leaf(items) => return base + items.partition_point(&below),
                Node::Branch(children) => {
                    let k = children.partition_point(|c| below(&c.first));
                    if k == 0 {
                        return base;
                    }
                    base += children[..k - 1].iter().map(|c| c.len).sum::<usize>();
                    node = &children[k - 1].node;
                }
            }
        }
    }

    /// Insert `value` so that it has rank `rank` (at most `len`).
    pub fn insert(&mut self, rank: usize, value: T) {
        let rank = rank.min(self.len);
        if let Some(right) = insert_into(&mut self.root, rank, value, &mut self.counts) {
            let old = std::mem::replace(&mut self.root, Node::Branch(Vec::with_capacity(BRANCH_CAP)));
            if let Node::Branch(children) = &mut self.root {
                children.extend(Child::of(old));
                children.push(right);
            }
            self.counts.branches += 1;
        }
        self.len += 1;
    }

    /// Append `value` after the last item.
    pub fn push(&mut self, value: T) {
        self.insert(self.len, value);
    }

    /// Remove and return the item at `rank`.
    pub fn remove(&mut self, rank: usize) -> Option<T> {
        if rank >= self.len {
            return None;
        }
        let value = remove_from(&mut self.root, rank, &mut self.counts);
        self.len -= 1;
        // A root branch left with one child gives way to it.
        while let Node::Branch(children) = &mut self.root {
            if children.len() != 1 {
                break;
            }
            let Some(only) = children.pop() else { break };
            self.root = only.node;
            self.counts.branches -= 1;
        }
        Some(value)
    }

    /// Call `f` with the items from rank `start` on, towards the end (or
    /// towards the start, when `rev`), until it returns false.
    pub fn walk(&self, start: usize, rev: bool, mut f: impl FnMut(&T) -> bool) {
        if start < self.len {
            walk_node(&self.root, start, rev, &mut f);
        }
    }
}

fn insert_into<T: Copy>(node: &mut Node<T>, rank: usize, value: T, counts: &mut Counts) -> Option<Child<T>> {
    match node {
        Node::Leaf(items) => {
            if items.len() < LEAF_CAP {
                items.insert(rank, value);
                return None;
            }
            counts.leaves += 1;
            Child::of(Node::Leaf(split_insert(items, rank, value, LEAF_CAP, true)))
        }
        Node::Branch(children) => {
            let (i, r) = locate(children, rank);
            let split = insert_into(&mut children[i].node, r, value, counts);
            children[i].refresh();
            let right = split?;
            if children.len() < BRANCH_CAP {
                children.insert(i + 1, right);
                return None;
            }
            counts.branches += 1;
            Child::of(Node::Branch(split_insert(children, i + 1, right, BRANCH_CAP, false)))
        }
    }
}

fn remove_from<T: Copy>(node: &mut Node<T>, rank: usize, counts: &mut Counts) -> T {
    let children = match node {
        Node::Leaf(items) => return items.remove(rank),
        Node::Branch(children) => children,
    };
    let (i, r) = locate(children, rank);
    let value = remove_from(&mut children[i].node, r, counts);
    children[i].refresh();
    if children[i].node.underfull() && children.len() > 1 {
        rebalance(children, i, counts);
    }
    value
}

/// Merge the underfull child `i` with a neighbour, or share the
/// neighbour's items with it.
fn rebalance<T: Copy>(children: &mut Vec<Child<T>>, i: usize, counts: &mut Counts) {
    let left = if i + 1 < children.len() { i } else { i - 1 };
    let (head, tail) = children.split_at_mut(left + 1);
    let (a, b) = (&mut head[left], &mut tail[0]);
    let merged = match (&mut a.node, &mut b.node) {
        (Node::Leaf(x), Node::Leaf(y)) => {
            let merged = rebalance_items(x, y, LEAF_CAP);
            counts.leaves -= usize::from(merged);
            merged
        }
        (Node::Branch(x), Node::Branch(y)) => {
            let merged = rebalance_items(x, y, BRANCH_CAP);
            counts.branches -= usize::from(merged);
            merged
        }
        // Siblings are always at the same depth.
        _ => false,
    };
    a.refresh();
    if merged {
        children.remove(left + 1);
    } else {
        b.refresh();
    }
}

fn walk_node<T: Copy>(node: &Node<T>, start: usize, rev: bool, f: &mut impl FnMut(&T) -> bool) -> bool {
    match node {
        Node::Leaf(items) if rev => items[..=start.min(items.len().saturating_sub(1))].iter().rev().all(f),
        Node::Leaf(items) => items[start.min(items.len())..].iter().all(f),
        Node::Branch(children) => {
            let (i, r) = locate(children, start);
            if !walk_node(&children[i].node, r, rev, f) {
                return false;
            }
            if rev {
                children[..i].iter().rev().all(|c| walk_node(&c.node, c.len.saturating_sub(1), true, f))
            } else {
                children[i + 1..].iter().all(|c| walk_node(&c.node, 0, false, f))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Check every invariant: lengths, first items, node sizes, depth.
    fn check<T: Copy + PartialEq + std::fmt::Debug>(tree: &Ranked<T>, model: &[T]) {
        fn depth<T: Copy + PartialEq + std::fmt::Debug>(node: &Node<T>, root: bool, counts: &mut Counts) -> usize {
            match node {
                Node::Leaf(items) => {
                    counts.leaves += 1;
                    assert!(items.len() <= LEAF_CAP && items.capacity() == LEAF_CAP);
                    0
                }
                Node::Branch(children) => {
                    counts.branches += 1;
                    assert!(children.len() <= BRANCH_CAP && children.capacity() == BRANCH_CAP);
                    assert!(root || children.len() >= 2, "a branch below the root has siblings to choose from");
                    let depths: Vec<usize> = children
                        .iter()
                        .map(|c| {
                            assert_eq!(c.len, c.node.len());
                            assert!(c.len > 0, "no empty subtree");
                            assert_eq!(Some(c.first), c.node.first());
                            depth(&c.node, false, counts)
                        })
                        .collect();
                    assert!(depths.windows(2).all(|w| w[0] == w[1]), "leaves at one depth");
                    depths[0] + 1
                }
            }
        }
        let mut counts = Counts::default();
        depth(&tree.root, true, &mut counts);
        assert_eq!((counts.leaves, counts.branches), (tree.counts.leaves, tree.counts.branches));
        assert_eq!(tree.len(), model.len());
        let mut all = Vec::new();
        tree.walk(0, false, |x| {
            all.push(*x);
            true
        });
        assert_eq!(all, model);
    }

    #[test]
    fn inserts_and_removes_by_rank_like_a_vec() {
        let mut tree = Ranked::default();
        let mut model: Vec<u64> = Vec::new();
        let mut seed = 0x1234_5678_u64;
        let mut next = || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for step in 0..20_000 {
            let grow = step < 12_000 || next() % 3 == 0;
            if grow || model.is_empty() {
                let rank = (next() % (model.len() as u64 + 1)) as usize;
                tree.insert(rank, step);
                model.insert(rank, step);
            } else {
                let rank = (next() % model.len() as u64) as usize;
                assert_eq!(tree.remove(rank), Some(model.remove(rank)));
            }
            if step % 997 == 0 {
                check(&tree, &model);
            }
        }
        check(&tree, &model);
        while !model.is_empty() {
            let rank = model.len() / 3;
            assert_eq!(tree.remove(rank), Some(model.remove(rank)));
        }
        check(&tree, &model);
        assert_eq!(tree.remove(0), None);
        assert_eq!((tree.counts.leaves, tree.counts.branches), (1, 0));
    }

    #[test]
    fn sorted_search_get_and_walks() {
        let mut tree = Ranked::default();
        for n in 0..10_000u32 {
            tree.push(n * 2);
        }
        check(&tree, &(0..10_000).map(|n| n * 2).collect::<Vec<_>>());
        assert_eq!(tree.partition_point(|&x| x < 5000), 2500);
        assert_eq!(tree.partition_point(|&x| x < 5001), 2501);
        assert_eq!(tree.partition_point(|_| true), 10_000);
        assert_eq!(tree.partition_point(|_| false), 0);
        assert_eq!(tree.get(1234), Some(2468));
        assert_eq!(tree.get(10_000), None);
        let mut back = Vec::new();
        tree.walk(5000, true, |&x| {
            back.push(x);
            back.len() < 3000
        });
        assert_eq!(back, (2001..=5000).rev().map(|n| n * 2).collect::<Vec<_>>());
        let mut tail = Vec::new();
        tree.walk(9998, false, |&x| {
            tail.push(x);
            true
        });
        assert_eq!(tail, [19_996, 19_998]);
    }

    #[test]
    fn items_added_in_order_fill_their_leaves() {
        for rev in [false, true] {
            let mut tree = Ranked::default();
            for n in 0..64_000u64 {
                tree.insert(if rev { 0 } else { tree.len() }, n);
            }
            assert!(tree.counts.leaves <= 1001, "{rev}: {} leaves", tree.counts.leaves);
            assert!(tree.memory() < 64_000 * 17, "{}", tree.memory());
        }
    }
}
