//! The operation mix: which operation goes next. Smooth weighted round robin
//! (as in nginx), so a mix is exact and repeatable: with weights 3 and 1,
//! every four requests hold three of the first and one of the second, spread
//! out, and tests can assert exact counts.

#[derive(Debug, Clone)]
pub struct Mix {
    weights: Vec<i64>,
    current: Vec<i64>,
    total: i64,
    /// Added to every pick: the first of this mix's operations in a longer list.
    base: usize,
}

impl Mix {
    /// `weights` must be non-empty with positive entries (workload validation ensures it).
    pub fn new(weights: &[u32]) -> Mix {
        let weights: Vec<i64> = weights.iter().map(|w| i64::from(*w).max(1)).collect();
        Mix {
            total: weights.iter().sum(),
            current: vec![0; weights.len()],
            weights,
            base: 0,
        }
    }

    /// A mix over `weights` whose picks count from `base`.
    pub fn offset(weights: &[u32], base: usize) -> Mix {
        Mix {
            base,
            ..Mix::new(weights)
        }
    }

    pub fn next_op(&mut self) -> usize {
        let mut best = 0;
        for i in 0..self.weights.len() {
            self.current[i] += self.weights[i];
            if self.current[i] > self.current[best] {
                best = i;
            }
        }
        if let Some(c) = self.current.get_mut(best) {
            *c -= self.total;
        }
        best + self.base
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_follow_weights_exactly_per_cycle() {
        let mut mix = Mix::new(&[40, 20, 15, 10, 5, 5, 3, 2]);
        let mut counts = [0u32; 8];
        for _ in 0..100 {
            counts[mix.next_op()] += 1;
        }
        assert_eq!(counts, [40, 20, 15, 10, 5, 5, 3, 2]);
    }

    #[test]
    fn spreads_picks_instead_of_bunching() {
        let mut mix = Mix::new(&[3, 1]);
        let picks: Vec<usize> = (0..8).map(|_| mix.next_op()).collect();
        assert_eq!(picks, vec![0, 0, 1, 0, 0, 0, 1, 0]);
    }

    #[test]
    fn single_op_always_wins() {
        let mut mix = Mix::new(&[7]);
        assert!((0..10).all(|_| mix.next_op() == 0));
    }
}
