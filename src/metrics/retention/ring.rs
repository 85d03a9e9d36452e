//! A ring of a run's newest intervals (or readings) whose buffer is made at
//! its full length, and written, when the ring is made. A `VecDeque` grown
//! one push at a time doubles its buffer (the readings' 2,048 -> 4,096 at
//! 512 s) and its pages become resident as they fill, so a one-hour ring
//! filling is RSS growth for the first hour of every run; this one's RSS is
//! all there from the start, and its capacity never changes.

use std::collections::VecDeque;

/// The newest `len` items, oldest first.
#[derive(Debug, Clone)]
pub struct Ring<T> {
    items: VecDeque<T>,
    len: usize,
}

impl<T: Default + Clone> Ring<T> {
    /// A ring of `len` items (at least one), its buffer allocated and its
    /// pages touched now.
    pub fn new(len: usize) -> Ring<T> {
        let len = len.max(1);
        let mut items = VecDeque::with_capacity(len);
        items.extend(std::iter::repeat_n(T::default(), len));
        // The writes above made the pages resident; clearing keeps them.
        items.clear();
        Ring { items, len }
    }
}

impl<T> Ring<T> {
    /// Adds the newest item, dropping the oldest when full: never past the
    /// buffer made at the start.
    pub fn push(&mut self, item: T) {
        if self.items.len() >= self.len {
            self.items.pop_front();
        }
        self.items.push_back(item);
    }

    /// Items the buffer holds without growing (`len` or more).
    pub fn capacity(&self) -> usize {
        self.items.capacity()
    }
}

impl<T> std::ops::Deref for Ring<T> {
    type Target = VecDeque<T>;

    fn deref(&self) -> &VecDeque<T> {
        &self.items
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_day_of_pushes_never_changes_the_buffer() {
        let mut ring: Ring<(f64, u64)> = Ring::new(3_600);
        let capacity = ring.capacity();
        assert!(capacity >= 3_600);
        for i in 0..86_400u64 {
            ring.push((i as f64, i));
            assert_eq!(ring.capacity(), capacity, "after {i} pushes");
        }
        assert_eq!(ring.len(), 3_600);
        assert_eq!(ring.front(), Some(&(82_800.0, 82_800)));
        assert_eq!(ring.back(), Some(&(86_399.0, 86_399)));
    }
}
