//! One attempt per key at a time in this process. Without it, twenty
//! repeats of a running write would each hold a pooled connection while
//! waiting on its row lock, and the first attempt could find no connection
//! for its own further queries (a deadlock ended only by timeouts).
//!
//! A keyed async mutex is all this is; no maintained crate offers one that
//! drops its entries when the last holder goes, which keeps the map bounded
//! by the requests in flight.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
};

use tokio::sync::OwnedMutexGuard;

type Gates = Arc<Mutex<HashMap<[u8; 32], Arc<tokio::sync::Mutex<()>>>>>;

#[derive(Clone, Default)]
pub(crate) struct Inflight(Gates);

/// A request's turn at its key; the next waiter's comes when it is dropped.
pub(crate) struct Turn {
    id: [u8; 32],
    gates: Gates,
    guard: Option<OwnedMutexGuard<()>>,
}

impl Inflight {
    /// Waits until no other request of this process holds `id`.
    pub(crate) async fn turn(&self, id: [u8; 32]) -> Turn {
        let gate = self.0.lock().expect("inflight map").entry(id).or_default().clone();
        // Made before the wait, so a cancelled wait still cleans up its entry.
        let mut turn = Turn { id, gates: self.0.clone(), guard: None };
        turn.guard = Some(gate.lock_owned().await);
        turn
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.0.lock().expect("inflight map").len()
    }
}

impl Drop for Turn {
    fn drop(&mut self) {
        drop(self.guard.take());
        let mut gates = self.gates.lock().expect("inflight map");
        // Only the map holds it: nobody waits, so the entry goes.
        if gates.get(&self.id).is_some_and(|gate| Arc::strong_count(gate) == 1) {
            gates.remove(&self.id);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[tokio::test]
    async fn one_turn_per_key_and_no_entry_left_behind() {
        let inflight = Inflight::default();
        let first = inflight.turn([1; 32]).await;
        // Another key is not held up.
        let other = inflight.turn([2; 32]).await;
        // The same key waits for the first.
        let waiting = tokio::time::timeout(Duration::from_millis(50), inflight.turn([1; 32])).await;
        assert!(waiting.is_err(), "a second turn while the first is held");
        assert_eq!(inflight.len(), 2, "the cancelled waiter left the first's entry alone");
        let next = tokio::spawn({
            let inflight = inflight.clone();
            async move { inflight.turn([1; 32]).await }
        });
        tokio::time::sleep(Duration::from_millis(20)).await;
        drop(first);
        let second = next.await.unwrap();
        assert_eq!(inflight.len(), 2);
        drop((second, other));
        assert_eq!(inflight.len(), 0, "every entry gone with its last holder");
    }
}
