//! `Chunked<T>`: an append-mostly list stored as shared chunks, copied on write.
//!
//! An activity's orders and groups live here so that a snapshot can take an image of them
//! in O(chunks), not O(orders): the image shares every chunk, and the first write to a chunk
//! afterwards copies that one chunk only (`Arc::make_mut`). The actor therefore never pauses
//! for a snapshot; encoding the image happens on another thread.
//!
//! Serialized exactly like a `Vec<T>` (a length, then the items), so the encoding does not
//! depend on the chunk size.

use serde::de::{SeqAccess, Visitor};
use serde::ser::SerializeSeq;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use std::marker::PhantomData;
use std::sync::Arc;

/// Items per chunk: a copy on write costs one chunk (about 100 KiB of orders), and an image
/// of a million orders is about a thousand reference-count increments.
pub const CHUNK_LEN: usize = 1024;

#[derive(Debug)]
pub struct Chunked<T> {
    chunks: Vec<Arc<Vec<T>>>,
    len: usize,
}

impl<T> Default for Chunked<T> {
    fn default() -> Self {
        Chunked {
            chunks: Vec::new(),
            len: 0,
        }
    }
}

/// A clone shares every chunk: O(chunks), whatever the number of items.
impl<T> Clone for Chunked<T> {
    fn clone(&self) -> Self {
        Chunked {
            chunks: self.chunks.clone(),
            len: self.len,
        }
    }
}

impl<T: PartialEq> PartialEq for Chunked<T> {
    fn eq(&self, other: &Self) -> bool {
        self.len == other.len && self.iter().eq(other.iter())
    }
}

impl<T: Eq> Eq for Chunked<T> {}

impl<T> Chunked<T> {
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn get(&self, index: usize) -> Option<&T> {
        self.chunks
            .get(index / CHUNK_LEN)
            .and_then(|chunk| chunk.get(index % CHUNK_LEN))
    }

    /// Items from `start` on, in order.
    pub fn iter_from(&self, start: usize) -> impl Iterator<Item = &T> + '_ {
        let first_chunk = start / CHUNK_LEN;
        let skip_in_first = start % CHUNK_LEN;
        self.chunks
            .iter()
            .skip(first_chunk)
            .flat_map(|chunk| chunk.iter())
            .skip(skip_in_first)
    }

    pub fn iter(&self) -> impl Iterator<Item = &T> + '_ {
        self.iter_from(0)
    }
}

impl<T: Clone> Chunked<T> {
    /// The item at `index` for writing; copies its chunk first if an image still shares it.
    pub fn get_mut(&mut self, index: usize) -> Option<&mut T> {
        let chunk = self.chunks.get_mut(index / CHUNK_LEN)?;
        Arc::make_mut(chunk).get_mut(index % CHUNK_LEN)
    }

    pub fn push(&mut self, item: T) {
        let last = self.chunks.last_mut();
        if let Some(chunk) = last.filter(|chunk| chunk.len() < CHUNK_LEN) {
            Arc::make_mut(chunk).push(item);
        } else {
            let mut chunk = Vec::with_capacity(CHUNK_LEN);
            chunk.push(item);
            self.chunks.push(Arc::new(chunk));
        }
        self.len += 1;
    }
}

impl<T: Clone> FromIterator<T> for Chunked<T> {
    fn from_iter<I: IntoIterator<Item = T>>(items: I) -> Self {
        let mut chunked = Chunked::default();
        items.into_iter().for_each(|item| chunked.push(item));
        chunked
    }
}

impl<T: Serialize> Serialize for Chunked<T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut sequence = serializer.serialize_seq(Some(self.len))?;
        for item in self.iter() {
            sequence.serialize_element(item)?;
        }
        sequence.end()
    }
}

impl<'de, T: Deserialize<'de> + Clone> Deserialize<'de> for Chunked<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_seq(ChunkedVisitor(PhantomData))
    }
}

struct ChunkedVisitor<T>(PhantomData<T>);

impl<'de, T: Deserialize<'de> + Clone> Visitor<'de> for ChunkedVisitor<T> {
    type Value = Chunked<T>;

    fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        formatter.write_str("a sequence")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut access: A) -> Result<Self::Value, A::Error> {
        let mut chunked = Chunked::default();
        while let Some(item) = access.next_element()? {
            chunked.push(item);
        }
        Ok(chunked)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn indexes_pushes_and_iterates_across_chunk_borders() {
        let items: Chunked<u64> = (0..(CHUNK_LEN as u64 * 2 + 5)).collect();
        assert_eq!(items.len(), CHUNK_LEN * 2 + 5);
        assert_eq!(items.get(CHUNK_LEN), Some(&(CHUNK_LEN as u64)));
        assert_eq!(items.get(CHUNK_LEN * 2 + 5), None);
        let tail: Vec<u64> = items.iter_from(CHUNK_LEN - 1).take(3).copied().collect();
        assert_eq!(tail, vec![1023, 1024, 1025]);
        assert_eq!(items.iter_from(items.len()).count(), 0);
        assert_eq!(items.iter().count(), items.len());
    }

    #[test]
    fn an_image_keeps_its_items_while_the_original_changes() {
        let mut items: Chunked<u64> = (0..3000).collect();
        let image = items.clone();
        *items.get_mut(5).expect("item 5") = 99;
        items.push(3000);
        assert_eq!(image.get(5), Some(&5));
        assert_eq!(image.len(), 3000);
        assert_eq!(items.get(5), Some(&99));
        // Only the written chunk was copied; the others are still shared.
        assert!(Arc::ptr_eq(&items.chunks[1], &image.chunks[1]));
        assert!(!Arc::ptr_eq(&items.chunks[0], &image.chunks[0]));
    }
}
