//! Subscription index: a trie of filter tokens that answers "who receives subject X",
//! with `*`/`>` wildcards and queue groups merged by name across matching filters.

use rustc_hash::FxHashMap;

use crate::subject::{ONE, TAIL};

/// Everyone a subject is delivered to: every plain subscriber, and one member of each group.
#[derive(Debug)]
pub(crate) struct Matches<T> {
    pub(crate) plain: Vec<T>,
    pub(crate) groups: Vec<QueueGroup<T>>,
}

/// The members of one queue group among the matches.
#[derive(Debug)]
pub(crate) struct QueueGroup<T> {
    pub(crate) name: Box<[u8]>,
    pub(crate) members: Vec<T>,
}

impl<T> Default for Matches<T> {
    fn default() -> Self {
        Self { plain: Vec::new(), groups: Vec::new() }
    }
}

impl<T: Clone> Matches<T> {
    pub(crate) fn is_empty(&self) -> bool {
        self.plain.is_empty() && self.groups.is_empty()
    }

    fn add(&mut self, subs: &Subs<T>) {
        self.plain.extend(subs.plain.iter().map(|(_, value)| value.clone()));
        for (name, members) in &subs.queues {
            let members = members.iter().map(|(_, value)| value.clone());
            match self.groups.iter_mut().find(|group| group.name == *name) {
                Some(group) => group.members.extend(members),
                None => self.groups.push(QueueGroup { name: name.clone(), members: members.collect() }),
            }
        }
    }
}

/// The trie. Entries are identified by a caller-chosen `id` so they can be removed.
#[derive(Debug)]
pub(crate) struct SubIndex<T> {
    root: Node<T>,
    len: usize,
}

#[derive(Debug)]
struct Node<T> {
    literal: FxHashMap<Box<[u8]>, Node<T>>,
    one: Option<Box<Node<T>>>,
    /// Filters that end at this node.
    here: Subs<T>,
    /// Filters that end with `>` right after this node.
    tail: Subs<T>,
}

/// Entries with their ids.
type Entries<T> = Vec<(u64, T)>;

#[derive(Debug)]
struct Subs<T> {
    plain: Entries<T>,
    /// Queue groups by name.
    queues: Vec<(Box<[u8]>, Entries<T>)>,
}

impl<T> Default for SubIndex<T> {
    fn default() -> Self {
        Self { root: Node::default(), len: 0 }
    }
}

impl<T> Default for Node<T> {
    fn default() -> Self {
        Self { literal: FxHashMap::default(), one: None, here: Subs::default(), tail: Subs::default() }
    }
}

impl<T> Default for Subs<T> {
    fn default() -> Self {
        Self { plain: Vec::new(), queues: Vec::new() }
    }
}

impl<T> Node<T> {
    fn is_empty(&self) -> bool {
        self.literal.is_empty() && self.one.is_none() && self.here.is_empty() && self.tail.is_empty()
    }
}

impl<T> Subs<T> {
    fn is_empty(&self) -> bool {
        self.plain.is_empty() && self.queues.is_empty()
    }

    fn insert(&mut self, queue: Option<&[u8]>, id: u64, value: T) {
        match queue {
            None => self.plain.push((id, value)),
            Some(queue) => match self.queues.iter_mut().find(|(name, _)| **name == *queue) {
                Some((_, members)) => members.push((id, value)),
                None => self.queues.push((queue.into(), vec![(id, value)])),
            },
        }
    }

    fn remove(&mut self, queue: Option<&[u8]>, id: u64) -> bool {
        let remove_from = |entries: &mut Entries<T>| {
            let position = entries.iter().position(|(entry_id, _)| *entry_id == id);
            position.map(|position| entries.swap_remove(position)).is_some()
        };
        match queue {
            None => remove_from(&mut self.plain),
            Some(queue) => {
                let Some(group) = self.queues.iter().position(|(name, _)| **name == *queue) else {
                    return false;
                };
                let removed = remove_from(&mut self.queues[group].1);
                if self.queues[group].1.is_empty() {
                    self.queues.swap_remove(group);
                }
                removed
            }
        }
    }
}

impl<T: Clone> SubIndex<T> {
    /// Number of entries.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// Adds an entry for a filter that passed [`crate::subject::is_valid_filter`].
    pub(crate) fn insert(&mut self, filter: &[u8], queue: Option<&[u8]>, id: u64, value: T) {
        let mut node = &mut self.root;
        let mut tokens = filter.split(|&byte| byte == b'.').peekable();
        while let Some(token) = tokens.next() {
            if token == TAIL && tokens.peek().is_none() {
                node.tail.insert(queue, id, value);
                self.len += 1;
                return;
            }
            node = if token == ONE {
                node.one.get_or_insert_with(Box::default)
            } else {
                node.literal.entry(token.into()).or_default()
            };
        }
        node.here.insert(queue, id, value);
        self.len += 1;
    }

    /// Removes the entry `id` added with this filter and queue; prunes emptied nodes.
    pub(crate) fn remove(&mut self, filter: &[u8], queue: Option<&[u8]>, id: u64) -> bool {
        let tokens: Vec<&[u8]> = filter.split(|&byte| byte == b'.').collect();
        let removed = remove_in(&mut self.root, &tokens, queue, id);
        if removed {
            self.len -= 1;
        }
        removed
    }

    /// Everyone a literal subject is delivered to.
    pub(crate) fn matches(&self, subject: &[u8]) -> Matches<T> {
        let tokens: Vec<&[u8]> = subject.split(|&byte| byte == b'.').collect();
        let mut matches = Matches::default();
        collect(&self.root, &tokens, &mut matches);
        matches
    }
}

fn remove_in<T>(node: &mut Node<T>, tokens: &[&[u8]], queue: Option<&[u8]>, id: u64) -> bool {
    let Some((&token, rest)) = tokens.split_first() else {
        return node.here.remove(queue, id);
    };
    if token == TAIL && rest.is_empty() {
        return node.tail.remove(queue, id);
    }
    if token == ONE {
        let Some(child) = node.one.as_mut() else { return false };
        let removed = remove_in(child, rest, queue, id);
        if child.is_empty() {
            node.one = None;
        }
        return removed;
    }
    let Some(child) = node.literal.get_mut(token) else { return false };
    let removed = remove_in(child, rest, queue, id);
    if child.is_empty() {
        node.literal.remove(token);
    }
    removed
}

fn collect<T: Clone>(node: &Node<T>, tokens: &[&[u8]], matches: &mut Matches<T>) {
    let Some((&token, rest)) = tokens.split_first() else {
        matches.add(&node.here);
        return;
    };
    // `>` needs at least one more token, which `token` is.
    matches.add(&node.tail);
    if let Some(child) = node.literal.get(token) {
        collect(child, rest, matches);
    }
    if let Some(child) = &node.one {
        collect(child, rest, matches);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sorted_plain(index: &SubIndex<u64>, subject: &str) -> Vec<u64> {
        let mut plain = index.matches(subject.as_bytes()).plain;
        plain.sort_unstable();
        plain
    }

    fn index_of(filters: &[&str]) -> SubIndex<u64> {
        let mut index = SubIndex::default();
        for (id, filter) in filters.iter().enumerate() {
            index.insert(filter.as_bytes(), None, id as u64, id as u64);
        }
        index
    }

    #[test]
    fn literal_and_wildcard_matching() {
        let index = index_of(&["foo.bar", "foo.*", "foo.>", ">", "*.bar", "foo.bar.baz", "*", "foo"]);
        assert_eq!(sorted_plain(&index, "foo.bar"), vec![0, 1, 2, 3, 4]);
        assert_eq!(sorted_plain(&index, "foo.bar.baz"), vec![2, 3, 5]);
        assert_eq!(sorted_plain(&index, "foo"), vec![3, 6, 7]);
        assert_eq!(sorted_plain(&index, "baz.bar"), vec![3, 4]);
        assert_eq!(sorted_plain(&index, "baz"), vec![3, 6]);
    }

    #[test]
    fn tail_wildcard_needs_one_more_token() {
        let index = index_of(&["foo.>"]);
        assert!(index.matches(b"foo").is_empty());
        assert_eq!(sorted_plain(&index, "foo.a.b.c"), vec![0]);
    }

    #[test]
    fn request_inbox_pattern() {
        let index = index_of(&["_INBOX.abc123.*"]);
        assert_eq!(sorted_plain(&index, "_INBOX.abc123.7"), vec![0]);
        assert!(index.matches(b"_INBOX.abc123").is_empty());
        assert!(index.matches(b"_INBOX.abc123.7.8").is_empty());
        assert!(index.matches(b"_INBOX.other.7").is_empty());
    }

    #[test]
    fn queue_groups_merge_by_name_across_filters() {
        let mut index = SubIndex::default();
        index.insert(b"orders.*", Some(b"workers"), 1, 1u64);
        index.insert(b"orders.new", Some(b"workers"), 2, 2);
        index.insert(b"orders.new", Some(b"audit"), 3, 3);
        index.insert(b"orders.new", None, 4, 4);
        let matches = index.matches(b"orders.new");
        assert_eq!(matches.plain, vec![4]);
        assert_eq!(matches.groups.len(), 2);
        let workers = matches.groups.iter().find(|group| &*group.name == b"workers").unwrap();
        let mut members = workers.members.clone();
        members.sort_unstable();
        assert_eq!(members, vec![1, 2]);
    }

    #[test]
    fn remove_prunes_and_only_removes_the_given_entry() {
        let mut index = SubIndex::default();
        index.insert(b"a.b.c", None, 1, 1u64);
        index.insert(b"a.b.c", None, 2, 2);
        index.insert(b"a.*.>", Some(b"q"), 3, 3);
        assert_eq!(index.len(), 3);
        assert!(!index.remove(b"a.b.c", None, 3), "wrong id");
        assert!(!index.remove(b"a.*.>", None, 3), "wrong queue");
        assert!(index.remove(b"a.b.c", None, 1));
        assert_eq!(sorted_plain(&index, "a.b.c"), vec![2]);
        assert!(index.remove(b"a.*.>", Some(b"q"), 3));
        assert!(index.remove(b"a.b.c", None, 2));
        assert!(!index.remove(b"a.b.c", None, 2), "already removed");
        assert_eq!(index.len(), 0);
        assert!(index.root.is_empty(), "all nodes pruned");
    }
}
